// Starts real Vigil nodes (the `vigil` binary) on loopback for a test, and
// stops them afterwards.
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

export const ADMIN_PASSWORD = "e2e-admin-password";
/** The enrollment secret every test cluster is started with. */
export const ENROLLMENT_SECRET = "e2e-enrollment-secret-0123456789";

const BIN = process.env.VIGIL_BIN ?? path.resolve(__dirname, "../../../target/debug/vigil");
const SITE_ROOT = process.env.VIGIL_SITE_ROOT ?? path.resolve(__dirname, "../../../target/site");

export interface Node {
  name: string;
  url: string;
  process: ChildProcess;
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, host, () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

/** A throwaway CA and a node certificate it signed (see `vigil-test-ca`). */
export interface TestCerts {
  ca_cert: string;
  cert: string;
  key: string;
  /** Base64 SHA-256 of the public keys, for Chromium's SPKI allow-list. */
  spki_sha256: string;
  ca_spki_sha256: string;
}

const TEST_CA = process.env.VIGIL_TEST_CA_BIN ?? path.join(path.dirname(BIN), "vigil-test-ca");

/** Makes a CA and one certificate for `names` in `dir`. */
export function makeCerts(dir: string, names: string[]): TestCerts {
  return JSON.parse(execFileSync(TEST_CA, [dir, ...names]).toString());
}

/** GET `url` trusting `caFile` (a PEM file) for https; the status, or 0. */
export function statusOf(url: string, caFile?: string): Promise<number> {
  if (!url.startsWith("https:")) {
    return fetch(url).then((r) => r.status, () => 0);
  }
  const ca = caFile ? fs.readFileSync(caFile) : undefined;
  return new Promise((resolve) => {
    const request = https.get(url, { ca }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on("error", () => resolve(0));
  });
}

async function waitHealthy(node: Node, caFile?: string, deadlineMs = 20_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (node.process.exitCode !== null) {
      throw new Error(`${node.name} exited with ${node.process.exitCode}`);
    }
    try {
      if ((await statusOf(`${node.url}/healthz`, caFile)) === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${node.name} did not become healthy`);
}

const SIM = process.env.VIGIL_SIM_BIN ?? path.join(path.dirname(BIN), "vigil-sim");
const AGENT = process.env.VIGIL_AGENT_BIN ?? path.join(path.dirname(BIN), "vigil-agent");

/** A running vigil-agent: one managed product. */
export class Agent {
  private constructor(readonly process: ChildProcess, readonly output: string[]) {}

  /**
   * Starts an agent named `name` reporting to `node` every `intervalS`
   * seconds (it also fetches its commands on every beat). It is
   * woken by the node through an HTTP callback on loopback (`callback`), by
   * wake datagrams on its heartbeat socket (`datagram`), or not at all and
   * polls (`poll`).
   */
  static async start(node: Node, name: string, dir: string, wake: "callback" | "datagram" | "poll",
    intervalS = 1, caCert?: string): Promise<Agent> {
    const args = ["--server", node.url, "--enroll", ENROLLMENT_SECRET, "--name", name,
      "--interval", String(intervalS), "--state", path.join(dir, `${name}.json`)];
    if (caCert) args.push("--ca-cert", caCert);
    if (wake === "callback") args.push("--callback-listen", "127.0.0.1:0");
    if (wake === "datagram") args.push("--udp-wake");
    const child = spawn(AGENT, args, { stdio: ["ignore", "pipe", "pipe"] });
    const output: string[] = [];
    const keep = (chunk: Buffer) => output.push(...chunk.toString().split("\n").filter(Boolean));
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    const agent = new Agent(child, output);
    const until = Date.now() + 20_000;
    while (!output.some((l) => l.startsWith("reporting to"))) {
      if (child.exitCode !== null || Date.now() > until) throw new Error(`vigil-agent did not start: ${output.join(" | ")}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return agent;
  }

  kill(): void {
    this.process.kill("SIGKILL");
  }
}

/** A running vigil-sim: a fleet of virtual products. */
export class Fleet {
  private constructor(readonly process: ChildProcess, readonly output: string[]) {}

  static async start(node: Node, count: number, intervalS: number): Promise<Fleet> {
    const child = spawn(SIM, ["--server", node.url, "--enroll", ENROLLMENT_SECRET, "--count", String(count), "--interval", String(intervalS), "--prefix", "e2e"], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const output: string[] = [];
    const fleet = new Fleet(child, output);
    child.stdout!.on("data", (chunk) => output.push(...chunk.toString().split("\n").filter(Boolean)));
    const until = Date.now() + 30_000;
    while (!output.some((l) => l.startsWith("registered"))) {
      if (child.exitCode !== null || Date.now() > until) throw new Error(`vigil-sim did not start: ${output.join(" | ")}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return fleet;
  }

  /** Stops `n` products: they fall silent, as dead products do. */
  stop(n: number): void {
    this.process.stdin!.write(`stop ${n}\n`);
  }

  /** Starts `n` stopped products again. */
  resume(n: number): void {
    this.process.stdin!.write(`start ${n}\n`);
  }

  kill(): void {
    this.process.kill("SIGKILL");
  }
}

/** A cluster of nodes sharing one database. */
export class Cluster {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-e2e-"));
  readonly databaseUrl: string;
  readonly nodes: Node[] = [];
  /** With certificates, every node serves HTTPS with them. */
  tls?: TestCerts;

  constructor(databaseUrl?: string) {
    this.databaseUrl = databaseUrl ?? `sqlite://${path.join(this.dir, "vigil.db")}?mode=rwc`;
  }

  /**
   * Starts a node. Give nodes different loopback hosts (127.0.0.2, …) to
   * make them different origins, as separate machines are: cookies are per
   * host, not per port.
   */
  async start(
    name: string,
    role: "active" | "passive" = "active",
    host = "127.0.0.1",
    extraEnv: Record<string, string> = {},
  ): Promise<Node> {
    const port = await freePort(host);
    const log = fs.openSync(path.join(this.dir, `${name}.log`), "a");
    const child = spawn(BIN, ["serve"], {
      env: {
        ...process.env,
        VIGIL_DATABASE_URL: this.databaseUrl,
        VIGIL_LISTEN: `${host}:${port}`,
        VIGIL_NODE_NAME: name,
        VIGIL_ROLE: role,
        VIGIL_DATA_DIR: this.dir,
        VIGIL_SITE_ROOT: SITE_ROOT,
        VIGIL_ADMIN_PASSWORD: ADMIN_PASSWORD,
        VIGIL_ENROLLMENT_SECRET: ENROLLMENT_SECRET,
        VIGIL_UDP_LISTEN: `${host}:0`,
        // Agents answer callbacks on loopback.
        VIGIL_CALLBACK_ALLOW: "127.0.0.0/8",
        ...(this.tls ? { VIGIL_TLS_CERT: this.tls.cert, VIGIL_TLS_KEY: this.tls.key } : {}),
        ...extraEnv,
      },
      stdio: ["ignore", log, log],
    });
    const scheme = this.tls ? "https" : "http";
    const node = { name, url: `${scheme}://${host}:${port}`, process: child };
    this.nodes.push(node);
    await waitHealthy(node, this.tls?.ca_cert);
    return node;
  }

  /** Changes a node's role through the API of `via`, as an admin would. */
  async setRole(via: Node, name: string, role: "active" | "passive"): Promise<void> {
    const login = await fetch(`${via.url}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }),
    });
    const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0];
    const response = await fetch(`${via.url}/api/v1/nodes/${name}/role`, {
      method: "PUT",
      headers: { "content-type": "application/json", cookie },
      body: JSON.stringify({ role }),
    });
    if (response.status !== 204) throw new Error(`role change failed: ${response.status}`);
  }

  /** Kills a node the hard way, as a crash would. */
  kill(node: Node): void {
    node.process.kill("SIGKILL");
  }

  /** Freezes a node (SIGSTOP): its sockets stay open, nothing answers. */
  freeze(node: Node): void {
    node.process.kill("SIGSTOP");
  }

  async stopAll(): Promise<void> {
    for (const node of this.nodes) {
      if (node.process.exitCode === null && node.process.signalCode === null) {
        node.process.kill("SIGCONT"); // a frozen node would never see SIGTERM
        node.process.kill("SIGTERM");
        await new Promise((r) => node.process.once("exit", r));
      }
    }
  }
}
