"""Defects of issue 7 fixed on this branch, each kept as a regression check against the real binary:
item 2 (the data directory follows symlinks), item 4 (forged log lines), item 5 (slow senders lock everyone out),
item 8 (token file, /metrics guard, the beyond-loopback warning, HTTP/1.0 connections)."""

from __future__ import annotations

import json
import os
import re
import socket
import time

from common import exchange, file_state, read_log, run_cli, start_relay
from harness import HOST, Receiver, Relay, http_request, percentile, read_dead_letters, wait_until, write_rules
from sender import MINIO_HEADERS, minio_body

IDLE_TARGETS = {"hook": {"url": "http://127.0.0.1:1/hook", "retry": {"attempts": 1}}}
IDLE_RULES = [{"name": "none", "match": {"bucket": ["no-such-bucket"]}, "to": ["hook"]}]
VICTIM = b"precious file of the relay's user\n"


def _victim(tmp: str) -> str:
    path = os.path.join(tmp, "victim.txt")
    with open(path, "wb") as f:
        f.write(VICTIM)
    os.chmod(path, 0o644)
    return path


# ---------------------------------------------------------------------------------------------------------------------
# Item 2: the data directory
# ---------------------------------------------------------------------------------------------------------------------

def data_directory(ctx) -> None:
    results, name = ctx.results, "data-dir"
    tmp = ctx.cleanup.tempdir("hostile-datadir")
    rules = write_rules(os.path.join(tmp, "rules"), IDLE_TARGETS, IDLE_RULES)

    # A link at each file the relay opens: start refused, victim untouched.
    for link in ["relay.lock", "dead-letter.jsonl", "spool.sqlite", "spool.sqlite-wal", "spool.sqlite-shm"]:
        data = os.path.join(tmp, "data-" + link)
        os.makedirs(data, mode=0o700)
        victim = _victim(tmp)
        os.symlink(victim, os.path.join(data, link))
        rc, out = run_cli(ctx.binary, ["serve", "--host", HOST, "--port", "0", "--rules", rules, "--data-dir", data,
                                       "--log-level", "warning"], timeout=20)
        results.check(name, f"a symbolic link at {link}: start refused (exit 1), naming the link", rc == 1
                      and "symbolic link" in out, f"exit {rc}", on_fail=out[-600:])
        results.check(name, f"a symbolic link at {link}: the victim is untouched (content and mode 0644)",
                      file_state(victim) == (VICTIM, 0o644), str(file_state(victim)))

    # A directory others may write to is refused, naming the fix.
    shared = os.path.join(tmp, "shared")
    os.makedirs(shared)
    os.chmod(shared, 0o770)
    rc, out = run_cli(ctx.binary, ["serve", "--host", HOST, "--port", "0", "--rules", rules, "--data-dir", shared],
                      timeout=20)
    results.check(name, "a group-writable data directory: start refused with the path and `chmod 700`",
                  rc == 1 and shared in out and "chmod 700" in out, f"exit {rc}", on_fail=out[-600:])
    results.check(name, "a group-writable data directory: nothing created in it", os.listdir(shared) == [],
                  str(os.listdir(shared)))

    # Under umask 0: the directory 0700, every file 0600.
    data = os.path.join(tmp, "fresh", "data")
    relay = Relay(ctx.binary, ctx.cleanup, rules, data, os.path.join(tmp, "fresh.log"), log_level="warning")
    previous = os.umask(0)
    try:
        relay.start()
    finally:
        os.umask(previous)
    if results.check(name, "relay starts under umask 0", relay.wait_healthy(30), on_fail=relay.log_tail(5)):
        modes = {n: oct(os.lstat(os.path.join(data, n)).st_mode & 0o777) for n in sorted(os.listdir(data))}
        results.figure(name, "modes under umask 0", f"dir {oct(os.stat(data).st_mode & 0o777)} {modes}")
        results.check(name, "under umask 0: data directory 0700", os.stat(data).st_mode & 0o777 == 0o700)
        results.check(name, "under umask 0: every file in it 0600", modes and all(m == "0o600" for m in
                                                                                   modes.values()), str(modes))
    relay.stop()

    # replay with a link at dead-letter.jsonl.tmp: the rewrite never opens it.
    target = Receiver(ctx.cleanup, "hook", mode="fail", fail_status=400)
    target.start()
    rules2 = write_rules(os.path.join(tmp, "rules2"), {"hook": {"url": target.url}},
                         [{"name": "all", "match": {}, "to": ["hook"]}])
    data = os.path.join(tmp, "replay-data")
    relay = Relay(ctx.binary, ctx.cleanup, rules2, data, os.path.join(tmp, "replay.log"), log_level="warning")
    relay.start()
    if not results.check(name, "relay starts (replay)", relay.wait_healthy(30), on_fail=relay.log_tail(5)):
        return
    status, _, _ = http_request(relay.port, "POST", "/minio-event", minio_body("replay/one.jpg"), MINIO_HEADERS)
    got = wait_until(lambda: len(read_dead_letters(data)) == 1, 15)
    relay.stop()
    if not results.check(name, "an event rejected by its target is dead-lettered", status == 200 and got):
        return
    victim = _victim(tmp)
    for temporary in ["dead-letter.jsonl.tmp", "dead-letter.jsonl.tmp.1"]:
        os.symlink(victim, os.path.join(data, temporary))
    target.mode = "ok"
    rc, out = run_cli(ctx.binary, ["replay", "--data-dir", data, "--rules", rules2], timeout=30)
    results.check(name, "replay with a link at dead-letter.jsonl.tmp: sent and removed", rc == 0
                  and read_dead_letters(data) == [], f"exit {rc}", on_fail=out[-400:])
    results.check(name, "replay with a link at dead-letter.jsonl.tmp: the victim is untouched (content, mode 0644)",
                  file_state(victim) == (VICTIM, 0o644), str(file_state(victim)))
    dead = os.path.join(data, "dead-letter.jsonl")
    results.check(name, "the rewritten dead-letter.jsonl is a regular file, 0600",
                  not os.path.islink(dead) and (os.lstat(dead).st_mode & 0o777) == 0o600,
                  oct(os.lstat(dead).st_mode & 0o777))
    leftovers = [n for n in os.listdir(data) if ".tmp-" in n]
    results.check(name, "no temporary file left behind", not leftovers, str(leftovers))


# ---------------------------------------------------------------------------------------------------------------------
# Item 4: forged log lines
# ---------------------------------------------------------------------------------------------------------------------

FAKE_LINE = "2026-01-01T00:00:00+0000 critical bucket-relay: FORGED-LINE"
LINE_START = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} \w+ |==== start |$)")


def _hostile_bodies() -> list[tuple[str, bytes]]:
    forged = "s3:ObjectCreated:Put\n" + FAKE_LINE + "\x1b[31m\x9b2J\u202e\x7f"
    bodies = [("eventName", minio_body("logs/a.jpg", event=forged)),
              ("test event Bucket", json.dumps({"EventName": "s3:TestEvent",
                                                "Bucket": "b\n" + FAKE_LINE + "\x1b[2J"}).encode())]
    record = json.loads(minio_body("logs/meta.jpg"))["Records"][0]
    record["s3"]["object"]["userMetadata"] = {"X-Amz-Meta-\n" + FAKE_LINE + "\x1b]0;owned\x07": 7}
    bodies.append(("metadata name", json.dumps({"Records": [record]}).encode()))
    record = json.loads(minio_body("logs/detail.jpg"))["Records"][0]
    record["eventName"] = "\n" + FAKE_LINE + "\x1b[5m"
    record["s3"]["object"]["key"] = 12
    bodies.append(("dead-letter field/detail", json.dumps({"Records": [record]}).encode()))
    record = json.loads(minio_body("logs/bucket.jpg"))["Records"][0]
    record["s3"]["bucket"]["name"] = "photos\u2028" + FAKE_LINE + "\x9b31m"
    bodies.append(("bucket (U+2028, C1 CSI)", json.dumps({"Records": [record]}).encode()))
    return bodies


def forged_log_lines(ctx) -> None:
    results, name = ctx.results, "logs"
    for log_format in ["text", "json"]:
        relay, _ = start_relay(ctx, name, IDLE_TARGETS, IDLE_RULES, extra=["--log-format", log_format],
                               log_level="debug")
        if relay is None:
            return
        statuses = []
        for what, body in _hostile_bodies():
            status, _, _ = http_request(relay.port, "POST", "/minio-event", body, MINIO_HEADERS)
            statuses.append((what, status))
        time.sleep(0.5)
        relay.stop()
        log = read_log(relay)
        results.check(name, f"{log_format}: hostile events answered 2xx", all(200 <= s < 300 for _, s in statuses),
                      str(statuses))
        results.check(name, f"{log_format}: the hostile values were logged", b"FORGED-LINE" in log)
        results.check(name, f"{log_format}: no raw ESC, BEL, DEL, C1, U+2028 or U+202E in the log",
                      not any(c in log for c in [b"\x1b", b"\x07", b"\x7f", "\x9b".encode(), "\u2028".encode(),
                                                 "\u202e".encode()]))
        if log_format == "text":
            lines = log.split(b"\n")
            bad = [line for line in lines if not LINE_START.match(line) or line.startswith(FAKE_LINE[:24].encode())]
            results.check(name, "text: every line is one the relay began (no forged line)", not bad,
                          f"{len(bad)} foreign lines", on_fail=repr(bad[:3]))
            carrying = [line for line in lines if b"FORGED-LINE" in line]
            results.check(name, "text: each hostile value stays inside the line that logs it",
                          carrying and all(b" bucket-relay: " in line[:60] for line in carrying),
                          f"{len(carrying)} lines carry one", on_fail=repr(carrying[:3]))
        else:
            bad = []
            for line in log.split(b"\n"):
                if not line or line.startswith(b"==== start"):
                    continue
                try:
                    json.loads(line)
                except ValueError:
                    bad.append(line)
            results.check(name, "json: every line is one JSON object", not bad, f"{len(bad)} bad lines",
                          on_fail=repr(bad[:3]))


# ---------------------------------------------------------------------------------------------------------------------
# Item 5: slow senders
# ---------------------------------------------------------------------------------------------------------------------

def slow_senders(ctx) -> None:
    results, name = ctx.results, "slow-senders"
    target = Receiver(ctx.cleanup, "t", mode="ok")
    target.start()
    relay, _ = start_relay(ctx, name, {"t": {"url": target.url}}, [{"name": "all", "match": {}, "to": ["t"]}],
                           log_level="warning")
    if relay is None:
        return
    count = 256 if ctx.full else 64
    baseline = _legitimate_posts(relay, 3.0, "slow/baseline-%04d.jpg")[0]
    head = (b"POST /minio-event HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n")
    slow: list[socket.socket] = []
    for _ in range(count):
        s = socket.create_connection((HOST, relay.port), timeout=10)
        s.sendall(head)
        slow.append(s)
    t_open = time.monotonic()
    latencies, statuses = _legitimate_posts(relay, 8.0 - (time.monotonic() - t_open), "slow/legit-%04d.jpg")
    results.figure(name, "legitimate POSTs before the attack (baseline): n / p50 / p99 / max",
                   f"{len(baseline)} / {percentile(baseline, 0.5) * 1000:.1f} / {percentile(baseline, 0.99) * 1000:.1f}"
                   f" / {max(baseline) * 1000:.1f} ms")
    results.figure(name, f"legitimate POSTs while {count} one-byte chunked senders are held: n / p50 / p99 / max",
                   f"{len(latencies)} / {percentile(latencies, 0.5) * 1000:.1f} / "
                   f"{percentile(latencies, 0.99) * 1000:.1f} / {max(latencies) * 1000:.1f} ms, statuses {statuses}")
    results.check(name, f"every legitimate POST got 2xx while {count} slow senders were held",
                  set(statuses) <= {200, 202}, str(statuses))
    # 100 ms each (the defect: 503 for 30 s). A debug build on a loaded CI machine has spikes without any attack
    # too: the 95th percentile must stay within 100 ms (or twice the slowest POST without the attack), none over 1 s.
    limit = max(0.1, 2 * max(baseline))
    p95 = percentile(latencies, 0.95)
    results.check(name, f"legitimate POSTs answered within {limit * 1000:.0f} ms (p95), none over 1 s",
                  p95 <= limit and max(latencies) < 1.0,
                  f"p95 {p95 * 1000:.1f} ms, {sum(1 for t in latencies if t > 0.1)} over 100 ms, max "
                  f"{max(latencies) * 1000:.1f} ms")
    cut = {"408 and closed": 0, "other": 0}
    for s in slow:
        s.settimeout(3)
        data = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            cut["408 and closed" if data.startswith(b"HTTP/1.1 408") else "other"] += 1
        except OSError:
            cut["other"] += 1
        s.close()
    results.figure(name, "stalled senders after 8 s", str(cut))
    results.check(name, "every stalled body was answered 408 and its connection closed within 8 s",
                  cut["408 and closed"] == count, str(cut))
    results.check(name, "relay alive", relay.alive(), on_fail=relay.log_tail(5))

    # One client holding nearly --max-body on 20 connections (more than its 16 MiB share) is refused beyond its
    # share; another client address (127.0.0.2, loopback too) is still served.
    size = 1 << 20
    hog: list[socket.socket] = []
    hog_status: dict[str, int] = {}
    head = b"POST /minio-event HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size
    for _ in range(20):
        s = socket.create_connection((HOST, relay.port), timeout=10)
        try:
            s.sendall(head + b" " * (size - 1))
        except OSError:
            pass
        hog.append(s)
    time.sleep(0.5)
    try:
        other = socket.create_connection((HOST, relay.port), timeout=10, source_address=("127.0.0.2", 0))
        body = minio_body("slow/other-client.jpg")
        other.sendall(b"POST /minio-event HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        other.settimeout(5)
        answer = other.recv(4096)
        other.close()
    except OSError as exc:
        answer = repr(exc).encode()
    for s in hog:
        s.settimeout(0.2)
        try:
            data = s.recv(4096)
            key = data[9:12].decode() if data.startswith(b"HTTP/1.1 ") else "held"
        except OSError:
            key = "held"
        hog_status[key] = hog_status.get(key, 0) + 1
        s.close()
    results.figure(name, "20 x (1 MiB - 1 byte) from 127.0.0.1", str(hog_status))
    results.check(name, "one client is refused (503) beyond its share of the body budget",
                  hog_status.get("503", 0) >= 1 and hog_status.get("held", 0) >= 10, str(hog_status))
    results.check(name, "meanwhile another client address is served", answer.startswith(b"HTTP/1.1 200"),
                  repr(answer[:60]))
    relay.stop()


def _legitimate_posts(relay: Relay, seconds: float, key: str) -> tuple[list[float], dict[int, int]]:
    """MinIO POSTs one after another (50 ms apart) for `seconds`: their latencies and statuses."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    started = time.monotonic()
    i = 0
    while time.monotonic() - started < seconds:
        t0 = time.monotonic()
        try:
            status, _, _ = http_request(relay.port, "POST", "/minio-event", minio_body(key % i), MINIO_HEADERS,
                                        timeout=10)
        except OSError:
            status = -1
        latencies.append(time.monotonic() - t0)
        statuses[status] = statuses.get(status, 0) + 1
        i += 1
        time.sleep(0.05)
    return latencies, statuses


# ---------------------------------------------------------------------------------------------------------------------
# Item 8: tokens and connections
# ---------------------------------------------------------------------------------------------------------------------

def tokens_and_connections(ctx) -> None:
    results, name = ctx.results, "tokens"
    tmp = ctx.cleanup.tempdir("hostile-tokens")
    token = "tok-" + os.urandom(8).hex()
    token_file = os.path.join(tmp, "token")
    with open(token_file, "w") as f:
        f.write(token + "\n")
    relay, _ = start_relay(ctx, name, IDLE_TARGETS, IDLE_RULES,
                           extra=["--auth-token-file", token_file, "--metrics-auth"], log_level="info")
    if relay is None:
        return
    with open(f"/proc/{relay.pid}/cmdline", "rb") as f:
        cmdline = f.read()
    results.check(name, "--auth-token-file: the token is not in the command line (ps)", token.encode() not in cmdline)
    body = minio_body("tokens/a.jpg")
    s1, _, _ = http_request(relay.port, "POST", "/minio-event", body, MINIO_HEADERS)
    good = dict(MINIO_HEADERS, Authorization="Bearer " + token)
    s2, _, _ = http_request(relay.port, "POST", "/minio-event", body, good)
    wrong = dict(MINIO_HEADERS, Authorization="Bearer " + token[:-1] + "x")
    s3, _, _ = http_request(relay.port, "POST", "/minio-event", body, wrong)
    results.check(name, "token from the file: 401 without, 200 with, 401 with a wrong one", (s1, s2, s3) == (401, 200,
                                                                                                            401),
                  str((s1, s2, s3)))
    m1, _, _ = http_request(relay.port, "GET", "/metrics")
    m2, _, _ = http_request(relay.port, "GET", "/metrics", headers={"Authorization": "Bearer " + token})
    h, _, _ = http_request(relay.port, "GET", "/healthz")
    results.check(name, "--metrics-auth: /metrics 401 without the token, 200 with; /healthz stays open",
                  (m1, m2, h) == (401, 200, 200), str((m1, m2, h)))
    results.check(name, "the token appears in no log line", token.encode() not in read_log(relay))
    relay.stop()

    empty = os.path.join(tmp, "empty")
    with open(empty, "w") as f:
        f.write("\n")
    rules = os.path.join(tmp, "rules")
    write_rules(rules, IDLE_TARGETS, IDLE_RULES)
    for args, fragment in [(["--auth-token-file", empty], "is empty"),
                           (["--auth-token-file", os.path.join(tmp, "missing")], "cannot read"),
                           (["--auth-token-file", token_file, "--auth-token", "x"], "exclusive")]:
        rc, out = run_cli(ctx.binary, ["serve", "--host", HOST, "--port", "0", "--rules", rules, "--data-dir",
                                       os.path.join(tmp, "data2"), *args], timeout=20)
        results.check(name, f"serve {' '.join(a if a != empty else 'EMPTY' for a in args)}: a clear start error",
                      rc not in (0, -9) and fragment in out, f"exit {rc}", on_fail=out[-300:])

    # 192.0.2.1 is no address of this machine: the warning is logged, then the bind fails; nothing listens.
    rc, out = run_cli(ctx.binary, ["serve", "--host", "192.0.2.1", "--port", "0", "--rules", rules, "--data-dir",
                                   os.path.join(tmp, "data3")], timeout=20)
    results.check(name, "listening beyond loopback without a token is warned at start", "without a token" in out,
                  f"exit {rc}", on_fail=out[-300:])

    relay, _ = start_relay(ctx, name, IDLE_TARGETS, IDLE_RULES, log_level="warning")
    if relay is None:
        return
    body = minio_body("tokens/http10.jpg")
    # needs the hook: RelayApplication builds its server with RelayHTTPServer.http1 (integrator, see the report)
    status, _, closed = exchange(relay.port, b"POST /minio-event HTTP/1.0\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    results.check(name, "HTTP/1.0 POST: answered, then the connection is closed [needs RelayHTTPServer wired in]",
                  status == 200 and closed, f"status {status}, closed {closed}")
    status, _, closed = exchange(relay.port, b"GET /healthz HTTP/1.0\r\n\r\n")
    results.check(name, "HTTP/1.0 GET /healthz: answered, then closed [needs RelayHTTPServer wired in]",
                  status == 200 and closed, f"status {status}, closed {closed}")
    status, _, closed = exchange(relay.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n")
    results.check(name, "HTTP/1.1 `Connection: Close`: answered, then closed [needs RelayHTTPServer wired in]",
                  status == 200 and closed, f"status {status}, closed {closed}")
    status, _, closed = exchange(relay.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", eof_wait=1.0)
    results.check(name, "HTTP/1.1 keep-alive: answered, connection kept", status == 200 and not closed,
                  f"status {status}, closed {closed}")
    relay.stop()
