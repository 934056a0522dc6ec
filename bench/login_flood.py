#!/usr/bin/env python3
"""Login flood (issue #14): N concurrent wrong-password logins against one
fresh node, all in flight at once, while /healthz is timed every 20 ms.

    python3 bench/login_flood.py [--requests 1000] [--timeout 180] [--rss-cap-mib 4096]

The node is VIGIL_BIN (default target/release/vigil, relative to the
repository root) on a temporary data dir and free loopback ports. Each
flood request is `POST /api/v1/auth/login` with a wrong password on its own
connection (`Connection: close`) from source address 127.0.0.2; the
connections are opened first, then every request is written at once. After
the flood the real admin password must still sign in from 127.0.0.1.

Prints: the status histogram, the node's RSS at start, peak (VmRSS every
50 ms) and end, /healthz p50/p99/max during the flood, the flood duration,
the status of the correct login, and PASS/FAIL against the goal (RSS < 300
MB, no 500, /healthz p99 < 100 ms). Past --rss-cap-mib the node is killed to
protect the machine (the goal has failed by then anyway). Exit code 0
whatever the figures; non-zero only when the script itself breaks.
"""
import argparse
import asyncio
import resource
import secrets
import sys
import time

from secbench import HealthProbe, Node, RssSampler, http, latency_line, percentile, request_bytes, watchdog

FLOOD_SOURCE = "127.0.0.2"   # the attacker
PROBE_SOURCE = "127.0.0.3"   # the one-off CSRF check, so the flood address starts clean
GOAL_RSS_MIB = 300 * 1000 * 1000 / 2**20  # 300 MB
GOAL_P99_MS = 100


async def one_login(port, body, headers, go, ready, timeout):
    """Connects, waits for `go`, sends the login; the answer's status or the
    name of what went wrong."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, local_addr=(FLOOD_SOURCE, 0)), timeout=30)
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


async def flood(port, count, headers, timeout):
    go, ready = asyncio.Event(), [0]
    tasks = [asyncio.ensure_future(one_login(
        port, {"username": "admin", "password": f"wrong-{i:04d}-{secrets.token_hex(4)}"}, headers, go, ready,
        timeout)) for i in range(count)]
    # Let every connection open (or fail to), then fire them all together.
    opening = time.perf_counter()
    while ready[0] < count and time.perf_counter() - opening < 40:
        await asyncio.sleep(0.02)
    opened = time.perf_counter() - opening
    start = time.perf_counter()
    go.set()
    results = await asyncio.gather(*tasks)
    return results, opened, time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--timeout", type=float, default=180, help="per request, seconds")
    ap.add_argument("--rss-cap-mib", type=float, default=4096)
    args = ap.parse_args()
    watchdog(args.timeout + 240)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    node = Node()
    rss = probe = None
    try:
        print(f"node: {node.bin} pid {node.pid} at {node.url}")
        rss = RssSampler(node.pid, cap_mib=args.rss_cap_mib)
        rss.start()
        time.sleep(0.5)
        rss_start = rss.latest

        # Does this node want an Origin on the login? (403 = CSRF guard.)
        headers = {}
        status = http(node.port, "POST", "/api/v1/auth/login",
                      {"username": "admin", "password": "wrong-csrf-check"}, source=PROBE_SOURCE)[0]
        if status == 403:
            headers = {"Origin": node.url}
        print(f"csrf check (no Origin): {status}{' -> sending Origin' if headers else ''}")

        baseline = HealthProbe(node.port, count=25)
        baseline.run()
        print(latency_line("healthz before the flood", baseline.latencies))

        probe = HealthProbe(node.port, gap=0.02)
        probe.start()
        results, opened, duration = asyncio.run(flood(node.port, args.requests, headers, args.timeout))
        probe.stop()
        time.sleep(1)
        rss_end = rss.latest
        peak = rss.peak

        histogram = {}
        for r in results:
            histogram[r] = histogram.get(r, 0) + 1
        print(f"flood: {args.requests} wrong-password logins from {FLOOD_SOURCE}, "
              f"connections opened in {opened:.2f} s, all answered or given up in {duration:.2f} s")
        for key in sorted(histogram, key=str):
            print(f"status {key}: {histogram[key]}")
        print(f"node rss: start {rss_start:.1f} MiB, peak {peak:.1f} MiB, end {rss_end:.1f} MiB (1 s after the flood)")
        if rss.capped:
            print(f"node killed by the bench at the RSS cap of {args.rss_cap_mib:.0f} MiB")
        print(latency_line("healthz during the flood", probe.latencies))
        print(f"healthz statuses during the flood: {dict(sorted(probe.statuses.items(), key=str))}")

        start = time.perf_counter()
        try:
            good = http(node.port, "POST", "/api/v1/auth/login",
                        {"username": "admin", "password": node.password}, headers, source="127.0.0.1",
                        timeout=60)[0]
        except OSError as e:
            good = type(e).__name__
        print(f"correct admin login from 127.0.0.1 after the flood: {good} "
              f"in {(time.perf_counter() - start) * 1000:.0f} ms")
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
            failures.append(f"correct login answered {good}")
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
