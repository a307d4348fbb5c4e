"""b. A NATS cluster of three with R3 streams: kill -9 one NATS node under load.

Two relays run with `--jetstream-replicas 3` and all three node URLs; MinIO-like senders post distinct events to
both. Mid-run the node that leads RELAY_DELIVERIES (the stream every webhook is appended to) is killed with SIGKILL,
kept down for a while, then restarted on the same ports and store. Nothing answered 2xx may be lost (every acked
event reaches both targets), the relays must carry on (2xx answers while the node is down; 503s during the leader
election are fine, the senders resend), and the restarted node must rejoin: routes to both peers on its monitoring
port, and every replica of the relay's streams current again.
"""

from __future__ import annotations

import os
import time

from common import Sink, jetstream_relay, rules_dir, target, wait_stream_empty
from harness import wait_until
from natsnode import cluster_of_three, stream_info
from sender import StoreSender, minio_body

NAME = "nats-cluster"
STREAMS = ("RELAY_DELIVERIES", "RELAY_DEADLETTERS", "RELAY_IDENTITIES")


def run(ctx) -> None:
    results, cleanup = ctx.results, ctx.cleanup
    if not ctx.features.replicas:
        results.skip(NAME, "needs `serve --jetstream-replicas`")
        return
    events = 3000 if ctx.full else 500
    rate = 80.0 if ctx.full else 40.0
    down_seconds = 20.0 if ctx.full else 12.0
    started = time.monotonic()
    tmp = cleanup.tempdir("js-cluster")

    nodes = cluster_of_three(cleanup, tmp)
    if not results.check(NAME, "a NATS cluster of three starts (JetStream meta leader elected)",
                         all(n.wait_ready(40) for n in nodes), on_fail=nodes[0].log_tail()):
        return
    urls = [n.url for n in nodes]
    sink = Sink(cleanup)
    retry = {"attempts": 1000, "initialBackoff": "50ms", "maxBackoff": "500ms"}
    rules = rules_dir(tmp, {
        "a": target(sink.url("/a"), timeout="2s", retry=retry),
        "b": target(sink.url("/b"), format="records", timeout="2s", retry=retry),
    }, [{"name": "all", "match": {}, "to": ["a", "b"]}])
    relays = {n: jetstream_relay(ctx, tmp, n, rules, urls, replicas=3, log_level="notice") for n in ("r1", "r2")}
    for relay in relays.values():
        relay.start()
        # Stream creation on a just-formed cluster can take a moment; a relay that gave up is started again once.
        if not relay.wait_healthy(40):
            relay.stop(5)
            relay.start()
    for name, relay in relays.items():
        if not results.check(NAME, f"relay {name} starts with --jetstream-replicas 3", relay.wait_healthy(40),
                             on_fail=relay.log_tail(8)):
            return
    info = stream_info(urls, "RELAY_DELIVERIES")
    replicas = (info or {}).get("config", {}).get("num_replicas")
    results.check(NAME, "RELAY_DELIVERIES has 3 replicas", replicas == 3, f"num_replicas {replicas}")

    senders = [StoreSender(relays[n].port, os.path.join(tmp, f"queue-{n}"), workers=4, retry_interval=0.25)
               for n in ("r1", "r2")]
    victim = None
    killed_at = restarted_at = 0.0
    unexpected: list[str] = []
    try:
        for s in senders:
            s.start()
        next_at = time.monotonic()
        for n in range(events):
            key = "cluster/%05d.jpg" % n
            senders[n % 2].put(key, minio_body(key))
            if n == events // 3:
                leader = ((stream_info(urls, "RELAY_DELIVERIES") or {}).get("cluster") or {}).get("leader")
                victim = next((node for node in nodes if node.name == leader), nodes[0])
                results.figure(NAME, "killed (kill -9): the RELAY_DELIVERIES leader", victim.name)
                victim.kill9()
                killed_at = time.monotonic()
            if victim is not None and not restarted_at and time.monotonic() - killed_at >= down_seconds:
                victim.start()
                restarted_at = time.monotonic()
            next_at += 1.0 / rate
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        if victim is not None and not restarted_at:
            time.sleep(max(0.0, down_seconds - (time.monotonic() - killed_at)))
            victim.start()
            restarted_at = time.monotonic()
        all_acked = all(s.wait_empty(90) for s in senders)
        acked: set[str] = set()
        for s in senders:
            acked |= s.acked_record_keys()
        delivered = wait_until(lambda: acked <= sink.summary("/a")["keys"] and acked <= sink.summary("/b")["keys"],
                               120 if ctx.full else 90, 0.5)
        empty, left = wait_stream_empty(urls, "RELAY_DELIVERIES", 30)
        rejoined = victim is not None and victim.wait_ready(30)
        routes = wait_until(lambda: ((victim.monitor("/routez") or {}).get("num_routes") or 0) >= 2, 30, 0.5) \
            if victim else False

        def current() -> bool:
            for stream in STREAMS:
                cluster = (stream_info(urls, stream) or {}).get("cluster") or {}
                peers = [cluster.get("leader")] + [r.get("name") for r in cluster.get("replicas", [])]
                if len([p for p in peers if p]) != 3 or not all(
                        r.get("current") and not r.get("offline") for r in cluster.get("replicas", [])):
                    return False
            return True
        replicas_current = wait_until(current, 60, 1.0)
        jsz = victim.monitor("/jsz") if victim else None
        for name, relay in relays.items():
            if not relay.alive():
                unexpected.append(f"{name} exited (status {relay.proc.returncode}): {relay.log_tail(5)}")
    finally:
        for s in senders:
            s.stop()

    # What the senders saw while the node was down: the relays carried on if 2xx answers came in that window.
    during = sum(1 for s in senders for t in s.acked.values() if killed_at <= t <= restarted_at)
    for i, s in enumerate(senders):
        snap = s.snapshot()
        results.figure(NAME, f"sender to r{i + 1}: sent / acked / POSTs / outcomes",
                       f"{snap['sent']} / {snap['acked']} / {snap['attempts']} / {snap['statuses']}")
    after_kill = sorted(t for s in senders for t in s.acked.values() if t >= killed_at)
    results.figure(NAME, "node down for", f"{restarted_at - killed_at:.1f} s; first 2xx after the kill "
                   + (f"{after_kill[0] - killed_at:.1f} s after it" if after_kill else "never"))
    results.check(NAME, "the relays carried on: events answered 2xx while the node was down", during > 0,
                  f"{during} events acked in that window")
    results.check(NAME, "every event sent eventually got a 2xx", all_acked)
    for path in ("/a", "/b"):
        s = sink.summary(path)
        missing = sorted(acked - s["keys"])
        results.check(NAME, f"nothing acked lost: every acked event reached target {path[1:]}", not missing,
                      f"{len(missing)} of {len(acked)} missing, e.g. {missing[:5]}" if missing
                      else f"{len(acked)} events")
        results.figure(NAME, f"target {path[1:]}: 2xx deliveries / distinct events / duplicates (same id) / "
                       "events under several ids / by relay",
                       f"{s['requests']} / {len(s['keys'])} / {s['duplicate_ids']} / {s['keys_with_several_ids']}"
                       f" / {s['by_relay']}")
    results.check(NAME, "RELAY_DELIVERIES empty at the end", empty, f"{left} messages left")
    results.check(NAME, "the relays never exited", not unexpected, "; ".join(unexpected[:2]))
    results.check(NAME, "the restarted node is healthy again (/healthz)", rejoined,
                  on_fail=victim.log_tail() if victim else "")
    results.check(NAME, "the restarted node has routes to both peers (/routez num_routes >= 2)", routes)
    results.check(NAME, "every replica of the relay's streams is current again (leader + 2 current replicas)",
                  replicas_current)
    if jsz is not None:
        results.figure(NAME, "restarted node's /jsz: streams / consumers / messages",
                       f"{jsz.get('streams')} / {jsz.get('consumers')} / {jsz.get('messages')}")
    results.figure(NAME, "time", f"{time.monotonic() - started:.1f} s")
