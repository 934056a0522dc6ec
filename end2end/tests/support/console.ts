// Console steps shared by the end-to-end tests.
import { expect, Page } from "@playwright/test";
import { ADMIN_PASSWORD } from "./cluster";

/** Fills in the login form the console sent us to. */
export async function signIn(page: Page, password = ADMIN_PASSWORD): Promise<void> {
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** Waits until the WASM has taken over the page. */
export async function hydrated(page: Page): Promise<void> {
  await expect(page.locator("#app")).toHaveAttribute("data-hydrated", "true");
}

/** Opens `url`, signs in, and waits for a live console on that node. */
export async function openSignedIn(page: Page, url: string, node: string): Promise<void> {
  await page.goto(url);
  await signIn(page);
  await expect(page).toHaveURL(url);
  await hydrated(page);
  await expect(page.getByRole("status").filter({ hasText: "Connected to" })).toContainText(`Connected to ${node}`);
  // The console fetches its hand-off token right after the first keep-alive.
  await page.waitForTimeout(300);
}

/** Marks the document; a reload would lose the mark. */
export async function markDocument(page: Page): Promise<void> {
  await page.evaluate(() => ((window as any).__vigilMark = true));
}

export async function sameDocument(page: Page): Promise<boolean> {
  return page.evaluate(() => (window as any).__vigilMark === true);
}
