// Administration from the console: the enrollment secret is shown to
// admins and rotated for the whole cluster; a product is re-enrolled.
import { expect, test } from "@playwright/test";
import { Cluster, ENROLLMENT_SECRET, Node } from "./support/cluster";
import { openSignedIn } from "./support/console";

let cluster: Cluster;
let a: Node;
let b: Node;

test.beforeAll(async () => {
  cluster = new Cluster();
  a = await cluster.start("node-a");
  b = await cluster.start("node-b", "active", "127.0.0.2");
});

test.afterAll(async () => {
  await cluster.stopAll();
});

async function enroll(node: Node, secret: string): Promise<number> {
  const response = await fetch(`${node.url}/api/v1/products/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ enrollment_secret: secret, uuid: crypto.randomUUID(), name: "e2e", product_type: "t", version: "1" }),
  });
  return response.status;
}

async function register(node: Node, uuid: string, secret: string, key?: string): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (key) headers.authorization = `Bearer ${key}`;
  return fetch(`${node.url}/api/v1/products/register`, {
    method: "POST",
    headers,
    body: JSON.stringify({ enrollment_secret: secret, uuid, name: "e2e-reenroll", product_type: "t", version: "1" }),
  });
}

async function heartbeat(node: Node, id: string, key: string): Promise<number> {
  const response = await fetch(`${node.url}/api/v1/products/${id}/heartbeat`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: "{}",
  });
  return response.status;
}

test("an admin re-enrolls a product: its key stops working and its next registration takes it over", async ({ page }) => {
  // Runs before the rotation below: the cluster's secret is still the configured one.
  const secret = ENROLLMENT_SECRET;
  const uuid = crypto.randomUUID();
  const first = await (await register(a, uuid, secret)).json();
  expect(await heartbeat(b, first.product_id, first.key)).toBe(204);
  // The enrollment secret alone does not take a registered product.
  expect((await register(b, uuid, secret)).status).toBe(409);

  await openSignedIn(page, `${a.url}/products/${first.product_id}`, "node-a");
  await expect(page.getByRole("heading", { name: /e2e-reenroll/ })).toBeVisible();
  const card = page.getByRole("region", { name: "Re-enrolment" });
  await card.getByRole("button", { name: "Re-enroll" }).click();
  await card.getByRole("group", { name: "Confirm re-enrolment" }).getByRole("button", { name: "Revoke key and re-enroll" }).click();
  await expect(card.getByRole("status")).toContainText("Key revoked");
  const history = page.getByRole("table", { name: "Status history" });
  await expect(history).toContainText("key revoked by admin admin");

  // Refused on the other node within a second, and the product may enroll again.
  await page.waitForTimeout(1_000);
  expect(await heartbeat(b, first.product_id, first.key)).toBe(401);
  const again = await register(b, uuid, secret);
  expect(again.status).toBe(200);
  const second = await again.json();
  expect(second.product_id).toBe(first.product_id);
  expect(await heartbeat(a, second.product_id, second.key)).toBe(204);
  await expect(history).toContainText("re-enrolled with the enrollment secret");
});

test("an admin sees the enrollment secret and rotates it for every node", async ({ page }) => {
  await openSignedIn(page, `${a.url}/settings`, "node-a");
  const card = page.getByRole("region", { name: "Enrollment secret" });
  await expect(card).toContainText("Set by configuration");
  const secret = card.getByLabel("Enrollment secret");
  await expect(secret).toHaveText("•".repeat(16));
  await card.getByRole("button", { name: "Show secret" }).click();
  await expect(secret).toHaveText(ENROLLMENT_SECRET);

  await card.getByRole("button", { name: "Rotate secret" }).click();
  await card.getByRole("group", { name: "Confirm rotation" }).getByRole("button", { name: "Rotate now" }).click();
  await expect(secret).not.toHaveText(ENROLLMENT_SECRET);
  await expect(card.getByRole("alert")).toHaveCount(0);
  await expect(card).toContainText("Set by admin");
  const rotated = (await secret.textContent())!.trim();
  expect(rotated).toMatch(/^[0-9a-f]{48}$/);

  // Node B took it at once.
  expect(await enroll(b, ENROLLMENT_SECRET)).toBe(401);
  expect(await enroll(b, rotated)).toBe(200);
});

test("an admin adds a viewer, who signs in and may not manage users; the admin then promotes and removes them", async ({ page }) => {
  await openSignedIn(page, `${a.url}/users`, "node-a");
  const users = page.getByRole("table", { name: "Users" });
  await expect(users.getByRole("row")).toHaveCount(2); // header and admin
  const form = page.getByRole("form", { name: "Add a user" });
  await form.getByLabel("User name").fill("vera");
  await form.getByLabel("Password (12 characters or more)").fill("vera-password-42");
  await form.getByRole("combobox", { name: "Role" }).selectOption("viewer");
  await form.getByRole("button", { name: "Add user" }).click();
  await expect(page.getByRole("status").filter({ hasText: "User added." })).toBeVisible();
  await expect(users.getByRole("row", { name: /vera/ })).toBeVisible();

  // Vera signs in: she sees, but does not manage.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.goto(`${a.url}/users`);
  await page.getByLabel("User name").fill("vera");
  await page.getByLabel("Password").fill("vera-password-42");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByText("Only admins manage users.")).toBeVisible();
  await page.getByRole("button", { name: "Sign out" }).click();

  await openSignedIn(page, `${a.url}/users`, "node-a");
  await page.getByRole("combobox", { name: "Role of vera" }).selectOption("operator");
  await expect(page.getByRole("status").filter({ hasText: "Role changed." })).toBeVisible();
  await page.reload();
  await expect(page.getByRole("combobox", { name: "Role of vera" })).toHaveValue("operator");
  await page.getByRole("button", { name: "Remove vera" }).click();
  await expect(page.getByRole("status").filter({ hasText: "User removed." })).toBeVisible();
  await expect(page.getByRole("table", { name: "Users" }).getByRole("row", { name: /vera/ })).toHaveCount(0);
});
