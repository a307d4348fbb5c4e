#!/usr/bin/env python3
"""TLS suite of bucket-relay: targets behind a private CA or requiring a client certificate, targets that must be
refused, and the relay itself serving HTTPS, against the real binary on loopback.

    python3 Tests/tls/run.py .build/debug/bucket-relay

A CA, a server certificate for 127.0.0.1 and a client certificate are made in the test with `openssl`; a second CA
that nothing trusts stands in for a stranger. HTTPS receivers are Python's `ssl` over the fault suite's harness
(Tests/faults/harness.py): every process started is stopped by its PID, temp dirs are removed. Each check prints
one `ok`/`FAIL` line; the last line is `tls: N passed, M failed`; the exit status is 1 when a check failed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import ssl
import subprocess
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler
from typing import Any

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "faults"))

from harness import HOST, Cleanup, Relay, Results, free_port, start_https_server, read_dead_letters, wait_until  # noqa: E402
from sender import minio_body  # noqa: E402

MINIO_HEADERS = {"Content-Type": "application/json", "User-Agent": "MinIO (linux; amd64) minio-go/v7.0.70"}


def openssl(*args: str, cwd: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_pki(directory: str) -> None:
    """ca.pem/ca.key (trusted by the tests), stranger-ca.pem (trusted by nobody), server.pem/server.key for
    127.0.0.1 and localhost signed by the CA, stranger.pem/stranger.key for 127.0.0.1 signed by the stranger,
    client.pem/client.key (a client certificate signed by the CA)."""
    os.makedirs(directory, exist_ok=True)
    for ca in ("ca", "stranger-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN=bucket-relay test {ca}",
                "-keyout", f"{ca}.key", "-out", f"{ca}.pem", cwd=directory)
    with open(os.path.join(directory, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    with open(os.path.join(directory, "client.ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for name, ca, ext in (("server", "ca", "server.ext"), ("stranger", "stranger-ca", "server.ext"),
                          ("client", "ca", "client.ext")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", f"{name}.key",
                "-out", f"{name}.csr", cwd=directory)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
                "-days", "2", "-extfile", ext, "-out", f"{name}.pem", cwd=directory)


class TLSReceiver:
    """An HTTPS target on 127.0.0.1: answers 200 to every POST and records its path; with `client_ca`, a client
    certificate signed by that CA is required (the handshake fails without one)."""

    def __init__(self, cleanup: Cleanup, cert: str, key: str, client_ca: str | None = None) -> None:
        self.port = free_port()
        self.lock = threading.Lock()
        self.paths: list[str] = []
        self.handshake_failures = 0
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        if client_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(client_ca)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                try:
                    self.request.do_handshake()
                except (ssl.SSLError, OSError):
                    with owner.lock:
                        owner.handshake_failures += 1
                    raise
                super().setup()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with owner.lock:
                    owner.paths.append(self.path)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server, self.thread = start_https_server(self.port, Handler, context)
        cleanup.receiver(self)  # stopped at the end like the harness's receivers

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}/{path}"

    def seen(self, path: str) -> int:
        with self.lock:
            return sum(1 for p in self.paths if p == "/" + path)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def run_validate(binary: str, rules_dir: str) -> tuple[int, str]:
    done = subprocess.run([binary, "validate", "--rules", rules_dir], capture_output=True, timeout=60)
    return done.returncode, (done.stdout + done.stderr).decode(errors="replace")


def targets_over_tls(ctx: "Context") -> None:
    results, name = ctx.results, "targets"
    tmp = ctx.cleanup.tempdir("tls-targets")
    pki = os.path.join(tmp, "rules", "pki")
    make_pki(pki)
    plain = TLSReceiver(ctx.cleanup, os.path.join(pki, "server.pem"), os.path.join(pki, "server.key"))
    mutual = TLSReceiver(ctx.cleanup, os.path.join(pki, "server.pem"), os.path.join(pki, "server.key"),
                         client_ca=os.path.join(pki, "ca.pem"))
    stranger = TLSReceiver(ctx.cleanup, os.path.join(pki, "stranger.pem"), os.path.join(pki, "stranger.key"))
    once = {"attempts": 1, "initialBackoff": "100ms", "maxBackoff": "100ms"}
    targets = {
        # Relative paths: resolved against the rule file's folder.
        "private-ca": {"url": plain.url("private-ca"), "tls": {"caFile": "pki/ca.pem"}, "retry": once},
        "client-cert": {"url": mutual.url("client-cert"),
                        "tls": {"caFile": "pki/ca.pem", "certFile": "pki/client.pem", "keyFile": "pki/client.key"},
                        "retry": once},
        "no-client-cert": {"url": mutual.url("no-client-cert"), "tls": {"caFile": "pki/ca.pem"}, "retry": once},
        "system-trust": {"url": plain.url("system-trust"), "retry": once},
        "wrong-ca": {"url": stranger.url("wrong-ca"), "tls": {"caFile": "pki/ca.pem"}, "retry": once},
        "insecure": {"url": stranger.url("insecure"), "tls": {"insecureSkipVerify": True}, "retry": once},
    }
    rules = [{"name": "everything", "match": {"event": ["s3:ObjectCreated:*"]}, "to": sorted(targets)}]
    rules_dir = os.path.join(tmp, "rules")
    with open(os.path.join(rules_dir, "rules.json"), "w", encoding="utf-8") as f:
        json.dump({"targets": targets, "rules": rules}, f, indent=2)

    status, output = run_validate(ctx.binary, rules_dir)
    results.check(name, "validate accepts the TLS targets", status == 0, on_fail=output[-400:])
    results.check(name, "validate warns about insecureSkipVerify",
                  'target "insecure": tls.insecureSkipVerify' in output and "warning" in output,
                  on_fail=output[-400:])

    relay = Relay(ctx.binary, ctx.cleanup, rules_dir, os.path.join(tmp, "data"), os.path.join(tmp, "relay.log"),
                  log_level="info")
    relay.start()
    if not results.check(name, "relay starts", relay.wait_healthy(30), on_fail=relay.log_tail(8)):
        return
    status, _ = post(relay.port, minio_body("tls/one.jpg"))
    results.check(name, "event accepted", 200 <= status < 300, str(status))
    delivered = wait_until(lambda: plain.seen("private-ca") == 1 and mutual.seen("client-cert") == 1
                           and stranger.seen("insecure") == 1, 20)
    results.check(name, "delivered to the private-CA target, the client-certificate target and the insecure one",
                  delivered, f"private-ca {plain.seen('private-ca')}, client-cert {mutual.seen('client-cert')}, "
                             f"insecure {stranger.seen('insecure')}")
    letters_ready = wait_until(lambda: len(read_dead_letters(relay.data_dir)) >= 3, 20)
    letters = {letter.get("target"): letter for letter in read_dead_letters(relay.data_dir)}
    results.check(name, "three dead letters: no client certificate, system trust store, wrong CA",
                  letters_ready and set(letters) == {"no-client-cert", "system-trust", "wrong-ca"},
                  json.dumps(sorted(letters)))
    for target in ("system-trust", "wrong-ca"):
        error = str(letters.get(target, {}).get("lastError", ""))
        results.check(name, f"{target}: the dead letter names the certificate problem",
                      "certificate" in error.lower() or "curl 60" in error, error[:200])
    results.check(name, "nothing reached the refused targets",
                  plain.seen("system-trust") == 0 and stranger.seen("wrong-ca") == 0
                  and mutual.seen("no-client-cert") == 0)
    results.check(name, "the client-certificate server refused the handshake without a certificate",
                  mutual.handshake_failures >= 1, str(mutual.handshake_failures))
    log = relay.log_grep("insecureSkipVerify")
    results.check(name, "the relay logs a warning for the insecure target at start",
                  any("warning" in line for line in log), on_fail=relay.log_tail(8))
    results.check(name, "relay alive", relay.alive(), on_fail=relay.log_tail(5))
    relay.stop()

    # Broken TLS settings are refused at load, compiler-style.
    broken = os.path.join(tmp, "broken")
    os.makedirs(broken)
    with open(os.path.join(broken, "rules.json"), "w", encoding="utf-8") as f:
        json.dump({"targets": {
            "missing-file": {"url": plain.url("x"), "tls": {"caFile": "nowhere/ca.pem"}},
            "key-alone": {"url": plain.url("x"), "tls": {"keyFile": "/dev/null"}},
            "plain-http": {"url": "http://127.0.0.1:9/x", "tls": {"caFile": "/dev/null"}},
            "typo": {"url": plain.url("x"), "tls": {"caFiel": "/dev/null"}},
        }, "rules": [{"name": "r", "match": {}, "to": ["missing-file", "key-alone", "plain-http", "typo"]}]}, f)
    status, output = run_validate(ctx.binary, broken)
    results.check(name, "broken TLS settings: validate exits 1", status == 1, on_fail=output[-600:])
    for fragment in ('target "missing-file": tls.caFile:', "no such file",
                     'target "key-alone": tls.certFile:', 'target "plain-http": tls:', "https://",
                     'target "typo": tls.caFiel: unknown field'):
        results.check(name, f"diagnostic names {fragment!r}", fragment in output,
                      on_fail=output[-600:])


def post(port: int, body: bytes) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("POST", "/minio-event", body=body, headers=MINIO_HEADERS)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def serving_https(ctx: "Context") -> None:
    results, name = ctx.results, "serve-https"
    help_text = subprocess.run([ctx.binary, "serve", "--help"], capture_output=True, timeout=30).stdout.decode()
    if "--tls-cert" not in help_text:
        results.skip(name, "needs serve --tls-cert")
        return
    tmp = ctx.cleanup.tempdir("tls-serve")
    pki = os.path.join(tmp, "pki")
    make_pki(pki)
    plain = TLSReceiver(ctx.cleanup, os.path.join(pki, "server.pem"), os.path.join(pki, "server.key"))
    rules_dir = os.path.join(tmp, "rules")
    os.makedirs(rules_dir)
    with open(os.path.join(rules_dir, "rules.json"), "w", encoding="utf-8") as f:
        json.dump({"targets": {"hook": {"url": plain.url("hook"), "tls": {"caFile": os.path.join(pki, "ca.pem")}}},
                   "rules": [{"name": "all", "match": {}, "to": ["hook"]}]}, f)
    port = free_port()
    log_path = os.path.join(tmp, "relay.log")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    log = open(log_path, "ab")
    proc = subprocess.Popen([ctx.binary, "serve", "--host", HOST, "--port", str(port), "--rules", rules_dir,
                             "--data-dir", os.path.join(tmp, "data"), "--tls-cert", os.path.join(pki, "server.pem"),
                             "--tls-key", os.path.join(pki, "server.key")], stdout=log, stderr=subprocess.STDOUT,
                            env=env, start_new_session=True)
    log.close()
    ctx.cleanup.proc(proc)
    verified = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))

    def https(method: str, path: str, body: bytes | None = None,
              context: ssl.SSLContext = verified) -> tuple[int, bytes]:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)
        try:
            conn.request(method, path, body=body, headers=MINIO_HEADERS if body else {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def ready() -> bool:
        try:
            return https("GET", "/healthz")[0] == 200
        except OSError:
            return False

    if not results.check(name, "relay serves HTTPS (a client that checks the certificate gets /healthz)",
                         wait_until(ready, 30), on_fail=open(log_path, errors="replace").read()[-600:]):
        return
    status, _ = https("POST", "/minio-event", minio_body("tls/served.jpg"))
    results.check(name, "an event over HTTPS is accepted", 200 <= status < 300, str(status))
    results.check(name, "and delivered", wait_until(lambda: plain.seen("hook") == 1, 20), str(plain.paths))
    stranger_trust = ssl.create_default_context(cafile=os.path.join(pki, "stranger-ca.pem"))
    try:
        https("GET", "/healthz", context=stranger_trust)
        refused = False
    except ssl.SSLCertVerificationError:
        refused = True
    except OSError:
        refused = True
    results.check(name, "a client trusting another CA refuses the relay's certificate", refused)
    try:
        conn = http.client.HTTPConnection(HOST, port, timeout=5)
        conn.request("GET", "/healthz")
        plain_status = conn.getresponse().status
        conn.close()
    except (OSError, http.client.HTTPException):
        plain_status = None
    results.check(name, "plain HTTP on the HTTPS port gets no answer", plain_status is None, str(plain_status))
    results.check(name, "relay alive", proc.poll() is None)
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()

    # A key that does not belong to the certificate, or a missing file: serve refuses to start, naming it.
    bad = subprocess.run([ctx.binary, "serve", "--host", HOST, "--port", str(free_port()), "--rules", rules_dir,
                          "--data-dir", os.path.join(tmp, "data2"), "--tls-cert", os.path.join(pki, "server.pem"),
                          "--tls-key", os.path.join(pki, "client.key")], capture_output=True, timeout=30, env=env)
    output = (bad.stdout + bad.stderr).decode(errors="replace")
    results.check(name, "a key that does not match the certificate: serve exits 1 naming both files",
                  bad.returncode == 1 and "server.pem" in output and "client.key" in output, on_fail=output[-300:])
    missing = subprocess.run([ctx.binary, "serve", "--port", "0", "--rules", rules_dir, "--data-dir",
                              os.path.join(tmp, "data3"), "--tls-cert", os.path.join(pki, "nope.pem"), "--tls-key",
                              os.path.join(pki, "server.key")], capture_output=True, timeout=30, env=env)
    output = (missing.stdout + missing.stderr).decode(errors="replace")
    results.check(name, "a missing certificate file: serve exits non-zero naming it",
                  missing.returncode == 1 and "nope.pem" in output, on_fail=output[-300:])


class Context:
    def __init__(self, binary: str, results: Results, cleanup: Cleanup) -> None:
        self.binary = binary
        self.results = results
        self.cleanup = cleanup


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary")
    args = parser.parse_args()
    results = Results()
    cleanup = Cleanup()
    ctx = Context(os.path.abspath(args.binary), results, cleanup)
    started = time.monotonic()
    try:
        for group in (targets_over_tls, serving_https):
            try:
                group(ctx)
            except Exception:  # a crash of the harness is a failed check, not a silent pass
                results.check(group.__name__, "ran without a harness error", False, traceback.format_exc())
    finally:
        cleanup.run()
    print(f"   (total {time.monotonic() - started:.1f} s)")
    print(f"tls: {results.passed} passed, {results.failed} failed")
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
