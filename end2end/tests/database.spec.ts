// A database that stops answering (a cut link: nothing refused, nothing
// answered): the console says so and stays on its node, since another node
// would not do better; when the database answers again, the notice goes.
// The node runs on the test run's PostgreSQL (VIGIL_TEST_POSTGRES_URL)
// behind a proxy of the test's own that can go silent.
import { expect, test } from "@playwright/test";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import { Cluster } from "./support/cluster";
import { openSignedIn } from "./support/console";

/** A TCP proxy to `127.0.0.1:upstream` that can stop reading and forwarding. */
class SilentProxy {
  private silent = false;
  private readonly sockets = new Set<net.Socket>();
  private constructor(private readonly server: net.Server, readonly port: number) {}

  static start(upstream: number): Promise<SilentProxy> {
    return new Promise((resolve) => {
      let proxy: SilentProxy;
      const server = net.createServer((client) => {
        const server = net.connect(upstream, "127.0.0.1");
        for (const [from, to] of [[client, server], [server, client]]) {
          proxy.sockets.add(from);
          from.on("close", () => proxy.sockets.delete(from));
          from.on("error", () => to.destroy());
          from.pipe(to);
          if (proxy.silent) from.pause();
        }
      });
      server.listen(0, "127.0.0.1", () => {
        proxy = new SilentProxy(server, (server.address() as net.AddressInfo).port);
        resolve(proxy);
      });
    });
  }

  /** Nothing read, nothing forwarded, on open and new connections. */
  silence(): void {
    this.silent = true;
    for (const s of this.sockets) s.pause();
  }

  restore(): void {
    this.silent = false;
    for (const s of this.sockets) s.resume();
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }
}

/** psql from PATH, or from the newest installed PostgreSQL. */
function psql(): string {
  const root = "/usr/lib/postgresql";
  const versions = fs.existsSync(root) ? fs.readdirSync(root).sort() : [];
  const bundled = versions.map((v) => `${root}/${v}/bin/psql`).filter((p) => fs.existsSync(p));
  return bundled.pop() ?? "psql";
}

test("a silent database is shown on the console, which stays on its node, and the notice clears when it answers", async ({ page }) => {
  const admin = process.env.VIGIL_TEST_POSTGRES_URL;
  if (!admin) throw new Error("VIGIL_TEST_POSTGRES_URL is not set (make e2e starts a PostgreSQL)");
  const name = `e2e_silent_${process.pid}_${Date.now()}`;
  execFileSync(psql(), [admin, "-q", "-c", `CREATE DATABASE ${name}`]);
  const upstream = new URL(admin);
  const proxy = await SilentProxy.start(Number(upstream.port));
  const cluster = new Cluster(`postgres://${upstream.username}@127.0.0.1:${proxy.port}/${name}`);
  try {
    const node = await cluster.start("node-db");
    const path = "/products?interval=1&retry=2";
    await openSignedIn(page, `${node.url}${path}`, "node-db");
    const status = page.getByRole("status").filter({ hasText: "node-db" });

    proxy.silence();
    await expect(status).toContainText("the database has not answered since", { timeout: 10_000 });
    await expect(status).toHaveClass(/link-degraded/);
    // Still here after several intervals: no failover, no node chooser.
    await page.waitForTimeout(4_000);
    await expect(status).toContainText("Connected to node-db · the database has not answered");
    await expect(page).toHaveURL(`${node.url}${path}`);
    await expect(page.getByRole("dialog")).toHaveCount(0);

    proxy.restore();
    await expect(status).toHaveClass(/link-up/, { timeout: 20_000 });
    await expect(status).not.toContainText("database");
  } finally {
    proxy.restore();
    await cluster.stopAll();
    proxy.close();
  }
});
