#!/usr/bin/env python3
"""What a stream purge does to a work-queue consumer's unacknowledged messages, on the nats-server at hand.

    python3 Tests/jetstream/purge_check.py

The relay's delivery log removes acked leftovers of a target with a purge filtered by subject, below the consumer's
ack floor, when it creates the target's consumer and then every minute. This script shows, without any relay, what that does on this nats-server while
another consumer instance (a relay that died) still has messages outstanding: a work-queue stream, a durable pull
consumer with a 2 s ack wait, three messages fetched and never acked (the dead relay), then either a filtered purge
below sequence 2 or a delete of message 1, then a fetch by a live instance. Expected: the live instance gets the
two outstanding messages again. Observed on Debian's nats-server 2.9.10: after the filtered purge the consumer
forgets them (num_ack_pending 0, num_pending 0) while the stream still holds them: they are never delivered; the
delete of one message leaves them outstanding, and they are redelivered. The last line says which.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "faults"))

from harness import Cleanup  # noqa: E402
from natsnode import NatsClient, single_node  # noqa: E402


class Puller:
    """A raw connection that fetches from the consumer and remembers each message's ack subject."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buffer = b""
        self._line()
        self.sock.sendall(b'CONNECT {"verbose":false,"headers":true}\r\nSUB _PULL.* 1\r\nPING\r\n')
        while self._line() != b"PONG":
            pass

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self.buffer += self.sock.recv(65536)
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def _data(self, n: int) -> bytes:
        while len(self.buffer) < n + 2:
            self.buffer += self.sock.recv(65536)
        data, self.buffer = self.buffer[:n], self.buffer[n + 2:]
        return data

    def fetch(self, batch: int, tag: str) -> list[tuple[bytes, bytes]]:
        request = json.dumps({"batch": batch, "expires": 500_000_000}).encode()
        self.sock.sendall(b"PUB $JS.API.CONSUMER.MSG.NEXT.W.C _PULL.%s %d\r\n%s\r\n" % (tag.encode(), len(request),
                                                                                        request))
        out: list[tuple[bytes, bytes]] = []
        self.sock.settimeout(1.0)
        try:
            while len(out) < batch:
                parts = self._line().split()
                if parts[0] == b"MSG" and len(parts) == 5:
                    out.append((parts[3], self._data(int(parts[4]))))
                elif parts[0] in (b"MSG", b"HMSG"):
                    self._data(int(parts[-1]))
                elif parts[0] == b"PING":
                    self.sock.sendall(b"PONG\r\n")
        except socket.timeout:
            pass
        return out

    def ack(self, reply: bytes) -> None:
        self.sock.sendall(b"PUB %s 0\r\n\r\n" % reply)


def trial(cleanup: Cleanup, how: str) -> tuple[list[bytes], dict]:
    node = single_node(cleanup, cleanup.tempdir("purge-" + how))
    node.wait_ready()
    client = NatsClient([node.url])
    client.api("STREAM.CREATE.W", {"name": "W", "subjects": ["w.a"], "retention": "workqueue", "storage": "file"})
    client.api("CONSUMER.DURABLE.CREATE.W.C", {"stream_name": "W", "config": {
        "durable_name": "C", "ack_policy": "explicit", "ack_wait": 2_000_000_000, "max_deliver": -1,
        "filter_subject": "w.a", "max_ack_pending": 64}})
    for i in range(3):
        client.publish_js("w.a", b"m%d" % i)
    dead = Puller(node.port)
    dead.fetch(3, "dead")  # fetched, never acked: the relay that died
    dead.sock.close()
    time.sleep(2.5)  # the ack wait runs out
    if how == "purge":
        client.api("STREAM.PURGE.W", {"filter": "w.a", "seq": 2})  # removes m0 (sequence 1)
    else:
        client.api("STREAM.MSG.DELETE.W", {"seq": 1})  # removes m0
    live = Puller(node.port)
    got = []
    for round in range(3):
        for reply, data in live.fetch(3, "live%d" % round):
            got.append(data)
            live.ack(reply)
    info = client.api("CONSUMER.INFO.W.C")
    stream = client.api("STREAM.INFO.W")["state"]
    client.close()
    return got, {"num_ack_pending": info["num_ack_pending"], "num_pending": info["num_pending"],
                 "stream_messages": stream["messages"]}


def main() -> int:
    cleanup = Cleanup()
    try:
        purge_got, purge_state = trial(cleanup, "purge")
        cleanup.run()
        delete_got, delete_state = trial(cleanup, "delete")
    finally:
        cleanup.run()
    print(f"after a filtered purge below 2: redelivered {purge_got}, then {purge_state}")
    print(f"after a delete of message 1:    redelivered {delete_got}, then {delete_state}")
    orphaned = purge_state["stream_messages"] > 0 and not purge_got
    print("purge-check: the filtered purge " + ("ORPHANS the outstanding messages (never redelivered)" if orphaned
                                                 else "keeps the outstanding messages"))
    return 1 if orphaned else 0


if __name__ == "__main__":
    sys.exit(main())
