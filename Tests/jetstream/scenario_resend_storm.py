"""c. 20 concurrent identical POSTs spread over two relays give one delivery per target.

Each round is one MinIO event posted 20 times at the same moment (a barrier releases 20 threads, each on its own
connection), alternately to relay 1 and relay 2. Exactly one answer may say `accepted`, the others `duplicate`; each
target must get the event exactly once (one request, one webhook-id), also a few seconds later.
"""

from __future__ import annotations

import http.client
import json
import threading
import time

from common import Sink, jetstream_relay, rules_dir, target
from harness import http_request, wait_until
from natsnode import single_node
from sender import MINIO_HEADERS, minio_body

NAME = "resend-storm"
COPIES = 20


def run(ctx) -> None:
    results, cleanup = ctx.results, ctx.cleanup
    rounds = 20 if ctx.full else 5
    tmp = cleanup.tempdir("js-storm")
    nats = single_node(cleanup, tmp)
    if not results.check(NAME, "nats-server starts", nats.wait_ready(20), on_fail=nats.log_tail()):
        return
    sink = Sink(cleanup)
    rules = rules_dir(tmp, {"a": target(sink.url("/a")), "b": target(sink.url("/b"), format="records")},
                      [{"name": "all", "match": {}, "to": ["a", "b"]}])
    relays = [jetstream_relay(ctx, tmp, n, rules, [nats.url]) for n in ("r1", "r2")]
    for relay in relays:
        relay.start()
    for relay in relays:
        if not results.check(NAME, f"relay {relay.env['JS_TEST_RELAY']} starts", relay.wait_healthy(30),
                             on_fail=relay.log_tail(8)):
            return

    bad_rounds: list[str] = []
    keys = []
    for r in range(rounds):
        key = "storm/%03d.jpg" % r
        keys.append(key)
        body = minio_body(key)
        barrier = threading.Barrier(COPIES)
        answers: list[str] = []
        lock = threading.Lock()

        def post(i: int) -> None:
            port = relays[i % 2].port
            try:
                barrier.wait(10)
                status, _, data = http_request(port, "POST", "/minio-event", body, MINIO_HEADERS, timeout=20)
                try:
                    outcome = json.loads(data).get("status", "?")
                except ValueError:
                    outcome = "?"
                answer = f"{status} {outcome}"
            except (OSError, http.client.HTTPException, threading.BrokenBarrierError) as exc:
                answer = type(exc).__name__
            with lock:
                answers.append(answer)

        threads = [threading.Thread(target=post, args=(i,)) for i in range(COPIES)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        accepted = answers.count("200 accepted")
        duplicates = answers.count("200 duplicate")
        if accepted != 1 or duplicates != COPIES - 1:
            bad_rounds.append(f"round {r}: {sorted(answers)}")

    results.check(NAME, f"each of {rounds} rounds: one `accepted`, {COPIES - 1} `duplicate` (all 200)",
                  not bad_rounds, "; ".join(bad_rounds[:3]))
    arrived = wait_until(lambda: all(set(keys) <= sink.summary(p)["keys"] for p in ("/a", "/b")), 30, 0.1)
    time.sleep(3.0)  # a second delivery, if any, has time to arrive
    results.check(NAME, "every event reached both targets", arrived)
    for path in ("/a", "/b"):
        per_key: dict[str, list[str]] = {}
        for a in sink.delivered(path):
            per_key.setdefault(a.key or "?", []).append(a.webhook_id)
        extra = {k: v for k, v in per_key.items() if len(v) != 1}
        results.check(NAME, f"target {path[1:]}: one delivery per event ({rounds} events x {COPIES} POSTs)",
                      not extra and set(per_key) == set(keys), f"repeats {extra}" if extra else
                      f"{sum(len(v) for v in per_key.values())} deliveries")
        results.figure(NAME, f"target {path[1:]}: deliveries by relay", sink.summary(path)["by_relay"])
