"""Pieces of the multi-relay suite on top of the fault suite's harness: what the binary supports, relays on
JetStream, a receiver that records which relay made each delivery, a MinIO-like publisher into `minio.events`, and
the per-relay bookkeeping.

Which relay made a delivery: the relay sends no header of its own that names it (its `User-Agent` is
`bucket-relay/1` on every relay), so the rules give each target a header `X-Test-Relay: ${JS_TEST_RELAY}` and every
relay process is started with its own `JS_TEST_RELAY`. Headers are built by the relay that makes the attempt, from
its own rules, so the header names the delivering relay.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from harness import HOST, Cleanup, Relay, event_key, free_port, wait_until, write_rules
from natsnode import NatsClient, NatsError, NoResponders

RELAY_HEADER = "X-Test-Relay"


class Features:
    """What `bucket-relay serve --help` offers, so that the parts needing newer flags run only where they exist."""

    def __init__(self, binary: str) -> None:
        try:
            text = subprocess.run([binary, "serve", "--help"], capture_output=True, timeout=30).stdout.decode(
                "utf-8", "replace")
        except (OSError, subprocess.TimeoutExpired):
            text = ""
        self.help = text
        self.jetstream = "--jetstream " in text or "--jetstream <" in text
        self.replicas = "--jetstream-replicas" in text
        self.events_stream = "--jetstream-subject" in text  # RELAY_EVENTS, the shared router, MinIO's notify_nats
        self.instance = "--instance" in text

    def describe(self) -> str:
        return ", ".join(f"{name} {'yes' if on else 'no'}" for name, on in (
            ("--jetstream", self.jetstream), ("--jetstream-replicas", self.replicas),
            ("--jetstream-subject (events stream)", self.events_stream), ("--instance", self.instance)))


# ---------------------------------------------------------------------------------------------------------------------
# Relays on JetStream
# ---------------------------------------------------------------------------------------------------------------------

def jetstream_relay(ctx, tmp: str, name: str, rules: str, urls: list[str], replicas: int = 1,
                    log_level: str = "info", extra: list[str] | None = None) -> Relay:
    """`serve --jetstream URL,...` named `name` (its `JS_TEST_RELAY`, and `--instance` where supported), on a fixed
    port and log, restartable as the same relay. Not started."""
    args = ["--jetstream", ",".join(urls)]
    if replicas != 1:
        args += ["--jetstream-replicas", str(replicas)]
    if ctx.features.instance:
        args += ["--instance", name]
    args += extra or []
    return Relay(ctx.binary, ctx.cleanup, rules, os.path.join(tmp, f"data-{name}"), os.path.join(tmp, f"{name}.log"),
                 extra=args, log_level=log_level, env={"JS_TEST_RELAY": name})


def target(url: str, **fields: Any) -> dict[str, Any]:
    """A target whose requests name the delivering relay in `X-Test-Relay`."""
    spec: dict[str, Any] = {"url": url, "headers": {RELAY_HEADER: "${JS_TEST_RELAY}"}}
    spec.update(fields)
    return spec


def rules_dir(tmp: str, targets: dict[str, dict[str, Any]], rules: list[dict[str, Any]]) -> str:
    return write_rules(os.path.join(tmp, "rules"), targets, rules)


# ---------------------------------------------------------------------------------------------------------------------
# A receiver that knows which relay delivered
# ---------------------------------------------------------------------------------------------------------------------

class Arrival:
    __slots__ = ("path", "webhook_id", "attempt", "key", "relay", "status", "at")

    def __init__(self, path: str, webhook_id: str, attempt: str, key: str | None, relay: str, status: int,
                 at: float) -> None:
        self.path = path
        self.webhook_id = webhook_id
        self.attempt = attempt
        self.key = key
        self.relay = relay
        self.status = status
        self.at = at


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a relay killed mid-request resets its connection: part of the tests


class Sink:
    """Targets on one 127.0.0.1 port; the path names the target (`/a`, `/b`). `status[path]` is what that target
    answers (200 unless set; e.g. 503 for a dead one). Every request is recorded as an `Arrival`, with
    `time.monotonic()` of its arrival."""

    def __init__(self, cleanup: Cleanup, status: dict[str, int] | None = None) -> None:
        self.port = free_port()
        self.status = dict(status or {})
        self.lock = threading.Lock()
        self.arrivals: list[Arrival] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                now = time.monotonic()
                status = owner.status.get(self.path, 200)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    self.wfile.flush()
                except OSError:
                    return
                record = Arrival(self.path, self.headers.get("webhook-id") or "",
                                 self.headers.get("X-Relay-Attempt") or "", event_key(body),
                                 self.headers.get(RELAY_HEADER) or "", status, now)
                with owner.lock:
                    owner.arrivals.append(record)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _Server((HOST, self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       name="sink", daemon=True)
        self.thread.start()
        cleanup.receiver(self)  # type: ignore[arg-type]  # Cleanup only calls stop()

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def delivered(self, path: str) -> list[Arrival]:
        with self.lock:
            return [a for a in self.arrivals if a.path == path and 200 <= a.status < 300]

    def requests(self, path: str, since: float = 0.0) -> list[Arrival]:
        with self.lock:
            return [a for a in self.arrivals if a.path == path and a.at >= since]

    def summary(self, path: str) -> dict[str, Any]:
        """Keys and ids answered 2xx at `path`, repeats, and deliveries per relay."""
        delivered = self.delivered(path)
        ids: collections.Counter[str] = collections.Counter(a.webhook_id for a in delivered)
        keys: dict[str, set[str]] = {}
        for a in delivered:
            if a.key is not None:
                keys.setdefault(a.key, set()).add(a.webhook_id)
        return {
            "requests": len(delivered),
            "ids": set(ids),
            "keys": set(keys),
            "duplicate_ids": sum(1 for n in ids.values() if n > 1),
            "extra_copies": sum(n - 1 for n in ids.values() if n > 1),
            "keys_with_several_ids": sum(1 for s in keys.values() if len(s) > 1),
            "by_relay": dict(collections.Counter(a.relay or "?" for a in delivered)),
        }


# ---------------------------------------------------------------------------------------------------------------------
# MinIO's notify_nats with jetstream on, resending like its queue_dir
# ---------------------------------------------------------------------------------------------------------------------

class StreamPublisher:
    """What MinIO's `notify_nats` target does with `jetstream` on and a `queue_dir`: a JetStream publish of the
    webhook body's bytes on the subject, no `Nats-Msg-Id`, the event kept and published again until a PubAck comes.

    `put(key, body)` queues one event; `workers` threads publish. `acked` (key -> monotonic time of the PubAck),
    `attempts`, `outcomes` (outcome -> count)."""

    def __init__(self, urls: list[str], subject: str, workers: int = 2, retry_interval: float = 0.25) -> None:
        self.urls = urls
        self.subject = subject
        self.workers = workers
        self.retry_interval = retry_interval
        self.lock = threading.Lock()
        self.ready: "queue.Queue[tuple[str, bytes]]" = queue.Queue()
        self.sent: list[str] = []
        self.acked: dict[str, float] = {}
        self.attempts = 0
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.pending = 0

    def put(self, key: str, body: bytes) -> None:
        with self.lock:
            self.sent.append(key)
            self.pending += 1
        self.ready.put((key, body))

    def start(self) -> None:
        for i in range(self.workers):
            t = threading.Thread(target=self._work, name=f"publisher-{i}", daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=10)
        self.threads = []

    def _work(self) -> None:
        client = NatsClient(self.urls, timeout=5.0)
        try:
            while not self.stopping.is_set():
                try:
                    key, body = self.ready.get(timeout=0.05)
                except queue.Empty:
                    continue
                try:
                    client.publish_js(self.subject, body)
                    outcome, ok = "puback", True
                except NoResponders:
                    outcome, ok = "no_responders", False
                except (OSError, NatsError, ValueError) as exc:
                    outcome, ok = type(exc).__name__, False
                with self.lock:
                    self.attempts += 1
                    self.outcomes[outcome] += 1
                    if ok:
                        self.acked[key] = time.monotonic()
                        self.pending -= 1
                if not ok:
                    threading.Timer(self.retry_interval, self.ready.put, args=((key, body),)).start()
        finally:
            client.close()

    def wait_empty(self, timeout: float) -> bool:
        return wait_until(lambda: self.pending == 0, timeout, 0.05)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"sent": len(self.sent), "acked": len(self.acked), "attempts": self.attempts,
                    "outcomes": dict(self.outcomes)}


# ---------------------------------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------------------------------

def labelled_metrics(relay: Relay) -> dict[str, float]:
    """Every sample of GET /metrics, by its full name with labels (`name{a="b"}` -> value); {} when it does not
    answer."""
    from harness import http_request
    import http.client
    try:
        status, _, body = http_request(relay.port, "GET", "/metrics", timeout=5.0)
    except (OSError, http.client.HTTPException):
        return {}
    if status != 200:
        return {}
    out: dict[str, float] = {}
    for line in body.decode("utf-8", "replace").splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            out[name] = float(value)
        except ValueError:
            pass
    return out


def metric_sum(samples: dict[str, float], name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for key, value in samples.items():
        base, _, rest = key.partition("{")
        if base != name:
            continue
        if all(f'{k}="{v}"' in rest for k, v in labels.items()):
            total += value
    return total


class MetricsWatch:
    """Scrapes relays' /metrics every `interval` s in a thread and keeps, per relay and per process lifetime
    (start number), the highest value seen of one counter: a killed relay's counts are not lost with it."""

    def __init__(self, relays: dict[str, Relay], name: str, interval: float = 0.5, **labels: str) -> None:
        self.relays = relays
        self.name = name
        self.labels = labels
        self.interval = interval
        self.best: dict[tuple[str, int], float] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="metrics-watch", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def scrape(self) -> None:
        for relay_name, relay in self.relays.items():
            if not relay.alive():
                continue
            samples = labelled_metrics(relay)
            if samples:
                key = (relay_name, relay.starts)
                self.best[key] = max(self.best.get(key, 0.0), metric_sum(samples, self.name, **self.labels))

    def _run(self) -> None:
        while not self.stopping.wait(self.interval):
            self.scrape()

    def stop(self) -> dict[str, float]:
        self.stopping.set()
        self.thread.join(timeout=10)
        self.scrape()
        totals: dict[str, float] = collections.defaultdict(float)
        for (relay_name, _), value in self.best.items():
            totals[relay_name] += value
        return dict(totals)


def wait_stream_empty(urls: list[str], stream: str, timeout: float) -> tuple[bool, int | None]:
    """Until `stream` holds no message (a work-queue stream empties as its messages are acked)."""
    from natsnode import stream_info
    last: list[int | None] = [None]

    def empty() -> bool:
        info = stream_info(urls, stream)
        last[0] = None if info is None else int(info.get("state", {}).get("messages", -1))
        return last[0] == 0
    ok = wait_until(empty, timeout, 0.5)
    return ok, last[0]


def stream_messages(urls: list[str], stream: str) -> int | None:
    from natsnode import stream_info
    info = stream_info(urls, stream)
    return None if info is None else int(info.get("state", {}).get("messages", -1))


def port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def dump_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
