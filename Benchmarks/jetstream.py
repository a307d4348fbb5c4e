#!/usr/bin/env python3
"""Events per second delivered with 1, 2 and 3 relays on NATS JetStream and with the SQLite spool: same machine,
same run, same load, with ratios.

    python3 Benchmarks/jetstream.py [--seconds 10] [--connections 64] [--relays 1,2,3]   (RELAY_BIN=path: that
                                                                                         binary; else a release build)
    python3 Benchmarks/jetstream.py --smoke   # a tiny run that only checks the script works (not a measurement)

Load: wrk POSTing a real MinIO event body (Tests/Fixtures/minio/put-image.json), each request a distinct event
(its own key and sequencer), keep-alive, the connections split evenly over the relays (one wrk per relay, all at
once). Target: nginx `return 204`, one target, every event matched; deliveries are the lines of nginx's access log.
Each configuration runs on a fresh store (SQLite: a fresh --data-dir; JetStream: a fresh nats-server -js, one node,
streams with one replica) after a short warm-up; delivered events/s = events delivered / (time from the start of
the load until the last delivery of the accepted events), so a backlog still draining when wrk stops counts against
the configuration. Also printed: requests/s answered 2xx at ingress, non-2xx answers, p99 ingress latency.
Everything listens on 127.0.0.1 and every process started is stopped by its PID at the end. Needs nginx, wrk,
nats-server (apt-get install nginx-light wrk nats-server).

Run it on a quiet machine: every configuration shares the same cores, so another build running at the same time
makes the figures meaningless.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.dont_write_bytecode = True
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "Tests", "faults"))
sys.path.insert(0, os.path.join(ROOT, "Tests", "jetstream"))
from natsnode import nats_server_binary, stream_info  # noqa: E402

PROCS: list[subprocess.Popen] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def start(args: list[str], log: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(log, "ab"),
                            env=env, start_new_session=True)
    PROCS.append(proc)
    return proc


def stop(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def stop_all() -> None:
    for proc in reversed(PROCS):
        if proc.poll() is None:
            try:
                proc.kill()
                proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass


def metric(port: int, name: str) -> float | None:
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return None
    total = None
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total = (total or 0.0) + float(line.rsplit(" ", 1)[1])
    return total


POST_LUA = r'''
local threads = 0
local run = os.time() % 65536
local prefix = os.getenv("BENCH_PREFIX") or "0"
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
  thread:set("run", run)
end
local f = io.open(os.getenv("BENCH_BODY"), "rb"); local template = f:read("*a"); f:close()
local counter = 0
function request()
  counter = counter + 1
  local seq = string.format("%s%04X%02X%010X", prefix, run or 0, tid or 0, counter)
  local body = template:gsub("188A0D8A74975E28", seq):gsub("cat%.jpg", "cat-" .. seq .. ".jpg")
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
'''


def run_wrk(ports: list[int], seconds: float, connections: int, work: str, tag: str, script: str) -> dict:
    """One wrk per relay port, all at once, the connections split evenly; returns their summed figures."""
    per = max(1, connections // len(ports))
    procs = []
    for i, port in enumerate(ports):
        out = os.path.join(work, "wrk-%s-%d.out" % (tag, i))
        env = dict(os.environ, BENCH_BODY=os.path.join(ROOT, "Tests/Fixtures/minio/put-image.json"),
                   BENCH_PREFIX="%X%X" % (hash(tag) & 0xF, i))
        procs.append((subprocess.Popen(["wrk", "-t1", "-c%d" % per, "-d%ds" % max(1, int(seconds)), "--latency",
                                        "-s", script,
                                        "http://127.0.0.1:%d/minio-event" % port],
                                       stdout=open(out, "w"), stderr=subprocess.STDOUT, env=env, cwd=ROOT), out))
    requests = non2xx = 0
    rps = 0.0
    p99 = []
    for proc, out in procs:
        proc.wait(timeout=seconds + 60)
        text = open(out).read()
        m = re.search(r"(\d+) requests in", text)
        requests += int(m.group(1)) if m else 0
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
        non2xx += int(m.group(1)) if m else 0
        m = re.search(r"Requests/sec:\s+([\d.]+)", text)
        rps += float(m.group(1)) if m else 0.0
        m = re.search(r"\s99%\s+(\S+)", text)
        if m:
            p99.append(m.group(1))
    return {"requests": requests, "non2xx": non2xx, "rps": rps, "p99": ",".join(p99)}


def count_lines(path: str) -> int:
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


def measure(binary: str, relays: int | None, seconds: float, connections: int, nginx_port: int, access_log: str,
            work: str) -> dict:
    """relays None: the SQLite mode (one relay); else that many relays on one fresh nats-server."""
    name = "sqlite" if relays is None else "js%d" % relays
    root = os.path.join(work, name)
    os.makedirs(os.path.join(root, "rules"))
    with open(os.path.join(root, "rules", "bench.json"), "w") as f:
        f.write('{ "targets": { "sink": { "url": "http://127.0.0.1:%d/events", "maxInFlight": 64 } },\n'
                '  "rules": [ { "name": "all-created", "match": { "event": "s3:ObjectCreated:*" }, '
                '"to": ["sink"] } ] }\n' % nginx_port)
    nats = None
    nats_url = None
    if relays is not None:
        nats_port, monitor = free_port(), free_port()
        nats = start([nats_server_binary() or "nats-server", "-js", "-a", "127.0.0.1", "-p", str(nats_port),
                      "-m", str(monitor), "-sd", os.path.join(root, "nats")], os.path.join(root, "nats.log"))
        nats_url = "nats://127.0.0.1:%d" % nats_port
        if not wait_port(monitor):
            raise SystemExit("nats-server did not start: see %s" % os.path.join(root, "nats.log"))
    procs, ports = [], []
    for i in range(relays or 1):
        port = free_port()
        args = [binary, "serve", "--host", "127.0.0.1", "--port", str(port), "--rules", os.path.join(root, "rules"),
                "--data-dir", os.path.join(root, "data-%d" % i), "--log-level", os.environ.get("RELAY_LOG_LEVEL",
                                                                                              "notice")]
        if nats_url:
            args += ["--jetstream", nats_url]
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
        procs.append(start(args, os.path.join(root, "relay-%d.log" % i), env))
        ports.append(port)
    for port in ports:
        if not wait_port(port, 60):
            raise SystemExit("a relay did not start: see %s" % root)
    script = os.path.join(work, "post.lua")
    run_wrk(ports, min(2.0, seconds), connections, root, name + "-warm", script)  # warm-up: connections, streams, caches
    drained(ports, nats_url, 60)
    before = count_lines(access_log)
    started = time.time()
    load = run_wrk(ports, seconds, connections, root, name, script)
    accepted = load["requests"] - load["non2xx"]
    ok = drained(ports, nats_url, 300)
    # The last delivery: the access log stops growing once the accepted events are all in.
    deadline = time.time() + 60
    while time.time() < deadline and count_lines(access_log) - before < accepted:
        time.sleep(0.05)
    finished = time.time()
    delivered = count_lines(access_log) - before
    for proc in procs:
        stop(proc)
    if nats:
        stop(nats)
    return {"name": name, "relays": relays or 1, "load": load, "accepted": accepted, "delivered": delivered,
            "seconds": finished - started, "eps": delivered / max(1e-9, finished - started), "drained": ok}


def drained(ports: list[int], nats_url: str | None, timeout: float) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if nats_url:
            info = stream_info([nats_url], "RELAY_DELIVERIES")
            events = stream_info([nats_url], "RELAY_EVENTS")  # where the events stream exists
            if info is not None and info["state"]["messages"] == 0 and (
                    events is None or events["state"]["messages"] == 0):
                return True
        else:
            if metric(ports[0], "relay_spool_pending_deliveries") == 0.0:
                return True
        time.sleep(0.1)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="load per configuration (default 10)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections in all (default 64)")
    parser.add_argument("--relays", default="1,2,3", help="JetStream relay counts to run (default 1,2,3)")
    parser.add_argument("--smoke", action="store_true", help="2 s, 8 connections: checks the script, measures nothing")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.connections = 2.0, 8
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None and not os.path.exists("/usr/sbin/" + tool):
            print("needs %s (apt-get install nginx-light wrk)" % tool, file=sys.stderr)
            return 2
    if nats_server_binary() is None:
        print("needs nats-server (apt-get install nats-server)", file=sys.stderr)
        return 2
    binary = os.environ.get("RELAY_BIN")
    if not binary:
        subprocess.run(["swift", "build", "-c", "release", "--product", "bucket-relay"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        binary = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout.strip() + "/bucket-relay"
    work = tempfile.mkdtemp(prefix="relay-bench-js-")
    try:
        with open(os.path.join(work, "post.lua"), "w") as f:
            f.write(POST_LUA)
        nginx_port = free_port()
        os.makedirs(os.path.join(work, "nginx"))
        access_log = os.path.join(work, "nginx", "access.log")
        with open(os.path.join(work, "nginx", "nginx.conf"), "w") as f:
            f.write("""worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log;
events { worker_connections 4096; }
http {
  access_log %(d)s/access.log;
  client_body_temp_path %(d)s/body; proxy_temp_path %(d)s/proxy;
  fastcgi_temp_path %(d)s/fastcgi; uwsgi_temp_path %(d)s/uwsgi; scgi_temp_path %(d)s/scgi;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:%(p)d; location / { return 204; } }
}
""" % {"d": os.path.join(work, "nginx"), "p": nginx_port})
        start([shutil.which("nginx") or "/usr/sbin/nginx", "-c", os.path.join(work, "nginx", "nginx.conf"), "-g",
               "daemon off;"], os.path.join(work, "nginx", "stderr.log"))
        if not wait_port(nginx_port):
            raise SystemExit("nginx did not start")
        configurations: list[int | None] = [None] + [int(n) for n in args.relays.split(",") if n]
        results = [measure(binary, n, args.seconds, args.connections, nginx_port, access_log, work)
                   for n in configurations]
    finally:
        stop_all()
        shutil.rmtree(work, ignore_errors=True)

    base = results[0]["eps"]
    one = next((r["eps"] for r in results if r["name"] == "js1"), None)
    print()
    print("bucket-relay delivered events/s, %d cores, load %gs, %d connections over the relays, one nginx target%s"
          % (os.cpu_count() or 0, args.seconds, args.connections, " (SMOKE: not a measurement)" if args.smoke else ""))
    print("%-22s %10s %10s %9s %10s %18s %9s %14s" % ("configuration", "delivered", "events/s", "/ sqlite",
                                                       "/ 1 relay", "ingress 2xx req/s", "non-2xx", "ingress p99"))
    for r in results:
        label = "SQLite spool, 1 relay" if r["name"] == "sqlite" else "JetStream, %d relay%s" % (
            r["relays"], "s" if r["relays"] > 1 else "")
        print("%-22s %10d %10.0f %9.2f %10s %18.0f %9d %14s" % (
            label, r["delivered"], r["eps"], r["eps"] / base if base else float("nan"),
            ("%.2f" % (r["eps"] / one)) if one and r["name"] != "sqlite" else "-", r["load"]["rps"],
            r["load"]["non2xx"], r["load"]["p99"]))
    incomplete = [r["name"] for r in results
                  if r["accepted"] <= 0 or r["delivered"] < r["accepted"] or not r["drained"]]
    if incomplete:
        print("not every accepted event was delivered within the wait: %s" % incomplete)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
