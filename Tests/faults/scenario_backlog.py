"""Scenario 3 — backlog bound.

CI and full: `--spool-max 1000` with a dead target: 1000 deliveries are accepted, the 1001st gets 503 with
Retry-After; a multi-record body that would cross the cap is refused whole (nothing of it spooled).
Full only: 1,000,000 pending deliveries to a dead target, sent as AWS bodies of many records by several workers;
the relay's RSS (VmRSS / VmHWM) must stay bounded; the send time, a restart with the 1M backlog and its RSS are
reported.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from typing import Iterator

from harness import Receiver, Relay, free_port, http_request, open_fds, proc_status, write_rules
from sender import MINIO_HEADERS, Poster, aws_body, minio_body

NAME = "backlog"
RSS_LIMIT_KB = 256 * 1024  # "tens of MB, not GB": fail above 256 MiB


def _send_all(port: int, bodies: Iterator[bytes], workers: int) -> dict[str, int]:
    """POSTs every body of `bodies` (a generator, consumed under a lock) with `workers` keep-alive connections;
    returns status (or error name) -> count."""
    outcomes: dict[str, int] = {}
    lock = threading.Lock()

    def work() -> None:
        poster = Poster(port, timeout=60)
        try:
            while True:
                with lock:
                    body = next(bodies, None)
                if body is None:
                    return
                try:
                    status, _ = poster.post(body)
                    outcome = str(status)
                except (OSError, http.client.HTTPException) as exc:
                    outcome = type(exc).__name__
                with lock:
                    outcomes[outcome] = outcomes.get(outcome, 0) + 1
        finally:
            poster.close()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def _dead_target_rules(directory: str, dead: int | None = None) -> str:
    dead = dead or free_port()  # nothing listens there: every attempt is a refused connection
    return write_rules(directory, {
        "dead": {"url": f"http://127.0.0.1:{dead}/dead", "format": "records", "timeout": "5s",
                 "retry": {"attempts": 1000, "initialBackoff": "1s", "maxBackoff": "10m"}},
    }, [{"name": "all", "match": {}, "to": ["dead"]}])


def run(ctx) -> None:
    _cap(ctx)
    if ctx.full:
        _million(ctx)


def _cap(ctx) -> None:
    results, cleanup = ctx.results, ctx.cleanup
    tmp = cleanup.tempdir("cap")
    rules = _dead_target_rules(os.path.join(tmp, "rules"))
    relay = Relay(ctx.binary, cleanup, rules, os.path.join(tmp, "data"), os.path.join(tmp, "relay.log"),
                  extra=["--spool-max", "1000"], log_level="error")
    relay.start()
    if not results.check(NAME, "relay starts with --spool-max 1000", relay.wait_healthy(30),
                         on_fail=relay.log_tail(5)):
        return
    outcomes = _send_all(relay.port, (minio_body("cap/%05d.jpg" % i) for i in range(995)), 8)
    results.check(NAME, "995 single-record events accepted", outcomes == {"200": 995}, str(outcomes))

    # A 10-record body would take the spool to 1005: refused whole.
    status, headers, body = http_request(relay.port, "POST", "/minio-event",
                                         aws_body(["cap/multi-%02d" % i for i in range(10)]), MINIO_HEADERS)
    pending = relay.pending()
    results.check(NAME, "a 10-record body that would cross the cap gets 503", status == 503,
                  f"{status} {body[:160]!r}")
    results.check(NAME, "nothing of the refused body was spooled", pending == 995.0, f"pending={pending}")

    ok = 0
    for i in range(5):
        key = "cap/last-%d.jpg" % i
        s, _, _ = http_request(relay.port, "POST", "/minio-event", minio_body(key), MINIO_HEADERS)
        ok += s == 200
    results.check(NAME, "events 996..1000 accepted", ok == 5, f"{ok}/5")

    status, headers, body = http_request(relay.port, "POST", "/minio-event", minio_body("cap/1001.jpg"),
                                         MINIO_HEADERS)
    retry_after = headers.get("retry-after", "")
    results.check(NAME, "the 1001st event gets 503", status == 503, f"{status} {body[:200]!r}")
    results.check(NAME, "the 503 carries a Retry-After of whole seconds",
                  retry_after.isdigit() and int(retry_after) > 0, f"Retry-After: {retry_after!r}")
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        error = None
    results.check(NAME, "the 503 body is a JSON error", isinstance(error, str), f"error={error!r}")
    time.sleep(2.5)  # the dead target is being retried meanwhile: nothing may leave the spool
    pending = relay.pending()
    results.check(NAME, "the 1000 deliveries stay pending while the target is dead", pending == 1000.0,
                  f"pending={pending}")
    results.check(NAME, "healthz still answers", relay.healthy())
    results.check(NAME, "relay alive", relay.alive(), on_fail=relay.log_tail(10))
    rc = relay.stop(20)
    results.check(NAME, "SIGTERM exits 0", rc == 0, f"status {rc}")


def _million(ctx) -> None:
    results, cleanup = ctx.results, ctx.cleanup
    total = 1_000_000
    per_body = 100
    workers = 8
    tmp = cleanup.tempdir("million")
    data = os.path.join(tmp, "data")
    dead_port = free_port()
    rules = _dead_target_rules(os.path.join(tmp, "rules"), dead_port)
    relay = Relay(ctx.binary, cleanup, rules, data, os.path.join(tmp, "relay.log"), log_level="error")
    relay.start()
    if not results.check(NAME, "1M: relay starts", relay.wait_healthy(30), on_fail=relay.log_tail(5)):
        return
    samples: list[tuple[float, int]] = []
    stop = threading.Event()

    def sample() -> None:
        t0 = time.monotonic()
        while not stop.is_set():
            st = proc_status(relay.pid)
            if st:
                samples.append((time.monotonic() - t0, st.get("VmRSS", 0)))
            stop.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    bodies = (aws_body(["m/%07d" % (b * per_body + i) for i in range(per_body)]) for b in range(total // per_body))
    outcomes = _send_all(relay.port, bodies, workers)
    send_seconds = time.monotonic() - started
    st = proc_status(relay.pid)
    pending = relay.pending()
    results.figure(NAME, "1M: POST outcomes", outcomes)
    results.figure(NAME, "1M: send time", f"{send_seconds:.1f} s ({total / send_seconds:,.0f} deliveries/s, "
                                          f"{total // per_body / send_seconds:,.0f} requests/s of {per_body} "
                                          f"records, {workers} workers)")
    results.check(NAME, "1M: every body accepted", outcomes == {"200": total // per_body}, str(outcomes))
    results.check(NAME, "1M: relay_spool_pending_deliveries is 1,000,000", pending == float(total),
                  f"pending={pending}")
    time.sleep(10)  # retries of the dead target churn through the backlog meanwhile
    st_idle = proc_status(relay.pid)
    stop.set()
    sampler.join(timeout=5)
    peak_sampled = max((kb for _, kb in samples), default=0)
    size = sum(os.path.getsize(os.path.join(data, n)) for n in os.listdir(data))
    results.figure(NAME, "1M: VmRSS after send / after 10 s idle / VmHWM (peak)",
                   f"{st.get('VmRSS', 0) // 1024} MiB / {st_idle.get('VmRSS', 0) // 1024} MiB / "
                   f"{st_idle.get('VmHWM', 0) // 1024} MiB (threads {st_idle.get('Threads')}, fds "
                   f"{open_fds(relay.pid)})")
    results.figure(NAME, "1M: RSS samples (s, MiB), every ~10th",
                   [(round(t), kb // 1024) for t, kb in samples[::max(1, len(samples) // 12)]])
    results.figure(NAME, "1M: data dir size", f"{size / 1e6:.0f} MB")
    results.check(NAME, "1M: peak RSS bounded (< 256 MiB)",
                  0 < st_idle.get("VmHWM", 0) < RSS_LIMIT_KB and peak_sampled < RSS_LIMIT_KB,
                  f"VmHWM {st_idle.get('VmHWM', 0) // 1024} MiB")
    results.figure(NAME, "1M: attempts on the dead target during the send and 10 s after",
                   _labelled(relay, "relay_delivery_attempts_total"))
    t0 = time.monotonic()
    rc = relay.stop(30)
    results.figure(NAME, "1M: SIGTERM to exit", f"{time.monotonic() - t0:.2f} s")
    results.check(NAME, "1M: SIGTERM exits 0", rc == 0, f"status {rc}")
    t0 = time.monotonic()
    relay.start()
    healthy = relay.wait_healthy(300)
    restart_seconds = time.monotonic() - t0
    pending = relay.pending()
    time.sleep(3)
    st = proc_status(relay.pid)
    results.figure(NAME, "1M: restart to healthy", f"{restart_seconds:.2f} s")
    results.figure(NAME, "1M: VmRSS / VmHWM after restart", f"{st.get('VmRSS', 0) // 1024} MiB / "
                                                         f"{st.get('VmHWM', 0) // 1024} MiB")
    results.check(NAME, "1M: restart keeps the 1,000,000 pending", healthy and pending == float(total),
                  f"pending={pending}")
    results.check(NAME, "1M: RSS bounded after restart (< 256 MiB)", 0 < st.get("VmHWM", 0) < RSS_LIMIT_KB,
                  f"VmHWM {st.get('VmHWM', 0) // 1024} MiB")
    attempts = _labelled(relay, "relay_delivery_attempts_total")
    results.figure(NAME, "1M: attempts on the dead target in the 3 s after the restart", attempts)

    # The target comes up: how fast does the backlog drain (bounded by this Python receiver), at what RSS?
    target = Receiver(cleanup, "dead", port=dead_port, mode="ok")
    target.start()
    t0 = time.monotonic()
    time.sleep(20)
    delivered = len(target.delivered())
    seconds = time.monotonic() - t0
    st = proc_status(relay.pid)
    results.figure(NAME, "1M: drain with the target up (Python receiver, 20 s)",
                   f"{delivered} delivered, {delivered / seconds:,.0f}/s; VmRSS {st.get('VmRSS', 0) // 1024} MiB, "
                   f"VmHWM {st.get('VmHWM', 0) // 1024} MiB")
    results.check(NAME, "1M: deliveries flow once the target is up", delivered > 0, f"{delivered}")
    results.check(NAME, "1M: RSS bounded while draining (< 256 MiB)", 0 < st.get("VmHWM", 0) < RSS_LIMIT_KB,
                  f"VmHWM {st.get('VmHWM', 0) // 1024} MiB")
    t0 = time.monotonic()
    rc = relay.stop(30)
    results.figure(NAME, "1M: SIGTERM while draining, to exit", f"{time.monotonic() - t0:.2f} s")
    results.check(NAME, "1M: second SIGTERM exits 0", rc == 0, f"status {rc}")
    target.stop()


def _labelled(relay: Relay, name: str) -> dict[str, float]:
    """Samples of a labelled metric: label text -> value."""
    out: dict[str, float] = {}
    try:
        status, _, body = http_request(relay.port, "GET", "/metrics", timeout=10)
    except (OSError, http.client.HTTPException):
        return out
    for line in body.decode("utf-8", "replace").splitlines():
        if line.startswith(name + "{"):
            labels, _, value = line[len(name):].rpartition(" ")
            try:
                out[labels] = float(value)
            except ValueError:
                pass
    return out
