#!/usr/bin/env python3
"""SNS suite of bucket-relay: an SNS HTTP(S) subscription end to end against a stand-in for SNS made in the test.

    python3 Tests/sns/run.py .build/debug/bucket-relay

The stand-in is Python's `ssl` on loopback: its own CA and server certificate, and a signing certificate (RSA 2048)
made with `openssl`; it serves the signing certificate and answers `SubscribeURL`s. The relay runs as a real process
with `--sns-ca` (the stand-in's CA), `--sns-cert-host` (the stand-in's address), `--sns-topic-arn` and
`--auth-token` (SNS sends it as the Basic password of its endpoint URL); messages are signed here with `openssl
dgst` over SNS's canonical strings, versions 1 (SHA1withRSA) and 2 (SHA256withRSA). Processes and servers are
stopped by the fault suite's harness (Tests/faults/harness.py). Each check prints one `ok`/`FAIL` line; the last line
is `sns: N passed, M failed`; the exit status is 1 when a check failed.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import re
import secrets
import ssl
import subprocess
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlsplit

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "faults"))

from harness import HOST, Cleanup, Receiver, Relay, Results, free_port, start_https_server, read_dead_letters, wait_until  # noqa: E402

TOKEN = "relay-" + secrets.token_hex(8)
ALLOWED = "arn:aws:sns:us-east-1:123456789012:photos-events"
ALLOWED_TOO = "arn:aws:sns:us-east-1:123456789012:other-events"
STRANGER = "arn:aws:sns:us-east-1:999999999999:not-ours"
CERT_PATH = "/SimpleNotificationService-standin.pem"
SUITE_LIMIT = 110.0  # seconds: the whole suite stays under 2 minutes


def openssl(*args: str, cwd: str, data: bytes | None = None) -> bytes:
    done = subprocess.run(["openssl", *args], cwd=cwd, input=data, check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60)
    return done.stdout


def make_pki(directory: str) -> None:
    """ca.pem/ca.key, server.pem/server.key (127.0.0.1, signed by the CA) and signing.pem/signing.key (SNS's
    signing certificate stand-in, signed by the CA too); stranger-ca.pem, which signed nothing here."""
    os.makedirs(directory, exist_ok=True)
    for ca in ("ca", "stranger-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN=bucket-relay sns {ca}",
                "-keyout", f"{ca}.key", "-out", f"{ca}.pem", cwd=directory)
    with open(os.path.join(directory, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    for name, subject, ext in (("server", "/CN=127.0.0.1", ["-extfile", "server.ext"]),
                               ("signing", "/CN=sns.us-east-1.amazonaws.com", [])):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", f"{name}.key", "-out",
                f"{name}.csr", cwd=directory)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days",
                "2", *ext, "-out", f"{name}.pem", cwd=directory)


class StandIn:
    """An HTTPS server on 127.0.0.1 standing in for SNS: GET of the certificate path serves the signing certificate,
    GET /?Action=ConfirmSubscription answers SNS's XML; every request is recorded."""

    def __init__(self, cleanup: Cleanup, pki: str) -> None:
        self.port = free_port()
        self.lock = threading.Lock()
        self.requests: list[str] = []
        with open(os.path.join(pki, "signing.pem"), "rb") as f:
            certificate = f.read()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(os.path.join(pki, "server.pem"), os.path.join(pki, "server.key"))
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                self.request.do_handshake()
                super().setup()

            def do_GET(self) -> None:
                with owner.lock:
                    owner.requests.append(self.path)
                parts = urlsplit(self.path)
                if parts.path == CERT_PATH:
                    body, kind = certificate, "application/x-x509-ca-cert"
                elif parse_qs(parts.query).get("Action") == ["ConfirmSubscription"]:
                    body = (b"<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>arn:aws:sns:"
                            b"us-east-1:123456789012:photos-events:1</SubscriptionArn></ConfirmSubscriptionResult>"
                            b"</ConfirmSubscriptionResponse>")
                    kind = "text/xml"
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server, self.thread = start_https_server(self.port, Handler, context)
        cleanup.receiver(self)

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def count(self, predicate: Any = None) -> int:
        with self.lock:
            return sum(1 for path in self.requests if predicate is None or predicate(path))

    def confirmations(self, token: str) -> int:
        return self.count(lambda path: "Action=ConfirmSubscription" in path and f"Token={token}" in path)

    def certificate_fetches(self) -> int:
        return self.count(lambda path: path == CERT_PATH)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Signer:
    """Signs SNS envelopes with the stand-in's key: SNS's canonical string, openssl dgst, base64."""

    def __init__(self, pki: str, cert_url: str) -> None:
        self.pki = pki
        self.cert_url = cert_url

    @staticmethod
    def canonical(envelope: dict[str, str]) -> bytes:
        if envelope["Type"] == "Notification":
            names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
        else:
            names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
        return "".join(f"{name}\n{envelope[name]}\n" for name in names if name in envelope).encode()

    def sign(self, envelope: dict[str, str], version: str) -> dict[str, str]:
        envelope = dict(envelope, SignatureVersion=version, SigningCertURL=envelope.get("SigningCertURL",
                                                                                        self.cert_url))
        digest = "-sha1" if version == "1" else "-sha256"
        raw = openssl("dgst", digest, "-sign", "signing.key", cwd=self.pki, data=self.canonical(envelope))
        envelope["Signature"] = base64.b64encode(raw).decode()
        return envelope


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def s3_event(key: str, request_id: str) -> dict[str, Any]:
    """An AWS S3 event (one record), its key form-escaped as S3 writes it."""
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": now_iso(),
        "eventName": "ObjectCreated:Put", "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.7"},
        "responseElements": {"x-amz-request-id": request_id, "x-amz-id-2": "EXAMPLE123/5678abcdefghijklambdaisawesome"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "relay",
               "bucket": {"name": "photos", "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                          "arn": "arn:aws:s3:::photos"},
               "object": {"key": quote_plus(key, safe="/"), "size": 1024, "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                          "sequencer": "0055AED6DCD90281E5" + request_id[-4:]}},
    }]}


def notification(topic: str, message: str, subject: str | None = "Amazon S3 Notification") -> dict[str, str]:
    envelope = {"Type": "Notification", "MessageId": secrets.token_hex(16), "TopicArn": topic, "Message": message,
                "Timestamp": now_iso()}
    if subject is not None:
        envelope["Subject"] = subject
    return envelope


def confirmation(topic: str, base: str, kind: str = "SubscriptionConfirmation") -> tuple[dict[str, str], str]:
    token = secrets.token_hex(32)
    action = "ConfirmSubscription"
    envelope = {"Type": kind, "MessageId": secrets.token_hex(16), "Token": token, "TopicArn": topic,
                "Message": f"You have chosen to subscribe to the topic {topic}.\nTo confirm the subscription, visit the "
                           "SubscribeURL included in this message.",
                "SubscribeURL": f"{base}/?Action={action}&TopicArn={topic}&Token={token}", "Timestamp": now_iso()}
    return envelope, token


class Context:
    def __init__(self, binary: str, results: Results, cleanup: Cleanup) -> None:
        self.binary = binary
        self.results = results
        self.cleanup = cleanup


def post(port: int, body: bytes, message_type: str | None, auth: str | None = f"sns:{TOKEN}"
         ) -> tuple[int, dict[str, str], dict[str, Any]]:
    """POSTs as SNS does: text/plain, x-amz-sns-message-type, Basic credentials of the endpoint URL."""
    headers = {"Content-Type": "text/plain; charset=UTF-8", "User-Agent": "Amazon Simple Notification Service Agent"}
    if message_type:
        headers["x-amz-sns-message-type"] = message_type
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    conn = http.client.HTTPConnection(HOST, port, timeout=20)
    try:
        conn.request("POST", "/minio-event", body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = {"unparsable": raw.decode(errors="replace")}
        return response.status, {k.lower(): v for k, v in response.getheaders()}, answer
    finally:
        conn.close()


def envelope_bytes(envelope: dict[str, str]) -> bytes:
    return json.dumps(envelope, indent=2).encode()  # SNS posts indented JSON


def subscription(ctx: Context) -> None:
    results, name = ctx.results, "sns"
    tmp = ctx.cleanup.tempdir("sns")
    pki = os.path.join(tmp, "pki")
    make_pki(pki)
    sns = StandIn(ctx.cleanup, pki)
    foreign = StandIn(ctx.cleanup, pki)  # trusted TLS, but not the allowed host: must never be asked anything
    signer = Signer(pki, sns.base + CERT_PATH)
    hook = Receiver(ctx.cleanup, "hook", keep_bodies=True)
    hook.start()
    rules_dir = os.path.join(tmp, "rules")
    os.makedirs(rules_dir)
    with open(os.path.join(rules_dir, "rules.json"), "w", encoding="utf-8") as f:
        # The rule matches the decoded key only: a key left form-escaped ("a+b%2B…") would match nothing.
        json.dump({"targets": {"hook": {"url": hook.url, "format": "minio",
                                        "retry": {"attempts": 2, "initialBackoff": "100ms", "maxBackoff": "100ms"}}},
                   "rules": [{"name": "spaced", "match": {"prefix": ["uploads/a b+"]}, "to": ["hook"]}]}, f)
    relay = Relay(ctx.binary, ctx.cleanup, rules_dir, os.path.join(tmp, "data"), os.path.join(tmp, "relay.log"),
                  log_level="info",
                  extra=["--auth-token", TOKEN, "--sns-topic-arn", ALLOWED, "--sns-ca", os.path.join(pki, "ca.pem"),
                         "--sns-cert-host", f"127.0.0.1:{sns.port}"],
                  env={"RELAY_SNS_TOPIC_ARN": "ignored-when-the-flag-is-given"})
    relay.start()
    if not results.check(name, "relay starts with the SNS flags", relay.wait_healthy(30), on_fail=relay.log_tail(10)):
        return
    # RELAY_SNS_TOPIC_ARN holds no ARN: the flag beats its twin, so the relay starts anyway.
    tokens: list[str] = []

    # --- Authentication: SNS sends its URL's credentials only after a Basic challenge.
    envelope, token = confirmation(ALLOWED, sns.base)
    tokens.append(token)
    signed = signer.sign(envelope, "1")
    status, headers, _ = post(relay.port, envelope_bytes(signed), "SubscriptionConfirmation", auth=None)
    results.check(name, "without credentials: 401 with a Basic challenge",
                  status == 401 and "basic" in headers.get("www-authenticate", "").lower(),
                  f"{status} {headers.get('www-authenticate')}")
    status, _, _ = post(relay.port, envelope_bytes(signed), "SubscriptionConfirmation", auth="sns:wrong")
    results.check(name, "a wrong Basic password: 401", status == 401, str(status))
    results.check(name, "nothing fetched for unauthenticated requests", sns.count() == 0, str(sns.requests))

    # --- Confirmation (signature version 1), then the same confirmation again.
    status, _, answer = post(relay.port, envelope_bytes(signed), "SubscriptionConfirmation")
    results.check(name, "a signed confirmation of an allowed topic is confirmed",
                  status == 200 and answer.get("status") == "confirmed", f"{status} {answer}")
    results.check(name, "the SubscribeURL was fetched once, the certificate once",
                  sns.confirmations(token) == 1 and sns.certificate_fetches() == 1, str(sns.requests))
    status, _, answer = post(relay.port, envelope_bytes(signed), "SubscriptionConfirmation")
    results.check(name, "the confirmation sent again: 200 already confirmed",
                  status == 200 and answer.get("status") == "already confirmed", f"{status} {answer}")
    results.check(name, "and SubscribeURL not fetched again (exactly once)", sns.confirmations(token) == 1,
                  str(sns.confirmations(token)))

    # --- A confirmation for a topic not allowed, one tampered, one pointing elsewhere: 403, nothing fetched.
    before = sns.count()
    envelope, token = confirmation(STRANGER, sns.base)
    tokens.append(token)
    status, _, answer = post(relay.port, envelope_bytes(signer.sign(envelope, "2")), "SubscriptionConfirmation")
    results.check(name, "a confirmation of a topic not allowed: 403 with a JSON error",
                  status == 403 and answer.get("error") == "topic not allowed", f"{status} {answer}")
    envelope, token = confirmation(ALLOWED, sns.base)
    tokens.append(token)
    tampered = signer.sign(envelope, "2")
    tampered["Token"] = tampered["Token"][:-1] + ("0" if tampered["Token"][-1] != "0" else "1")
    # The signature is checked before the topic's confirmation is looked up: 403, not "already confirmed".
    status, _, answer = post(relay.port, envelope_bytes(tampered), "SubscriptionConfirmation")
    results.check(name, "a tampered confirmation: 403 bad signature",
                  status == 403 and answer.get("error") == "bad signature", f"{status} {answer}")
    envelope, token = confirmation(ALLOWED, foreign.base)
    tokens.append(token)
    status, _, answer = post(relay.port, envelope_bytes(signer.sign(envelope, "2")), "SubscriptionConfirmation")
    results.check(name, "a SubscribeURL on a foreign host: 403", status == 403, f"{status} {answer}")
    envelope, token = confirmation(ALLOWED, sns.base)
    tokens.append(token)
    envelope["SigningCertURL"] = foreign.base + CERT_PATH
    status, _, answer = post(relay.port, envelope_bytes(signer.sign(envelope, "2")), "SubscriptionConfirmation")
    results.check(name, "a SigningCertURL on a foreign host: 403", status == 403, f"{status} {answer}")
    results.check(name, "none of these fetched anything", sns.count() == before and foreign.count() == 0,
                  f"stand-in {sns.requests[before:]}, foreign {foreign.requests}")

    # --- Notifications, signature versions 2 and 1: routed with the decoded key.
    delivered_keys: list[str] = []
    for version, key in (("2", "uploads/a b+v2.jpg"), ("1", "uploads/a b+v1.jpg")):
        message = json.dumps(s3_event(key, "REQ" + secrets.token_hex(6).upper()), separators=(",", ":"))
        signed_note = signer.sign(notification(ALLOWED, message, subject=None if version == "1" else
                                               "Amazon S3 Notification"), version)
        status, _, answer = post(relay.port, envelope_bytes(signed_note), "Notification")
        results.check(name, f"a notification signed with version {version} is accepted",
                      status == 200 and answer.get("status") == "accepted" and answer.get("deliveries") == 1,
                      f"{status} {answer}")
        delivered_keys.append(key)
        if version == "2":
            status, _, answer = post(relay.port, envelope_bytes(signed_note), "Notification")
            results.check(name, "the same notification sent again is a duplicate",
                          status == 200 and answer.get("status") == "duplicate", f"{status} {answer}")

    # --- A tampered notification: one byte of Message changed.
    message = json.dumps(s3_event("uploads/a b+tampered.jpg", "REQTAMPERED0001"), separators=(",", ":"))
    tampered_note = signer.sign(notification(ALLOWED, message), "2")
    tampered_note["Message"] = tampered_note["Message"].replace("tampered", "tamperee", 1)
    status, _, answer = post(relay.port, envelope_bytes(tampered_note), "Notification")
    results.check(name, "a notification with one byte of Message changed: 2xx, dead-lettered bad_signature",
                  200 <= status < 300 and answer.get("reason") == "bad_signature", f"{status} {answer}")

    # --- A notification of a topic not allowed; one whose certificate is on a foreign host.
    message = json.dumps(s3_event("uploads/a b+stranger.jpg", "REQSTRANGER0001"), separators=(",", ":"))
    status, _, answer = post(relay.port, envelope_bytes(signer.sign(notification(STRANGER, message), "2")),
                             "Notification")
    results.check(name, "a notification of a topic not allowed: 2xx, dead-lettered sns_topic_not_allowed",
                  200 <= status < 300 and answer.get("reason") == "sns_topic_not_allowed", f"{status} {answer}")
    message = json.dumps(s3_event("uploads/a b+foreign.jpg", "REQFOREIGN00001"), separators=(",", ":"))
    foreign_note = notification(ALLOWED, message)
    foreign_note["SigningCertURL"] = foreign.base + CERT_PATH
    status, _, answer = post(relay.port, envelope_bytes(signer.sign(foreign_note, "2")), "Notification")
    results.check(name, "a notification whose SigningCertURL is on a foreign host: dead-lettered bad_signature",
                  200 <= status < 300 and answer.get("reason") == "bad_signature", f"{status} {answer}")
    results.check(name, "the foreign host was never asked anything", foreign.count() == 0, str(foreign.requests))

    # --- Raw message delivery: the S3 event itself, text/plain, the header saying Notification.
    raw = json.dumps(s3_event("uploads/a b+raw.jpg", "REQRAW000000001")).encode()
    status, _, answer = post(relay.port, raw, "Notification")
    results.check(name, "raw message delivery is routed like a webhook body",
                  status == 200 and answer.get("status") == "accepted" and answer.get("deliveries") == 1,
                  f"{status} {answer}")
    delivered_keys.append("uploads/a b+raw.jpg")

    # --- What the receiver got.
    arrived = wait_until(lambda: len(hook.delivered()) >= len(delivered_keys), 20)
    time.sleep(0.5)  # time for anything that should not arrive to arrive
    with hook.lock:
        bodies = list(hook.bodies)
    envelope_keys = sorted(json.loads(body).get("Key", "") for body in bodies)
    results.check(name, "the receiver got exactly the routed notifications, keys decoded",
                  arrived and envelope_keys == sorted("photos/" + key for key in delivered_keys),
                  json.dumps(envelope_keys))
    letters = read_dead_letters(relay.data_dir)
    reasons = sorted(letter.get("reason", "") for letter in letters)
    results.check(name, "dead letters: two bad_signature, one sns_topic_not_allowed",
                  reasons == ["bad_signature", "bad_signature", "sns_topic_not_allowed"], json.dumps(reasons))
    tampered_letters = [letter for letter in letters if "tamperee" in letter.get("payload", "")]
    results.check(name, "the tampered one's dead letter holds its envelope",
                  len(tampered_letters) == 1 and tampered_letters[0].get("field") == "Signature",
                  json.dumps(tampered_letters)[:300])
    results.check(name, "the signing certificate was fetched once in all (kept by URL)",
                  sns.certificate_fetches() == 1, str(sns.certificate_fetches()))

    # --- Unsubscribe, then a new subscription of the same topic is confirmed again.
    envelope, token = confirmation(ALLOWED, sns.base, kind="UnsubscribeConfirmation")
    tokens.append(token)
    status, _, answer = post(relay.port, envelope_bytes(signer.sign(envelope, "2")), "UnsubscribeConfirmation")
    results.check(name, "an UnsubscribeConfirmation: 200 unsubscribed, nothing fetched",
                  status == 200 and answer.get("status") == "unsubscribed" and sns.confirmations(token) == 0,
                  f"{status} {answer}")
    envelope, token = confirmation(ALLOWED, sns.base)
    tokens.append(token)
    status, _, answer = post(relay.port, envelope_bytes(signer.sign(envelope, "2")), "SubscriptionConfirmation")
    results.check(name, "after it, a new confirmation (version 2) of the topic is fetched",
                  status == 200 and answer.get("status") == "confirmed" and sns.confirmations(token) == 1,
                  f"{status} {answer}")

    # --- The log: confirmations at info, never a token.
    # The harness writes each start's command line (with --auth-token) into the file: only the relay's lines count.
    log = "".join(line for line in open(relay.log_path, encoding="utf-8", errors="replace")
                  if not line.startswith("==== start"))
    results.check(name, "the log says the subscription was confirmed and ended",
                  "SNS subscription confirmed" in log and "SNS subscription ended" in log, on_fail=relay.log_tail(10))
    leaked = [token for token in tokens + [TOKEN] if token in log]
    results.check(name, "no token appears in the log", not leaked, str(leaked))
    results.check(name, "relay alive", relay.alive(), on_fail=relay.log_tail(5))
    relay.stop()

    # --- The environment twin, comma-separated; no topic at all refuses everything.
    second = Relay(ctx.binary, ctx.cleanup, rules_dir, os.path.join(tmp, "data2"), os.path.join(tmp, "relay2.log"),
                   log_level="info", extra=["--sns-ca", os.path.join(pki, "ca.pem")],
                   env={"RELAY_SNS_TOPIC_ARN": f"{ALLOWED_TOO}, {ALLOWED}",
                        "RELAY_SNS_CERT_HOST": f"127.0.0.1:{sns.port}"})
    second.start()
    if results.check(name, "a relay configured by RELAY_SNS_TOPIC_ARN and RELAY_SNS_CERT_HOST starts",
                     second.wait_healthy(30), on_fail=second.log_tail(10)):
        envelope, token = confirmation(ALLOWED_TOO, sns.base)
        status, _, answer = post(second.port, envelope_bytes(signer.sign(envelope, "1")), "SubscriptionConfirmation",
                                 auth=None)
        results.check(name, "its second topic is confirmed", status == 200 and sns.confirmations(token) == 1,
                      f"{status} {answer}")
        second.stop()
    third = Relay(ctx.binary, ctx.cleanup, rules_dir, os.path.join(tmp, "data3"), os.path.join(tmp, "relay3.log"),
                  extra=["--sns-ca", os.path.join(pki, "ca.pem"), "--sns-cert-host", f"127.0.0.1:{sns.port}"])
    third.start()
    if results.check(name, "a relay without --sns-topic-arn starts", third.wait_healthy(30),
                     on_fail=third.log_tail(10)):
        envelope, token = confirmation(ALLOWED, sns.base)
        status, _, answer = post(third.port, envelope_bytes(signer.sign(envelope, "2")), "SubscriptionConfirmation",
                                 auth=None)
        results.check(name, "without --sns-topic-arn every confirmation is refused (403, nothing fetched)",
                      status == 403 and sns.confirmations(token) == 0, f"{status} {answer}")
        third.stop()

    # --- TLS to the stand-in is verified: trusting another CA, the certificate cannot be fetched (503, SNS retries).
    fourth = Relay(ctx.binary, ctx.cleanup, rules_dir, os.path.join(tmp, "data5"), os.path.join(tmp, "relay5.log"),
                   extra=["--sns-topic-arn", ALLOWED_TOO, "--sns-ca", os.path.join(pki, "stranger-ca.pem"),
                          "--sns-cert-host", f"127.0.0.1:{sns.port}"])
    fourth.start()
    if results.check(name, "a relay trusting another CA starts", fourth.wait_healthy(30),
                     on_fail=fourth.log_tail(10)):
        before = sns.count()
        envelope, token = confirmation(ALLOWED_TOO, sns.base)
        status, headers, answer = post(fourth.port, envelope_bytes(signer.sign(envelope, "2")),
                                       "SubscriptionConfirmation", auth=None)
        results.check(name, "a stand-in whose TLS certificate is not trusted: 503 + Retry-After, nothing confirmed",
                      status == 503 and headers.get("retry-after") == "5" and sns.count() == before
                      and sns.confirmations(token) == 0, f"{status} {answer}")
        fourth.stop()

    # --- Flags checked at start.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    for flags, fragment in ((["--sns-topic-arn", "photos-events"], "--sns-topic-arn"),
                            (["--sns-ca", os.path.join(tmp, "missing.pem")], "--sns-ca"),
                            (["--sns-cert-host", "127.0.0.1"], "--sns-cert-host")):
        done = subprocess.run([ctx.binary, "serve", "--port", "0", "--rules", rules_dir, "--data-dir",
                               os.path.join(tmp, "data4"), *flags], capture_output=True, timeout=30, env=env)
        output = (done.stdout + done.stderr).decode(errors="replace")
        results.check(name, f"serve refuses a bad {fragment} naming it", done.returncode != 0 and fragment in output,
                      on_fail=output[-300:])
    help_text = subprocess.run([ctx.binary, "serve", "--help"], capture_output=True, timeout=30, env=env).stdout
    results.check(name, "serve --help shows the SNS flags",
                  all(re.search(flag.encode(), help_text) for flag in ("--sns-topic-arn", "--sns-ca", "--sns-cert-host")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary")
    args = parser.parse_args()
    results = Results()
    cleanup = Cleanup()
    ctx = Context(os.path.abspath(args.binary), results, cleanup)
    started = time.monotonic()
    watchdog = threading.Timer(SUITE_LIMIT, lambda: (print("sns: over the time limit; stopping", flush=True),
                                                      cleanup.run(), os._exit(1)))
    watchdog.daemon = True
    watchdog.start()
    try:
        try:
            subscription(ctx)
        except Exception:  # a crash of the harness is a failed check, not a silent pass
            results.check("sns", "ran without a harness error", False, traceback.format_exc())
    finally:
        watchdog.cancel()
        cleanup.run()
    print(f"   (total {time.monotonic() - started:.1f} s)")
    print(f"sns: {results.passed} passed, {results.failed} failed")
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
