#!/usr/bin/env python3
"""The live tap against the real binary on loopback: a tap that never reads is told how many events it lost and
does not slow ingress; the example dashboard and alert rules are well-formed.

    python3 Tests/tap/run.py .build/debug/bucket-relay           # CI mode (bounded, well under a minute)
    python3 Tests/tap/run.py BINARY --acks 2000                  # more acks per phase, steadier figures

Latency: p50/p99 of N sequential acks (keep-alive POST /minio-event, each a new event routed to a healthy target)
(routed to two healthy targets: three tap events each) with no tap, then with a connected tap whose client never
reads (its receive buffer shrunk to 4 KiB, so the relay's per-tap buffer fills and events for it are dropped), then with no tap again, in the same run. The "with" phase is
compared with the mean of the two "without" phases around it, so that a machine getting busier or quieter during
the run does not decide the result; the bound is generous (p50 ratio < 1.5, p99 ratio < 3) because the point is "not
slowed", not a benchmark.

Each check prints one `ok`/`FAIL` line, figures print as `--` lines, the last line is `tap: N passed, M failed`; exit
status 1 when a check failed. Standard library (and python3-yaml) only; it reuses the fault suite's harness
(Tests/faults/harness.py): every process started is stopped by its PID, temp dirs are removed.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import sys
import time

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "faults"))

from harness import HOST, Cleanup, Receiver, Relay, Results, percentile, write_rules  # noqa: E402
from sender import Poster, minio_body  # noqa: E402

TOKEN = "tap-suite-token-3"


class SlowTap:
    """GET /tap on a socket whose receive buffer is tiny, and which reads nothing until `drain()`."""

    def __init__(self, port: int, token: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect((HOST, port))
        request = (f"GET /tap HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Bearer {token}\r\n"
                   "Accept: text/event-stream\r\n\r\n")
        self.sock.sendall(request.encode())
        self.received = b""

    def read_some(self, until: bytes, timeout: float) -> bool:
        """Reads until `until` has arrived (True) or `timeout` passed (False)."""
        deadline = time.monotonic() + timeout
        while until not in self.received:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            ready, _, _ = select.select([self.sock], [], [], left)
            if ready:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return until in self.received
                self.received += chunk
        return True

    def dropped_counts(self) -> list[int]:
        counts = []
        for frame in self.received.split(b"\n\n"):
            if b"event: dropped" in frame:
                for line in frame.split(b"\n"):
                    if line.startswith(b"data: "):
                        counts.append(int(json.loads(line[6:])["dropped"]))
        return counts

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def acks(poster: Poster, prefix: str, count: int) -> list[float]:
    """Latencies in ms of `count` acks of new events."""
    out = []
    for index in range(count):
        body = minio_body(f"{prefix}/{index:06d}.jpg")
        started = time.perf_counter()
        status, _ = poster.post(body)
        out.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"ack {prefix}/{index} answered {status}")
    return out


def latency(ctx: argparse.Namespace, results: Results, cleanup: Cleanup) -> None:
    work = cleanup.tempdir("tap")
    receivers = [Receiver(cleanup, name) for name in ("hook", "audit")]
    for receiver in receivers:
        receiver.start()
        cleanup.receiver(receiver)
    rules = write_rules(os.path.join(work, "rules"), {r.name: {"url": r.url} for r in receivers},
                        [{"name": "all", "match": {}, "to": [r.name for r in receivers]}])
    relay = Relay(ctx.binary, cleanup, rules, os.path.join(work, "data"), os.path.join(work, "relay.log"),
                  env={"RELAY_ADMIN_TOKEN": TOKEN})
    relay.start()
    if not results.check("latency", "relay started", relay.wait_healthy(), on_fail=relay.log_tail()):
        return
    poster = Poster(relay.port)
    try:
        acks(poster, "warm", 100)
        without = acks(poster, "a", ctx.acks)
        tap = SlowTap(relay.port, TOKEN)
        try:
            results.check("latency", "the slow tap is connected", tap.read_some(b"event: ready", 5.0),
                          repr(tap.received[:200]))
            # From here on the tap reads nothing: its socket buffers, then the relay's buffer for it, fill.
            acks(poster, "fill", ctx.acks // 2)
            with_tap = acks(poster, "b", ctx.acks)
            again = acks(poster, "c", ctx.acks)
            results.check("latency", "the relay is healthy with a tap that never reads", relay.healthy())
            # The tap reads at last: it gets what was buffered, then one `dropped` event with the count.
            tap.read_some(b"event: dropped", 15.0)
            dropped = tap.dropped_counts()
            results.figure("latency", "events dropped for the slow tap", sum(dropped))
            results.check("latency", "the slow tap is told how many events it lost", bool(dropped) and sum(dropped) > 0,
                          f"dropped events {dropped}, {len(tap.received)} bytes read")
            counted = relay.metrics().get("relay_tap_dropped_events_total", 0.0)
            results.check("latency", "relay_tap_dropped_events_total counts them", counted >= sum(dropped) > 0,
                          f"{counted:.0f} counted")
        finally:
            tap.close()
    finally:
        poster.close()
    p50 = {name: percentile(values, 0.5) for name, values in
           (("without", without), ("with", with_tap), ("again", again))}
    p99 = {name: percentile(values, 0.99) for name, values in
           (("without", without), ("with", with_tap), ("again", again))}
    for name in ("without", "with", "again"):
        label = {"without": "no tap", "with": "tap that never reads", "again": "no tap again"}[name]
        results.figure("latency", f"p50 / p99 of {ctx.acks} acks, {label}", f"{p50[name]:.2f} / {p99[name]:.2f} ms")
    base50 = (p50["without"] + p50["again"]) / 2
    base99 = (p99["without"] + p99["again"]) / 2
    ratio50 = p50["with"] / base50 if base50 > 0 else float("inf")
    ratio99 = p99["with"] / base99 if base99 > 0 else float("inf")
    results.check("latency", "a tap that never reads does not slow acks (p50)", ratio50 < 1.5,
                  f"p50 ratio {ratio50:.2f}, bound 1.5")
    results.check("latency", "a tap that never reads does not slow acks (p99)", ratio99 < 3.0,
                  f"p99 ratio {ratio99:.2f}, bound 3")
    relay.stop()


def examples(results: Results) -> None:
    """The example alert rules and dashboard are what Prometheus and Grafana load."""
    import yaml

    path = os.path.join(ROOT, "examples", "prometheus", "alerts.yaml")
    with open(path, encoding="utf-8") as f:
        document = yaml.safe_load(f)
    rules = [rule for group in document.get("groups", []) for rule in group.get("rules", [])]
    results.check("examples", "alerts.yaml has alert rules", len(rules) >= 6, f"{len(rules)} rules")
    for rule in rules:
        complete = (isinstance(rule.get("alert"), str) and isinstance(rule.get("expr"), str)
                    and "severity" in rule.get("labels", {}) and "summary" in rule.get("annotations", {}))
        results.check("examples", f"alert {rule.get('alert')} has expr, severity and summary", complete)
    names = {rule["alert"] for rule in rules}
    for wanted in ("BucketRelayDown", "BucketRelayNotReady", "BucketRelayTargetCircuitOpen",
                   "BucketRelayOldestPendingHigh", "BucketRelayDeadLetters", "BucketRelayRuleReloadFailed",
                   "BucketRelayIngressUnavailable"):
        results.check("examples", f"alert {wanted} exists", wanted in names)
    circuit = next((r for r in rules if r["alert"] == "BucketRelayTargetCircuitOpen"), {})
    results.check("examples", "the circuit alert waits 5 minutes", circuit.get("for") == "5m", str(circuit.get("for")))

    path = os.path.join(ROOT, "examples", "grafana", "bucket-relay.json")
    with open(path, encoding="utf-8") as f:
        dashboard = json.load(f)
    panels = [p for p in dashboard.get("panels", []) if p.get("type") != "row"]
    ids = [p.get("id") for p in dashboard.get("panels", [])]
    results.check("examples", "dashboard panels have unique ids", len(ids) == len(set(ids)))
    results.check("examples", "every dashboard panel has a query",
                  all(p.get("targets") and all(t.get("expr") for t in p["targets"]) for p in panels))
    titles = " | ".join(p.get("title", "") for p in panels)
    for wanted in ("Ingress", "attempts by outcome", "latency p50 / p99", "Pending", "Oldest pending", "Circuit state",
                   "Dead letters", "Rule reloads"):
        results.check("examples", f"dashboard has a panel for {wanted}", wanted in titles)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary", help="path of the bucket-relay executable")
    parser.add_argument("--acks", type=int, default=400, help="acks per measured phase (default 400)")
    args = parser.parse_args()
    args.binary = os.path.abspath(args.binary)
    if not (os.path.isfile(args.binary) and os.access(args.binary, os.X_OK)):
        print(f"run.py: {args.binary} is not an executable file", file=sys.stderr)
        return 2
    results = Results()
    cleanup = Cleanup()
    started = time.monotonic()
    print(f"tap: binary {args.binary}, {args.acks} acks per phase", flush=True)
    try:
        print("== examples", flush=True)
        examples(results)
        print("== latency with a tap that never reads", flush=True)
        latency(args, results, cleanup)
    except Exception as exc:  # a broken group is a failure
        import traceback

        traceback.print_exc()
        results.check("run", "ran to its end", False, f"{type(exc).__name__}: {exc}")
    finally:
        cleanup.run()
    print(f"   (total {time.monotonic() - started:.1f} s)", flush=True)
    if results.failures:
        print("failures:")
        for line in results.failures:
            print(f"  - {line}")
    print(f"tap: {results.passed} passed, {results.failed} failed", flush=True)
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
