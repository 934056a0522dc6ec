// Commands from the console: an operator queues `ping` for two-way agents
// (one woken through its HTTP callback, one by a wake datagram) and a
// one-way agent (which polls), and sees each succeed live, then follows them
// on the commands page.
import { expect, test } from "@playwright/test";
import { Agent, Cluster, Node } from "./support/cluster";
import { markDocument, openSignedIn, sameDocument } from "./support/console";

let cluster: Cluster;
let a: Node;
const agents: Agent[] = [];

test.beforeEach(async () => {
  cluster = new Cluster();
  // Products count as offline after 3 × 10 s: the two-way agents beat
  // every 10 s, so their commands reach them through a wake, not a beat.
  a = await cluster.start("node-a", "active", "127.0.0.1", { VIGIL_HEARTBEAT_INTERVAL: "10s" });
});

test.afterEach(async () => {
  agents.forEach((agent) => agent.kill());
  agents.length = 0;
  await cluster.stopAll();
});

async function pingFromProductPage(page: import("@playwright/test").Page, name: string, mode: string) {
  await page.goto(`${a.url}/products`);
  await page.getByRole("searchbox", { name: "Search" }).fill(name);
  await page.getByRole("link", { name, exact: true }).click();
  await expect(page.getByRole("heading", { name: new RegExp(name) })).toBeVisible();
  await expect(page.getByRole("definition").filter({ hasText: mode })).toBeVisible();
  await markDocument(page);
  const form = page.getByRole("form", { name: "Send a command" });
  await form.getByLabel("Command").fill("ping");
  await form.getByRole("button", { name: "Queue command" }).click();
  await expect(form.getByRole("status")).toContainText("Queued.");
  const commands = page.getByRole("table", { name: "Commands" });
  await expect(commands.getByRole("row").nth(1)).toContainText("ping");
  await expect(commands.getByRole("row").nth(1)).toContainText("succeeded", { timeout: 15_000 });
  expect(await sameDocument(page)).toBe(true);
}

test("an operator pings two-way agents and a one-way agent and sees each succeed live", async ({ page }) => {
  agents.push(await Agent.start(a, "agent-two-way", cluster.dir, "callback", 10));
  agents.push(await Agent.start(a, "agent-udp-wake", cluster.dir, "datagram", 10));
  agents.push(await Agent.start(a, "agent-one-way", cluster.dir, "poll"));
  await openSignedIn(page, `${a.url}/`, "node-a");
  const stats = page.getByRole("region", { name: "Products by status" });
  await expect(stats.getByRole("link", { name: /^Online/ })).toHaveText(/Online\s*3$/);

  await pingFromProductPage(page, "agent-two-way", "two_way");
  await pingFromProductPage(page, "agent-udp-wake", "two_way");
  await pingFromProductPage(page, "agent-one-way", "one_way");

  // The queue lists all three; the two-way ones tell how they were woken.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Commands" }).click();
  const queue = page.getByRole("table", { name: "Commands" });
  await expect(queue.getByRole("row").filter({ hasText: "succeeded" })).toHaveCount(3);
  await page.getByRole("combobox", { name: "State" }).selectOption("succeeded");
  await expect(page).toHaveURL(/state=succeeded/);
  await queue.getByRole("row").filter({ hasText: "agent-two-way" }).getByRole("link").first().click();
  const timeline = page.getByRole("table", { name: "Timeline" });
  await expect(timeline).toContainText("claimed as the product's home node");
  await expect(timeline).toContainText("product notified (callback answered)");
  await expect(timeline).toContainText("fetched by the product");
  await expect(timeline.getByRole("row").last()).toContainText("succeeded");
  await expect(page.getByLabel("Result")).toContainText("pong");

  await page.goBack();
  await queue.getByRole("row").filter({ hasText: "agent-udp-wake" }).getByRole("link").first().click();
  await expect(timeline).toContainText(/product notified \(UDP wake sent to 127\.0\.0\.1:\d+\)/);
  await expect(timeline).toContainText("fetched by the product");
  await expect(timeline.getByRole("row").last()).toContainText("succeeded");
});
