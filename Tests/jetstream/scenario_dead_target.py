"""d. A dead target beside a healthy one over three relays.

One run, three relays on one NATS server, two targets: `healthy` (200 at once) and `dead` (503 to everything).
Phase 1 sends events that only `healthy` matches (prefix `solo/`); phase 2, right after, the same rate of events
that both match (prefix `pair/`), so `dead` piles up a backlog beside it. Senders post to the three relays in turn
and note the send time; the receiver stamps each arrival (one clock, one process). Checked:

- every event of both phases reached `healthy`, and its p99 end-to-end latency (send -> arrival) in phase 2 is
  within 2 x phase 1's + 25 ms (both printed);
- `dead` got probes, not a storm: its requests from the start of phase 2 to the end of the window stay within what
  the circuit breaker allows each relay (docs/delivery.md, "Circuit breaker": 5 consecutive failures open it, after
  which one probe goes out per interval, 1 s doubling to 30 s), plus the attempts already in flight when it opened
  (`maxInFlight`), for each of the three relays (each has its own breaker).
"""

from __future__ import annotations

import http.client
import threading
import time

from common import Sink, jetstream_relay, labelled_metrics, metric_sum, rules_dir, target
from harness import percentile, wait_until
from natsnode import single_node
from sender import Poster, minio_body

NAME = "dead-target"
THRESHOLD = 5  # consecutive failures that open a circuit (docs/delivery.md)
DEAD_MAX_IN_FLIGHT = 4


def probes_within(seconds: float, first: float = 1.0, longest: float = 30.0) -> int:
    """Probes one open circuit sends in `seconds`: at 1 s, then after 2, 4, 8, ... s (at most 30 s apart)."""
    count, t, interval = 0, 0.0, first
    while t + interval <= seconds:
        t += interval
        count += 1
        interval = min(longest, interval * 2)
    return count


def run(ctx) -> None:
    results, cleanup = ctx.results, ctx.cleanup
    rate = 60.0 if ctx.full else 30.0  # events per second, over the three relays
    phase_seconds = 20.0 if ctx.full else 10.0
    tmp = cleanup.tempdir("js-dead")
    nats = single_node(cleanup, tmp)
    if not results.check(NAME, "nats-server starts", nats.wait_ready(20), on_fail=nats.log_tail()):
        return
    sink = Sink(cleanup, status={"/dead": 503})
    rules = rules_dir(tmp, {
        "healthy": target(sink.url("/healthy"), timeout="2s", maxInFlight=16),
        "dead": target(sink.url("/dead"), timeout="2s", maxInFlight=DEAD_MAX_IN_FLIGHT,
                       retry={"attempts": 1000, "initialBackoff": "50ms", "maxBackoff": "1s"}),
    }, [{"name": "solo", "match": {"prefix": "solo/"}, "to": ["healthy"]},
        {"name": "pair", "match": {"prefix": "pair/"}, "to": ["healthy", "dead"]}])
    relays = [jetstream_relay(ctx, tmp, n, rules, [nats.url], log_level="notice") for n in ("r1", "r2", "r3")]
    for relay in relays:
        relay.start()
    for relay in relays:
        if not results.check(NAME, f"relay {relay.env['JS_TEST_RELAY']} starts", relay.wait_healthy(30),
                             on_fail=relay.log_tail(8)):
            return

    sent: dict[str, float] = {}
    refused: list[str] = []
    lock = threading.Lock()

    def phase(prefix: str) -> None:
        """Each relay gets rate/3 events per second from a thread of its own, for phase_seconds."""
        def send(index: int) -> None:
            poster = Poster(relays[index].port)
            interval = len(relays) / rate
            start = time.monotonic() + index * interval / len(relays)
            n = 0
            try:
                while True:
                    at = start + n * interval
                    if at - start >= phase_seconds:
                        return
                    delay = at - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    key = "%sr%d-%05d.jpg" % (prefix, index + 1, n)
                    body = minio_body(key)
                    t0 = time.monotonic()
                    try:
                        status, _ = poster.post(body)
                    except (OSError, http.client.HTTPException) as exc:
                        status = type(exc).__name__  # type: ignore[assignment]
                    with lock:
                        if status == 200:
                            sent[key] = t0
                        else:
                            refused.append(f"{key}: {status}")
                    n += 1
            finally:
                poster.close()

        threads = [threading.Thread(target=send, args=(i,)) for i in range(len(relays))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(phase_seconds + 60)

    phase("solo/")
    solo_keys = {k for k in sent if k.startswith("solo/")}
    wait_until(lambda: solo_keys <= sink.summary("/healthy")["keys"], 30, 0.1)
    pair_start = time.monotonic()
    phase("pair/")
    pair_keys = {k for k in sent if k.startswith("pair/")}
    arrived = wait_until(lambda: (solo_keys | pair_keys) <= sink.summary("/healthy")["keys"], 30, 0.1)
    time.sleep(2.0)  # the window goes on a little after the last event: probes keep coming, a storm would too
    window = time.monotonic() - pair_start
    dead_requests = len(sink.requests("/dead", since=pair_start))
    dead_before = len(sink.requests("/dead")) - dead_requests
    retries = sum(metric_sum(labelled_metrics(r), "relay_delivery_attempts_total", target="dead") for r in relays)

    first: dict[str, float] = {}
    for a in sink.delivered("/healthy"):
        if a.key is not None and a.key not in first:
            first[a.key] = a.at
    solo_ms = [(first[k] - sent[k]) * 1000 for k in solo_keys if k in first]
    pair_ms = [(first[k] - sent[k]) * 1000 for k in pair_keys if k in first]
    p99_solo, p99_pair = percentile(solo_ms, 0.99), percentile(pair_ms, 0.99)
    bound_ms = 2 * p99_solo + 25.0
    results.check(NAME, "every event was answered 200", not refused, f"{len(refused)} not, e.g. {refused[:3]}")
    results.check(NAME, "every event of both phases reached the healthy target", arrived,
                  f"{len(solo_ms)}/{len(solo_keys)} alone, {len(pair_ms)}/{len(pair_keys)} beside the dead one")
    results.figure(NAME, "healthy target latency alone, ms: p50 / p90 / p99 / max",
                   f"{percentile(solo_ms, .5):.1f} / {percentile(solo_ms, .9):.1f} / {p99_solo:.1f} / "
                   f"{max(solo_ms, default=float('nan')):.1f} ({len(solo_ms)} events, {rate:.0f}/s over 3 relays)")
    results.figure(NAME, "healthy target latency beside the dead one, ms: p50 / p90 / p99 / max",
                   f"{percentile(pair_ms, .5):.1f} / {percentile(pair_ms, .9):.1f} / {p99_pair:.1f} / "
                   f"{max(pair_ms, default=float('nan')):.1f} ({len(pair_ms)} events)")
    results.check(NAME, "the healthy target's p99 holds beside the dead one (<= 2 x alone + 25 ms)",
                  p99_pair <= bound_ms, f"{p99_pair:.1f} ms beside vs {p99_solo:.1f} ms alone, bound {bound_ms:.1f}")
    per_relay = THRESHOLD + DEAD_MAX_IN_FLIGHT + probes_within(window) + 1
    bound = len(relays) * per_relay
    results.figure(NAME, "dead target: events for it / its requests in the window / window",
                   f"{len(pair_keys)} / {dead_requests} / {window:.1f} s "
                   f"(relay_delivery_attempts_total{{target=dead}} over the relays: {int(retries)})")
    results.check(NAME, "the dead target got probes, not a storm", dead_requests <= bound and dead_before == 0,
                  f"{dead_requests} requests <= {bound} = 3 relays x ({THRESHOLD} to open + {DEAD_MAX_IN_FLIGHT} in "
                  f"flight + {probes_within(window)} probes in {window:.0f} s + 1); before phase 2: {dead_before}")
    results.check(NAME, "the dead target was tried at all (its circuit opened on failures, not on nothing)",
                  dead_requests >= THRESHOLD, f"{dead_requests} requests")
