// Alerts: a user turns an investigation into an alert, sees it enabled on
// this node only, enables it on a second node, and meets that node's limit.
import { expect, test } from "@playwright/test";
import { Cluster, Node } from "./support/cluster";
import { openSignedIn } from "./support/console";

let cluster: Cluster;
let a: Node;

test.beforeAll(async () => {
  cluster = new Cluster();
  a = await cluster.start("node-a");
  await cluster.start("node-b", "active", "127.0.0.2", { VIGIL_ALERT_LIMIT: "1" });
});

test.afterAll(async () => {
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
