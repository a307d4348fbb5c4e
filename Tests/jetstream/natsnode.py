"""nats-server processes (one, or a cluster of three) and a minimal NATS client, standard library only.

The client speaks just what the suite needs of the NATS protocol (https://docs.nats.io/reference/reference-protocols/
nats-protocol): CONNECT with headers, PUB/HPUB with a reply subject, MSG/HMSG, PING/PONG. `request()` publishes and
waits for the one reply, which is how a JetStream publish gets its PubAck and how `$JS.API.*` calls are answered.
One request at a time per connection; use one client per thread.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import time
import urllib.request
from typing import Any

from harness import HOST, Cleanup, free_port, wait_until


def nats_server_binary() -> str | None:
    for path in (os.environ.get("NATS_SERVER"), "/usr/sbin/nats-server", "/usr/bin/nats-server"):
        if path and os.access(path, os.X_OK):
            return path
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        path = os.path.join(directory, "nats-server")
        if os.access(path, os.X_OK):
            return path
    return None


# ---------------------------------------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------------------------------------

class NatsNode:
    """One `nats-server` with JetStream on 127.0.0.1, from a config file; restartable on the same ports and store.

    `cluster_port` and `routes` make it a node of a cluster (JetStream clusters need a `server_name` on each node
    and at least three nodes)."""

    def __init__(self, cleanup: Cleanup, directory: str, name: str, cluster_port: int | None = None,
                 routes: list[int] | None = None, cluster_name: str = "relaytest") -> None:
        self.cleanup = cleanup
        self.directory = directory
        self.name = name
        self.port = free_port()
        self.monitor_port = free_port()
        self.cluster_port = cluster_port
        self.routes = routes or []
        self.cluster_name = cluster_name
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        os.makedirs(directory, exist_ok=True)
        self.config_path = os.path.join(directory, "nats.conf")
        self.log_path = os.path.join(directory, "nats.log")

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.port}"

    def _config(self) -> str:
        lines = [
            f"server_name: {self.name}",
            f"listen: {HOST}:{self.port}",
            f"http: {HOST}:{self.monitor_port}",
            "jetstream {",
            f"  store_dir: \"{os.path.join(self.directory, 'store')}\"",
            "  max_memory_store: 64MB",
            "  max_file_store: 1GB",
            "}",
        ]
        if self.cluster_port is not None:
            routes = ", ".join(f"\"nats://{HOST}:{p}\"" for p in self.routes)
            lines += [
                "cluster {",
                f"  name: {self.cluster_name}",
                f"  listen: {HOST}:{self.cluster_port}",
                f"  routes: [{routes}]",
                "}",
            ]
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        binary = nats_server_binary()
        if binary is None:
            raise RuntimeError("nats-server not found (apt-get install nats-server)")
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write(self._config())
        log = open(self.log_path, "ab")
        try:
            log.write(f"\n==== start #{self.starts + 1} {time.strftime('%H:%M:%S')}\n".encode())
            log.flush()
            self.proc = subprocess.Popen([binary, "-c", self.config_path], stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, start_new_session=True)
        finally:
            log.close()
        self.cleanup.proc(self.proc)
        self.starts += 1

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def monitor(self, path: str, timeout: float = 2.0) -> dict[str, Any] | None:
        """GET http://127.0.0.1:<monitor port><path> as JSON; None when it does not answer."""
        try:
            with urllib.request.urlopen(f"http://{HOST}:{self.monitor_port}{path}", timeout=timeout) as response:
                return json.loads(response.read())
        except (OSError, ValueError):
            return None

    def wait_ready(self, timeout: float = 20.0) -> bool:
        """Until the monitoring port answers /healthz with ok (JetStream up, and in a cluster: meta leader known)."""
        def ready() -> bool:
            if not self.alive():
                return True
            health = self.monitor("/healthz")
            return health is not None and health.get("status") == "ok"
        return wait_until(ready, timeout, 0.1) and self.alive()

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 10) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "\n".join(f.read().splitlines()[-lines:])
        except OSError:
            return ""


def single_node(cleanup: Cleanup, root: str) -> NatsNode:
    node = NatsNode(cleanup, os.path.join(root, "nats"), "n1")
    node.start()
    return node


def cluster_of_three(cleanup: Cleanup, root: str) -> list[NatsNode]:
    ports = [free_port() for _ in range(3)]
    nodes = [NatsNode(cleanup, os.path.join(root, f"nats-{i + 1}"), f"n{i + 1}", cluster_port=ports[i],
                      routes=[p for j, p in enumerate(ports) if j != i]) for i in range(3)]
    for node in nodes:
        node.start()
    return nodes


# ---------------------------------------------------------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------------------------------------------------------

class NatsError(Exception):
    pass


class NoResponders(NatsError):
    """Nothing listens on the subject (for JetStream: no stream takes it, or JetStream is down)."""


class NatsClient:
    """A blocking connection to one of `urls` (tried in a random order; reconnects on the next call after an
    error)."""

    def __init__(self, urls: list[str], timeout: float = 5.0) -> None:
        self.urls = list(urls)
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buffer = b""
        self.inbox = "_INBOX.%016x" % random.getrandbits(64)
        self.counter = 0

    # -- connection

    def _connect(self) -> None:
        last: Exception | None = None
        for url in random.sample(self.urls, len(self.urls)):
            host, _, port = url.split("://", 1)[-1].rpartition(":")
            try:
                sock = socket.create_connection((host, int(port)), timeout=self.timeout)
            except OSError as exc:
                last = exc
                continue
            self.sock = sock
            self.buffer = b""
            try:
                line = self._line()
                if not line.startswith(b"INFO "):
                    raise NatsError(f"unexpected greeting {line[:80]!r}")
                options = {"verbose": False, "pedantic": False, "headers": True, "no_responders": True,
                           "protocol": 1, "lang": "python-test", "version": "0", "name": "jetstream-suite"}
                self._send(b"CONNECT " + json.dumps(options).encode() + b"\r\n")
                self._send(f"SUB {self.inbox}.* 1\r\nPING\r\n".encode())
                while True:
                    line = self._line()
                    if line == b"PONG":
                        return
                    if line.startswith(b"-ERR"):
                        raise NatsError(line.decode("utf-8", "replace"))
            except (OSError, NatsError) as exc:
                last = exc
                self.close()
        raise NatsError(f"no NATS server answered ({last})")

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def _send(self, data: bytes) -> None:
        assert self.sock is not None
        self.sock.sendall(data)

    def _fill(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise NatsError("connection closed by the server")
        self.buffer += chunk

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def _exactly(self, n: int) -> bytes:
        while len(self.buffer) < n + 2:
            self._fill()
        data, self.buffer = self.buffer[:n], self.buffer[n + 2:]
        return data

    # -- requests

    def request(self, subject: str, payload: bytes, headers: dict[str, str] | None = None,
                timeout: float | None = None) -> tuple[dict[str, str], bytes]:
        """Publishes with a reply subject and returns the reply's (headers, payload). Raises NoResponders,
        NatsError (protocol error, closed connection) or OSError/socket.timeout; the connection is dropped on any
        error and made again on the next call."""
        try:
            if self.sock is None:
                self._connect()
            assert self.sock is not None
            self.sock.settimeout(timeout or self.timeout)
            self.counter += 1
            reply = f"{self.inbox}.{self.counter}"
            if headers:
                head = ("NATS/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()
                self._send(f"HPUB {subject} {reply} {len(head)} {len(head) + len(payload)}\r\n".encode()
                           + head + payload + b"\r\n")
            else:
                self._send(f"PUB {subject} {reply} {len(payload)}\r\n".encode() + payload + b"\r\n")
            deadline = time.monotonic() + (timeout or self.timeout)
            while True:
                if time.monotonic() > deadline:
                    raise socket.timeout("no reply")
                line = self._line()
                if line == b"PING":
                    self._send(b"PONG\r\n")
                    continue
                if line in (b"PONG", b"+OK") or line.startswith(b"INFO "):
                    continue
                if line.startswith(b"-ERR"):
                    raise NatsError(line.decode("utf-8", "replace"))
                parts = line.split()
                if parts[:1] == [b"MSG"]:
                    size = int(parts[-1])
                    data = self._exactly(size)
                    if parts[1].decode() == reply:
                        return {}, data
                elif parts[:1] == [b"HMSG"]:
                    head_size, total = int(parts[-2]), int(parts[-1])
                    data = self._exactly(total)
                    if parts[1].decode() != reply:
                        continue
                    head, body = data[:head_size], data[head_size:]
                    status_line, *rest = head.decode("utf-8", "replace").split("\r\n")
                    fields = {}
                    for item in rest:
                        if ":" in item:
                            k, _, v = item.partition(":")
                            fields[k.strip()] = v.strip()
                    if status_line.startswith("NATS/1.0 503"):
                        raise NoResponders(subject)
                    return fields, body
                else:
                    raise NatsError(f"unexpected line {line[:80]!r}")
        except BaseException:
            self.close()
            raise

    def publish_js(self, subject: str, payload: bytes, msg_id: str | None = None,
                   timeout: float | None = None) -> dict[str, Any]:
        """A JetStream publish: returns the PubAck (`{"stream","seq"[,"duplicate"]}`); raises NatsError when
        JetStream answers an error."""
        _, body = self.request(subject, payload, {"Nats-Msg-Id": msg_id} if msg_id else None, timeout)
        ack = json.loads(body or b"{}")
        if "error" in ack:
            raise NatsError(f"JetStream refused the publish: {ack['error']}")
        return ack

    def api(self, what: str, body: dict[str, Any] | None = None, timeout: float | None = None) -> dict[str, Any]:
        """A `$JS.API.<what>` call, e.g. `STREAM.INFO.RELAY_DELIVERIES`."""
        _, reply = self.request("$JS.API." + what, json.dumps(body or {}).encode(), None, timeout)
        return json.loads(reply or b"{}")


def stream_info(urls: list[str], stream: str, timeout: float = 5.0) -> dict[str, Any] | None:
    """`$JS.API.STREAM.INFO.<stream>` from any of `urls`; None when it cannot be had (no stream, no server)."""
    client = NatsClient(urls, timeout)
    try:
        info = client.api("STREAM.INFO." + stream, timeout=timeout)
        return None if "error" in info else info
    except (OSError, NatsError, ValueError):
        return None
    finally:
        client.close()
