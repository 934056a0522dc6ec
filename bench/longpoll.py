#!/usr/bin/env python3
"""How many waiting keep-alive long polls one node holds, and at what CPU.

Starts a release node on a fresh SQLite database (or the PostgreSQL named by
--database-url), signs in, then opens N concurrent consoles. Each console
long-polls /api/v1/keepalive with the current state and wait=<interval>,
re-polling as soon as an answer comes, exactly as the browser console does.
After a warm-up, the node's CPU time is sampled over a window.

    bench/longpoll.py --consoles 1000 5000 10000 --interval 5 --window 20
"""
import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from procstat import cpu_seconds, rss_mib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "vigil")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def console(port, cookie, state, interval_ms, stop, counter):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    path = f"/api/v1/keepalive?watch=all&state={state}&wait={interval_ms}"
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Cookie: {cookie}\r\nAccept: application/json\r\n\r\n").encode()
    try:
        while not stop.is_set():
            writer.write(request)
            await writer.drain()
            status = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            if not status.startswith(b"HTTP/1.1 200"):
                counter["errors"] += 1
            counter["answers"] += 1
    finally:
        writer.close()


async def measure(port, cookie, state, consoles, interval_ms, warmup, window, pid):
    stop = asyncio.Event()
    counter = {"answers": 0, "errors": 0}
    tasks = []
    for i in range(consoles):
        tasks.append(asyncio.create_task(console(port, cookie, state, interval_ms, stop, counter)))
        if i % 200 == 199:
            await asyncio.sleep(0.05)  # open connections at a human pace
    await asyncio.sleep(warmup)
    answers0, cpu0, t0 = counter["answers"], cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(window)
    answers1, cpu1, t1 = counter["answers"], cpu_seconds(pid), time.monotonic()
    rss = rss_mib(pid)
    stop.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    elapsed = t1 - t0
    return {
        "consoles": consoles,
        "node_cpu_percent_of_one_core": round(100 * (cpu1 - cpu0) / elapsed, 1),
        "answers_per_s": round((answers1 - answers0) / elapsed, 1),
        "errors": counter["errors"],
        "node_rss_mib": round(rss, 1),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--consoles", type=int, nargs="+", default=[1000, 5000, 10000])
    ap.add_argument("--interval", type=int, default=5, help="console interval, seconds")
    ap.add_argument("--warmup", type=float, default=8)
    ap.add_argument("--window", type=float, default=20)
    ap.add_argument("--database-url")
    args = ap.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = max(args.consoles) + 1000
    if hard != resource.RLIM_INFINITY and limit > hard:
        sys.exit(f"need {limit} open files, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    work = tempfile.mkdtemp(prefix="vigil-bench-")
    port = free_port()
    env = dict(os.environ, VIGIL_LOG="warn", VIGIL_LISTEN=f"127.0.0.1:{port}",
               VIGIL_DATA_DIR=work, VIGIL_ADMIN_PASSWORD="bench-admin-password", VIGIL_ENROLLMENT_SECRET="bench-enrollment-secret-0123456789", VIGIL_NODE_NAME="bench")
    if args.database_url:
        env["VIGIL_DATABASE_URL"] = args.database_url
    node = subprocess.Popen([BIN, "serve"], env=env)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                time.sleep(0.1)
        login = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/auth/login",
            data=json.dumps({"username": "admin", "password": "bench-admin-password"}).encode(),
            headers={"content-type": "application/json"})
        with urllib.request.urlopen(login) as r:
            cookie = r.headers["set-cookie"].split(";")[0]
        ka = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/keepalive",
                                    headers={"cookie": cookie})
        with urllib.request.urlopen(ka) as r:
            state = json.load(r)["state"]
        print(f"interval={args.interval}s window={args.window}s cpus={os.cpu_count()} "
              f"engine={'postgres' if args.database_url else 'sqlite'}")
        for n in args.consoles:
            result = asyncio.run(measure(port, cookie, state, n, args.interval * 1000,
                                         args.warmup, args.window, node.pid))
            print(json.dumps(result), flush=True)
    finally:
        node.terminate()
        node.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
