"""Checks of issue 7's defects that other branches fix (items 1, 3, 6, 7). Each asserts the behaviour the issue
asks for, so each fails until that branch is merged; the integrator runs the suite after merging."""

from __future__ import annotations

import json
import os
import time

from common import run_cli, start_relay
from harness import Receiver, http_request, proc_status, read_dead_letters, wait_until, write_rules
from sender import MINIO_HEADERS, minio_body


# fixed on another branch: item 1
def dead_letter_amplification(ctx) -> None:
    results, name = ctx.results, "amplification"
    relay, _ = start_relay(ctx, name, {"hook": {"url": "http://127.0.0.1:1/hook"}},
                           [{"name": "all", "match": {}, "to": ["hook"]}], log_level="warning")
    if relay is None:
        return
    records = 1000
    body = b'{"Records":[' + b",".join(b"{}" + b" " * 96 for _ in range(records)) + b"]}"
    dead = os.path.join(relay.data_dir, "dead-letter.jsonl")
    size_before = os.path.getsize(dead) if os.path.exists(dead) else 0
    rss_before = proc_status(relay.pid).get("VmRSS", 0)
    t0 = time.monotonic()
    status, _, answer = http_request(relay.port, "POST", "/minio-event", body, MINIO_HEADERS, timeout=120)
    elapsed = time.monotonic() - t0
    grown = (os.path.getsize(dead) if os.path.exists(dead) else 0) - size_before
    st = proc_status(relay.pid)
    results.figure(name, f"a {len(body) // 1024} KB body of {records} {{}} records",
                   f"{status} in {elapsed:.1f} s; dead-letter.jsonl +{grown / 1024:.0f} KB; RSS "
                   f"{rss_before // 1024} -> {st.get('VmRSS', 0) // 1024} MiB (peak {st.get('VmHWM', 0) // 1024})")
    results.check(name, "[other branch: item 1] answered 2xx (dead-lettered, never refused)",
                  status is not None and 200 <= status < 300, f"{status} {answer[:100]!r}")
    results.check(name, "[other branch: item 1] dead-letter.jsonl grows by at most 4x the body",
                  grown <= 4 * len(body), f"+{grown:,} B for a {len(body):,} B body")
    results.check(name, "[other branch: item 1] RSS grows by less than 50 MiB",
                  st.get("VmRSS", 0) - rss_before < 50 * 1024, f"+{(st.get('VmRSS', 0) - rss_before) // 1024} MiB")
    relay.stop()


# fixed on another branch: item 3
def duplicate_keys(ctx) -> None:
    results, name = ctx.results, "duplicate-keys"
    target = Receiver(ctx.cleanup, "t", mode="ok", keep_bodies=True)
    target.start()
    relay, _ = start_relay(ctx, name, {"t": {"url": target.url, "format": "minio"}},
                           [{"name": "fail-prefix", "match": {"prefix": ["fail/"]}, "to": ["t"]}], log_level="warning")
    if relay is None:
        return
    record = json.loads(minio_body("placeholder"))["Records"][0]
    text = json.dumps({"EventName": "s3:ObjectCreated:Put", "Key": "photos/fail/ok.jpg", "Records": [record]})
    text = text.replace('"key": "placeholder"', '"key": "fail/ok.jpg", "key": "private/secret.jpg"')
    if '"private/secret.jpg"' not in text:
        results.check(name, "test body built", False, text[:200])
        return
    status, _, answer = http_request(relay.port, "POST", "/minio-event", text.encode(), MINIO_HEADERS)
    time.sleep(2.0)
    letters = read_dead_letters(relay.data_dir)
    results.check(name, "[other branch: item 3] a record with a duplicate `key` is answered 2xx",
                  status is not None and 200 <= status < 300, f"{status} {answer[:120]!r}")
    results.check(name, "[other branch: item 3] it never reaches the target", target.requests_seen == 0,
                  f"{target.requests_seen} requests")
    results.check(name, "[other branch: item 3] it is dead-lettered undecodable",
                  any(letter.get("reason") == "undecodable" for letter in letters),
                  str([(d.get("reason"), d.get("field")) for d in letters]))
    relay.stop()


# fixed on another branch: item 6
def url_credentials(ctx) -> None:
    results, name = ctx.results, "url-secrets"
    target = Receiver(ctx.cleanup, "t", mode="fail", fail_status=400)
    target.start()
    password, token = "hunter2pass", "abc-token-77"
    url = target.url.replace("http://", f"http://user:{password}@") + f"?token={token}"
    relay, tmp = start_relay(ctx, name, {"t": {"url": url}}, [{"name": "all", "match": {}, "to": ["t"]}],
                             log_level="warning")
    if relay is None:
        return
    http_request(relay.port, "POST", "/minio-event", minio_body("creds/a.jpg"), MINIO_HEADERS)
    http_request(relay.port, "POST", "/minio-event", b'{"Records":[{"eventName":1}]}', MINIO_HEADERS)
    got = wait_until(lambda: len(read_dead_letters(relay.data_dir)) >= 2, 15)
    relay.stop()
    results.check(name, "the rejected event and the undecodable one are dead-lettered", got)
    found = []
    for entry in sorted(os.listdir(relay.data_dir)):
        with open(os.path.join(relay.data_dir, entry), "rb") as f:
            content = f.read()
        if password.encode() in content or token.encode() in content:
            found.append(entry)
    results.check(name, "[other branch: item 6] no file in the data directory holds the URL's password or token",
                  not found, f"found in {found}")
    _, dry = run_cli(ctx.binary, ["replay", "--data-dir", relay.data_dir, "--rules", os.path.join(tmp, "rules"),
                                  "--dry-run"])
    results.check(name, "[other branch: item 6] `replay --dry-run` prints neither",
                  password not in dry and token not in dry, dry.strip()[-200:])


# fixed on another branch: item 7
def replay_as_proxy(ctx) -> None:
    results, name = ctx.results, "replay-proxy"
    tmp = ctx.cleanup.tempdir("hostile-replay-proxy")
    listener = Receiver(ctx.cleanup, "listener", mode="ok")
    listener.start()
    configured = Receiver(ctx.cleanup, "configured", mode="ok")
    configured.start()
    rules = write_rules(os.path.join(tmp, "rules"), {"real": {"url": configured.url}},
                        [{"name": "all", "match": {}, "to": ["real"]}])
    data = os.path.join(tmp, "data")
    os.makedirs(data, mode=0o700)
    payload = minio_body("proxy/forged.jpg").decode()
    lines = [
        {"time": "2026-01-01T00:00:00Z", "reason": "exhausted", "rule": "all", "target": "unknown-target",
         "url": listener.url, "deliveryID": "msg_forged1", "attempts": 1, "payload": payload},
        {"time": "2026-01-01T00:00:00Z", "reason": "exhausted", "rule": "all", "url": listener.url,
         "deliveryID": "msg_forged2", "attempts": 1, "payload": payload},
        {"time": "2026-01-01T00:00:00Z", "reason": "exhausted", "rule": "all", "target": "real",
         "url": listener.url, "deliveryID": "msg_forged3", "attempts": 1, "payload": payload},
    ]
    _write_lines(data, lines)
    rc, out = run_cli(ctx.binary, ["replay", "--data-dir", data, "--rules", rules], timeout=60)
    results.figure(name, "replay of forged lines", f"exit {rc}; listener {listener.requests_seen}, configured "
                                                   f"{configured.requests_seen}")
    results.check(name, "[other branch: item 7] replay sends nothing to a URL written in a line",
                  listener.requests_seen == 0, f"{listener.requests_seen} requests", on_fail=out[-300:])
    results.check(name, "[other branch: item 7] a line of a known target goes to its configured URL",
                  configured.requests_seen == 1, f"{configured.requests_seen} requests", on_fail=out[-300:])
    # Without rules at all (no --rules, no rules/ where it runs): nothing is sent anywhere.
    _write_lines(data, lines)
    before = listener.requests_seen + configured.requests_seen
    empty = os.path.join(tmp, "norules")
    os.makedirs(empty)
    rc, out = run_cli(ctx.binary, ["replay", "--data-dir", data], timeout=60, cwd=empty)
    sent = listener.requests_seen + configured.requests_seen - before
    results.check(name, "[other branch: item 7] without rules, replay sends nothing", sent == 0,
                  f"exit {rc}, {sent} requests", on_fail=out[-300:])


def _write_lines(data: str, lines: list[dict]) -> None:
    path = os.path.join(data, "dead-letter.jsonl")
    with open(path, "w") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")
    os.chmod(path, 0o600)
