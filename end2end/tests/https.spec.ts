// A cluster of two HTTPS nodes with certificates from a CA the test makes.
// The browser trusts only that CA's key (Chromium's SPKI allow-list, in a
// browser of its own): the console signs in over HTTPS with a Secure
// cookie, an agent reports over HTTPS, and when the node dies both the
// console and the agent move to the other HTTPS node.
import * as path from "node:path";
import { Browser, chromium, expect, test } from "@playwright/test";
import { Agent, Cluster, makeCerts, Node, TestCerts } from "./support/cluster";
import { hydrated, openSignedIn } from "./support/console";

let cluster: Cluster;
let certs: TestCerts;
let a: Node;
let b: Node;
let agent: Agent | undefined;
let browser: Browser | undefined;

test.beforeEach(async () => {
  cluster = new Cluster();
  certs = makeCerts(path.join(cluster.dir, "tls"), ["127.0.0.1", "127.0.0.2", "localhost"]);
  cluster.tls = certs;
  a = await cluster.start("node-a", "active", "127.0.0.1");
  b = await cluster.start("node-b", "active", "127.0.0.2");
});

test.afterEach(async () => {
  agent?.kill();
  await browser?.close();
  await cluster.stopAll();
});

test("over HTTPS: sign in, an agent reports, and console and agent fail over to the other node", async ({}, testInfo) => {
  expect(a.url).toMatch(/^https:\/\/127\.0\.0\.1:/);
  expect(b.url).toMatch(/^https:\/\/127\.0\.0\.2:/);
  const launch = testInfo.project.use.launchOptions ?? {};
  browser = await chromium.launch({
    ...launch,
    args: [...(launch.args ?? []), `--ignore-certificate-errors-spki-list=${certs.ca_spki_sha256}`],
  });
  const page = await (await browser.newContext()).newPage();
  const where = "/products?interval=1&retry=2";
  await openSignedIn(page, `${a.url}${where}`, "node-a");
  const session = (await page.context().cookies(a.url)).find((c) => c.name === "vigil_session");
  expect(session?.secure).toBe(true);

  agent = await Agent.start(a, "tls-agent", cluster.dir, "poll", 1, certs.ca_cert);
  const row = page.getByRole("row", { name: /tls-agent/ });
  await expect(row).toContainText("online", { timeout: 20_000 });

  cluster.kill(a);
  await expect(page).toHaveURL(`${b.url}${where}`, { timeout: 15_000 });
  await hydrated(page);
  await expect(page.getByRole("status").filter({ hasText: "Connected to" })).toContainText("Connected to node-b");
  expect((await page.context().cookies(b.url)).find((c) => c.name === "vigil_session")?.secure).toBe(true);
  await expect(row).toContainText("online");
  // The agent moves to the node the registration reply named, over HTTPS.
  await expect
    .poll(() => agent!.output.some((l) => l.startsWith(`reporting to ${b.url}`)), { timeout: 20_000 })
    .toBe(true);
});
