"""Scenario 2 — full disk: the data dir is a small tmpfs that a filler file fills while events arrive.

Expected: the relay answers 503 (never 500), keeps running and answering /healthz; what it acked before stays
and is delivered; once the filler is removed it accepts (2xx) and delivers again.
"""

from __future__ import annotations

import errno
import http.client
import os
import subprocess
import threading
import time

from harness import Receiver, Relay, event_key, http_request, read_dead_letters, write_rules
from sender import MINIO_HEADERS, StoreSender, minio_body

NAME = "full-disk"


def _fill(path: str) -> int:
    """Writes `path` until the file system is full (ENOSPC); returns the bytes written."""
    written = 0
    with open(path, "wb", buffering=0) as f:
        for chunk in (256 * 1024, 4096, 512):
            block = b"\0" * chunk
            while True:
                try:
                    n = f.write(block)
                except OSError as exc:
                    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                        break
                    raise
                if not n:
                    break
                written += n
    return written


def _free_bytes(path: str) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def run(ctx) -> None:
    results, cleanup = ctx.results, ctx.cleanup
    tmp = cleanup.tempdir("disk")
    mountpoint = os.path.join(tmp, "tmpfs")
    os.makedirs(mountpoint)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mountpoint],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        results.skip(NAME, f"cannot mount a tmpfs ({mounted.stderr.strip() or mounted.returncode}); "
                           "run as root on Linux to test a full disk")
        return
    cleanup.mount(mountpoint)
    try:
        _scenario(ctx, tmp, mountpoint)
    finally:
        cleanup.stop_processes()  # the relay first, then the file system under it
        r = subprocess.run(["umount", mountpoint], capture_output=True, text=True, check=False)
        if r.returncode == 0:
            cleanup.forget_mount(mountpoint)
        else:
            print(f"    umount {mountpoint}: {r.stderr.strip()}", flush=True)


def _scenario(ctx, tmp: str, mountpoint: str) -> None:
    results, cleanup = ctx.results, ctx.cleanup
    before_count = 400 if ctx.full else 150
    during_count = 100 if ctx.full else 40
    full_seconds = 10.0 if ctx.full else 5.0
    data = os.path.join(mountpoint, "data")
    target = Receiver(cleanup, "t", mode="fail")  # 503: acked events stay pending in the spool
    target.start()
    rules = write_rules(os.path.join(tmp, "rules"), {
        "t": {"url": target.url, "format": "minio", "timeout": "5s",
              "retry": {"attempts": 1000, "initialBackoff": "200ms", "maxBackoff": "1s"}},
    }, [{"name": "all", "match": {}, "to": ["t"]}])
    relay = Relay(ctx.binary, cleanup, rules, data, os.path.join(tmp, "relay.log"), log_level="info")
    relay.start()
    if not results.check(NAME, "relay starts on the tmpfs", relay.wait_healthy(30), on_fail=relay.log_tail(5)):
        return
    sender = StoreSender(relay.port, os.path.join(tmp, "queue"), workers=2, retry_interval=0.25)
    sender.start()
    filler = os.path.join(mountpoint, "filler")
    try:
        # 1. Events acked before the disk fills; the target refuses them, so they stay pending.
        before = ["disk/before-%05d.jpg" % i for i in range(before_count)]
        for key in before:
            sender.put(key, minio_body(key, padding=1000))
        acked_before = sender.wait_empty(60)
        results.check(NAME, "events before the fill acked", acked_before and all(k in sender.acked for k in before),
                      f"{sum(1 for k in before if k in sender.acked)}/{before_count}")
        pending_before = relay.pending()
        results.figure(NAME, "pending before the fill", pending_before)

        # 2. Fill the file system while events keep coming.
        filled = _fill(filler)
        results.figure(NAME, "filler written / free after", f"{filled} B / {_free_bytes(mountpoint)} B")
        during = ["disk/during-%05d.jpg" % i for i in range(during_count)]
        probe_latencies: list[float] = []
        probe_failures: list[str] = []
        stop_probe = threading.Event()
        probing = threading.Event()  # cleared while we kill and restart the relay on purpose
        probing.set()

        def probe() -> None:
            while not stop_probe.is_set():
                if not probing.wait(0.1):
                    continue
                t0 = time.monotonic()
                try:
                    status, _, _ = http_request(relay.port, "GET", "/healthz", timeout=5)
                    if status != 200:
                        probe_failures.append(str(status))
                except (OSError, http.client.HTTPException) as exc:
                    if probing.is_set():
                        probe_failures.append(type(exc).__name__)
                probe_latencies.append(time.monotonic() - t0)
                stop_probe.wait(0.1)

        prober = threading.Thread(target=probe, daemon=True)
        prober.start()
        for key in during:
            sender.put(key, minio_body(key, padding=1000))
        # Keep pushing until the relay refuses: the WAL may still have room for some (a few MB at most), so
        # add events until a 503 comes back, bounded in count (2,000 x 3 kB > the whole tmpfs) and time.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(during) < during_count + 2000:
            if any(s == "503" for k in during for s in sender.history.get(k, [])):
                break
            if sender.queued < 20:
                for _ in range(10):
                    key = "disk/during-%05d.jpg" % len(during)
                    during.append(key)
                    sender.put(key, minio_body(key, padding=1000))
            time.sleep(0.05)
        time.sleep(full_seconds)
        direct_status, direct_headers, direct_body = 0, {}, b""
        try:
            key = "disk/direct-probe.jpg"
            direct_status, direct_headers, direct_body = http_request(
                relay.port, "POST", "/minio-event", minio_body(key, padding=1000), MINIO_HEADERS, timeout=10)
        except (OSError, http.client.HTTPException) as exc:
            direct_body = repr(exc).encode()
        readyz = None
        try:
            readyz = http_request(relay.port, "GET", "/readyz", timeout=5)[0]
        except (OSError, http.client.HTTPException):
            pass
        alive_full = relay.alive()
        statuses_full: dict[str, int] = {}
        for k in during:
            for s in sender.history.get(k, []):
                statuses_full[s] = statuses_full.get(s, 0) + 1
        acked_during_full = sum(1 for k in during if k in sender.acked)
        results.figure(NAME, "POST outcomes while full (events sent while full)", statuses_full)
        results.figure(NAME, "events acked while full", f"{acked_during_full}/{len(during)}")
        results.figure(NAME, "/readyz while full", readyz)
        results.check(NAME, "relay alive while the disk is full", alive_full, on_fail=relay.log_tail(10))
        results.check(NAME, "answers 503 when it cannot record (disk full)", statuses_full.get("503", 0) > 0,
                      str(statuses_full))
        bad = {s: n for s, n in statuses_full.items() if not (s.isdigit() and (200 <= int(s) < 300 or s == "503"))}
        results.check(NAME, "no status but 2xx/503 (no 500, no reset) while full", not bad, str(bad))
        if direct_status == 503:
            results.check(NAME, "a 503 for a full disk carries Retry-After", "retry-after" in direct_headers,
                          f"headers {sorted(direct_headers)}; body {direct_body[:200]!r}")
        else:
            results.figure(NAME, "direct POST while full", f"{direct_status} {direct_body[:200]!r}")

        # 3. The target comes back while the disk is still full: deliveries happen, their removal may fail.
        target.mode = "ok"
        time.sleep(full_seconds)
        s_full = target.summary()
        results.figure(NAME, f"2xx deliveries in {full_seconds:.0f} s with the target up and the disk full",
                       f"{s_full['requests']} requests of {len(s_full['ids'])} distinct ids, up to "
                       f"{s_full['max_copies']} copies of one id")
        results.check(NAME, "relay alive after delivering on a full disk", relay.alive(), on_fail=relay.log_tail(10))

        # 4. kill -9 while the disk is full, and start again on the full disk.
        probing.clear()
        time.sleep(0.2)
        relay.kill9()
        relay.start()
        started_full = relay.wait_healthy(20)
        if started_full:
            probing.set()
        if started_full:
            st, _, body = 0, {}, b""
            try:
                st, _, body = http_request(relay.port, "POST", "/minio-event",
                                           minio_body("disk/after-restart-probe.jpg", padding=1000), MINIO_HEADERS,
                                           timeout=10)
            except (OSError, http.client.HTTPException) as exc:
                body = repr(exc).encode()
            results.figure(NAME, "restart on the full disk", f"healthy; a POST gets {st}")
            results.check(NAME, "after a restart on the full disk, a POST gets 503 or 2xx (never 500)",
                          st == 503 or 200 <= st < 300, f"{st} {body[:160]!r}")
        else:
            rc_full = relay.wait(10) if relay.alive() else relay.proc.returncode
            last = relay.log_tail(3)
            results.figure(NAME, "restart on the full disk", f"did not become healthy (status {rc_full}): {last}")
            results.check(NAME, "a relay that cannot start on a full disk exits (no hang)", not relay.alive(),
                          on_fail=last)

        # 5. Space again.
        os.unlink(filler)
        if not relay.alive():
            relay.start()
        results.check(NAME, "relay healthy once space is freed", relay.wait_healthy(30), on_fail=relay.log_tail(5))
        probing.set()
        after = ["disk/after-%05d.jpg" % i for i in range(during_count)]
        for key in after:
            sender.put(key, minio_body(key, padding=1000))
        all_acked = sender.wait_empty(60)
        stop_probe.set()
        prober.join(timeout=10)
        results.check(NAME, "accepts again once space is freed (every event sent got a 2xx)",
                      all_acked and len(sender.acked) == len(sender.sent_keys),
                      f"{sender.queued} still queued; outcomes {sender.snapshot()['statuses']}")
        drained = relay.wait_drained(60)
        results.check(NAME, "spool drains once space is freed", drained, f"pending={relay.pending()}")
        results.check(NAME, "/healthz answered 200 throughout (but for our own kill -9)", not probe_failures,
                      f"{len(probe_failures)} failures: {probe_failures[:5]}")
        if probe_latencies:
            results.figure(NAME, "/healthz worst latency", f"{max(probe_latencies) * 1000:.1f} ms "
                                                            f"over {len(probe_latencies)} probes")
        s = target.summary()
        dead = read_dead_letters(data)
        dead_keys = {event_key(d["payload"].encode()) for d in dead if isinstance(d.get("payload"), str)}
        acked = set(sender.acked)
        missing = sorted(acked - s["keys"] - dead_keys)
        results.check(NAME, "every event acked (before, during, after) was delivered", not missing,
                      f"{len(missing)} missing, e.g. {missing[:5]}" if missing else f"{len(acked)} acked")
        missing_before = [k for k in before if k not in s["keys"] and k not in dead_keys]
        results.check(NAME, "events acked before the fill survived it", not missing_before,
                      f"{len(missing_before)} missing")
        results.figure(NAME, "deliveries / distinct keys / ids delivered more than once / most copies of one id",
                       f"{s['requests']} / {len(s['keys'])} / {s['duplicate_ids']} / {s['max_copies']}")
        results.figure(NAME, "dead-letter lines", len(dead))
        results.check(NAME, "relay alive at the end", relay.alive(), on_fail=relay.log_tail(10))
        rc = relay.stop(20)
        results.check(NAME, "SIGTERM exits 0", rc == 0, f"status {rc}")
        crashes = relay.log_grep("Fatal error", "fatal error", "Segmentation", "Illegal instruction")
        results.check(NAME, "no fatal error in the relay log", not crashes, "; ".join(crashes[:3]))
    finally:
        sender.stop()
        if os.path.exists(filler):
            os.unlink(filler)
