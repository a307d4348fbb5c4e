"""Helpers of the hostile-input suite on top of the fault suite's harness: a relay on given rules, raw-socket
exchanges that also report whether the relay closed the connection, and one-shot CLI runs."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from typing import Any

from harness import HOST, Relay, write_rules


def start_relay(ctx, name: str, targets: dict[str, dict[str, Any]], rules: list[dict[str, Any]],
                extra: list[str] | None = None, log_level: str = "info",
                env: dict[str, str] | None = None) -> tuple[Relay | None, str]:
    """`serve` on a fresh temp dir (rules in `<tmp>/rules`, data in `<tmp>/data`); None when it did not start."""
    tmp = ctx.cleanup.tempdir(f"hostile-{name}")
    rules_dir = write_rules(os.path.join(tmp, "rules"), targets, rules)
    relay = Relay(ctx.binary, ctx.cleanup, rules_dir, os.path.join(tmp, "data"), os.path.join(tmp, "relay.log"),
                  extra=extra, log_level=log_level, env=env)
    relay.start()
    ok = ctx.results.check(name, "relay starts", relay.wait_healthy(30), on_fail=relay.log_tail(8))
    return (relay if ok else None), tmp


def read_log(relay: Relay) -> bytes:
    try:
        with open(relay.log_path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def exchange(port: int, request: bytes, timeout: float = 5.0, eof_wait: float = 2.0) -> tuple[int | None, bytes, bool]:
    """Sends `request` on a new connection, reads one response (head + Content-Length body), then waits up to
    `eof_wait` seconds for the relay to close. Returns (status or None, everything read, closed by the relay)."""
    data = b""
    closed = False
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        try:
            s.sendall(request)
        except OSError:
            pass
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                head_end = data.find(b"\r\n\r\n")
                if head_end >= 0:
                    length = 0
                    for line in data[:head_end].split(b"\r\n")[1:]:
                        key, _, value = line.partition(b":")
                        if key.strip().lower() == b"content-length":
                            length = int(value.strip() or 0)
                    if len(data) - head_end - 4 >= length:
                        break
                chunk = s.recv(65536)
                if not chunk:
                    closed = True
                    break
                data += chunk
            if not closed:
                s.settimeout(eof_wait)
                try:
                    while True:
                        chunk = s.recv(65536)
                        if not chunk:
                            closed = True
                            break
                        data += chunk
                except socket.timeout:
                    pass
        except ConnectionResetError:
            closed = True
        except OSError:
            pass
    status = None
    if data.startswith(b"HTTP/1.") and len(data) >= 12:
        try:
            status = int(data[9:12])
        except ValueError:
            status = None
    return status, data, closed


def run_cli(binary: str, args: list[str], timeout: float = 60.0, env: dict[str, str] | None = None,
            cwd: str | None = None) -> tuple[int, str]:
    """Runs `bucket-relay ARGS` to completion; (exit status, stdout+stderr). -9 when it had to be killed."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    full_env.update(env or {})
    proc = subprocess.Popen([binary, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=full_env,
                            cwd=cwd, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        return -9, out.decode("utf-8", "replace")
    return proc.returncode, out.decode("utf-8", "replace")


def file_state(path: str) -> tuple[bytes, int] | None:
    """(content, mode) of a regular file, None when absent."""
    try:
        with open(path, "rb") as f:
            content = f.read()
        return content, os.stat(path).st_mode & 0o7777
    except OSError:
        return None
