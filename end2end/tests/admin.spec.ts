// Administration from the console: the enrollment secret is shown to
// admins and rotated for the whole cluster.
import { expect, test } from "@playwright/test";
import { Cluster, Node } from "./support/cluster";
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

test("an admin sees the default enrollment secret and rotates it for every node", async ({ page }) => {
  await openSignedIn(page, `${a.url}/settings`, "node-a");
  const card = page.getByRole("region", { name: "Enrollment secret" });
  await expect(card.getByRole("alert")).toContainText("well-known default");
  const secret = card.getByLabel("Enrollment secret");
  await expect(secret).not.toContainText("vigil-default");
  await card.getByRole("button", { name: "Show secret" }).click();
  await expect(secret).toHaveText("vigil-default-enrollment-secret");

  await card.getByRole("button", { name: "Rotate secret" }).click();
  await card.getByRole("group", { name: "Confirm rotation" }).getByRole("button", { name: "Rotate now" }).click();
  await expect(secret).not.toHaveText("vigil-default-enrollment-secret");
  await expect(card.getByRole("alert")).toHaveCount(0);
  await expect(card).toContainText("Set by admin");
  const rotated = (await secret.textContent())!.trim();
  expect(rotated).toMatch(/^[0-9a-f]{48}$/);

  // Node B took it at once.
  expect(await enroll(b, "vigil-default-enrollment-secret")).toBe(401);
  expect(await enroll(b, rotated)).toBe(200);
});
