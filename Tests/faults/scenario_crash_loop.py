"""Scenario 1 — crash loop: kill -9 the relay at random moments while a MinIO-like sender pushes events.

Promise checked: every event that got a 2xx reaches each of its targets (or the dead-letter file), and every
delivery id that was ever durably in the spool reaches its target; every event sent eventually gets a 2xx.
"""

from __future__ import annotations

import os
import signal
import threading
import time

from harness import Receiver, Relay, event_key, read_dead_letters, spool_snapshot, write_rules
from sender import StoreSender, aws_body, minio_body

NAME = "crash-loop"
GRACE = 10.0  # the relay's default shutdown grace period


def run(ctx) -> None:
    results, cleanup, rng = ctx.results, ctx.cleanup, ctx.rng
    kills_wanted = 25 if ctx.full else 8
    rate = 200.0 if ctx.full else 150.0  # events per second offered by the producer
    up_window = (0.2, 4.0) if ctx.full else (0.2, 2.5)
    started = time.monotonic()

    tmp = cleanup.tempdir("crash")
    data = os.path.join(tmp, "data")
    scratch = os.path.join(tmp, "snapshot")
    a = Receiver(cleanup, "a", mode="flaky", fail_ratio=0.1)  # answers 503 to 10%: exercises reschedules
    b = Receiver(cleanup, "b", mode="ok")  # goes down and up during the loop
    c = Receiver(cleanup, "c", mode="fail", fail_status=400)  # refuses everything: the dead-letter half of the promise
    a.start()
    b.start()
    c.start()
    retry = {"attempts": 1000, "initialBackoff": "50ms", "maxBackoff": "500ms"}
    rules = write_rules(os.path.join(tmp, "rules"), {
        "a": {"url": a.url, "format": "minio", "timeout": "5s", "maxInFlight": 16, "retry": retry},
        "b": {"url": b.url, "format": "records", "timeout": "5s", "maxInFlight": 16, "retry": retry},
        "c": {"url": c.url, "format": "minio", "timeout": "5s", "maxInFlight": 4, "retry": retry},
    }, [{"name": "all", "match": {}, "to": ["a", "b"]},
        {"name": "created-to-c", "match": {"event": "s3:ObjectCreated:*", "prefix": "crash/c/"}, "to": ["c"]}])
    relay = Relay(ctx.binary, cleanup, rules, data, os.path.join(tmp, "relay.log"), log_level="info")
    sender = StoreSender(relay.port, os.path.join(tmp, "queue"), workers=8, retry_interval=0.25)
    sender.start()

    stop_producer = threading.Event()
    produced = [0]

    def produce() -> None:
        n = 0
        next_at = time.monotonic()
        while not stop_producer.is_set():
            n += 1
            roll = rng.random()
            if roll < 0.1:
                # An AWS body of 20 records: one bigger transaction; each record is its own delivery per target.
                keys = ["crash/aws-%07d-%02d.jpg" % (n, i) for i in range(20)]
                sender.put("aws-%07d" % n, aws_body(keys, bucket="photos"), record_keys=keys)
            elif roll < 0.3:
                key = "crash/c/%07d.jpg" % n  # also to target c, which refuses it: dead-lettered
                sender.put(key, minio_body(key))
            else:
                key = "crash/%07d.jpg" % n
                sender.put(key, minio_body(key, padding=rng.choice((0, 0, 0, 2000))))
            produced[0] = n
            next_at += 1.0 / rate
            delay = next_at - time.monotonic()
            if delay > 0:
                stop_producer.wait(delay)

    producer = threading.Thread(target=produce, name="producer", daemon=True)

    durable: dict[str, tuple[str, str | None]] = {}  # delivery id -> (target, key), seen in a spool snapshot
    def snapshot() -> int:
        rows = spool_snapshot(data, scratch)
        for delivery_id, target, payload in rows:
            durable.setdefault(delivery_id, (target, event_key(payload)))
        return len(rows)

    kills = 0
    terms: list[int | None] = []  # exit statuses after SIGTERM
    stop_seconds: list[float] = []
    early_kills = 0
    failed_starts = 0
    unexpected_exits: list[str] = []
    snapshot_rows: list[int] = []
    try:
        producer.start()
        i = 0
        while kills < kills_wanted:
            i += 1
            relay.start()
            graceful = i % 5 == 0  # every 5th stop is a SIGTERM under load, on top of the kills
            if not graceful and i % 4 == 1:
                # Kill during start-up / recovery, before it may even listen.
                time.sleep(rng.uniform(0.0, 0.4))
                early_kills += 1
            else:
                if not relay.wait_healthy(30):
                    failed_starts += 1
                    print(f"    start #{relay.starts} not healthy; log tail:\n{relay.log_tail()}", flush=True)
                time.sleep(rng.uniform(*up_window))
            if not relay.alive():
                unexpected_exits.append(f"start #{relay.starts}: exited by itself with {relay.proc.returncode}")
            elif graceful:
                t0 = time.monotonic()
                relay.signal(signal.SIGTERM)
                rc = relay.wait(GRACE + 10)
                stop_seconds.append(time.monotonic() - t0)
                if rc is None:
                    relay.kill9()
                terms.append(rc)
            else:
                rc = relay.kill9()
                if rc != -signal.SIGKILL:
                    unexpected_exits.append(f"start #{relay.starts}: status {rc} instead of SIGKILL's")
                kills += 1
            snapshot_rows.append(snapshot())
            if i % 3 == 2:
                if b.up:
                    b.stop()
                else:
                    b.start()
        # Recovery: everything up, nothing failing.
        stop_producer.set()
        producer.join(timeout=5)
        b.start()
        a.mode = "ok"
        relay.start()
        healthy = relay.wait_healthy(30)
        results.check(NAME, "relay healthy after the last restart", healthy, on_fail=relay.log_tail(5))
        all_acked = sender.wait_empty(90 if ctx.full else 40)
        drained = relay.wait_drained(120 if ctx.full else 45)
        time.sleep(0.3)
        pending = relay.pending()
        rc_final = relay.stop(20)
        final_rows = snapshot()
    finally:
        stop_producer.set()
        sender.stop()

    snap = sender.snapshot()
    dead = read_dead_letters(data)
    dead_ids = {d.get("deliveryID") for d in dead}
    elapsed = time.monotonic() - started

    results.figure(NAME, "kills survived (kill -9, same --data-dir)",
                   f"{kills} ({early_kills} during start-up), plus {len(terms)} SIGTERM stops under load")
    results.figure(NAME, "events sent / acked (2xx)", f"{snap['sent']} / {snap['acked']}")
    results.figure(NAME, "sender POSTs / outcomes", f"{snap['attempts']} {snap['statuses']}")
    results.figure(NAME, "spool rows at each kill", snapshot_rows)
    results.figure(NAME, "dead-letter lines", len(dead))
    acked_keys = sender.acked_record_keys()
    sent_keys = sender.sent_record_keys()
    unparsable = [d for d in dead if "unparsable" in d]
    results.figure(NAME, "records sent / acked", f"{len(sent_keys)} / {len(acked_keys)}")
    for recv in (a, b, c):
        s = recv.summary()
        dead_t = [d for d in dead if d.get("target") == recv.name]
        dead_keys_t = {_dead_key(d) for d in dead_t}
        expected = acked_keys if recv is not c else {k for k in acked_keys if k.startswith("crash/c/")}
        results.figure(NAME, f"target {recv.name}: 2xx deliveries / distinct keys / distinct ids / dead letters",
                       f"{s['requests']} / {len(s['keys'])} / {len(s['ids'])} / {len(dead_t)}")
        if recv is not c:
            results.figure(NAME, f"target {recv.name}: duplicates (same webhook-id again) / extra copies",
                           f"{s['duplicate_ids']} / {s['extra_copies']}")
            results.figure(NAME, f"target {recv.name}: keys delivered under several ids (sender resent after a kill)",
                           s["keys_with_several_ids"])
        else:
            ids = [d.get("deliveryID") for d in dead_t]
            results.figure(NAME, "target c: dead-letter lines for the same delivery id again",
                           len(ids) - len(set(ids)))
            bad_reason = [d.get("reason") for d in dead_t if d.get("reason") != "rejected"]
            results.check(NAME, "target c: every dead letter says reason rejected", not bad_reason,
                          str(bad_reason[:5]))
        missing = sorted(expected - s["keys"] - dead_keys_t)
        results.check(NAME, f"every acked event reached target {recv.name}"
                      + (" or the dead-letter file" if recv is c else ""), not missing,
                      f"{len(missing)} missing, e.g. {missing[:5]}" if missing else f"{len(expected)} expected")
        durable_t = {i for i, (t, _) in durable.items() if t == recv.name}
        lost = sorted(durable_t - s["ids"] - dead_ids)
        results.check(NAME, f"every delivery id seen in the spool reached target {recv.name}"
                      + (" or the dead-letter file" if recv is c else ""), not lost,
                      f"{len(lost)} lost, e.g. {[(i, durable[i][1]) for i in lost[:5]]}" if lost
                      else f"{len(durable_t)} ids")
        unknown = sorted((s["keys"] | dead_keys_t) - sent_keys)
        results.check(NAME, f"target {recv.name} got only keys that were sent", not unknown, str(unknown[:5]))
        results.check(NAME, f"target {recv.name}: every request carried a webhook-id", s["without_id"] == 0,
                      str(s["without_id"]))
    results.check(NAME, "every dead-letter line is whole JSON", not unparsable,
                  f"{len(unparsable)} unparsable, e.g. {unparsable[:1]}")
    results.check(NAME, "relay never exited by itself (every exit was our kill -9)", not unexpected_exits,
                  "; ".join(unexpected_exits[:5]))
    results.figure(NAME, "SIGTERM stops under load: seconds to exit",
                   ", ".join(f"{t:.2f}" for t in stop_seconds))
    results.check(NAME, "every SIGTERM under load exited 0 within the grace period",
                  all(rc == 0 for rc in terms) and all(t <= GRACE + 2 for t in stop_seconds),
                  f"statuses {terms}")
    results.check(NAME, "every restart became healthy", failed_starts == 0, f"{failed_starts} failed")
    results.check(NAME, "every event sent eventually got a 2xx", all_acked and snap["acked"] == snap["sent"],
                  f"{snap['queued']} still queued, {sender.files_left()} files in queue_dir")
    results.check(NAME, "spool drained (relay_spool_pending_deliveries 0.0)", drained, f"pending={pending}")
    results.check(NAME, "spool file empty after the final stop", final_rows == 0, f"{final_rows} rows")
    results.check(NAME, "final SIGTERM exits 0", rc_final == 0, f"status {rc_final}")
    stray = [d for d in dead if d.get("target") != "c"]
    results.check(NAME, "no dead letters for a and b (they always recover)", not stray, f"{len(stray)} lines")
    results.figure(NAME, "time", f"{elapsed:.1f} s")


def _dead_key(letter: dict) -> str | None:
    payload = letter.get("payload")
    if not isinstance(payload, str):
        return None
    return event_key(payload.encode())
