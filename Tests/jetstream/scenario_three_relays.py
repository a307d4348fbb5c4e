"""a. Three relays on one NATS server, kill -9 twice.

MinIO-like senders (each event kept until a 2xx, resent every 0.25 s) post distinct events to two of the three
relays; where the binary has the events stream (`--jetstream-subject`), a MinIO-like `notify_nats` publisher also
puts events straight into `minio.events`. Mid-run one relay is killed with SIGKILL and restarted as the same relay
(same port, same name), twice. Every event must reach both targets at least once, and the deliveries must show
that all three relays delivered (each request names its relay, see common.py). Duplicates are counted.
"""

from __future__ import annotations

import os
import threading
import time

from common import (MetricsWatch, Sink, StreamPublisher, jetstream_relay, rules_dir, stream_messages, target,
                    wait_stream_empty)
from harness import wait_until
from natsnode import single_node
from sender import StoreSender, minio_body

NAME = "three-relays"


def run(ctx) -> None:
    results, cleanup = ctx.results, ctx.cleanup
    webhook_events = 3000 if ctx.full else 600
    stream_events = 1000 if ctx.full else 200
    rate = 100.0 if ctx.full else 50.0  # events per second offered in all
    started = time.monotonic()
    tmp = cleanup.tempdir("js-three")

    nats = single_node(cleanup, tmp)
    if not results.check(NAME, "nats-server starts", nats.wait_ready(20), on_fail=nats.log_tail()):
        return
    sink = Sink(cleanup)
    retry = {"attempts": 1000, "initialBackoff": "50ms", "maxBackoff": "500ms"}
    rules = rules_dir(tmp, {
        "a": target(sink.url("/a"), format="minio", timeout="2s", maxInFlight=16, retry=retry),
        "b": target(sink.url("/b"), format="records", timeout="2s", maxInFlight=16, retry=retry),
    }, [{"name": "all", "match": {}, "to": ["a", "b"]}])
    relays = {n: jetstream_relay(ctx, tmp, n, rules, [nats.url], log_level="notice") for n in ("r1", "r2", "r3")}
    for relay in relays.values():
        relay.start()
    for name, relay in relays.items():
        if not results.check(NAME, f"relay {name} starts on JetStream", relay.wait_healthy(30),
                             on_fail=relay.log_tail(8)):
            return

    direct = ctx.features.events_stream
    if not direct:
        results.skip(NAME, f"the {stream_events} events published straight to minio.events "
                           "(needs `serve --jetstream-subject`: the RELAY_EVENTS stream and its router)")
        stream_events = 0
    senders = [StoreSender(relays["r1"].port, os.path.join(tmp, "queue-1"), workers=4, retry_interval=0.25),
               StoreSender(relays["r2"].port, os.path.join(tmp, "queue-2"), workers=4, retry_interval=0.25)]
    publisher = StreamPublisher([nats.url], "minio.events", workers=2) if direct else None
    watch = MetricsWatch(relays, "relay_delivery_attempts_total", outcome="delivered")

    total = webhook_events + stream_events
    kill_at = {total // 3: "r1", (2 * total) // 3: "r2"}
    kills: list[str] = []
    restart_seconds: list[float] = []
    unexpected: list[str] = []
    lock = threading.Lock()
    try:
        for s in senders:
            s.start()
        if publisher:
            publisher.start()
        watch.start()
        next_at = time.monotonic()
        w = d = 0
        for n in range(total):
            # Interleave: the straight-to-stream events spread over the run like the webhooks.
            if direct and d < stream_events and (w >= webhook_events or n % (total // stream_events) == 0):
                key = "js/d-%05d.jpg" % d
                publisher.put(key, minio_body(key))  # type: ignore[union-attr]
                d += 1
            else:
                key = "js/w-%05d.jpg" % w
                senders[w % 2].put(key, minio_body(key))
                w += 1
            if n in kill_at:
                victim = relays[kill_at[n]]
                if not victim.alive():
                    unexpected.append(f"{kill_at[n]} was not running at kill time (status {victim.proc.returncode})")
                watch.scrape()  # its counts so far, before they die with it
                victim.kill9()
                kills.append(kill_at[n])
                time.sleep(1.0)  # down for a while: its sender gets connection errors and resends
                t0 = time.monotonic()
                victim.start()
                ok = victim.wait_healthy(30)
                restart_seconds.append(time.monotonic() - t0)
                if not ok:
                    with lock:
                        unexpected.append(f"{kill_at[n]} not healthy after restart: {victim.log_tail(5)}")
            next_at += 1.0 / rate
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        produced_at = time.monotonic()
        all_acked = all(s.wait_empty(60) for s in senders)
        published = publisher.wait_empty(60) if publisher else True
        acked_keys: set[str] = set()
        for s in senders:
            acked_keys |= s.acked_record_keys()
        if publisher:
            acked_keys |= set(publisher.acked)
        # A killed relay's unacked deliveries come back after their consumer's ack wait (2 x timeout + 30 s = 34 s),
        # the events its router held after the router's (60 s): up to 94 s after the kill.
        delivered = wait_until(lambda: acked_keys <= sink.summary("/a")["keys"]
                               and acked_keys <= sink.summary("/b")["keys"], 150 if ctx.full else 120, 0.5)
        drain_seconds = time.monotonic() - produced_at
        empty, left = wait_stream_empty([nats.url], "RELAY_DELIVERIES", 30)
        time.sleep(1.0)  # late copies, if any, land before counting
        per_relay_metrics = watch.stop()
        for name, relay in relays.items():
            if not relay.alive():
                unexpected.append(f"{name} exited by itself (status {relay.proc.returncode})")
        dead_letters = stream_messages([nats.url], "RELAY_DEADLETTERS")
    finally:
        for s in senders:
            s.stop()
        if publisher:
            publisher.stop()
        watch.stopping.set()

    snaps = [s.snapshot() for s in senders]
    sent_keys: set[str] = set()
    for s in senders:
        sent_keys |= s.sent_record_keys()
    if publisher:
        sent_keys |= set(publisher.sent)
    results.figure(NAME, "events: webhooks to r1 and r2 / straight to minio.events",
                   f"{webhook_events} / {stream_events}")
    results.figure(NAME, "kill -9 (then restarted as the same relay)", f"{kills}, back healthy in "
                   + ", ".join(f"{t:.1f} s" for t in restart_seconds))
    for i, snap in enumerate(snaps):
        results.figure(NAME, f"sender to r{i + 1}: sent / acked / POSTs / outcomes",
                       f"{snap['sent']} / {snap['acked']} / {snap['attempts']} / {snap['statuses']}")
    if publisher:
        snap = publisher.snapshot()
        results.figure(NAME, "minio.events publisher: sent / PubAcks / publishes / outcomes",
                       f"{snap['sent']} / {snap['acked']} / {snap['attempts']} / {snap['outcomes']}")
    results.check(NAME, "every webhook event got a 2xx", all_acked and all(s["acked"] == s["sent"] for s in snaps),
                  f"{sum(s['queued'] for s in snaps)} still queued")
    if publisher:
        results.check(NAME, "every event published to minio.events got a PubAck", published,
                      f"{publisher.pending} unacked")
    by_relay_total: dict[str, int] = {}
    for path in ("/a", "/b"):
        s = sink.summary(path)
        missing = sorted(acked_keys - s["keys"])
        results.check(NAME, f"every acked event reached target {path[1:]} at least once", not missing,
                      f"{len(missing)} of {len(acked_keys)} missing, e.g. {missing[:5]}" if missing
                      else f"{len(acked_keys)} events")
        unknown = sorted(s["keys"] - sent_keys)
        results.check(NAME, f"target {path[1:]} got only events that were sent", not unknown, str(unknown[:5]))
        results.figure(NAME, f"target {path[1:]}: 2xx deliveries / distinct events / distinct ids",
                       f"{s['requests']} / {len(s['keys'])} / {len(s['ids'])}")
        results.figure(NAME, f"target {path[1:]}: duplicates (same webhook-id again) / extra copies / "
                       "events under several ids", f"{s['duplicate_ids']} / {s['extra_copies']} / "
                       f"{s['keys_with_several_ids']}")
        results.figure(NAME, f"target {path[1:]}: deliveries by relay", dict(sorted(s["by_relay"].items())))
        for relay_name, count in s["by_relay"].items():
            by_relay_total[relay_name] = by_relay_total.get(relay_name, 0) + count
    results.check(NAME, "all three relays delivered (X-Test-Relay of the deliveries)",
                  all(by_relay_total.get(n, 0) > 0 for n in relays), str(dict(sorted(by_relay_total.items()))))
    results.figure(NAME, "relay_delivery_attempts_total{outcome=delivered} per relay (max per process lifetime, "
                   "summed over lifetimes)", {k: int(v) for k, v in sorted(per_relay_metrics.items())})
    results.check(NAME, "RELAY_DELIVERIES empty at the end (every delivery acked)", empty, f"{left} messages left")
    results.check(NAME, "nothing dead-lettered (RELAY_DEADLETTERS)", dead_letters == 0, f"{dead_letters} messages")
    results.check(NAME, "no relay exited or failed to restart other than by our kill -9", not unexpected,
                  "; ".join(unexpected[:3]))
    results.figure(NAME, "time", f"{time.monotonic() - started:.1f} s (from the last event produced to every "
                   f"event at both targets: {drain_seconds:.1f} s)")
    if not delivered:
        for name, relay in relays.items():
            print(f"    {name} log tail:\n{relay.log_tail(8)}", flush=True)
