// Content: a user builds an investigation (a typo first), saves it in a new
// folder, runs it, downloads its CSV, moves it, makes a one-click
// investigation and runs it from a product page. A second user signed in at
// the same time sees none of it, until an admin publishes one to the Global
// tree: it appears on their console without a reload. An admin then lets
// them manage the Global tree from the Users page.
import { expect, Page, test } from "@playwright/test";
import { ADMIN_PASSWORD, Cluster, ENROLLMENT_SECRET, Node } from "./support/cluster";
import { hydrated, markDocument, openSignedIn, sameDocument } from "./support/console";

let cluster: Cluster;
let a: Node;

test.beforeAll(async () => {
  cluster = new Cluster();
  a = await cluster.start("node-a");
});

test.afterAll(async () => {
  await cluster.stopAll();
});

async function adminCookie(node: Node): Promise<string> {
  const login = await fetch(`${node.url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }),
  });
  return (login.headers.get("set-cookie") ?? "").split(";")[0];
}

async function addUser(node: Node, username: string, password: string): Promise<void> {
  const response = await fetch(`${node.url}/api/v1/users`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie: await adminCookie(node) },
    body: JSON.stringify({ username, password, role: "operator" }),
  });
  expect(response.status).toBe(201);
}

/** A registered product with one log line; returns its id. */
async function productWithLog(node: Node, message: string): Promise<string> {
  const registered = await fetch(`${node.url}/api/v1/products/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ enrollment_secret: ENROLLMENT_SECRET, uuid: crypto.randomUUID(), name: "e2e-content", product_type: "t", version: "1" }),
  });
  expect(registered.status).toBe(200);
  const { product_id, key } = await registered.json();
  const logs = await fetch(`${node.url}/api/v1/products/${product_id}/logs`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ entries: [{ at: Date.now(), level: "warn", message }] }),
  });
  expect(logs.status).toBeLessThan(300);
  return product_id;
}

/** Answers the next prompt with `text`, then clicks. */
async function answering(page: Page, text: string, click: () => Promise<void>): Promise<void> {
  page.once("dialog", (dialog) => dialog.accept(text));
  await click();
}

test("a user builds, saves, runs, exports and moves investigations that nobody else sees; a published one appears for all", async ({ page, browser }) => {
  await addUser(a, "bea", "bea-password-long");
  const product = await productWithLog(a, "disk almost full");

  // Bea is signed in on her own console the whole time.
  const other = await (await browser.newContext()).newPage();
  await other.goto(`${a.url}/content`);
  await other.getByLabel("User name").fill("bea");
  await other.getByLabel("Password").fill("bea-password-long");
  await other.getByRole("button", { name: "Sign in" }).click();
  await hydrated(other);
  await expect(other.getByRole("heading", { name: "Global" })).toBeVisible();
  await expect(other.getByRole("list", { name: "Global" })).toBeAttached();
  await markDocument(other);

  await openSignedIn(page, `${a.url}/content`, "node-a");
  await answering(page, "Ops", () => page.getByRole("button", { name: "New folder in My content" }).click());
  await expect(page.getByRole("list", { name: "My content" })).toContainText("Ops");

  const editor = page.getByRole("region", { name: "Editor" });
  await editor.getByLabel("Name").fill("Content products");
  const query = editor.getByLabel("Query");
  await query.fill('products where stauts = online fields name, status');
  await expect(editor.getByRole("alert")).toHaveText('line 1, col 16: unknown field "stauts" (did you mean "status"?)');
  await expect(editor.getByRole("button", { name: "Save", exact: true })).toBeDisabled();
  await query.fill('products where status = online and name ~ "e2e-*" fields name, status');
  await expect(editor.getByRole("status")).toHaveText("Valid: 2 column(s)");
  await editor.getByLabel("Save in").selectOption({ label: "My content / Ops" });
  await editor.getByRole("button", { name: "Save", exact: true }).click();
  await expect(page.getByRole("status").filter({ hasText: 'Saved "Content products"' })).toBeVisible();
  const ops = page.getByRole("group").filter({ hasText: "Ops" });
  await expect(ops.getByRole("button", { name: "Open Content products" })).toBeVisible();

  await editor.getByRole("button", { name: "Run" }).click();
  const results = page.getByRole("table", { name: "Results" });
  await expect(results).toContainText("e2e-content");

  // Run the saved one from the tree, then download every row as CSV.
  await page.getByRole("button", { name: "Run Content products" }).click();
  await expect(results).toContainText("e2e-content");
  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: "Download CSV" }).click();
  const csv = await (await download).createReadStream();
  let text = "";
  for await (const chunk of csv) text += chunk;
  expect(text.split("\r\n")[0]).toBe("name,status");
  expect(text).toContain("e2e-content,online");

  // Into another folder.
  await answering(page, "Archive", () => page.getByRole("button", { name: "New folder in My content" }).click());
  await expect(page.getByRole("combobox", { name: "Move Content products" }).locator("option", { hasText: "Archive" })).toHaveCount(1);
  await page.getByRole("combobox", { name: "Move Content products" }).selectOption({ label: "Archive" });
  const archive = page.getByRole("group").filter({ hasText: "Archive" });
  await expect(archive.getByRole("button", { name: "Open Content products" })).toBeVisible();

  // A one-click investigation, run from the product's page.
  await editor.getByRole("button", { name: "New", exact: true }).click();
  await editor.getByLabel("Name").fill("Recent logs");
  await editor.getByLabel("Kind").selectOption("one_click");
  await query.fill("logs where product = @product fields at, level, message");
  await expect(editor.getByRole("status")).toHaveText("Valid: 3 column(s)");
  await editor.getByRole("button", { name: "Save", exact: true }).click();
  await expect(page.getByRole("status").filter({ hasText: 'Saved "Recent logs"' })).toBeVisible();

  // Bea saw none of it.
  for (const name of ["Ops", "Archive", "Content products", "Recent logs"]) {
    await expect(other.getByText(name)).toHaveCount(0);
  }

  await page.goto(`${a.url}/products/${product}`);
  await hydrated(page);
  const oneClicks = page.getByRole("region", { name: "One-click investigations" });
  await oneClicks.getByRole("button", { name: "Recent logs" }).click();
  await expect(oneClicks.getByRole("table", { name: "Results" })).toContainText("disk almost full");

  // Published to the Global tree: Bea's console shows it without a reload.
  await page.goto(`${a.url}/content`);
  await hydrated(page);
  await page.getByRole("button", { name: "Publish Content products to Global" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Published" })).toBeVisible();
  await expect(other.getByRole("list", { name: "Global" }).getByRole("button", { name: "Open Content products" })).toBeVisible({ timeout: 5_000 });
  expect(await sameDocument(other)).toBe(true);
  await expect(other.getByRole("list", { name: "My content" }).getByText("Recent logs")).toHaveCount(0);

  // An admin lets Bea manage the Global tree too.
  await expect(other.getByRole("button", { name: "New folder in Global" })).toHaveCount(0);
  await page.goto(`${a.url}/users`);
  await hydrated(page);
  await page.getByRole("checkbox", { name: "bea manages Global content" }).check();
  await expect(page.getByRole("status").filter({ hasText: "Permission changed." })).toBeVisible();
  await other.reload();
  await hydrated(other);
  await expect(other.getByRole("button", { name: "New folder in Global" })).toBeVisible();
});
