#!/usr/bin/env python3
"""Healthy-target delivery latency with and without a dead target beside it (issue: isolation).

    python3 Benchmarks/isolation.py BINARY [--rate 200] [--seconds 10]

Runs the relay twice on fresh data dirs, each time with two targets that every event goes to:
  A. both targets healthy (204 at once);
  B. one healthy, one dead (answers 503 forever).
A sender POSTs MinIO events at a fixed rate; the healthy receiver stamps each arrival. Latency is arrival minus send
time, per event. Prints p50/p90/p99/max for both runs, and how many requests the dead target received.
Everything listens on 127.0.0.1 and is stopped at the end.
"""
import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = (ROOT / "Tests/Fixtures/minio/put-zero-size.json").read_text()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    def __init__(self, status):
        self.arrivals = {}
        self.count = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.time()
                with outer.lock:
                    outer.count += 1
                    if status < 300:
                        key = json.loads(body)["Records"][0]["s3"]["object"]["key"]
                        outer.arrivals.setdefault(key, now)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def run(binary, dead, rate, seconds):
    healthy = Receiver(204)
    other = Receiver(503 if dead else 204)
    work = tempfile.mkdtemp(prefix="relay-isolation-")
    rules = Path(work) / "rules.json"
    rules.write_text(json.dumps({
        "targets": {
            "healthy": {"url": "http://127.0.0.1:%d/ok" % healthy.port},
            "other": {"url": "http://127.0.0.1:%d/other" % other.port,
                      "retry": {"attempts": 1000, "initialBackoff": "50ms", "maxBackoff": "1s"}},
        },
        "rules": [{"name": "both", "match": {}, "to": ["healthy", "other"]}],
    }))
    port = free_port()
    relay = subprocess.Popen([binary, "serve", "--host", "127.0.0.1", "--port", str(port), "--rules", str(rules),
                              "--data-dir", work + "/data", "--log-level", "warning"], stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        sent = {}
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        interval = 1.0 / rate
        start = time.time()
        n = 0
        while time.time() - start < seconds:
            key = "iso-%06d" % n
            body = TEMPLATE.replace("empty.marker", key).replace("188A0D8A", "%08X" % n)
            sent[key] = time.time()
            connection.request("POST", "/minio-event", body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                print("relay answered %d" % response.status, file=sys.stderr)
            n += 1
            delay = start + n * interval - time.time()
            if delay > 0:
                time.sleep(delay)
        deadline = time.time() + 30
        while time.time() < deadline and len(healthy.arrivals) < len(sent):
            time.sleep(0.05)
        latencies = sorted((healthy.arrivals[k] - t) * 1000 for k, t in sent.items() if k in healthy.arrivals)
        return {"sent": len(sent), "delivered": len(latencies), "latencies": latencies, "other_requests": other.count}
    finally:
        relay.terminate()
        try:
            relay.wait(timeout=15)
        except subprocess.TimeoutExpired:
            relay.kill()
        healthy.stop()
        other.stop()
        subprocess.run(["rm", "-rf", work])


def pct(values, p):
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(len(values) * p))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    results = {}
    for name, dead in (("both targets healthy", False), ("one target dead (503)", True)):
        results[name] = r = run(args.binary, dead, args.rate, args.seconds)
        l = r["latencies"]
        print("%-24s sent %5d delivered %5d  healthy latency ms p50 %.1f p90 %.1f p99 %.1f max %.1f  "
              "other target saw %d requests" % (name, r["sent"], r["delivered"], pct(l, .5), pct(l, .9), pct(l, .99),
                                               l[-1] if l else float("nan"), r["other_requests"]))
    ok = all(r["delivered"] == r["sent"] for r in results.values())
    print("isolation: %d passed, %d failed" % (1 if ok else 0, 0 if ok else 1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
