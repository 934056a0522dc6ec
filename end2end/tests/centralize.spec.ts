// Centralization: two nodes that ran standalone join a running cluster. An
// admin on the Nodes page sees the pending line, each source's plan (the dry
// run) before it runs, and the progress bar; the first fails (an injected
// fault) with the exact failure line; a user signing in to the second while
// it runs is told to come back; Retry finishes the first.
import { expect, test } from "@playwright/test";
import { ADMIN_PASSWORD, Cluster, Node } from "./support/cluster";
import { hydrated, signIn } from "./support/console";

const clusters: Cluster[] = [];

test.afterAll(async () => {
  for (const c of clusters) await c.stopAll();
});

async function adminCookie(node: Node): Promise<string> {
  const login = await fetch(`${node.url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }),
  });
  expect(login.status).toBe(200);
  return (login.headers.get("set-cookie") ?? "").split(";")[0];
}

async function addItem(node: Node, itemName: string, definition: string): Promise<void> {
  const response = await fetch(`${node.url}/api/v1/content`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie: await adminCookie(node) },
    body: JSON.stringify({ scope: "global", kind: "investigation", name: itemName, definition }),
  });
  expect(response.status).toBe(201);
}

/** Runs `name` standalone, gives it Global items, stops it; returns its data directory. */
async function standalone(name: string, items: number, shared: string): Promise<string> {
  const solo = new Cluster();
  clusters.push(solo);
  const node = await solo.start(name);
  const add = (itemName: string, definition: string) => addItem(node, itemName, definition);
  await add("Offline products", "products where status = offline");
  await add("Shared report", shared);
  for (let i = 0; i < items; i++) await add(`${name} item ${i}`, "products where status = online");
  await solo.stopAll();
  return solo.dir;
}

test("two standalone nodes join: plan, progress, an injected failure, Retry", async ({ page, browser }) => {
  test.setTimeout(120_000);
  const alphaDir = await standalone("alpha", 5, "products where status = online");
  const betaDir = await standalone("beta", 10, "products where status = pending");

  const cluster = new Cluster();
  clusters.push(cluster);
  const hub = await cluster.start("hub");
  // The cluster has these already: a real duplicate of both sources' item,
  // and a false duplicate of their "Shared report".
  await addItem(hub, "Offline products", "products where status = offline");
  await addItem(hub, "Shared report", "products where status = unmanaged");
  await page.goto(`${hub.url}/nodes`);
  await signIn(page);
  await expect(page).toHaveURL(`${hub.url}/nodes`);
  await hydrated(page);

  const panel = page.locator("section.centralization");
  const line = panel.locator(".status-line");
  const sourceRow = (node: string) =>
    panel.locator("table.sources tbody tr").filter({ has: page.getByRole("rowheader", { name: node, exact: true }) });
  // alpha connects first and fails after 3 records; beta runs slowly.
  await cluster.start("alpha", "active", "127.0.0.2", {
    VIGIL_DATA_DIR: alphaDir,
    VIGIL_CENTRALIZE_FAULTS: "batch=1,pause_ms=700,fail_after=3",
  });
  await expect(sourceRow("alpha")).toBeVisible();
  const beta = await cluster.start("beta", "active", "127.0.0.3", {
    VIGIL_DATA_DIR: betaDir,
    VIGIL_CENTRALIZE_FAULTS: "batch=1,pause_ms=700",
  });
  await expect(line).toHaveText("Content centralization is pending for the following 2 node(s): alpha, beta");
  await expect(panel.getByRole("progressbar", { name: "Centralizing alpha" })).toBeVisible();
  // beta's plan, shown before beta's run: its false duplicate goes into a beta subfolder.
  const betaPlan = panel.locator("details", { hasText: "Plan for beta" });
  await expect(betaPlan).toHaveAttribute("open", "");
  await expect(betaPlan.getByRole("row", { name: /Global/ })).toContainText("beta/Shared report");
  await expect(betaPlan.getByRole("row", { name: /Global/ }).getByRole("cell").first()).toHaveText("1");

  await expect(line).toHaveText("Content centralization failed for the following 1 node(s): alpha");
  await expect(sourceRow("alpha")).toContainText("injected fault");
  await expect(panel.getByRole("progressbar", { name: "Centralizing beta" })).toBeVisible();

  // Someone signing in to beta while its data arrives is told to come back.
  const other = await browser.newPage();
  await other.goto(`${beta.url}/login`);
  await signIn(other);
  await expect(other.getByRole("alert")).toHaveText(
    "Content centralization is in progress. Please log in again in a moment.",
  );
  await other.close();

  await panel.getByRole("button", { name: "Retry centralization of alpha" }).click();
  await expect(sourceRow("alpha").getByText("done")).toBeVisible({ timeout: 30_000 });
  await expect(sourceRow("beta").getByText("done")).toBeVisible();
  await expect(line).toHaveCount(0);
  await expect(panel.locator("details", { hasText: "Report for alpha" })).toBeVisible();
});
