// Administration from the console: the enrollment secret is shown to
// admins and rotated for the whole cluster.
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
