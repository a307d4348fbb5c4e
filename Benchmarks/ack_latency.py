#!/usr/bin/env python3
"""Ack latency of bucket-relay at fixed event rates: p50 / p99 / p99.9 / max of the time from when a request was
due to be sent until its 2xx answer, with each event spooled (fsync'd group commit) and delivered to nginx.

    python3 Benchmarks/ack_latency.py [--rates 1000,5000] [--seconds 10] [--senders 2] [--connections 32]
                                      (RELAY_BIN=path: that binary; else a release build of this checkout)
    python3 Benchmarks/ack_latency.py --smoke      # a tiny run that only checks the script works

The sender is open-loop (constant rate): request i of a sender is due at start + i / rate, whether or not earlier
answers have come back, and its latency is measured from that due time, so a relay that stalls is charged for the
requests that queue behind the stall (no "coordinated omission"). Every request is a distinct MinIO event (its own
key and sequencer; Tests/Fixtures/minio/put-image.json), sent over keep-alive connections by `--senders` processes
of asyncio, each with its share of the rate. The relay runs with one target, nginx `return 204`, every event
matched; after the load, the script waits for the spool to drain and checks that nginx got every accepted event.
Everything listens on 127.0.0.1 and every process started is stopped by its PID at the end. Needs nginx.

The same machine runs the sender, the relay and nginx: read the figures next to the rate actually achieved, which
is printed, and run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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


def start(argv: list[str], **kwargs) -> subprocess.Popen:
    process = subprocess.Popen(argv, **kwargs)
    PROCS.append(process)
    return process


def stop_all() -> None:
    for process in PROCS:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in PROCS:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def relay_binary() -> str:
    if os.environ.get("RELAY_BIN"):
        return os.environ["RELAY_BIN"]
    subprocess.run(["swift", "build", "-c", "release", "--product", "bucket-relay"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    path = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    return os.path.join(path, "bucket-relay")


def start_nginx(work: str) -> tuple[int, str]:
    port = free_port()
    directory = os.path.join(work, "nginx")
    os.makedirs(directory, exist_ok=True)
    access = os.path.join(directory, "access.log")
    with open(os.path.join(directory, "nginx.conf"), "w") as f:
        f.write(f"""worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log {access};
  client_body_temp_path {directory}/body; proxy_temp_path {directory}/proxy;
  fastcgi_temp_path {directory}/fastcgi; uwsgi_temp_path {directory}/uwsgi; scgi_temp_path {directory}/scgi;
  keepalive_requests 1000000;
  server {{ listen 127.0.0.1:{port}; location / {{ return 204; }} }}
}}
""")
    start(["nginx", "-c", os.path.join(directory, "nginx.conf"), "-g", "daemon off;"])
    if not wait_port(port):
        raise SystemExit("nginx did not start")
    return port, access


def metric(port: int, name: str) -> float | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(name + " ") or line.startswith(name + "{"):
                    return float(line.rsplit(" ", 1)[1])
    except OSError:
        return None
    return None


# --- the sender -------------------------------------------------------------------------------------------------


def request_bytes(template: str, port: int, run: str, sender: int, index: int) -> bytes:
    sequencer = f"{run}{sender:02X}{index:010X}"
    body = template.replace("188A0D8A74975E28", sequencer).replace("cat.jpg", f"cat-{sequencer}.jpg").encode()
    head = (f"POST /minio-event HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    return head + body


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status


async def send_at_rate(port: int, rate: float, seconds: float, connections: int, sender: int, run: str,
                       template: str) -> tuple[list[float], int, int]:
    total = int(rate * seconds)
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies: list[float] = []
    failures = 0
    loop = asyncio.get_running_loop()
    start_time = loop.time() + 0.05

    async def one(index: int, due: float) -> None:
        nonlocal failures
        payload = request_bytes(template, port, run, sender, index)
        reader, writer = await pool.get()
        try:
            writer.write(payload)
            status = await read_response(reader)
            latencies.append(loop.time() - due)
            if not 200 <= status < 300:
                failures += 1
            pool.put_nowait((reader, writer))
        except (OSError, asyncio.IncompleteReadError):
            failures += 1
            pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))

    tasks = []
    for index in range(total):
        due = start_time + index / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index, due)))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - start_time
    while not pool.empty():
        _, writer = pool.get_nowait()
        writer.close()
    return latencies, failures, int(total / elapsed) if elapsed > 0 else 0


def sender_process(port: int, rate: float, seconds: float, connections: int, sender: int, run: str,
                   template: str, results) -> None:
    results.put(asyncio.run(send_at_rate(port, rate, seconds, connections, sender, run, template)))


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(binary: str, rate: int, seconds: float, senders: int, connections: int, nginx_port: int,
            access: str, work: str) -> dict:
    rules = os.path.join(work, f"rules-{rate}")
    os.makedirs(rules, exist_ok=True)
    with open(os.path.join(rules, "bench.json"), "w") as f:
        f.write('{ "targets": { "sink": { "url": "http://127.0.0.1:%d/events", "maxInFlight": 64 } },\n'
                '  "rules": [ { "name": "all-created", "match": { "event": "s3:ObjectCreated:*" }, '
                '"to": ["sink"] } ] }\n' % nginx_port)
    port = free_port()
    log = open(os.path.join(work, f"relay-{rate}.log"), "w")
    relay = start([binary, "serve", "--host", "127.0.0.1", "--port", str(port), "--rules", rules, "--data-dir",
                   os.path.join(work, f"data-{rate}")], stdout=log, stderr=log)
    if not wait_port(port):
        raise SystemExit(f"the relay did not start; see {log.name}")
    open(access, "w").close()
    template = open(os.path.join(ROOT, "Tests", "Fixtures", "minio", "put-image.json")).read()
    # A short warm-up at the same rate, not measured.
    run_warm = f"{int(time.time()) % 65536:04X}"
    asyncio.run(send_at_rate(port, rate, min(1.0, seconds), connections, 99, run_warm, template))
    results = multiprocessing.Queue()
    run = f"{(int(time.time()) + 1) % 65536:04X}"
    workers = [multiprocessing.Process(target=sender_process,
                                       args=(port, rate / senders, seconds, connections, index, run, template,
                                             results)) for index in range(senders)]
    for worker in workers:
        worker.start()
    latencies: list[float] = []
    failures = 0
    achieved = 0
    for _ in workers:
        values, failed, rate_done = results.get()
        latencies += values
        failures += failed
        achieved += rate_done
    for worker in workers:
        worker.join()
    deadline = time.time() + 120
    while time.time() < deadline and (metric(port, "relay_spool_pending_deliveries") or 0) > 0:
        time.sleep(0.1)
    accepted = metric(port, 'relay_requests_total{outcome="accepted"}') or 0
    relay.send_signal(signal.SIGTERM)
    relay.wait(timeout=30)
    with open(access) as f:
        delivered = sum(1 for _ in f)
    return {
        "rate": rate, "achieved": achieved, "sent": len(latencies), "failures": failures,
        "accepted": int(accepted), "delivered": delivered,
        "p50": percentile(latencies, 0.50) * 1000, "p99": percentile(latencies, 0.99) * 1000,
        "p999": percentile(latencies, 0.999) * 1000, "max": max(latencies) * 1000 if latencies else float("nan"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="1000,5000")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections per sender")
    parser.add_argument("--smoke", action="store_true")
    arguments = parser.parse_args()
    if arguments.smoke:
        arguments.rates, arguments.seconds, arguments.senders, arguments.connections = "200", 1, 1, 4
    if shutil.which("nginx") is None:
        print("needs nginx (apt-get install nginx-light)")
        return 2
    binary = relay_binary()
    work = tempfile.mkdtemp(prefix="relay-ack-latency.")
    try:
        nginx_port, access = start_nginx(work)
        rows = [measure(binary, int(rate), arguments.seconds, arguments.senders, arguments.connections, nginx_port,
                        access, work) for rate in arguments.rates.split(",")]
    finally:
        stop_all()
    print(f"\nbucket-relay ack latency, {os.cpu_count()} cores, {arguments.seconds:g}s per rate, open loop, "
          f"{arguments.senders} sender processes x {arguments.connections} connections; spooled (fsync) and "
          "delivered to nginx 204")
    print(f"{'rate ev/s':>10} {'achieved':>9} {'sent':>7} {'non-2xx':>8} {'delivered':>10} "
          f"{'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} {'max ms':>8}")
    ok = True
    for row in rows:
        print(f"{row['rate']:>10} {row['achieved']:>9} {row['sent']:>7} {row['failures']:>8} "
              f"{row['delivered']:>10} {row['p50']:>8.2f} {row['p99']:>8.2f} {row['p999']:>9.2f} {row['max']:>8.2f}")
        if row["delivered"] < row["accepted"]:
            print(f"  LOST: {row['accepted']} accepted, {row['delivered']} delivered")
            ok = False
    print(f"(work directory {work})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
