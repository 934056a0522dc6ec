#!/usr/bin/env python3
"""Login flood: N concurrent wrong-password logins against one
fresh node, all in flight at once, while /healthz is timed every 20 ms.

    python3 bench/login_flood.py [--requests 1000] [--sources 1] [--timeout 180] [--rss-cap-mib 4096]

The node is VIGIL_BIN (default target/release/vigil, relative to the
repository root) on a temporary data dir and free loopback ports. Each
flood request is `POST /api/v1/auth/login` for `admin` with a wrong password
on its own connection (`Connection: close`), from source address 127.0.0.2
(--sources N spreads them over 127.0.0.2 and the N-1 addresses after it, as
a distributed attacker would); the connections are opened first, then every
request is written at once.

Before the flood the admin signs in once from 127.0.0.1 (keeping the device
cookie the node may set; that login also tells whether this node wants an
`Origin` header). After it, the real password is tried from a fresh client
(127.0.255.254, no cookie: figures only) and then from 127.0.0.1 with the
device cookie: that one must still sign in.

Prints: the status histogram, the node's RSS at start, peak (VmRSS every
50 ms) and end, /healthz p50/p99/max during the flood, the flood duration,
the statuses of the logins after it, and PASS/FAIL against the goal (RSS <
300 MB, no 500, /healthz p99 < 100 ms, the admin still signs in). Past
--rss-cap-mib the node is killed to protect the machine (the goal has failed
by then anyway). Exit code 0 whatever the figures; non-zero only when the
script itself breaks.
"""
import argparse
import asyncio
import ipaddress
import resource
import secrets
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from secbench import (HealthProbe, Node, RssSampler, cookie, http, latency_line, percentile,  # noqa: E402
                      request_bytes, watchdog)

FLOOD_SOURCE = ipaddress.ip_address("127.0.0.2")  # the attacker (the first of --sources)
FRESH_CLIENT = "127.0.255.254"                    # the admin on a browser the node has never seen
GOAL_RSS_MIB = 300 * 1000 * 1000 / 2**20          # 300 MB
GOAL_P99_MS = 100


async def one_login(port, source, body, headers, go, ready, timeout):
    """Connects from `source`, waits for `go`, sends the login; the answer's
    status or the name of what went wrong."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)), timeout=30)
    except asyncio.TimeoutError:
        return "connect_timeout"
    except OSError as e:
        return f"connect_{type(e).__name__}"
    finally:
        ready[0] += 1
    try:
        await go.wait()
        writer.write(request_bytes(port, "POST", "/api/v1/auth/login", body, headers))
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout=timeout)
        if not line:
            return "closed_without_answer"
        status = int(line.split()[1])
        await asyncio.wait_for(reader.read(), timeout=timeout)  # the rest, up to the close
        return status
    except asyncio.TimeoutError:
        return "timeout"
    except (OSError, ValueError, IndexError) as e:
        return type(e).__name__
    finally:
        writer.close()


async def flood(port, count, sources, headers, timeout, many_users=False):
    go, ready = asyncio.Event(), [0]
    tasks = [asyncio.ensure_future(one_login(
        port, str(FLOOD_SOURCE + i % sources),
        {"username": f"user{i:04d}" if many_users else "admin",
         "password": f"wrong-{i:04d}-{secrets.token_hex(4)}"}, headers, go, ready, timeout))
        for i in range(count)]
    # Let every connection open (or fail to), then fire them all together.
    opening = time.perf_counter()
    while ready[0] < count and time.perf_counter() - opening < 40:
        await asyncio.sleep(0.02)
    opened = time.perf_counter() - opening
    start = time.perf_counter()
    go.set()
    results = await asyncio.gather(*tasks)
    return results, opened, time.perf_counter() - start


def login(node, source, headers, timeout=60):
    """(status, response headers, ms) of the admin's real password from `source`."""
    start = time.perf_counter()
    try:
        status, answer, _ = http(node.port, "POST", "/api/v1/auth/login",
                                 {"username": "admin", "password": node.password}, headers, source=source,
                                 timeout=timeout)
    except OSError as e:
        status, answer = type(e).__name__, {}
    return status, answer, (time.perf_counter() - start) * 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--sources", type=int, default=1, help="flood source addresses from 127.0.0.2 on")
    ap.add_argument("--timeout", type=float, default=180, help="per request, seconds")
    ap.add_argument("--rss-cap-mib", type=float, default=4096)
    ap.add_argument("--many-users", action="store_true",
                    help="each request names another user (no account delay: every one needs a hash)")
    args = ap.parse_args()
    if not 1 <= args.sources <= 60000:
        raise SystemExit("--sources must be 1 to 60000")
    watchdog(args.timeout + 240)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    node = Node()
    rss = probe = None
    try:
        print(f"node: {node.bin} pid {node.pid} at {node.url}")
        rss = RssSampler(node.pid, cap_mib=args.rss_cap_mib)
        rss.start()
        time.sleep(0.5)
        rss_start = rss.latest

        # The admin's own browser signs in first; a 403 means this node wants
        # an Origin (CSRF guard) on the login.
        headers = {}
        status, answer, ms = login(node, "127.0.0.1", headers)
        if status == 403:
            headers = {"Origin": node.url}
            status, answer, ms = login(node, "127.0.0.1", headers)
        device = cookie(answer, "vigil_device")
        print(f"admin login from 127.0.0.1 before the flood: {status} in {ms:.0f} ms"
              f"{' (with Origin)' if headers else ' (no Origin needed)'}; "
              f"device cookie: {'yes' if device else 'none'}")
        if status != 200:
            raise SystemExit(f"the admin cannot sign in before the flood ({status}); nothing to measure")

        baseline = HealthProbe(node.port, count=25)
        baseline.run()
        print(latency_line("healthz before the flood", baseline.latencies))

        probe = HealthProbe(node.port, gap=0.02)
        probe.start()
        time.sleep(0.3)  # the probe's process is up and probing
        results, opened, duration = asyncio.run(
            flood(node.port, args.requests, args.sources, headers, args.timeout, args.many_users))
        probe.stop()
        time.sleep(1)
        rss_end = rss.latest
        peak = rss.peak

        histogram = {}
        for r in results:
            histogram[r] = histogram.get(r, 0) + 1
        last = FLOOD_SOURCE + args.sources - 1
        print(f"flood: {args.requests} wrong-password logins from {FLOOD_SOURCE}"
              f"{f' to {last} ({args.sources} addresses)' if args.sources > 1 else ''}, "
              f"connections opened in {opened:.2f} s, all answered or given up in {duration:.2f} s")
        for key in sorted(histogram, key=str):
            print(f"status {key}: {histogram[key]}")
        print(f"node rss: start {rss_start:.1f} MiB, peak {peak:.1f} MiB, end {rss_end:.1f} MiB (1 s after the flood)")
        if rss.capped:
            print(f"node killed by the bench at the RSS cap of {args.rss_cap_mib:.0f} MiB")
        print(latency_line("healthz during the flood", probe.latencies))
        print(f"healthz statuses during the flood: {dict(sorted(probe.statuses.items(), key=str))}")

        status, answer, ms = login(node, FRESH_CLIENT, headers)
        retry = f", Retry-After {answer['retry-after']} s" if "retry-after" in answer else ""
        print(f"admin login from a fresh client ({FRESH_CLIENT}, no cookie) after the flood: {status} "
              f"in {ms:.0f} ms{retry}")
        own = dict(headers, Cookie=device) if device else headers
        good, _, ms = login(node, "127.0.0.1", own)
        print(f"admin login from 127.0.0.1{' with its device cookie' if device else ''} after the flood: "
              f"{good} in {ms:.0f} ms")
        print(f"node alive at the end: {'yes' if node.alive() else f'no (exit {node.proc.returncode})'}; "
              f"log lines (warn and above): {node.log_lines()}")

        failures = []
        if peak >= GOAL_RSS_MIB:
            failures.append(f"peak RSS {peak:.0f} MiB >= 300 MB")
        if histogram.get(500):
            failures.append(f"{histogram[500]} answers 500")
        p99 = percentile(probe.latencies, 99) if probe.latencies else None
        if p99 is None or p99 >= GOAL_P99_MS:
            failures.append("no healthz samples" if p99 is None else f"healthz p99 {p99:.0f} ms >= {GOAL_P99_MS} ms")
        if any(s != 200 for s in probe.statuses):
            failures.append("healthz not always 200")
        if good != 200:
            failures.append(f"the admin's own login answered {good}")
        print(("PASS" if not failures else "FAIL: " + "; ".join(failures))
              + " (goal: RSS < 300 MB, no 500, healthz p99 < 100 ms, the admin still signs in)")
    finally:
        if probe:
            probe.stop()
        if rss:
            rss.stop()
        node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
