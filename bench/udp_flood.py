#!/usr/bin/env python3
"""UDP flood: does a real product lose heartbeats while the
node's UDP listener is flooded with well-formed datagrams of unknown
products?

    python3 bench/udp_flood.py [--rate 20000] [--duration 10] [--interval 0.1]

The node is VIGIL_BIN (default target/release/vigil, relative to the
repository root) on a temporary data dir and free loopback ports. One
product registers (POST /api/v1/products/register with the enrollment
secret) and sends a signed UDP heartbeat every --interval s for the whole
run; meanwhile a flooder sends --rate datagrams/s for --duration s, each a
signed heartbeat of a random product id under a random key (paced in small
bursts against the clock).

Prints: real heartbeats sent and accepted (the node's accepted counter: only
the real product can be accepted), the other UDP counters (unknown_product
…), the kernel drops the node reports (vigil_udp_kernel_drops, when it
exists) and those of /proc/net/udp for its port before and after, the flood
rate achieved, and PASS/FAIL against the goal (the real product loses no
heartbeat). Exit code 0 whatever the figures; non-zero only when the script
itself breaks.
"""
import argparse
import json
import os
import socket
import sys
import threading
import time
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from secbench import (ENROLLMENT_SECRET, HEARTBEAT, Node, Sequence, datagram, http, metrics,  # noqa: E402
                      udp_outcome, watchdog)

OUTCOMES = ("accepted", "malformed", "unknown_product", "bad_tag", "replay", "stale")


def proc_net_udp(port):
    """(rx_queue bytes, drops) of the loopback UDP socket on `port`, or None."""
    try:
        with open("/proc/net/udp") as f:
            next(f)
            for line in f:
                fields = line.split()
                address, _, hexport = fields[1].partition(":")
                if int(hexport, 16) == port and address in ("0100007F", "00000000"):
                    rx_queue = int(fields[4].split(":")[1], 16)
                    return rx_queue, int(fields[-1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def kernel_drops_metric(values):
    for name in ("vigil_udp_kernel_drops", "vigil_udp_kernel_drops_total"):
        if name in values:
            return values[name]
    for name, value in values.items():
        if name.startswith("vigil_udp_kernel_drops"):
            return value
    return None


def udp_counts(values):
    return {o: udp_outcome(values, o) for o in OUTCOMES}


class RealProduct(threading.Thread):
    """Sends a signed heartbeat every `interval` s until stopped."""

    def __init__(self, udp_port, product, key, interval):
        super().__init__(daemon=True)
        self.target, self.product, self.key, self.interval = ("127.0.0.1", udp_port), product, key, interval
        self.sent = self.errors = 0
        self.done = threading.Event()

    def run(self):
        seq = Sequence()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            next_at = time.monotonic()
            while not self.done.is_set():
                now_ms = int(time.time() * 1000)
                payload = b'{"bench":"real","n":%d}' % self.sent
                try:
                    s.sendto(datagram(HEARTBEAT, self.product, seq.next(now_ms), now_ms, payload, self.key),
                             self.target)
                    self.sent += 1
                except OSError:
                    self.errors += 1
                next_at += self.interval
                self.done.wait(max(0.0, next_at - time.monotonic()))


class Flooder(threading.Thread):
    """Sends the pre-built datagrams at `rate` per second for `duration` s."""

    def __init__(self, udp_port, packets, rate, duration):
        super().__init__(daemon=True)
        self.target, self.packets, self.rate, self.duration = ("127.0.0.1", udp_port), packets, rate, duration
        self.sent = self.errors = 0
        self.elapsed = 0.0

    def run(self):
        burst = max(1, self.rate // 1000)  # ~1 ms worth at a time
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            start = time.monotonic()
            i, n = 0, len(self.packets)
            while True:
                elapsed = time.monotonic() - start
                if elapsed >= self.duration:
                    break
                due = min(int(elapsed * self.rate), n)
                if self.sent >= due:
                    time.sleep(0.001)
                    continue
                for _ in range(min(burst, due - self.sent)):
                    try:
                        s.sendto(self.packets[i], self.target)
                    except OSError:
                        self.errors += 1
                    i += 1
                    self.sent += 1
            self.elapsed = time.monotonic() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=int, default=20000, help="flood datagrams per second")
    ap.add_argument("--duration", type=float, default=10, help="flood seconds")
    ap.add_argument("--interval", type=float, default=0.1, help="real heartbeat interval, seconds")
    ap.add_argument("--drain", type=float, default=30, help="longest wait for the node's counters to settle")
    args = ap.parse_args()
    watchdog(args.duration + args.drain + 240)

    node = Node()
    real = None
    try:
        print(f"node: {node.bin} pid {node.pid} at {node.url}, UDP 127.0.0.1:{node.udp_port}")
        product_uuid = uuid.uuid4()
        status, _, body = http(node.port, "POST", "/api/v1/products/register", {
            "enrollment_secret": ENROLLMENT_SECRET, "uuid": str(product_uuid), "name": "bench-real",
            "product_type": "bench", "version": "1.0"})
        if status != 200:
            raise SystemExit(f"registration answered {status}: {body[:300]!r}")
        reply = json.loads(body)
        product = uuid.UUID(reply["product_id"]).bytes
        key = bytes.fromhex(reply["key"])
        print(f"registered product {reply['product_id']} (node says UDP endpoint {reply.get('udp_endpoint')})")

        # The flood, built before it starts so that pacing is all sendto.
        total = int(args.rate * args.duration)
        built = time.perf_counter()
        now_ms = int(time.time() * 1000)
        packets = [datagram(HEARTBEAT, os.urandom(16), (now_ms + i) * 1000, now_ms, b"", os.urandom(32))
                   for i in range(total)]
        print(f"flood datagrams built: {total} ({len(packets[0])} bytes each) in {time.perf_counter() - built:.1f} s")

        before = metrics(node.port)
        kernel_before = proc_net_udp(node.udp_port)
        metric_drops_before = kernel_drops_metric(before)

        real = RealProduct(node.udp_port, product, key, args.interval)
        real.start()
        time.sleep(1)
        flooder = Flooder(node.udp_port, packets, args.rate, args.duration)
        flooder.start()
        flooder.join()
        time.sleep(2)
        real.done.set()
        real.join(timeout=5)

        # Let the node work through what its socket buffer still holds.
        settle_start = time.monotonic()
        last, stable_since, after = None, time.monotonic(), before
        while time.monotonic() - settle_start < args.drain:
            after = metrics(node.port)
            counts = tuple(udp_counts(after).values())
            if counts != last:
                last, stable_since = counts, time.monotonic()
            elif time.monotonic() - stable_since >= 1.5:
                break
            time.sleep(0.5)
        settled = time.monotonic() - settle_start
        kernel_after = proc_net_udp(node.udp_port)

        c0, c1 = udp_counts(before), udp_counts(after)
        delta = {o: (None if c1[o] is None else c1[o] - (c0[o] or 0)) for o in OUTCOMES}
        accepted = delta["accepted"]
        print(f"flood: {flooder.sent} datagrams in {flooder.elapsed:.2f} s = "
              f"{flooder.sent / max(flooder.elapsed, 1e-9):.0f}/s (asked {args.rate}/s), send errors {flooder.errors}")
        print(f"real heartbeats sent: {real.sent} (every {args.interval * 1000:.0f} ms, send errors {real.errors})")
        print(f"real heartbeats accepted: {'n/a' if accepted is None else int(accepted)}")
        for o in OUTCOMES[1:]:
            print(f"udp {o}: {'not exposed' if delta[o] is None else int(delta[o])}")
        handled = sum(v for v in delta.values() if v is not None)
        print(f"datagrams counted by the node: {int(handled)} of {flooder.sent + real.sent} sent "
              f"(counters settled after {settled:.1f} s{'' if settled < args.drain else ', still moving'})")
        metric_drops_after = kernel_drops_metric(after)
        if metric_drops_after is None:
            print("vigil_udp_kernel_drops: not exposed by this node")
        else:
            print(f"vigil_udp_kernel_drops: {metric_drops_after - (metric_drops_before or 0):.0f} during the run "
                  f"({metric_drops_after:.0f} total)")
        if kernel_before and kernel_after:
            print(f"/proc/net/udp drops on port {node.udp_port}: {kernel_after[1] - kernel_before[1]} during the run "
                  f"(before {kernel_before[1]}, after {kernel_after[1]}; rx_queue now {kernel_after[0]} bytes)")
        else:
            print(f"/proc/net/udp: no socket found for port {node.udp_port}")
        print(f"node alive at the end: {'yes' if node.alive() else f'no (exit {node.proc.returncode})'}; "
              f"log lines (warn and above): {node.log_lines()}")

        lost = None if accepted is None else real.sent - int(accepted)
        if lost == 0:
            print(f"PASS (goal: the real product loses no heartbeat; {real.sent} sent, all accepted)")
        else:
            print(f"FAIL: the real product lost {'?' if lost is None else lost} of {real.sent} heartbeats "
                  f"(goal: none lost)")
    finally:
        if real:
            real.done.set()
        node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
