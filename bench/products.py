#!/usr/bin/env python3
"""Fleet figures of one node (release builds, fresh SQLite), fed by vigil-sim
over UDP.

  bench/products.py lag --products 1000 [--interval 1]
      Offline-detection lag: the fleet reports every second, then all of it
      falls silent; lag = when `offline` was written - the deadline that
      passed (last liveness + offline_after), per product.
  bench/products.py cpu --products 100000 --interval 10 --window 30
      CPU and memory of the node while the fleet reports.

The node is VIGIL_BIN when set (to compare two builds side by side), else
target/release/vigil.
"""
import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

from procstat import cpu_seconds, rss_mib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(ROOT, "target", "release")


class Node:
    def __init__(self, heartbeat, offline_after):
        self.dir = tempfile.mkdtemp(prefix="vigil-bench-")
        self.url = "http://127.0.0.1:3901"
        env = dict(os.environ, VIGIL_LOG="warn", VIGIL_LISTEN="127.0.0.1:3901",
                   VIGIL_UDP_LISTEN="127.0.0.1:3902", VIGIL_DATA_DIR=self.dir,
                   VIGIL_ADMIN_PASSWORD="bench-admin-password", VIGIL_ENROLLMENT_SECRET="bench-enrollment-secret-0123456789", VIGIL_NODE_NAME="bench",
                   VIGIL_HEARTBEAT_INTERVAL=heartbeat, VIGIL_OFFLINE_AFTER=offline_after)
        self.proc = subprocess.Popen([os.environ.get("VIGIL_BIN", os.path.join(REL, "vigil")), "serve"], env=env)
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{self.url}/healthz")
                break
            except OSError:
                time.sleep(0.1)
        req = urllib.request.Request(f"{self.url}/api/v1/auth/login",
                                     data=json.dumps({"username": "admin", "password": "bench-admin-password"}).encode(),
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req) as r:
            self.cookie = r.headers["set-cookie"].split(";")[0]

    def counts(self):
        req = urllib.request.Request(f"{self.url}/api/v1/products/counts", headers={"cookie": self.cookie})
        with urllib.request.urlopen(req) as r:
            return json.load(r)

    def wait(self, key, want, timeout):
        until = time.time() + timeout
        while time.time() < until:
            if self.counts()[key] >= want:
                return time.time()
            time.sleep(0.2)
        raise SystemExit(f"timed out waiting for {want} {key}: {self.counts()}")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)


def sim(node, count, interval):
    proc = subprocess.Popen([os.path.join(REL, "vigil-sim"), "--server", node.url, "--count", str(count),
                             "--interval", str(interval), "--prefix", "bench", "--concurrency", "64",
                             "--enroll", "bench-enrollment-secret-0123456789"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("registered"):
        raise SystemExit(f"vigil-sim: {line}")
    return proc


def lag(args):
    node = Node(f"{args.interval}s", f"{3 * args.interval}s")
    try:
        started = time.time()
        fleet = sim(node, args.products, args.interval)
        print(f"registered {args.products} products in {time.time() - started:.1f} s")
        node.wait("online", args.products, 600)
        time.sleep(3 * args.interval)
        fleet.stdin.write(f"stop {args.products}\n")
        fleet.stdin.flush()
        node.wait("offline", args.products, 600)
        fleet.kill()
        db = sqlite3.connect(os.path.join(node.dir, "vigil.db"))
        lags = sorted(r[0] for r in db.execute(
            "SELECT recorded_at - at FROM product_transitions WHERE to_status = 'offline'"))
        pct = lambda p: lags[min(len(lags) - 1, int(p / 100 * len(lags)))]
        print(json.dumps({"products": args.products, "interval_s": args.interval, "offline_transitions": len(lags),
                          "lag_ms_p50": pct(50), "lag_ms_p99": pct(99), "lag_ms_max": lags[-1]}))
    finally:
        node.stop()


def cpu(args):
    node = Node(f"{args.interval}s", f"{3 * args.interval}s")
    try:
        started = time.time()
        fleet = sim(node, args.products, args.interval)
        print(f"registered {args.products} products in {time.time() - started:.1f} s")
        node.wait("online", args.products, 300)
        time.sleep(args.interval)
        c0, t0 = cpu_seconds(node.proc.pid), time.time()
        time.sleep(args.window)
        c1, t1 = cpu_seconds(node.proc.pid), time.time()
        counts = node.counts()
        print(json.dumps({"products": args.products, "interval_s": args.interval,
                          "node_cpu_percent_of_one_core": round(100 * (c1 - c0) / (t1 - t0), 1),
                          "node_rss_mib": round(rss_mib(node.proc.pid), 1), "counts": counts}))
        fleet.kill()
    finally:
        node.stop()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    a = sub.add_parser("lag")
    a.add_argument("--products", type=int, default=1000)
    a.add_argument("--interval", type=int, default=1)
    b = sub.add_parser("cpu")
    b.add_argument("--products", type=int, default=100000)
    b.add_argument("--interval", type=int, default=10)
    b.add_argument("--window", type=int, default=30)
    args = ap.parse_args()
    for binary in ("vigil", "vigil-sim"):
        if not os.path.exists(os.path.join(REL, binary)):
            subprocess.run(["cargo", "build", "--release", "-p", "server", "-p", "agent"], cwd=ROOT, check=True)
    {"lag": lag, "cpu": cpu}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
