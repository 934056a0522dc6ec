// Alerts: a user turns an investigation into an alert, sees it enabled on
// this node only, enables it on a second node, and meets that node's limit;
// ten simulated products stop and the firing shows live, then clears.
import { expect, test } from "@playwright/test";
import { Cluster, Fleet, Node } from "./support/cluster";
import { markDocument, openSignedIn, sameDocument } from "./support/console";

let cluster: Cluster;
let a: Node;
let fleet: Fleet | undefined;

test.beforeAll(async () => {
  cluster = new Cluster();
  a = await cluster.start("node-a");
  await cluster.start("node-b", "active", "127.0.0.2", { VIGIL_ALERT_LIMIT: "1" });
});

test.afterAll(async () => {
  fleet?.kill();
  await cluster.stopAll();
});

test("an investigation becomes an alert, enabled where it was made, then on a second node up to its limit", async ({ page }) => {
  await openSignedIn(page, `${a.url}/content`, "node-a");
  const editor = page.getByRole("region", { name: "Editor" });
  const status = page.getByRole("status");
  await editor.getByLabel("Name").fill("Offline products");
  await editor.getByLabel("Query").fill("products where status = offline");
  await editor.getByRole("button", { name: "Save", exact: true }).click();
  await expect(status.filter({ hasText: 'Saved "Offline products"' })).toBeVisible();

  // The same query, saved as an alert.
  await editor.getByLabel("Kind").selectOption("alert");
  await editor.getByLabel("Condition (rows > N, rows = 0, count > N, per product)").fill("rows > 9");
  await editor.getByLabel("Name").fill("Ten offline");
  await editor.getByRole("button", { name: "Save as new" }).click();
  await expect(status.filter({ hasText: 'Saved "Ten offline"' })).toBeVisible();
  const enabled = page.getByLabel("Ten offline is enabled on");
  await expect(enabled).toHaveText("enabled on: node-a");

  await page.getByRole("button", { name: "Enable Ten offline on node-b" }).click();
  await expect(status.filter({ hasText: "Enabled on node-b." })).toBeVisible();
  await expect(enabled).toHaveText("enabled on: node-a, node-b");
  await page.getByRole("button", { name: "Coverage of Ten offline" }).click();
  await expect(status.filter({ hasText: "Coverage: node-a 0, node-b 0; not covered: 0." })).toBeVisible();

  // Node B takes one alert at most.
  await editor.getByLabel("Name").fill("Any offline");
  await editor.getByLabel("Condition (rows > N, rows = 0, count > N, per product)").fill("rows > 0");
  await editor.getByRole("button", { name: "Save as new" }).click();
  await expect(status.filter({ hasText: 'Saved "Any offline"' })).toBeVisible();
  await expect(page.getByLabel("Any offline is enabled on")).toHaveText("enabled on: node-a");
  await page.getByRole("button", { name: "Enable Any offline on node-b" }).click();
  await expect(status.filter({ hasText: "node-b already has 1 of 1 alerts enabled; disable one there or raise alert_limit" })).toBeVisible();
  await expect(page.getByLabel("Any offline is enabled on")).toHaveText("enabled on: node-a");
});

test("ten simulated products stop: the alert fires once, live, and clears when they come back", async ({ page }) => {
  test.setTimeout(120_000);
  await openSignedIn(page, `${a.url}/content`, "node-a");
  const editor = page.getByRole("region", { name: "Editor" });
  await editor.getByRole("button", { name: "New", exact: true }).click();
  await editor.getByLabel("Name").fill("Fleet has ten offline");
  await editor.getByLabel("Kind").selectOption("alert");
  await editor.getByLabel("Query").fill("products where status = offline");
  await editor.getByLabel("Condition (rows > N, rows = 0, count > N, per product)").fill("rows > 9");
  await editor.getByLabel("Every").fill("10s");
  await editor.getByLabel("Evaluated").selectOption("fleet");
  await editor.getByRole("button", { name: "Test now" }).click();
  await expect(editor.getByLabel("Test result")).toHaveText("Over the whole fleet: it would not fire now.");
  await editor.getByRole("button", { name: "Save", exact: true }).click();
  await expect(page.getByRole("status").filter({ hasText: 'Saved "Fleet has ten offline"' })).toBeVisible();

  fleet = await Fleet.start(a, 20, 1);
  await page.goto(`${a.url}/`);
  const stats = page.getByRole("region", { name: "Products by status" });
  await expect(stats.getByRole("link", { name: /^Online/ })).toHaveText(/Online\s*20$/, { timeout: 20_000 });
  await page.goto(`${a.url}/alerts`);
  await expect(page.getByRole("heading", { name: "Firing now" })).toBeVisible();
  await markDocument(page);
  fleet.stop(10);
  const firing = page.getByRole("table", { name: "Firing now" }).getByRole("row", { name: /Fleet has ten offline/ });
  await expect(firing).toHaveCount(1, { timeout: 45_000 });
  await expect(firing).toContainText("10");
  fleet.resume(10);
  await expect(firing).toHaveCount(0, { timeout: 45_000 });
  await expect(page.getByRole("table", { name: "History" }).getByRole("row", { name: /Fleet has ten offline/ })).toHaveCount(1);
  expect(await sameDocument(page)).toBe(true);
});
