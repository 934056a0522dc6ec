"""Shared pieces of the security benchmarks: login_flood.py,
udp_flood.py and conn_flood.py. Python 3 stdlib only.

- Node: one node (VIGIL_BIN, default target/release/vigil, relative paths
  taken from the repository root) on a fresh temporary data directory and
  free loopback ports, stopped and removed by stop() / the with block.
- http(): one hand-written HTTP/1.1 request on a fresh connection
  (`Connection: close`), optionally from a given loopback source address.
- cookie(): one cookie out of a response's Set-Cookie headers.
- RssSampler: VmRSS of a process every 50 ms (start, peak, latest), and an
  optional cap above which it kills the process to protect the machine.
- HealthProbe: /healthz latencies on fresh connections, from a child process
  (`python3 bench/secbench.py probe <port> <gap> <count> <timeout>`).
- datagram(): the product UDP datagram of SPEC 4.4 / protocol/src/lib.rs.
- metrics(): the node's /metrics text as {name{labels}: value}.
- watchdog(): a hard time limit on the whole script; SIGTERM also unwinds
  through the callers' finally blocks.
"""
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

from procstat import rss_mib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENROLLMENT_SECRET = "bench-enrollment-secret-0123456789"
LOOPBACK = "127.0.0.1"


def binary():
    path = os.environ.get("VIGIL_BIN", os.path.join("target", "release", "vigil"))
    path = path if os.path.isabs(path) else os.path.join(ROOT, path)
    if not os.access(path, os.X_OK):
        raise SystemExit(f"no node binary at {path} (make build, or set VIGIL_BIN)")
    return path


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


class Timeout(Exception):
    """The script's own time limit ran out."""


def watchdog(seconds):
    """Raises Timeout in the main thread after `seconds`; SIGTERM raises
    SystemExit. Either way the callers' finally blocks stop the node."""
    def expired(_sig, _frame):
        raise Timeout(f"time limit of {seconds} s reached")

    def terminated(_sig, _frame):
        raise SystemExit(143)

    signal.signal(signal.SIGALRM, expired)
    signal.signal(signal.SIGTERM, terminated)
    signal.alarm(int(seconds))


class Node:
    """A node on its own temporary data dir and loopback ports."""

    def __init__(self, startup_timeout=120, extra_env=None):
        self.bin = binary()
        self.dir = tempfile.mkdtemp(prefix="vigil-bench-")
        self.port = free_port()
        self.udp_port = free_port(socket.SOCK_DGRAM)
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.password = "Bench-" + secrets.token_urlsafe(18)  # 30 characters
        self.proc = None
        self.log_path = os.path.join(self.dir, "node.log")
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
        env.update(VIGIL_LOG="warn", VIGIL_LISTEN=f"{LOOPBACK}:{self.port}",
                   VIGIL_UDP_LISTEN=f"{LOOPBACK}:{self.udp_port}", VIGIL_PUBLIC_URL=self.url,
                   VIGIL_DATA_DIR=self.dir, VIGIL_NODE_NAME="bench",
                   VIGIL_ADMIN_PASSWORD=self.password, VIGIL_ENROLLMENT_SECRET=ENROLLMENT_SECRET)
        env.update(extra_env or {})
        try:
            self.log = open(self.log_path, "wb")
            # Its own session: a Ctrl-C in the terminal reaches the script only,
            # which then stops the node itself.
            self.proc = subprocess.Popen([self.bin, "serve"], env=env, cwd=ROOT, stdout=self.log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
            until = time.monotonic() + startup_timeout
            while True:
                if self.proc.poll() is not None:
                    raise SystemExit(f"the node exited with {self.proc.returncode} at start:\n{self.tail()}")
                try:
                    if http(self.port, "GET", "/healthz", timeout=2)[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > until:
                    raise SystemExit(f"the node did not answer /healthz in {startup_timeout} s:\n{self.tail()}")
                time.sleep(0.2)
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def tail(self, lines=10):
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-lines:]).decode(errors="replace")
        except OSError:
            return ""

    def log_lines(self):
        try:
            with open(self.log_path, "rb") as f:
                return sum(1 for _ in f)
        except OSError:
            return 0

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if getattr(self, "log", None):
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def request_bytes(port, method, path, body=None, headers=None):
    head = [f"{method} {path} HTTP/1.1", f"Host: {LOOPBACK}:{port}", "Connection: close"]
    for name, value in (headers or {}).items():
        head.append(f"{name}: {value}")
    data = b""
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        head += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + data


def parse_response(raw):
    """(status, headers, body) of a whole HTTP/1.1 response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        # Repeated headers (Set-Cookie) are kept, one per line.
        headers[name] = headers[name] + "\n" + value.strip() if name in headers else value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        out, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0] or b"0", 16)
            if size == 0:
                break
            out, rest = out + rest[:size], rest[size + 2:]
        body = out
    return status, headers, body


def http(port, method, path, body=None, headers=None, source=None, timeout=10):
    """One request on a fresh connection: (status, headers, body)."""
    src = (source, 0) if source else None
    with socket.create_connection((LOOPBACK, port), timeout=timeout, source_address=src) as s:
        s.sendall(request_bytes(port, method, path, body, headers))
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return parse_response(b"".join(chunks))


def cookie(headers, name):
    """`name=value` of the Set-Cookie named `name` in a parsed response, or None."""
    for line in headers.get("set-cookie", "").split("\n"):
        pair = line.split(";")[0].strip()
        if pair.startswith(name + "=") and pair != name + "=":
            return pair
    return None


def percentile(values, p):
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-p * len(ordered) // 100))
    return ordered[min(len(ordered), int(rank)) - 1]


def latency_line(name, samples_ms):
    if not samples_ms:
        return f"{name}: no samples"
    return (f"{name}: n={len(samples_ms)} p50={percentile(samples_ms, 50):.1f} ms "
            f"p99={percentile(samples_ms, 99):.1f} ms max={max(samples_ms):.1f} ms")


class RssSampler(threading.Thread):
    """VmRSS of `pid` every `interval` s; kills the process past `cap_mib`."""

    def __init__(self, pid, interval=0.05, cap_mib=None):
        super().__init__(daemon=True)
        self.pid, self.interval, self.cap_mib = pid, interval, cap_mib
        self.first = self.latest = self.peak = 0.0
        self.capped = False
        self.done = threading.Event()

    def sample(self):
        try:
            return rss_mib(self.pid)
        except OSError:
            return None

    def run(self):
        while not self.done.is_set():
            rss = self.sample()
            if rss is None:
                break
            self.latest = rss
            self.first = self.first or rss
            self.peak = max(self.peak, rss)
            if self.cap_mib and rss > self.cap_mib and not self.capped:
                self.capped = True
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except OSError:
                    pass
            self.done.wait(self.interval)

    def stop(self):
        self.done.set()
        self.join(timeout=2)


class HealthProbe:
    """GET /healthz on a fresh connection every `gap` s, until stopped or
    `count` samples; latencies in ms, and every status or error seen.

    run() probes in this process (for a quiet baseline); start() ... stop()
    probe in a child process, so that the bench's own work (opening a
    thousand connections, say) cannot hold the probe's clock through the GIL.
    """

    def __init__(self, port, gap=0.02, count=None, timeout=5):
        self.port, self.gap, self.count, self.timeout = port, gap, count, timeout
        self.latencies, self.statuses = [], {}
        self.proc = None

    def run(self, stopped=lambda: False):
        while not stopped() and (not self.count or len(self.latencies) < self.count):
            start = time.perf_counter()
            try:
                status = http(self.port, "GET", "/healthz", timeout=self.timeout)[0]
            except socket.timeout:
                status = "timeout"
            except (OSError, ValueError, IndexError) as e:
                status = type(e).__name__
            self.latencies.append((time.perf_counter() - start) * 1000)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            time.sleep(self.gap)

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-B", os.path.abspath(__file__), "probe", str(self.port), str(self.gap),
             str(self.count or 0), str(self.timeout)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def stop(self):
        """Stops the child (if it has not taken its `count` yet) and collects."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        try:
            out, _ = proc.communicate("stop\n", timeout=self.timeout + 10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        data = json.loads(out or "{}")
        self.latencies = data.get("latencies", [])
        self.statuses = {int(k) if k.isdigit() else k: v for k, v in data.get("statuses", {}).items()}


def _probe_child(port, gap, count, timeout):
    probe = HealthProbe(int(port), float(gap), int(count), float(timeout))
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    probe.run(stop.is_set)
    print(json.dumps({"latencies": probe.latencies, "statuses": {str(k): v for k, v in probe.statuses.items()}}))


# The product datagram (SPEC 4.4), all integers big-endian.
MAGIC = b"VGL1"
HEARTBEAT, HELLO = 1, 2
HEADER = struct.Struct(">4sB16sQQH")


def datagram(kind, product, seq, sent_at_ms, payload, key):
    """`product`: 16 UUID bytes; `key`: the 32 bytes decoded from the hex key."""
    signed = HEADER.pack(MAGIC, kind, product, seq, sent_at_ms, len(payload)) + payload
    return signed + hmac.digest(key, signed, hashlib.sha256)


class Sequence:
    """Strictly increasing sequence numbers: the clock in microseconds, or one
    more than the last (as protocol::Sequence)."""

    def __init__(self):
        self.last = 0

    def next(self, now_ms):
        self.last = max(now_ms * 1000, self.last + 1)
        return self.last


METRIC = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)")


def metrics(port):
    """/metrics as {'name{labels}': float}."""
    status, _, body = http(port, "GET", "/metrics")
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}")
    out = {}
    for line in body.decode(errors="replace").splitlines():
        m = METRIC.match(line)
        if m and not line.startswith("#"):
            try:
                out[m.group(1)] = float(m.group(2))
            except ValueError:
                pass
    return out


def udp_outcome(values, outcome):
    """The UDP datagram counter for `outcome`, whatever its label is called
    (`result` today, `outcome` or `reason` perhaps later); None if absent."""
    for label in ("result", "outcome", "reason"):
        for name in ("vigil_udp_datagrams_total", "vigil_udp_datagrams"):
            key = f'{name}{{{label}="{outcome}"}}'
            if key in values:
                return values[key]
    return None


if __name__ == "__main__" and sys.argv[1:2] == ["probe"]:
    _probe_child(*sys.argv[2:6])
