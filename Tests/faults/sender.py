"""A small MinIO-like webhook sender, and event bodies shaped like MinIO's and AWS's.

What matters of MinIO's `notify_webhook` with `queue_dir` (docs/interface.md, "What senders send"): each event is persisted in the queue
directory before it is sent, it is sent as one POST of `{"EventName","Key","Records":[record]}` with
`Content-Type: application/json`, it is deleted only on a 2xx, and anything else (a status, a reset, a timeout)
keeps it to be sent again after a retry interval (MinIO: 3 s; shorter here), forever. MinIO sends one at a time;
for load this sender may run several workers.

Standard library only.
"""

from __future__ import annotations

import collections
import hashlib
import http.client
import json
import os
import queue
import threading
import time
from typing import Any
from urllib.parse import quote_plus

HOST = "127.0.0.1"


# ---------------------------------------------------------------------------------------------------------------------
# Bodies
# ---------------------------------------------------------------------------------------------------------------------

def _event_time(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000)) + ".%03dZ" % (
        ns // 1_000_000 % 1000)


def minio_body(key: str, bucket: str = "photos", event: str = "s3:ObjectCreated:Put", size: int = 48213,
               content_type: str = "image/jpeg", padding: int = 0) -> bytes:
    """One MinIO webhook body (envelope + one record), Go's compact JSON; `padding` adds that many bytes of user
    metadata (to make bodies bigger)."""
    ns = time.time_ns()
    metadata = {"content-type": content_type}
    if padding > 0:
        metadata["X-Amz-Meta-Padding"] = "p" * padding
    record = {
        "eventVersion": "2.0",
        "eventSource": "minio:s3",
        "awsRegion": "",
        "eventTime": _event_time(ns),
        "eventName": event,
        "userIdentity": {"principalId": "minioadmin"},
        "requestParameters": {"principalId": "minioadmin", "region": "", "sourceIPAddress": "172.18.0.1"},
        "responseElements": {
            "x-amz-id-2": "dd9025bab4ad464b049177c95eb6ebf374d3b3fd1af9251148b658df7ac2e3e8",
            "x-amz-request-id": "%X" % ns,
            "x-minio-deployment-id": "6513270e-269e-4d37-b2a7-4de452e6b438",
            "x-minio-origin-endpoint": "http://172.18.0.2:9000",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "Config",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "minioadmin"}, "arn": "arn:aws:s3:::" + bucket},
            "object": {
                "key": quote_plus(key, safe=""),
                "size": size,
                "eTag": hashlib.md5(key.encode()).hexdigest(),
                "contentType": content_type,
                "userMetadata": dict(sorted(metadata.items())),
                "sequencer": "%X" % ns,
            },
        },
        "source": {"host": "172.18.0.1", "port": "",
                   "userAgent": "MinIO (linux; amd64) minio-go/v7.0.90 mc/RELEASE.2025-04-16T18-13-26Z"},
    }
    envelope = {"EventName": event, "Key": bucket + "/" + key, "Records": [record]}
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


_AWS_RECORD = (
    '{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-west-2","eventTime":"%s",'
    '"eventName":"ObjectCreated:Put","userIdentity":{"principalId":"AWS:AIDAEXAMPLEID"},'
    '"requestParameters":{"sourceIPAddress":"203.0.113.10"},"s3":{"s3SchemaVersion":"1.0",'
    '"configurationId":"all","bucket":{"name":"%s","arn":"arn:aws:s3:::%s"},'
    '"object":{"key":"%s","size":%d,"sequencer":"%016X"}}}'
)


def aws_body(keys: list[str], bucket: str = "backlog") -> bytes:
    """One AWS-style body `{"Records":[...]}` with one record per key (each record is one delivery per target)."""
    now = _event_time(time.time_ns())
    parts = [_AWS_RECORD % (now, bucket, bucket, quote_plus(k, safe=""), 1024 + i, i) for i, k in enumerate(keys)]
    return ('{"Records":[' + ",".join(parts) + "]}").encode()


MINIO_HEADERS = {"User-Agent": "Go-http-client/1.1", "Content-Type": "application/json"}


# ---------------------------------------------------------------------------------------------------------------------
# A keep-alive poster
# ---------------------------------------------------------------------------------------------------------------------

class Poster:
    """One keep-alive HTTP/1.1 connection; reconnects after any error. post() returns (status, headers) or raises."""

    def __init__(self, port: int, path: str = "/minio-event", timeout: float = 15.0) -> None:
        self.port = port
        self.path = path
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def post(self, body: bytes) -> tuple[int, dict[str, str]]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
        try:
            self.conn.request("POST", self.path, body=body, headers=MINIO_HEADERS)
            response = self.conn.getresponse()
            response.read()
            headers = {k.lower(): v for k, v in response.getheaders()}
            if response.will_close:
                self.close()
            return response.status, headers
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
            self.conn = None


# ---------------------------------------------------------------------------------------------------------------------
# The store-and-forward sender
# ---------------------------------------------------------------------------------------------------------------------

class StoreSender:
    """MinIO's queue_dir behaviour: put() persists the event as `<queue_dir>/<seq>.event`; workers POST events
    oldest first, delete each on 2xx, and on anything else put it back to be resent after `retry_interval`.

    Bookkeeping for checks: `acked` (key -> time of the 2xx), `attempts`, `statuses` (status or error name ->
    count), `first_status` (key -> statuses seen for it, in order, bounded)."""

    def __init__(self, port: int, queue_dir: str, workers: int = 4, retry_interval: float = 0.25,
                 timeout: float = 15.0, path: str = "/minio-event") -> None:
        self.port = port
        self.queue_dir = queue_dir
        self.workers = workers
        self.retry_interval = retry_interval
        self.timeout = timeout
        self.path = path
        os.makedirs(queue_dir, exist_ok=True)
        self.lock = threading.Lock()
        self.ready: "queue.Queue[tuple[int, str]]" = queue.Queue()
        self.delayed: list[tuple[float, int, str]] = []
        self.keys: dict[int, str] = {}
        self.seq = 0
        self.sent_keys: list[str] = []
        self.acked: dict[str, float] = {}
        self.record_keys: dict[str, list[str]] = {}  # body key -> its records' object keys, for multi-record bodies
        self.attempts = 0
        self.statuses: collections.Counter[str] = collections.Counter()
        self.history: dict[str, list[str]] = {}
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    # -- producer side

    def put(self, key: str, body: bytes, record_keys: list[str] | None = None) -> None:
        """Queues one body; `key` names it, `record_keys` are the object keys of its records (default: [key])."""
        with self.lock:
            if record_keys is not None:
                self.record_keys[key] = record_keys
            self.seq += 1
            seq = self.seq
            self.keys[seq] = key
            self.sent_keys.append(key)
        path = os.path.join(self.queue_dir, "%012d.event" % seq)
        with open(path, "wb") as f:
            f.write(body)
        self.ready.put((seq, key))

    @property
    def queued(self) -> int:
        with self.lock:
            return len(self.keys)

    # -- workers

    def start(self) -> None:
        for i in range(self.workers):
            t = threading.Thread(target=self._work, name=f"sender-{i}", daemon=True)
            t.start()
            self.threads.append(t)
        t = threading.Thread(target=self._tick, name="sender-tick", daemon=True)
        t.start()
        self.threads.append(t)

    def stop(self) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=self.timeout + 5)
        self.threads = []

    def _tick(self) -> None:
        while not self.stopping.is_set():
            now = time.monotonic()
            with self.lock:
                due = [d for d in self.delayed if d[0] <= now]
                self.delayed = [d for d in self.delayed if d[0] > now]
            for _, seq, key in sorted(due, key=lambda d: d[1]):
                self.ready.put((seq, key))
            self.stopping.wait(0.02)

    def _work(self) -> None:
        poster = Poster(self.port, self.path, self.timeout)
        try:
            while not self.stopping.is_set():
                try:
                    seq, key = self.ready.get(timeout=0.05)
                except queue.Empty:
                    continue
                path = os.path.join(self.queue_dir, "%012d.event" % seq)
                try:
                    with open(path, "rb") as f:
                        body = f.read()
                except OSError:
                    continue
                outcome: str
                try:
                    status, _ = poster.post(body)
                    outcome = str(status)
                    ok = 200 <= status < 300
                except (OSError, http.client.HTTPException) as exc:
                    outcome = type(exc).__name__
                    ok = False
                with self.lock:
                    self.attempts += 1
                    self.statuses[outcome] += 1
                    hist = self.history.setdefault(key, [])
                    if len(hist) < 50:
                        hist.append(outcome)
                    if ok:
                        self.acked[key] = time.monotonic()
                        self.keys.pop(seq, None)
                    else:
                        self.delayed.append((time.monotonic() + self.retry_interval, seq, key))
                if ok:
                    try:
                        os.unlink(path)
                    except OSError:
                        pass
        finally:
            poster.close()

    def wait_empty(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.queued == 0:
                return True
            time.sleep(0.05)
        return self.queued == 0

    def acked_record_keys(self) -> set[str]:
        """The object keys of every record of every acked body."""
        with self.lock:
            out: set[str] = set()
            for key in self.acked:
                out.update(self.record_keys.get(key, [key]))
            return out

    def sent_record_keys(self) -> set[str]:
        with self.lock:
            out: set[str] = set()
            for key in self.sent_keys:
                out.update(self.record_keys.get(key, [key]))
            return out

    def files_left(self) -> int:
        return sum(1 for n in os.listdir(self.queue_dir) if n.endswith(".event"))

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "sent": len(self.sent_keys),
                "acked": len(self.acked),
                "attempts": self.attempts,
                "statuses": dict(self.statuses),
                "queued": len(self.keys),
            }
