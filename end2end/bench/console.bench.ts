// Console figures: failover time, change-to-screen latency, keep-alive rate.
import { expect, Page, test } from "@playwright/test";
import { ADMIN_PASSWORD, Cluster, Node } from "../tests/support/cluster";
import { hydrated, openSignedIn } from "../tests/support/console";

const RUNS = Number(process.env.RUNS ?? 10);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function adminCookie(node: Node): Promise<string> {
  const login = await fetch(`${node.url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }),
  });
  return (login.headers.get("set-cookie") ?? "").split(";")[0];
}

test("failover time: kill -> next node's page interactive", async ({ browser }) => {
  const times: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const cluster = new Cluster();
    const a = await cluster.start("node-a", "active", "127.0.0.1");
    const b = await cluster.start("node-b", "active", "127.0.0.2");
    const page = await browser.newPage();
    const path = "/nodes?interval=1&retry=2";
    await openSignedIn(page, `${a.url}${path}`, "node-a");
    const killedAt = Date.now();
    cluster.kill(a);
    await expect(page).toHaveURL(`${b.url}${path}`, { timeout: 15_000 });
    await hydrated(page);
    times.push(Date.now() - killedAt);
    await page.close();
    await cluster.stopAll();
  }
  console.log(`failover (interval=1 retry=2, budget 3000 ms) over ${RUNS} runs: ` +
    `p50 ${percentile(times, 50)} ms, max ${Math.max(...times)} ms; all: ${times.join(", ")}`);
});

async function watchRow(page: Page, name: string) {
  await page.evaluate((name) => {
    const w = window as any;
    w.__changes = [];
    const observer = new MutationObserver(() => {
      const row = [...document.querySelectorAll("tr")].find((r) => r.textContent?.includes(name));
      const text = row?.textContent ?? "";
      if (text !== w.__lastText) {
        w.__lastText = text;
        w.__changes.push({ at: Date.now(), text });
      }
    });
    observer.observe(document.body, { subtree: true, childList: true, characterData: true });
  }, name);
}

test("change-to-screen latency and keep-alive rate", async ({ page }) => {
  const cluster = new Cluster();
  const a = await cluster.start("node-a", "active", "127.0.0.1");
  const b = await cluster.start("node-b", "active", "127.0.0.2");
  const cookie = await adminCookie(b);
  await openSignedIn(page, `${a.url}/nodes`, "node-a");
  await watchRow(page, "node-b");

  const latencies: number[] = [];
  for (let i = 0; i < 4 * RUNS; i++) {
    const role = i % 2 === 0 ? "passive" : "active";
    const before = await page.evaluate(() => (window as any).__changes.length);
    // Let the console settle into a waiting long poll, at a random phase.
    await page.waitForTimeout(300 + Math.random() * 1500);
    const changedAt = Date.now();
    const response = await fetch(`${b.url}/api/v1/nodes/node-b/role`, {
      method: "PUT",
      headers: { "content-type": "application/json", cookie },
      body: JSON.stringify({ role }),
    });
    expect(response.status).toBe(204);
    await page.waitForFunction(
      ([before, role]) => (window as any).__changes.slice(before as number).some((c: any) => c.text.includes(role as string)),
      [before, role],
      { polling: "raf", timeout: 5_000 },
    );
    const shownAt = await page.evaluate(
      ([before, role]) => (window as any).__changes.slice(before as number).find((c: any) => c.text.includes(role as string)).at,
      [before, role],
    );
    latencies.push(shownAt - changedAt);
  }
  console.log(`change-to-screen (role change via node-b's API, shown on node-a's console, ${latencies.length} changes): ` +
    `p50 ${percentile(latencies, 50)} ms, p95 ${percentile(latencies, 95)} ms, max ${Math.max(...latencies)} ms`);

  // Keep-alive traffic of an idle console at the default interval (5 s).
  const counts = { keepalive: 0, other: 0 };
  page.on("request", (r) => {
    if (r.url().includes("/api/v1/keepalive")) counts.keepalive++;
    else if (r.url().includes("/api/")) counts.other++;
  });
  await page.waitForTimeout(60_000);
  console.log(`idle console, interval=5: ${counts.keepalive} keep-alive requests per minute ` +
    `(+${counts.other} other API requests: hand-off token renewal)`);
  await cluster.stopAll();
});
