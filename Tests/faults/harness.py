"""Shared pieces of the fault-injection tests: results, the relay process, a controllable receiver, HTTP helpers.

Standard library only. Everything listens on 127.0.0.1; every process started here is registered with a
`Cleanup` and stopped by its PID at the end, whatever happens.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import unquote_plus

HOST = "127.0.0.1"


# ---------------------------------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------------------------------

class Results:
    """Counts ok/FAIL lines; prints figures as they come."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0
        self.failures: list[str] = []
        self.skipped: list[str] = []

    def check(self, scenario: str, name: str, condition: bool, detail: str = "", on_fail: str = "") -> bool:
        """One ok/FAIL line; `detail` is always shown, `on_fail` (e.g. a log tail) only on failure."""
        line = f"{scenario}: {name}" + (f" ({detail})" if detail else "")
        if condition:
            self.passed += 1
            print(f"  ok   {line}", flush=True)
        else:
            self.failed += 1
            self.failures.append(line)
            print(f"  FAIL {line}", flush=True)
            if on_fail:
                print("       " + on_fail.replace("\n", "\n       "), flush=True)
        return condition

    def figure(self, scenario: str, name: str, value: Any) -> None:
        print(f"  --   {scenario}: {name} = {value}", flush=True)

    def skip(self, scenario: str, reason: str) -> None:
        self.skipped.append(f"{scenario}: {reason}")
        print(f"  SKIP {scenario}: {reason}", flush=True)


# ---------------------------------------------------------------------------------------------------------------------
# Cleanup: PIDs, mounts, temp dirs
# ---------------------------------------------------------------------------------------------------------------------

class Cleanup:
    """Stops what was started, by PID, and removes what was created. Idempotent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: list[subprocess.Popen[bytes]] = []
        self._servers: list["Receiver"] = []
        self._mounts: list[str] = []
        self._dirs: list[str] = []

    def proc(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.append(proc)

    def receiver(self, receiver: "Receiver") -> None:
        with self._lock:
            self._servers.append(receiver)

    def mount(self, path: str) -> None:
        with self._lock:
            self._mounts.append(path)

    def forget_mount(self, path: str) -> None:
        with self._lock:
            if path in self._mounts:
                self._mounts.remove(path)

    def tempdir(self, prefix: str) -> str:
        path = tempfile.mkdtemp(prefix=f"faults-{prefix}-")
        with self._lock:
            self._dirs.append(path)
        return path

    def stop_processes(self) -> None:
        """Kills every registered process still running and takes the receivers down."""
        with self._lock:
            procs, self._procs = self._procs, []
            servers, self._servers = self._servers, []
        for proc in procs:
            if proc.poll() is None:
                try:
                    os.kill(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    print(f"  warn: pid {proc.pid} did not exit after SIGKILL", flush=True)
        for server in servers:
            server.stop()

    def run(self) -> None:
        self.stop_processes()
        with self._lock:
            mounts, self._mounts = self._mounts, []
            dirs, self._dirs = self._dirs, []
        for path in reversed(mounts):
            subprocess.run(["umount", "-l", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        for path in dirs:
            shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------------------------------

def run_suite(suite: str, units: list[tuple[str, Callable[[Any], None]]], chosen: set[str] | list[str],
              make_context: Callable[[], Any], results: Results, cleanup: Cleanup, unit: str = "scenario",
              skip_prefix: str | None = None) -> int:
    """Runs each chosen (name, function) of a suite with a fresh context, one after the other: a unit that raises is
    a failed check and the others still run; every process a unit started is stopped after it. Prints the timings,
    the failures, the skips (with `skip_prefix`) and the last line `<suite>: N passed, M failed`; returns the exit
    status (1 when a check failed). SIGTERM or Ctrl-C ends the run as a failed check, after the cleanup."""
    started = time.monotonic()
    try:
        for name, function in units:
            if name not in chosen:
                continue
            print(f"== {name}", flush=True)
            t0 = time.monotonic()
            try:
                function(make_context())
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # a broken unit is a failure, and the others still run
                traceback.print_exc()
                results.check(name, f"{unit} ran to its end", False, f"{type(exc).__name__}: {exc}")
            finally:
                cleanup.run()
            print(f"   ({name}: {time.monotonic() - t0:.1f} s)", flush=True)
    except KeyboardInterrupt as exc:
        results.check("run", "not interrupted", False, str(exc))
    finally:
        cleanup.run()
    print(f"   (total {time.monotonic() - started:.1f} s)", flush=True)
    if results.failures:
        print("failures:")
        for line in results.failures:
            print(f"  - {line}")
    if skip_prefix is not None:
        for line in results.skipped:
            print(f"{skip_prefix}{line}")
    print(f"{suite}: {results.passed} passed, {results.failed} failed", flush=True)
    return 1 if results.failed else 0


def start_https_server(port: int, handler: type, context: Any) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """A threading HTTPS server on HOST:port with `handler`, serving in a daemon thread. The TLS handshake runs in
    the handler's thread (setup), never in the accept loop; handler errors (a client refusing the certificate) are
    quiet."""

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def get_request(self) -> Any:
            sock, address = self.socket.accept()
            return context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass

    server = Server((HOST, port), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


def free_port() -> int:
    """A port nothing listens on right now (bound then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def http_request(port: int, method: str, path: str, body: bytes | None = None,
                 headers: dict[str, str] | None = None, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection. Raises OSError/http.client errors on transport failure."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        conn.close()


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(fraction * (len(ordered) - 1)))))
    return ordered[index]


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM / Threads of a live process, in kB (Threads as a count); {} if it is gone."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                name, _, rest = line.partition(":")
                if name in ("VmRSS", "VmHWM", "Threads"):
                    out[name] = int(rest.split()[0])
    except (OSError, ValueError):
        return {}
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, in seconds (-1 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return -1.0


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def event_key(body: bytes) -> str | None:
    """The decoded object key of the (first) record of a delivered payload, whatever its format."""
    try:
        event = json.loads(body)
    except ValueError:
        return None
    if isinstance(event, dict) and isinstance(event.get("Records"), list) and event["Records"]:
        record = event["Records"][0]
    elif isinstance(event, dict) and isinstance(event.get("data"), dict):  # cloudevents
        record = event["data"]
    else:
        return None
    try:
        return unquote_plus(record["s3"]["object"]["key"])
    except (KeyError, TypeError):
        return None


def write_rules(directory: str, targets: dict[str, dict[str, Any]], rules: list[dict[str, Any]]) -> str:
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "rules.json"), "w", encoding="utf-8") as f:
        json.dump({"targets": targets, "rules": rules}, f, indent=2)
    return directory


def spool_snapshot(data_dir: str, scratch: str) -> list[tuple[str, str, bytes]]:
    """(delivery_id, target, payload) of every row of a copy of the spool (the relay must not be running).

    The database and its WAL are copied first, so the relay's own files are never touched by this reader."""
    src = os.path.join(data_dir, "spool.sqlite")
    if not os.path.exists(src):
        return []
    os.makedirs(scratch, exist_ok=True)
    for name in os.listdir(scratch):
        os.unlink(os.path.join(scratch, name))
    dst = os.path.join(scratch, "spool.sqlite")
    shutil.copyfile(src, dst)
    if os.path.exists(src + "-wal"):
        shutil.copyfile(src + "-wal", dst + "-wal")
    db = sqlite3.connect(dst)
    try:
        return [(r[0], r[1], bytes(r[2])) for r in db.execute("SELECT delivery_id, target, payload FROM deliveries")]
    finally:
        db.close()


def read_dead_letters(data_dir: str) -> list[dict[str, Any]]:
    path = os.path.join(data_dir, "dead-letter.jsonl")
    out: list[dict[str, Any]] = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        out.append({"unparsable": line})
    except OSError:
        pass
    return out


# ---------------------------------------------------------------------------------------------------------------------
# The relay process
# ---------------------------------------------------------------------------------------------------------------------

class Relay:
    """`bucket-relay serve` on 127.0.0.1:port with a fixed data dir; restartable on the same port and data dir."""

    def __init__(self, binary: str, cleanup: Cleanup, rules: str, data_dir: str, log_path: str,
                 port: int | None = None, extra: list[str] | None = None, log_level: str = "warning",
                 env: dict[str, str] | None = None, nofile_soft: int | None = None) -> None:
        self.binary = binary
        self.nofile_soft = nofile_soft
        self.cleanup = cleanup
        self.rules = rules
        self.data_dir = data_dir
        self.log_path = log_path
        self.port = port or free_port()
        self.extra = extra or []
        self.log_level = log_level
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else -1

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
        env.update(self.env)
        args = [self.binary, "serve", "--host", HOST, "--port", str(self.port), "--rules", self.rules,
                "--data-dir", self.data_dir, "--log-level", self.log_level, *self.extra]
        log = open(self.log_path, "ab")
        try:
            log.write(f"\n==== start #{self.starts + 1} {time.strftime('%H:%M:%S')}: {' '.join(args)}\n".encode())
            log.flush()
            soft = self.nofile_soft

            def limits() -> None:
                if soft is not None:
                    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                         start_new_session=True, preexec_fn=limits if soft is not None else None)
        finally:
            log.close()
        self.cleanup.proc(self.proc)
        self.starts += 1

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def healthy(self) -> bool:
        try:
            status, _, _ = http_request(self.port, "GET", "/healthz", timeout=1.0)
            return status == 200
        except (OSError, http.client.HTTPException):
            return False

    def wait_healthy(self, timeout: float = 20.0) -> bool:
        return wait_until(lambda: self.healthy() or not self.alive(), timeout, 0.02) and self.alive()

    def kill9(self) -> int | None:
        if self.proc is None:
            return None
        try:
            os.kill(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return self.proc.wait(timeout=10)

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def wait(self, timeout: float) -> int | None:
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            rc = self.wait(timeout)
            if rc is None:
                return self.kill9()
            return rc
        return self.proc.returncode

    def metrics(self) -> dict[str, float]:
        """The unlabelled samples of GET /metrics (name -> value); {} when it does not answer."""
        try:
            status, _, body = http_request(self.port, "GET", "/metrics", timeout=5.0)
        except (OSError, http.client.HTTPException):
            return {}
        if status != 200:
            return {}
        out: dict[str, float] = {}
        for line in body.decode("utf-8", "replace").splitlines():
            if not line or line.startswith("#") or "{" in line:
                continue
            name, _, value = line.partition(" ")
            try:
                out[name] = float(value.split()[0])
            except (ValueError, IndexError):
                pass
        return out

    def pending(self) -> float | None:
        return self.metrics().get("relay_spool_pending_deliveries")

    def wait_drained(self, timeout: float) -> bool:
        """Until /metrics says `relay_spool_pending_deliveries 0.0` (checked twice, 0.2 s apart)."""
        def drained() -> bool:
            if self.pending() != 0.0:
                return False
            time.sleep(0.2)
            return self.pending() == 0.0
        return wait_until(drained, timeout, 0.2)

    def log_tail(self, lines: int = 20) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - 64 * 1024))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def log_grep(self, *needles: str) -> list[str]:
        out: list[str] = []
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    if any(n in line for n in needles):
                        out.append(line.rstrip("\n"))
        except OSError:
            pass
        return out


# ---------------------------------------------------------------------------------------------------------------------
# A controllable receiver (a downstream target)
# ---------------------------------------------------------------------------------------------------------------------

class Delivery:
    __slots__ = ("path", "webhook_id", "attempt", "key", "status", "at")

    def __init__(self, path: str, webhook_id: str, attempt: str, key: str | None, status: int, at: float) -> None:
        self.path = path
        self.webhook_id = webhook_id
        self.attempt = attempt
        self.key = key
        self.status = status
        self.at = at


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], owner: "Receiver") -> None:
        self.owner = owner
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # resets by the relay (killed, timed out) are part of the tests

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)


class Receiver:
    """A threaded HTTP target on 127.0.0.1:port. Modes:

    - "ok": answer 200 at once;
    - "fail": answer `fail_status` (default 503);
    - "flaky": answer `fail_status` with probability `fail_ratio`, else 200;
    - "slow": answer 200 after `delay` seconds;
    - "hang": read the request and never answer (until stop(), at most `hang_limit` seconds).

    `stop()` takes it down (listening socket closed, open connections reset); `start()` brings it back on the
    same port. Every request answered is recorded as a `Delivery`; a request counts as delivered when it was
    answered 2xx.
    """

    def __init__(self, cleanup: Cleanup, name: str, port: int | None = None, mode: str = "ok",
                 delay: float = 0.0, fail_status: int = 503, fail_ratio: float = 0.0, hang_limit: float = 120.0,
                 keep_bodies: bool = False) -> None:
        self.name = name
        self.port = port or free_port()
        self.mode = mode
        self.delay = delay
        self.fail_status = fail_status
        self.fail_ratio = fail_ratio
        self.hang_limit = hang_limit
        self.keep_bodies = keep_bodies
        self.lock = threading.Lock()
        self.deliveries: list[Delivery] = []
        self.bodies: list[bytes] = []
        self.in_flight = 0
        self.requests_seen = 0
        self.release = threading.Event()
        self.rng = random.Random(hash(name) & 0xFFFF)
        self.server: _Server | None = None
        self.thread: threading.Thread | None = None
        cleanup.receiver(self)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/{self.name}"

    def start(self) -> None:
        if self.server is not None:
            return
        self.release.clear()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with owner.lock:
                    owner.in_flight += 1
                    owner.requests_seen += 1
                    mode = owner.mode
                    roll = owner.rng.random()
                try:
                    if mode == "hang":
                        owner.release.wait(owner.hang_limit)
                        self.close_connection = True
                        return
                    if mode == "slow":
                        if owner.release.wait(owner.delay):
                            self.close_connection = True
                            return
                        status = 200
                    elif mode == "fail":
                        status = owner.fail_status
                    elif mode == "flaky":
                        status = owner.fail_status if roll < owner.fail_ratio else 200
                    else:
                        status = 200
                    try:
                        self.send_response(status)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        self.wfile.flush()
                    except OSError:
                        return
                    record = Delivery(self.path, self.headers.get("webhook-id") or "",
                                      self.headers.get("X-Relay-Attempt") or "", event_key(body), status,
                                      time.monotonic())
                    with owner.lock:
                        owner.deliveries.append(record)
                        if owner.keep_bodies and 200 <= status < 300:
                            owner.bodies.append(body)
                finally:
                    with owner.lock:
                        owner.in_flight -= 1

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _Server((HOST, self.port), Handler, self)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       name=f"receiver-{self.name}", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Goes down: no listener, existing connections reset, hanging handlers released."""
        server = self.server
        if server is None:
            return
        self.server = None
        self.release.set()
        server.shutdown()
        server.server_close()
        with server.connections_lock:
            conns = list(server.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self.thread is not None:
            self.thread.join(timeout=5)

    @property
    def up(self) -> bool:
        return self.server is not None

    def delivered(self) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if 200 <= d.status < 300]

    def summary(self) -> dict[str, Any]:
        """keys and ids answered 2xx, and repeats of one delivery id."""
        delivered = self.delivered()
        ids: dict[str, int] = {}
        keys: dict[str, set[str]] = {}
        for d in delivered:
            ids[d.webhook_id] = ids.get(d.webhook_id, 0) + 1
            if d.key is not None:
                keys.setdefault(d.key, set()).add(d.webhook_id)
        return {
            "requests": len(delivered),
            "ids": set(ids),
            "keys": set(keys),
            "duplicate_ids": sum(1 for n in ids.values() if n > 1),
            "extra_copies": sum(n - 1 for n in ids.values() if n > 1),
            "max_copies": max(ids.values(), default=0),
            "keys_with_several_ids": sum(1 for s in keys.values() if len(s) > 1),
            "without_id": sum(1 for d in delivered if not d.webhook_id),
        }
