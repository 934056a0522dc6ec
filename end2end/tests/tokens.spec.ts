// API tokens: an admin makes a token on the Settings page and sees its
// secret once; a script with it lists products; the admin revokes it and
// the same call is refused. The Audit page, open in another tab, shows the
// three actions as they happen.
import { expect, test } from "@playwright/test";
import { Cluster, Node } from "./support/cluster";
import { hydrated, signIn } from "./support/console";

let cluster: Cluster;
let node: Node;

test.beforeAll(async () => {
  cluster = new Cluster();
  node = await cluster.start("node-a");
});

test.afterAll(async () => {
  await cluster.stopAll();
});

async function listProducts(token: string): Promise<number> {
  const response = await fetch(`${node.url}/api/v1/products`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return response.status;
}

test("an admin makes a token, a script uses it, the admin revokes it", async ({ page }) => {
  await page.goto(`${node.url}/settings`);
  await signIn(page);
  await expect(page).toHaveURL(`${node.url}/settings`);
  await hydrated(page);
  const audit = await page.context().newPage();
  await audit.goto(`${node.url}/audit`);
  await hydrated(audit);
  const trail = audit.getByRole("table", { name: "Audit trail" });
  await expect(trail).toBeVisible();

  const card = page.locator("section", { has: page.getByRole("heading", { name: "API tokens" }) });
  await card.getByLabel("Token name").fill("ci");
  await card.getByRole("button", { name: "Create token" }).click();
  const shown = card.getByLabel("New token");
  await expect(shown).toHaveText(/^vgt_[0-9a-f]{64}$/);
  const token = (await shown.textContent())!;

  expect(await listProducts(token)).toBe(200);

  // Shown once: after a reload only its first characters are left.
  await page.reload();
  await hydrated(page);
  const row = card.getByRole("row", { name: /ci/ });
  await expect(row).toContainText(token.slice(0, 10));
  await expect(page.locator("body")).not.toContainText(token);

  await card.getByRole("button", { name: "Revoke token ci" }).click();
  await expect(row).toContainText("revoked");
  expect(await listProducts(token)).toBe(401);

  // Live, without a reload: who did each, and how.
  const made = trail.getByRole("row").filter({ hasText: "token.create" });
  await expect(made).toHaveCount(1);
  await expect(made).toContainText("admin");
  const used = trail.getByRole("row").filter({ hasText: "get /api/v1/products" });
  const usedOk = used.filter({ hasText: "ok (200)" });
  await expect(usedOk).toHaveCount(1);
  await expect(usedOk).toContainText("token:");
  // The revoked token's call is refused, and still named for its owner.
  const refused = used.filter({ hasText: "refused (401)" });
  await expect(refused).toHaveCount(1);
  await expect(refused).toContainText("token:");
  await expect(trail.getByRole("row").filter({ hasText: "token.revoke" })).toHaveCount(1);
  // Filters live in the URL.
  await audit.getByLabel("Action").fill("token.");
  await audit.getByLabel("Action").press("Enter");
  await expect(audit).toHaveURL(/action=token\./);
  await expect(trail.getByRole("row").filter({ hasText: "get /api/v1/products" })).toHaveCount(0);
});
