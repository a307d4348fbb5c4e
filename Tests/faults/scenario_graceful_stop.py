"""Scenario 4 — graceful stop: SIGTERM while deliveries are in flight.

a) slow target (answers after 2 s): the relay exits within its grace period (default 10 s), status 0;
b) hanging target (never answers; target timeout 30 s): the grace period cuts the in-flight attempts off.
After each, a restart on the same data dir with the target fast delivers everything that was acked
(duplicates allowed, reported). Events keep coming during the stop: whatever got a 2xx must arrive too.
"""

from __future__ import annotations

import os
import signal
import threading
import time

from harness import Receiver, Relay, read_dead_letters, wait_until, write_rules
from sender import StoreSender, minio_body

NAME = "graceful-stop"
GRACE = 10.0  # the relay's default shutdown grace period
MARGIN = 2.0  # process exit after the grace period: flushing, closing SQLite, curl


def run(ctx) -> None:
    _case(ctx, "slow", "slow target (2 s)", mode="slow", delay=2.0, timeout="10s")
    _case(ctx, "hang", "hanging target", mode="hang", delay=0.0, timeout="30s")


def _case(ctx, tag: str, title: str, mode: str, delay: float, timeout: str) -> None:
    results, cleanup = ctx.results, ctx.cleanup
    events = 80 if ctx.full else 40
    tmp = cleanup.tempdir(f"stop-{tag}")
    target = Receiver(cleanup, "t", mode=mode, delay=delay, hang_limit=60)
    target.start()
    rules = write_rules(os.path.join(tmp, "rules"), {
        "t": {"url": target.url, "format": "minio", "timeout": timeout, "maxInFlight": 16,
              "retry": {"attempts": 1000, "initialBackoff": "200ms", "maxBackoff": "1s"}},
    }, [{"name": "all", "match": {}, "to": ["t"]}])
    data = os.path.join(tmp, "data")
    relay = Relay(ctx.binary, cleanup, rules, data, os.path.join(tmp, "relay.log"), log_level="info")
    relay.start()
    label = f"{tag}: "
    if not results.check(NAME, label + "relay starts", relay.wait_healthy(30), on_fail=relay.log_tail(5)):
        return
    sender = StoreSender(relay.port, os.path.join(tmp, "queue"), workers=2, retry_interval=0.25)
    sender.start()
    try:
        keys = [f"stop-{tag}/%05d.jpg" % i for i in range(events)]
        for key in keys:
            sender.put(key, minio_body(key))
        acked = sender.wait_empty(30)
        results.check(NAME, label + f"{events} events acked before the stop", acked, sender.snapshot()["statuses"])
        in_flight = wait_until(lambda: target.in_flight > 0, 10)
        results.check(NAME, label + "deliveries in flight at the target when SIGTERM is sent", in_flight,
                      f"{target.in_flight} in flight")

        # Keep sending during the stop: a 2xx here is a promise like any other.
        stop_producing = threading.Event()

        def produce() -> None:
            n = 0
            while not stop_producing.is_set() and n < 200:
                key = f"stop-{tag}/late-%05d.jpg" % n
                sender.put(key, minio_body(key))
                n += 1
                stop_producing.wait(0.05)

        producer = threading.Thread(target=produce, daemon=True)
        producer.start()
        t0 = time.monotonic()
        relay.signal(signal.SIGTERM)
        rc = relay.wait(GRACE + 20)
        elapsed = time.monotonic() - t0
        if rc is None:
            relay.kill9()
        stop_producing.set()
        producer.join(timeout=5)
        delivered_before = len(target.delivered())
        results.figure(NAME, label + "SIGTERM to exit", f"{elapsed:.2f} s (grace {GRACE:.0f} s)")
        results.figure(NAME, label + "2xx deliveries before the stop", f"{delivered_before} of {events}")
        results.check(NAME, label + f"exits within the grace period (<= {GRACE:.0f} s + {MARGIN:.0f} s)",
                      rc is not None and elapsed <= GRACE + MARGIN, f"{elapsed:.2f} s",
                      on_fail=relay.log_tail(10))
        results.check(NAME, label + "exit status 0", rc == 0, f"status {rc}", on_fail=relay.log_tail(10))
        late_acked = sum(1 for k in sender.acked if "/late-" in k)
        results.figure(NAME, label + "events acked during the stop", late_acked)

        # Restart with a fast target.
        target.stop()
        target.mode = "ok"
        target.start()
        relay.start()
        results.check(NAME, label + "restart on the same data dir", relay.wait_healthy(30),
                      on_fail=relay.log_tail(5))
        all_acked = sender.wait_empty(30)
        results.check(NAME, label + "every event sent eventually got a 2xx", all_acked,
                      f"{sender.queued} still queued")
        drained = relay.wait_drained(60)
        results.check(NAME, label + "spool drains after the restart", drained, f"pending={relay.pending()}")
        s = target.summary()
        dead = read_dead_letters(data)
        acked_keys = set(sender.acked)
        missing = sorted(acked_keys - s["keys"])
        results.check(NAME, label + "every acked event delivered after the restart", not missing,
                      f"{len(missing)} missing, e.g. {missing[:5]}" if missing else f"{len(acked_keys)} acked")
        results.figure(NAME, label + "duplicates (same webhook-id delivered twice)",
                       f"{s['duplicate_ids']} ({s['extra_copies']} extra copies)")
        results.check(NAME, label + "no dead letters", not dead, f"{len(dead)} lines")
        rc = relay.stop(20)
        results.check(NAME, label + "final SIGTERM exits 0", rc == 0, f"status {rc}")
    finally:
        sender.stop()
        target.stop()
