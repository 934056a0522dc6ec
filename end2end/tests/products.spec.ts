// A live fleet in the console: products come online, ten fall silent and
// exactly ten go offline on screen without a reload.
import { expect, test } from "@playwright/test";
import { Cluster, Fleet, Node } from "./support/cluster";
import { hydrated, markDocument, openSignedIn, sameDocument } from "./support/console";

let cluster: Cluster;
let a: Node;
let fleet: Fleet | undefined;

test.beforeEach(async () => {
  cluster = new Cluster();
  a = await cluster.start("node-a", "active", "127.0.0.1", { VIGIL_HEARTBEAT_INTERVAL: "1s" });
});

test.afterEach(async () => {
  fleet?.kill();
  await cluster.stopAll();
});

test("a fleet of 50 comes online, 10 stop and exactly 10 go offline, live", async ({ page }) => {
  await openSignedIn(page, `${a.url}/`, "node-a");
  const stats = page.getByRole("region", { name: "Products by status" });
  await expect(stats.getByRole("link", { name: /^Total/ })).toHaveText(/Total\s*0$/);

  fleet = await Fleet.start(a, 50, 1);
  await expect(stats.getByRole("link", { name: /^Online/ })).toHaveText(/Online\s*50$/, { timeout: 20_000 });
  await markDocument(page);

  fleet.stop(10);
  await expect(stats.getByRole("link", { name: /^Offline/ })).toHaveText(/Offline\s*10$/, { timeout: 15_000 });
  await expect(stats.getByRole("link", { name: /^Online/ })).toHaveText(/Online\s*40$/);
  expect(await sameDocument(page)).toBe(true);
  // Still exactly ten a few heartbeats later.
  await page.waitForTimeout(2_500);
  await expect(stats.getByRole("link", { name: /^Offline/ })).toHaveText(/Offline\s*10$/);
  // The chart of the last hour shows the drop.
  await expect(page.getByRole("img", { name: "Online and offline products over the last hour" })).toBeVisible();
  await expect(page.getByRole("figure")).toContainText("offline 0–10");

  // The product table lists the ten, and one of them tells its story.
  await stats.getByRole("link", { name: /^Offline/ }).click();
  const summary = page.getByRole("status").filter({ hasText: "Showing" });
  await expect(summary).toHaveText("Showing 1–10 of 10 product(s)");
  // Filters live in the address bar: a reload keeps them.
  await page.getByRole("combobox", { name: "Sort by" }).selectOption("last_seen");
  await expect(page).toHaveURL(/sort=last_seen/);
  await page.reload();
  await hydrated(page);
  await expect(page.getByRole("combobox", { name: "Status" })).toHaveValue("offline");
  await expect(page.getByRole("combobox", { name: "Sort by" })).toHaveValue("last_seen");
  await expect(summary).toHaveText("Showing 1–10 of 10 product(s)");
  await page.getByRole("row").nth(1).getByRole("link").click();
  await expect(page.getByRole("heading", { name: /e2e-000/ })).toBeVisible();
  const activity = page.getByRole("table", { name: "Activity" });
  await expect(activity.getByRole("row", { name: /simulated/ })).toContainText("true");
  const history = page.getByRole("table", { name: "Status history" });
  await expect(history.getByRole("row").nth(1)).toContainText("online");
  await expect(history.getByRole("row").nth(1)).toContainText("offline");
  await expect(history.getByRole("row").nth(2)).toContainText("pending");
});
