#!/usr/bin/env python3
"""Connection flood: idle and slow-header connections held
against one node while /healthz is timed on fresh connections.

    python3 bench/conn_flood.py [--idle 2000] [--slow 2000] [--hold 30] [--samples 200]

The node is VIGIL_BIN (default target/release/vigil, relative to the
repository root) on a temporary data dir and free loopback ports. The
script raises its own RLIMIT_NOFILE to the hard limit (the node inherits
it), then opens --idle connections that send nothing and --slow connections
that send `GET / HTTP/1.1\\r\\nHost: x\\r\\n` and then one more header byte
every 5 s, never finishing. While they are held (--hold s from the moment
they are all open), /healthz is requested --samples times, 20 ms apart,
each on a fresh connection.

Prints: how many connections opened, /healthz p50/p99/max and statuses
while they are held (and a short baseline before), how many of them the
node closed by itself and after how long, and PASS/FAIL against the goal
(/healthz p99 < 100 ms and every answer 200). Exit code 0 whatever the
figures; non-zero only when the script itself breaks.
"""
import argparse
import errno
import resource
import selectors
import socket
import statistics
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from procstat import rss_mib  # noqa: E402
from secbench import HealthProbe, Node, latency_line, metrics, percentile, watchdog  # noqa: E402

GOAL_P99_MS = 100
SLOW_HEAD = b"GET / HTTP/1.1\r\nHost: x\r\n"
SLOW_BYTES = b"X-Slow-Header-Never-Ends"
TRICKLE = 5.0  # seconds between two header bytes


class Conn:
    __slots__ = ("sock", "kind", "opened", "closed", "answer", "sent")

    def __init__(self, sock, kind):
        self.sock, self.kind = sock, kind
        self.opened = self.closed = None
        self.answer = b""
        self.sent = 0


def open_all(port, idle, slow, batch=250, batch_timeout=10):
    """Non-blocking connects in batches; the connections that opened, and
    how many did not (refused, reset or not accepted in time)."""
    kinds = ["idle"] * idle + ["slow"] * slow
    opened, failed = [], {}
    sel = selectors.DefaultSelector()
    for start in range(0, len(kinds), batch):
        pending = {}
        for kind in kinds[start:start + batch]:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex(("127.0.0.1", port))
            if err not in (0, errno.EINPROGRESS):
                failed[errno.errorcode.get(err, str(err))] = failed.get(errno.errorcode.get(err, str(err)), 0) + 1
                s.close()
                continue
            c = Conn(s, kind)
            pending[s.fileno()] = c
            sel.register(s, selectors.EVENT_WRITE, c)
        until = time.monotonic() + batch_timeout
        while pending and time.monotonic() < until:
            for key, _ in sel.select(timeout=0.5):
                c = key.data
                sel.unregister(c.sock)
                del pending[c.sock.fileno()]
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    name = errno.errorcode.get(err, str(err))
                    failed[name] = failed.get(name, 0) + 1
                    c.sock.close()
                    continue
                c.opened = time.monotonic()
                if c.kind == "slow":
                    try:
                        c.sock.send(SLOW_HEAD)
                    except OSError as e:
                        c.closed = c.opened
                        c.answer = type(e).__name__.encode()
                opened.append(c)
        for c in pending.values():
            sel.unregister(c.sock)
            c.sock.close()
            failed["connect_timeout"] = failed.get("connect_timeout", 0) + 1
    sel.close()
    return opened, failed


def close_of(c, now, answer=b""):
    if c.closed is None:
        c.closed = now
        c.answer = c.answer or answer


def hold(conns, seconds):
    """Keeps the connections until `seconds` from now: notes the ones the
    node closes (or answers), trickles a header byte into the slow ones."""
    sel = selectors.DefaultSelector()
    for c in conns:
        if c.closed is None:
            sel.register(c.sock, selectors.EVENT_READ, c)
    end = time.monotonic() + seconds
    next_trickle = time.monotonic() + TRICKLE
    while True:
        now = time.monotonic()
        if now >= end:
            break
        for key, _ in sel.select(timeout=min(0.5, end - now, max(0.0, next_trickle - now))):
            c = key.data
            try:
                data = c.sock.recv(4096)
            except OSError as e:
                data, err = None, type(e).__name__.encode()
            if data:
                c.answer = c.answer or data[:40]
                continue
            sel.unregister(c.sock)
            close_of(c, time.monotonic(), b"" if data == b"" else err)
        if time.monotonic() >= next_trickle:
            next_trickle += TRICKLE
            for c in conns:
                if c.kind == "slow" and c.closed is None:
                    try:
                        c.sock.send(SLOW_BYTES[c.sent % len(SLOW_BYTES):][:1])
                        c.sent += 1
                    except OSError as e:
                        sel.unregister(c.sock)
                        close_of(c, time.monotonic(), type(e).__name__.encode())
    sel.close()


def closed_line(conns, kind):
    mine = [c for c in conns if c.kind == kind]
    closed = [c.closed - c.opened for c in mine if c.closed is not None]
    line = f"{kind} connections closed by the node: {len(closed)} of {len(mine)}"
    if closed:
        line += (f", after min {min(closed):.1f} s / median {statistics.median(closed):.1f} s / "
                 f"max {max(closed):.1f} s")
    answers = {}
    for c in mine:
        if c.answer:
            first = c.answer.split(b"\r\n")[0].decode(errors="replace")
            answers[first] = answers.get(first, 0) + 1
    if answers:
        line += f"; what they got: {answers}"
    return line


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--idle", type=int, default=2000)
    ap.add_argument("--slow", type=int, default=2000)
    ap.add_argument("--hold", type=float, default=30, help="seconds the connections are held once open")
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--gap", type=float, default=0.02, help="seconds between two /healthz requests")
    args = ap.parse_args()
    watchdog(args.hold + 240)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"RLIMIT_NOFILE raised to {hard} (the node inherits it)")

    node = Node()
    conns, probe = [], None
    try:
        print(f"node: {node.bin} pid {node.pid} at {node.url}")
        baseline = HealthProbe(node.port, count=25)
        baseline.run()
        print(latency_line("healthz before the flood", baseline.latencies))
        rss_before = rss_mib(node.pid)

        started = time.monotonic()
        conns, failed = open_all(node.port, args.idle, args.slow)
        print(f"connections opened: idle {sum(c.kind == 'idle' for c in conns)} of {args.idle}, "
              f"slow {sum(c.kind == 'slow' for c in conns)} of {args.slow}, "
              f"in {time.monotonic() - started:.2f} s; not opened: {failed or 0}")

        probe = HealthProbe(node.port, gap=args.gap, count=args.samples)
        probe.start()
        hold(conns, args.hold)
        probe.stop()
        still = sum(c.closed is None for c in conns)
        rss_after = rss_mib(node.pid) if node.alive() else 0.0

        print(latency_line(f"healthz while held ({args.samples} asked, {args.gap * 1000:.0f} ms apart)",
                           probe.latencies))
        print(f"healthz statuses while held: {dict(sorted(probe.statuses.items(), key=str))}")
        print(closed_line(conns, "idle"))
        print(closed_line(conns, "slow"))
        print(f"still open after {args.hold:.0f} s: {still} of {len(conns)}")
        print(f"node rss: {rss_before:.1f} MiB before, {rss_after:.1f} MiB while held")
        try:
            conn_metrics = {k: v for k, v in metrics(node.port).items() if "conn" in k or "http" in k}
        except (OSError, RuntimeError, ValueError, IndexError):
            conn_metrics = {}
        print("node connection metrics: " + (", ".join(f"{k} {v:.0f}" for k, v in sorted(conn_metrics.items()))
                                             or "none exposed"))
        print(f"node alive at the end: {'yes' if node.alive() else f'no (exit {node.proc.returncode})'}; "
              f"log lines (warn and above): {node.log_lines()}")

        failures = []
        if len(probe.latencies) < args.samples:
            failures.append(f"only {len(probe.latencies)} of {args.samples} healthz samples taken")
        if probe.latencies and percentile(probe.latencies, 99) >= GOAL_P99_MS:
            failures.append(f"healthz p99 {percentile(probe.latencies, 99):.0f} ms >= {GOAL_P99_MS} ms")
        bad = {k: v for k, v in probe.statuses.items() if k != 200}
        if bad or not probe.latencies:
            failures.append(f"healthz answers other than 200: {bad}")
        print(("PASS" if not failures else "FAIL: " + "; ".join(failures))
              + " (goal: healthz p99 < 100 ms and every answer 200)")
    finally:
        if probe:
            probe.stop()
        for c in conns:
            c.sock.close()
        node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
