#!/usr/bin/env python3
"""Checks that `make run` fails as a whole, without building anything: `make run SWIFT=STUB`, where the stub's
`--show-bin-path` points at a directory holding either the real binary or a stand-in relay.

    python3 Tests/release/check_make_run.py [--binary .build/debug/bucket-relay]

- with the real binary: the relay and the example receiver start, the README's first event is delivered (two
  receiver lines), a resend answers `duplicate`, and Ctrl-C (SIGINT to make's process group) stops both;
- the receiver's port is taken: make fails with the reason and the relay never starts;
- the relay exits 1 (as when its port is taken): make fails and the receiver is stopped;
- the relay is asked to stop (SIGTERM to it alone) and exits 0: make ends with 0 and the receiver is stopped;
- the receiver dies: the relay is stopped (it gets SIGTERM) and make fails.

Exit 0 when every check passes; prints one line per check. Standard library only; loopback only.
"""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
failures = []
passes = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    (passes if ok else failures).append(what)
    return ok


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class MakeRun:
    """`make run` in its own process group, with SIGINT at its default (as in a terminal), output collected."""

    def __init__(self, work, bin_dir, receiver_port=None):
        self.stub = os.path.join(work, "swift")
        with open(self.stub, "w", encoding="utf-8") as f:
            f.write('#!/bin/sh\ncase "$*" in *--show-bin-path*) echo "%s" ;; esac\nexit 0\n' % bin_dir)
        os.chmod(self.stub, 0o755)
        self.receiver_port = receiver_port or free_port()
        self.port = free_port()
        env = dict(os.environ)
        env.pop("RECEIVER_URL", None)
        self.output = os.path.join(work, "make-%d.log" % self.port)
        self.log = open(self.output, "w", encoding="utf-8")
        self.process = subprocess.Popen(
            ["make", "--no-print-directory", "run", "SWIFT=" + self.stub, "PORT=%d" % self.port,
             "RECEIVER_PORT=%d" % self.receiver_port, "DATA_DIR=" + os.path.join(work, "data-%d" % self.port)],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )

    def text(self):
        self.log.flush()
        return Path(self.output).read_text(encoding="utf-8", errors="replace")

    def wait_for(self, pattern, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if re.search(pattern, self.text()):
                return True
            if self.process.poll() is not None:
                return bool(re.search(pattern, self.text()))
            time.sleep(0.05)
        return False

    def finish(self, timeout=30):
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            return None

    def receiver_pid(self):
        match = re.search(r"example receiver on \S+ \(pid (\d+)\)", self.text())
        return int(match.group(1)) if match else None


def stand_in_relay(directory, behaviour):
    """A relay that records its pid and either exits 1 at once or runs until SIGTERM (and says so)."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "bucket-relay")
    with open(path, "w", encoding="utf-8") as f:
        f.write("#!/bin/sh\necho \"stand-in relay pid $$ $*\"\n")
        if behaviour == "exit":
            f.write("sleep 0.5\necho 'stand-in relay: cannot bind' >&2\nexit 1\n")
        else:
            f.write("trap 'echo stand-in relay got SIGTERM; exit 0' TERM\nwhile :; do sleep 0.1; done\n")
    os.chmod(path, 0o755)
    return directory


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", help="a built bucket-relay, for the end-to-end run (skipped without it)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as work:
        if args.binary:
            run = MakeRun(work, os.path.dirname(os.path.abspath(args.binary)))
            up = run.wait_for(r"Relay listening")
            check(up, "make run starts the example receiver and the relay")
            if up:
                body = (ROOT / "examples/events/minio-put-image.json").read_bytes()
                url = "http://127.0.0.1:%d/minio-event" % run.port
                with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=10) as response:
                    first = response.read().decode()
                check('"status":"accepted"' in first and '"deliveries":2' in first,
                      "the README's first event is accepted: %s" % first)
                check(run.wait_for(r"POST /thumbnailer id=msg_\w+ attempt=1 s3:ObjectCreated:Put "
                                   r"photos/uploads/2026/cat\.jpg\n", 15)
                      and run.wait_for(r"POST /audit id=msg_\w+ attempt=1 s3:ObjectCreated:Put", 15),
                      "the receiver prints one line per delivery (thumbnailer, audit)")
                with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=10) as response:
                    again = response.read().decode()
                check('"status":"duplicate"' in again, "sending it again answers duplicate: %s" % again)
            receiver = run.receiver_pid()
            os.killpg(run.process.pid, signal.SIGINT)
            status = run.finish()
            check(status is not None and status != 0, "Ctrl-C ends make run (status %s)" % status)
            check(receiver is not None and not alive(receiver), "Ctrl-C stops the example receiver")
            try:
                socket.create_connection(("127.0.0.1", run.port), timeout=1).close()
                closed = False
            except OSError:
                closed = True
            check(closed and "Traceback" not in run.text(), "Ctrl-C stops the relay (its port is closed)")

        # The receiver's port is taken by someone else.
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        run = MakeRun(work, stand_in_relay(os.path.join(work, "forever"), "forever"), holder.getsockname()[1])
        status = run.finish()
        holder.close()
        text = run.text()
        check(status is not None and status != 0, "make run fails when the receiver's port is taken (status %s)"
              % status)
        check("did not start on port" in text and "Address already in use" in text,
              "and says why: %s" % " / ".join(line for line in text.splitlines() if "port" in line)[:300])
        check("stand-in relay" not in text, "and never starts the relay")

        # The relay cannot start (its port is taken): the receiver is stopped.
        run = MakeRun(work, stand_in_relay(os.path.join(work, "exit"), "exit"))
        status = run.finish()
        receiver = run.receiver_pid()
        check(status is not None and status != 0, "make run fails when the relay exits 1 (status %s)" % status)
        check("the relay stopped (exit 1)" in run.text(), "and says the relay stopped")
        check(receiver is not None and not alive(receiver), "and stops the example receiver")

        # The relay is asked to stop (SIGTERM to it alone) and stops cleanly: make run ends with 0, the receiver too.
        run = MakeRun(work, stand_in_relay(os.path.join(work, "forever"), "forever"))
        started = run.wait_for(r"stand-in relay pid (\d+)")
        receiver = run.receiver_pid()
        relay = re.search(r"stand-in relay pid (\d+)", run.text())
        if check(started and receiver is not None and relay is not None, "make run starts the (stand-in) relay"):
            os.kill(int(relay.group(1)), signal.SIGTERM)
        status = run.finish()
        check(status == 0, "a relay that stops cleanly ends make run with 0 (status %s)" % status)
        check("Error" not in run.text() and "the relay stopped; stopping the example receiver" in run.text(),
              "and make says so without an error: %s" % run.text().strip().splitlines()[-1:])
        check(receiver is not None and not alive(receiver), "and stops the example receiver")

        # The receiver dies while the relay runs: the relay is stopped.
        run = MakeRun(work, stand_in_relay(os.path.join(work, "forever"), "forever"))
        started = run.wait_for(r"stand-in relay pid")
        receiver = run.receiver_pid()
        if check(started and receiver is not None, "make run starts the receiver and the (stand-in) relay"):
            os.kill(receiver, signal.SIGKILL)
        status = run.finish()
        check(status is not None and status != 0, "make run fails when the receiver dies (status %s)" % status)
        check("stand-in relay got SIGTERM" in run.text(), "and stops the relay")

    print("make run: %d passed, %d failed" % (len(passes), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
