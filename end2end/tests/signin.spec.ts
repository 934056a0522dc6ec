// Sign-in under attack: failed guesses delay the account everywhere, but
// the owner's own browser, which signed in before, still gets in.
import { expect, test } from "@playwright/test";
import { ADMIN_PASSWORD, Cluster, Node } from "./support/cluster";
import { signIn } from "./support/console";

let cluster: Cluster;
let a: Node;

test.beforeAll(async () => {
  cluster = new Cluster();
  a = await cluster.start("node-a");
});

test.afterAll(async () => {
  await cluster.stopAll();
});

test("guessing delays the account for a new browser but not for the owner's", async ({ page, browser }) => {
  // The owner signs in once on this browser, then signs out.
  await page.goto(`${a.url}/nodes`);
  await signIn(page);
  await expect(page.getByRole("heading", { name: "Nodes" })).toBeVisible();
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();

  // Someone else guesses from another browser.
  const other = await browser.newContext();
  const attacker = await other.newPage();
  await attacker.goto(`${a.url}/nodes`);
  for (let i = 0; i < 4; i++) {
    await signIn(attacker, `guess-number-${i}`);
    await expect(attacker.getByRole("alert")).toHaveText("Wrong user name or password.");
  }
  // The fifth guess comes from a script, so the right password follows it
  // well within the first delay (one second) even on a slow machine.
  await attacker.getByLabel("User name").fill("admin");
  await attacker.getByLabel("Password").fill(ADMIN_PASSWORD);
  const guess = await fetch(`${a.url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "admin", password: "guess-number-4" }),
  });
  expect(guess.status).toBe(401);
  // Now even the right password waits on a browser the node does not know.
  await attacker.getByRole("button", { name: "Sign in" }).click();
  await expect(attacker.getByRole("alert")).toHaveText(
    "Too many failed attempts. Wait a few minutes, then try again.",
  );
  await other.close();

  // The owner's browser is known: it signs in at once.
  await signIn(page);
  await expect(page).not.toHaveURL(/\/login/);
  await expect(page.getByRole("button", { name: "Sign out" })).toBeVisible();
});
