#!/usr/bin/env python3
"""Instructions per event on the whole request path of bucket-relay, counted by valgrind's callgrind: receive the
HTTP request, decode, match, spool (SQLite, fsync), answer, claim, deliver through libcurl to nginx, record the
outcome. Instruction counts do not move with the machine's load, so a regression shows as a number.

    python3 Benchmarks/callgrind_request.py [--events 200] [--warmup 20]   (RELAY_BIN=path: that binary; else a
                                                                          release build of this checkout)

How: the relay (a copy with its debug sections stripped: valgrind 3.19 cannot read Swift 6's DWARF 5) runs under
`valgrind --tool=callgrind` twice: once with `--warmup` events, once with `--warmup` + `--events`, each sent one
after another over one keep-alive connection, each run stopped (SIGTERM) once nginx has received every delivery.
The figure is the difference of the two runs' instructions (every relay thread, start-up and stop included in
both) divided by `--events`: one request, one spool append, one delivery each (sequential requests get no group
commit, so this is the unbatched cost). The binary must link Swift's runtime statically (`--static-swift-stdlib`,
as the Dockerfile builds it, and what the script builds without RELAY_BIN): under valgrind 3.19 a binary using the
toolchain's shared libdispatch dies at start. Idle timers add a little per second of run time, which the difference
mostly cancels. (`callgrind_control -i on/off` would need valgrind's gdbserver FIFOs, which these machines do
not create.) Needs valgrind, nginx, binutils (strip).
"""

from __future__ import annotations

import argparse
import glob
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "Benchmarks"))
from ack_latency import free_port, wait_port, start_nginx, stop_all, start  # noqa: E402


def relay_binary() -> str:
    """RELAY_BIN, else this checkout built as the Dockerfile builds it (release, Swift's runtime linked in
    statically): valgrind 3.19 crashes in the toolchain's shared libdispatch, not in a static binary. A scratch
    path of its own, so that it does not rebuild the plain release build's products."""
    if os.environ.get("RELAY_BIN"):
        return os.environ["RELAY_BIN"]
    command = ["swift", "build", "-c", "release", "--static-swift-stdlib", "--product", "bucket-relay",
               "--scratch-path", os.path.join(ROOT, ".build-static")]
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    path = subprocess.run(command[:-2] + ["--scratch-path", os.path.join(ROOT, ".build-static"), "--show-bin-path"],
                          cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    return os.path.join(path, "bucket-relay")


def send_events(port: int, template: str, run: str, count: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for index in range(count):
        sequencer = f"{run}{index:012X}"
        body = template.replace("188A0D8A74975E28", sequencer).replace("cat.jpg", f"cat-{sequencer}.jpg")
        connection.request("POST", "/minio-event", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"the relay answered {response.status}")
    connection.close()


def wait_lines(path: str, count: int, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(path) as f:
            if sum(1 for _ in f) >= count:
                return
        time.sleep(0.2)
    raise SystemExit(f"nginx did not receive {count} deliveries")


def instructions(path: str) -> int:
    """The `totals:` (or `summary:`) figure of a callgrind output file."""
    total = 0
    for name in glob.glob(path + "*"):
        with open(name) as f:
            for line in f:
                match = re.match(r"(?:totals|summary): (\d+)", line)
                if match:
                    total += int(match.group(1))
                    break
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    arguments = parser.parse_args()
    for tool in ("valgrind", "nginx", "strip"):
        if shutil.which(tool) is None:
            print(f"needs {tool} (apt-get install valgrind nginx-light binutils)")
            return 2
    work = tempfile.mkdtemp(prefix="relay-callgrind.")
    binary = os.path.join(work, "bucket-relay")
    subprocess.run(["strip", "--strip-debug", "-o", binary, relay_binary()], check=True)
    template = open(os.path.join(ROOT, "Tests", "Fixtures", "minio", "put-image.json")).read()
    try:
        nginx_port, access = start_nginx(work)
        rules = os.path.join(work, "rules")
        os.makedirs(rules)
        with open(os.path.join(rules, "bench.json"), "w") as f:
            f.write('{ "targets": { "sink": { "url": "http://127.0.0.1:%d/events" } },\n'
                    '  "rules": [ { "name": "all-created", "match": { "event": "s3:ObjectCreated:*" }, '
                    '"to": ["sink"] } ] }\n' % nginx_port)
        counts = []
        for run, events in (("A0", arguments.warmup), ("B0", arguments.warmup + arguments.events)):
            port = free_port()
            out = os.path.join(work, f"callgrind-{run}.out")
            log = open(os.path.join(work, f"relay-{run}.log"), "w")
            relay = start(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary, "serve",
                           "--host", "127.0.0.1", "--port", str(port), "--rules", rules,
                           "--data-dir", os.path.join(work, f"data-{run}")], stdout=log, stderr=log)
            if not wait_port(port, timeout=300):
                raise SystemExit(f"the relay did not start under valgrind; see {log.name}")
            open(access, "w").close()
            send_events(port, template, run, events)
            wait_lines(access, events)
            # Let the last outcomes be recorded (the delivered row's delete) before the stop.
            time.sleep(1)
            relay.send_signal(signal.SIGTERM)
            relay.wait(timeout=300)
            counts.append(instructions(out))
    finally:
        stop_all()
    total = counts[1] - counts[0]
    print(f"\nbucket-relay request path under callgrind: {arguments.events} events (after {arguments.warmup} "
          f"warm-up), one target (nginx 204), sequential keep-alive requests")
    print(f"instructions: {counts[0]:,} with {arguments.warmup} events, {counts[1]:,} with "
          f"{arguments.warmup + arguments.events}")
    print(f"instructions per event (receive, spool, answer, deliver, record): {total // max(arguments.events, 1):,}")
    print(f"(work directory {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
