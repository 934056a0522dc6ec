import { expect, test } from "@playwright/test";
import { Cluster, Node } from "./support/cluster";
import { hydrated, markDocument, sameDocument, signIn } from "./support/console";

let cluster: Cluster;
let a: Node;
let b: Node;

test.beforeAll(async () => {
  cluster = new Cluster();
  a = await cluster.start("node-a");
  b = await cluster.start("node-b");
});

test.afterAll(async () => {
  await cluster.stopAll();
});

test("a wrong password is refused with a message", async ({ page }) => {
  await page.goto(`${a.url}/nodes`);
  await signIn(page, "not-the-password");
  await expect(page.getByRole("alert")).toHaveText("Wrong user name or password.");
  await expect(page).toHaveURL(/\/login\?/);
});

test("a signed-in user sees a dead node go non-operational without reloading", async ({ page }) => {
  await page.goto(`${a.url}/nodes?interval=1`);
  await expect(page).toHaveURL(/\/login\?next=/);
  await signIn(page);

  // Back on the page that was asked for, with its parameters.
  await expect(page).toHaveURL(`${a.url}/nodes?interval=1`);
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Nodes" })).toBeVisible();

  const rowA = page.getByRole("row", { name: /node-a/ });
  const rowB = page.getByRole("row", { name: /node-b/ });
  await expect(rowA).toContainText("Operational");
  await expect(rowA).toContainText("this node");
  await expect(rowB).toContainText("Operational");
  await expect(rowB).toContainText(b.url);
  await expect(page.getByRole("status")).toContainText("Connected to node-a");

  // A marker that a reload would wipe out.
  await markDocument(page);
  const killedAt = Date.now();
  cluster.kill(b);

  await expect(rowB).toContainText("Non-operational", { timeout: 15_000 });
  console.log(`node-b shown non-operational ${Date.now() - killedAt} ms after it was killed`);
  await expect(rowA).toContainText("Operational");
  expect(await sameDocument(page)).toBe(true);
  await expect(page.getByText("1 of 2 node(s) operational")).toBeVisible();
});

test("signing out ends the session", async ({ page }) => {
  await page.goto(`${a.url}/nodes`);
  await signIn(page);
  await expect(page.getByRole("heading", { name: "Nodes" })).toBeVisible();
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(`${a.url}/login`);
  await page.goto(`${a.url}/nodes`);
  await expect(page).toHaveURL(/\/login\?next=/);
});
