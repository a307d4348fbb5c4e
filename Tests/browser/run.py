#!/usr/bin/env python3
"""The status page in a real browser: headless Debian chromium (chromium-driver, selenium from PyPI) against a real
relay with one healthy and one dead target.

    python3 Tests/browser/run.py BINARY

Checks, each printed: the page and its actions answer 401/403 without the token; the login form signs in; the page
shows both targets with their circuit states and pending counts, and the dead letters; it holds no secret from the
rule files (a header value, a signing secret, URL credentials and a query token); after the dead target comes back,
the replay buttons (one line, then all of the target) send the dead letters to it through the running relay. A
screenshot goes to $CI_ARTIFACTS/status.png (default /tmp/bucket-relay-artifacts/status.png). Last line:
`N passed, M failed`. Everything listens on 127.0.0.1; the processes started here are stopped by their PID.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = "127.0.0.1"
ADMIN_TOKEN = "admin-7b1e0c"
HEADER_SECRET = "hdr-secret-3c9f71"
SIGNING_SECRET = "whsec_YnJvd3Nlci1zaWduaW5nLXNlY3JldA=="
URL_PASSWORD = "url-pass-a4d2e8"
QUERY_TOKEN = "query-token-91bb"
SECRETS = [HEADER_SECRET, SIGNING_SECRET, URL_PASSWORD, QUERY_TOKEN, ADMIN_TOKEN]


class Results:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, name: str, condition: bool, detail: str = "") -> bool:
        line = name + (f" ({detail})" if detail else "")
        if condition:
            self.passed += 1
            print(f"  ok   {line}", flush=True)
        else:
            self.failed += 1
            print(f"  FAIL {line}", flush=True)
        return condition


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_until(condition, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return True
        except Exception:  # noqa: BLE001 - a condition that cannot be evaluated yet is false
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class Receiver:
    """An HTTP receiver on a fixed port that answers 200 and records each request (path, headers, body)."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests.append({"path": self.path, "body": body,
                                              "headers": {k.lower(): v for k, v in self.headers.items()}})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer((HOST, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def replays(self) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["headers"].get("x-relay-replay") == "1"]

    def count(self) -> int:
        with self.lock:
            return len(self.requests)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def status_json(base: str) -> dict:
    code, body = http("GET", base + "/status",
                      headers={"Accept": "application/json", "Authorization": f"Bearer {ADMIN_TOKEN}"})
    if code != 200:
        raise RuntimeError(f"GET /status answered {code}")
    return json.loads(body)


def target(snapshot: dict, name: str) -> dict:
    return next(t for t in snapshot["targets"] if t["name"] == name)


def event(i: int) -> bytes:
    key = f"uploads/browser-{i}.jpg"
    return json.dumps({
        "EventName": "s3:ObjectCreated:Put",
        "Key": f"photos/{key}",
        "Records": [{
            "eventVersion": "2.0", "eventSource": "minio:s3", "awsRegion": "", "eventTime": "2026-12-01T10:00:00.000Z",
            "eventName": "s3:ObjectCreated:Put", "userIdentity": {"principalId": "minio"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"}, "responseElements": {
                "x-amz-request-id": f"17B0000000000{i:03d}", "x-minio-origin-endpoint": "http://127.0.0.1:9000"},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "Config", "bucket": {
                "name": "photos", "ownerIdentity": {"principalId": "minio"}, "arn": "arn:aws:s3:::photos"},
                "object": {"key": key.replace("/", "%2F"), "size": 1234, "eTag": "abc", "contentType": "image/jpeg",
                           "sequencer": f"17B00000000{i:05d}"}},
            "source": {"host": "127.0.0.1", "port": "", "userAgent": "MinIO"}}],
    }).encode()


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: run.py BINARY", file=sys.stderr)
        return 2
    binary = os.path.abspath(sys.argv[1])
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    results = Results()
    root = tempfile.mkdtemp(prefix="browser-status-")
    artifacts = os.environ.get("CI_ARTIFACTS") or "/tmp/bucket-relay-artifacts"
    os.makedirs(artifacts, exist_ok=True)
    healthy = Receiver()
    dead_port = free_port()
    dead: Receiver | None = None
    relay: subprocess.Popen | None = None
    driver = None
    log_path = os.path.join(root, "relay.log")
    try:
        rules_dir = os.path.join(root, "rules")
        os.makedirs(rules_dir)
        with open(os.path.join(rules_dir, "10-targets.json"), "w") as f:
            json.dump({
                "targets": {
                    "healthy": {"url": f"http://{HOST}:{healthy.port}/healthy",
                                "headers": {"Authorization": f"Bearer {HEADER_SECRET}"}},
                    "dead": {"url": f"http://ops:{URL_PASSWORD}@{HOST}:{dead_port}/dead?token={QUERY_TOKEN}",
                             "signingSecret": SIGNING_SECRET, "maxInFlight": 1, "timeout": "2s",
                             "retry": {"attempts": 1, "initialBackoff": "100ms", "maxBackoff": "200ms"}},
                },
                "rules": [],
            }, f)
        with open(os.path.join(rules_dir, "20-rules.json"), "w") as f:
            json.dump({"rules": [{"name": "photos", "match": {"bucket": ["photos"]}, "to": ["healthy", "dead"]}]}, f)
        port = free_port()
        base = f"http://{HOST}:{port}"
        with open(log_path, "ab") as log:
            relay = subprocess.Popen(
                [binary, "serve", "--host", HOST, "--port", str(port), "--rules", rules_dir,
                 "--data-dir", os.path.join(root, "data"), "--admin-token", ADMIN_TOKEN, "--log-level", "info"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                env={k: v for k, v in os.environ.items() if not k.startswith("RELAY_")})
        if not results.check("relay starts", wait_until(lambda: http("GET", base + "/healthz")[0] == 200, 30)):
            return 1

        # 8 events: with one attempt each and the dead target's deliveries one at a time, the first 5 are
        # dead-lettered (5 counted failures open its circuit) and the rest wait in the spool behind the open circuit.
        for i in range(8):
            code, _ = http("POST", base + "/minio-event", event(i), {"Content-Type": "application/json"})
            if code != 200:
                results.check(f"event {i} accepted", False, f"HTTP {code}")
        settled = wait_until(lambda: (s := status_json(base)) and target(s, "dead")["circuit"] != "closed"
                             and len(s["deadLetters"]) == 5 and target(s, "healthy")["pending"] == 0, 30)
        snapshot = status_json(base)
        results.check("the dead target's circuit opens, 5 dead letters, the rest pending", settled,
                      f"dead={target(snapshot, 'dead')['circuit']} pending={target(snapshot, 'dead')['pending']} "
                      f"dead letters={len(snapshot['deadLetters'])}")
        results.check("the healthy target got all 8", wait_until(lambda: healthy.count() == 8, 10),
                      f"{healthy.count()} received")

        # Without the token.
        code, _ = http("GET", base + "/status")
        results.check("GET /status without the token: 401", code == 401, f"HTTP {code}")
        code, _ = http("GET", base + "/status", headers={"Accept": "application/json"})
        results.check("GET /status JSON without the token: 401", code == 401, f"HTTP {code}")
        code, _ = http("GET", base + "/status", headers={"Authorization": "Bearer wrong", "Accept": "application/json"})
        results.check("GET /status with a wrong token: 401", code == 401, f"HTTP {code}")
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        code, _ = http("POST", base + "/status/replay", b"scope=all", form)
        results.check("POST /status/replay without the token: 401", code == 401, f"HTTP {code}")
        code, _ = http("POST", base + "/status/replay", b"scope=all",
                       {**form, "Authorization": f"Bearer {ADMIN_TOKEN}", "Origin": "http://evil.example"})
        results.check("POST /status/replay from another origin: 403", code == 403, f"HTTP {code}")
        opener = urllib.request.build_opener(NoRedirect)
        try:
            opener.open(urllib.request.Request(base + "/status/login", data=b"token=wrong", headers=form), timeout=10)
            code = 200
        except urllib.error.HTTPError as error:
            code = error.code
        results.check("POST /status/login with a wrong token: 401", code == 401, f"HTTP {code}")

        options = webdriver.ChromeOptions()
        for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                         "--window-size=1360,1100", "--no-first-run", "--disable-extensions",
                         "--disable-background-networking", "--disable-component-update"]:
            options.add_argument(argument)
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
                                  options=options)
        driver.set_page_load_timeout(20)

        def retry(action, attempts: int = 5):
            for attempt in range(attempts):
                try:
                    return action()
                except StaleElementReferenceException:  # the page refreshed itself under us
                    if attempt == attempts - 1:
                        raise
                    time.sleep(0.3)

        driver.get(base + "/status")
        results.check("the browser gets the login form", len(driver.find_elements(By.ID, "token")) == 1)
        driver.find_element(By.ID, "token").send_keys("not-the-token")
        driver.find_element(By.ID, "sign-in").click()
        results.check("a wrong token shows the login form again with an error",
                      wait_until(lambda: len(driver.find_elements(By.ID, "login-error")) == 1, 10))
        wait_until(lambda: len(driver.find_elements(By.ID, "token")) == 1, 10)
        driver.find_element(By.ID, "token").send_keys(ADMIN_TOKEN)
        driver.find_element(By.ID, "sign-in").click()
        signed_in = wait_until(lambda: len(driver.find_elements(By.ID, "targets")) == 1, 10)
        results.check("signing in shows the status page", signed_in, driver.current_url)
        cookies = driver.get_cookies()
        cookie = next((c for c in cookies if c["name"] == "relay_status"), None)
        results.check("the session cookie is HttpOnly and SameSite=Strict",
                      cookie is not None and cookie.get("httpOnly") and cookie.get("sameSite") == "Strict",
                      str({k: cookie.get(k) for k in ("httpOnly", "sameSite")} if cookie else None))

        def row(name: str):
            return driver.find_element(By.CSS_SELECTOR, f"#targets tr[data-target='{name}']")

        snapshot = status_json(base)
        driver.refresh()
        healthy_row = retry(lambda: (row("healthy").get_attribute("data-circuit"), row("healthy").text))
        dead_row = retry(lambda: (row("dead").get_attribute("data-circuit"), row("dead").text,
                                  row("dead").get_attribute("data-pending")))
        results.check("the healthy target shows closed (healthy) and 0 pending",
                      healthy_row[0] == "closed" and "closed (healthy)" in healthy_row[1], healthy_row[1].replace("\n", " | "))
        dead_pending = target(snapshot, "dead")["pending"]
        results.check("the dead target shows its open circuit and its pending count",
                      dead_row[0] in ("open", "half_open") and dead_row[2] == str(dead_pending) and dead_pending >= 1
                      and ("open (held back)" in dead_row[1] or "half open" in dead_row[1]),
                      dead_row[1].replace("\n", " | "))
        results.check("the dead target's last error is a connection error", "Connection refused" in dead_row[1]
                      or "connect" in dead_row[1].lower(), dead_row[1].replace("\n", " | "))
        letters = retry(lambda: driver.find_elements(By.CSS_SELECTOR, "#dead-letters tbody tr"))
        results.check("the page lists the 5 dead letters", len(letters) == 5, f"{len(letters)} rows")
        text = retry(lambda: driver.find_element(By.ID, "dead-letters").text)
        results.check("dead letters show reason, target and key",
                      "exhausted" in text and "dead" in text and "photos/uploads/browser-" in text)
        rules_text = retry(lambda: driver.find_element(By.ID, "rules").text)
        results.check("the rule set shows its files and counts",
                      "10-targets.json" in rules_text and "20-rules.json" in rules_text
                      and "1 rule(s), 2 target(s)" in rules_text, rules_text.replace("\n", " | "))
        source = driver.page_source
        leaked = [s for s in SECRETS if s in source]
        results.check("the rendered page holds no secret from the rule files", not leaked, f"leaked: {leaked}")
        code, body = http("GET", base + "/status",
                          headers={"Accept": "application/json", "Authorization": f"Bearer {ADMIN_TOKEN}"})
        leaked = [s for s in SECRETS if s.encode() in body]
        results.check("the JSON holds no secret either", code == 200 and not leaked, f"leaked: {leaked}")
        results.check("no script on the page", "<script" not in source.lower())

        screenshot = os.path.join(artifacts, "status.png")
        driver.save_screenshot(screenshot)
        results.check("screenshot saved", os.path.getsize(screenshot) > 10_000, screenshot)
        print(f"  screenshot: {screenshot}", flush=True)

        # The dead target comes back: the relay's probe delivers the pending ones; the dead letters wait for a replay.
        dead = Receiver(dead_port)
        drained = wait_until(lambda: target(status_json(base), "dead")["pending"] == 0, 60)
        results.check("the dead target comes back and its pending deliveries drain", drained,
                      f"{dead.count()} received")
        results.check("nothing was replayed before a button was clicked", not dead.replays())

        snapshot = status_json(base)
        first_id = snapshot["deadLetters"][0]["deliveryID"]
        driver.refresh()
        retry(lambda: driver.find_element(
            By.CSS_SELECTOR, f"#dead-letters form input[name=deliveryID][value='{first_id}']"
        ).find_element(By.XPATH, "..").find_element(By.TAG_NAME, "button").click())
        one = wait_until(lambda: len(dead.replays()) == 1, 15)
        replays = dead.replays()
        results.check("the row's Replay button sends that one dead letter",
                      one and replays[0]["headers"].get("webhook-id") == first_id,
                      f"{len(replays)} replayed")
        results.check("the replayed request is signed", bool(replays and replays[0]["headers"].get("webhook-signature")))
        wait_until(lambda: len(driver.find_elements(By.ID, "last-replay")) == 1, 10)
        results.check("the page reports the replay", "sent 1, failed 0" in retry(
            lambda: driver.find_element(By.ID, "last-replay").text))
        retry(lambda: driver.find_element(By.ID, "replay-target-dead").click())
        all_arrived = wait_until(lambda: len(dead.replays()) == 5, 20)
        ids = {r["headers"].get("webhook-id") for r in dead.replays()}
        expected = {letter["deliveryID"] for letter in snapshot["deadLetters"]}
        results.check("Replay all for the target sends every dead letter to it once",
                      all_arrived and ids == expected, f"{len(dead.replays())} replayed")
        emptied = wait_until(lambda: len(status_json(base)["deadLetters"]) == 0, 10)
        results.check("the replayed lines leave the dead-letter file", emptied)
        driver.refresh()
        results.check("the page shows no dead letters left", wait_until(
            lambda: len(driver.find_elements(By.ID, "no-dead-letters")) == 1, 10))
        driver.save_screenshot(os.path.join(artifacts, "status-after-replay.png"))

        # Signed out, the actions answer 401 (and without the form's CSRF field, 403).
        retry(lambda: driver.find_element(By.CSS_SELECTOR, "form[action='/status/logout'] button").click())
        results.check("signing out shows the login form again",
                      wait_until(lambda: len(driver.find_elements(By.ID, "token")) == 1, 10))
    except Exception as error:  # noqa: BLE001 - report, then clean up
        results.check("browser test ran to the end", False, f"{type(error).__name__}: {error}")
        if os.path.exists(log_path):
            with open(log_path, errors="replace") as f:
                print("  relay log tail:\n    " + "\n    ".join(f.read().splitlines()[-20:]), flush=True)
    finally:
        if driver is not None:
            try:
                driver.quit()
            except Exception:  # noqa: BLE001
                pass
        if relay is not None and relay.poll() is None:
            os.kill(relay.pid, signal.SIGTERM)
            try:
                relay.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(relay.pid, signal.SIGKILL)
                relay.wait(timeout=10)
        healthy.stop()
        if dead is not None:
            dead.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(f"{results.passed} passed, {results.failed} failed", flush=True)
    return 0 if results.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
