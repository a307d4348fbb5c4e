#!/usr/bin/env python3
"""Checks docker-compose.yaml without a Docker engine: parses it, checks the wiring, then runs the same relay and
example receiver on loopback exactly as the compose file configures them and sends a MinIO webhook through.

    python3 Tests/compose/check_compose.py --binary .build/debug/bucket-relay

Exit 0 when every check passes; prints one line per check.
"""
import argparse
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[2]
failures = []
passes = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    (passes if ok else failures).append(what)
    return ok


def interpolate(value):
    """Compose's `${VAR}` / `${VAR:-default}` interpolation, from this process's environment."""
    import re

    def replace(match):
        name, default = match.group(1), match.group(3)
        return os.environ.get(name) or (default if default is not None else "")

    if isinstance(value, str):
        return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}", replace, value)
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    return value


def load_yaml(path):
    try:
        import yaml  # PyYAML
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "pyyaml"], check=False)
        import yaml
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=str(ROOT / ".build/debug/bucket-relay"))
    args = parser.parse_args()

    compose = interpolate(load_yaml(ROOT / "docker-compose.yaml"))
    services = compose.get("services", {})
    check(set(services) >= {"minio", "relay", "receiver", "mc"}, "services minio, relay, receiver and mc exist")
    minio_env = services["minio"].get("environment", {})
    relay = services["relay"]
    relay_env = relay.get("environment", {})

    endpoint_keys = [k for k in minio_env if k.startswith("MINIO_NOTIFY_WEBHOOK_ENDPOINT_")]
    check(len(endpoint_keys) == 1, "MinIO has one webhook target configured by MINIO_NOTIFY_WEBHOOK_ENDPOINT_*")
    target_id = endpoint_keys[0][len("MINIO_NOTIFY_WEBHOOK_ENDPOINT_"):]
    endpoint = urlparse(minio_env[endpoint_keys[0]])
    check(minio_env.get("MINIO_NOTIFY_WEBHOOK_ENABLE_" + target_id) == "on", "the webhook target is enabled")
    check(bool(minio_env.get("MINIO_NOTIFY_WEBHOOK_QUEUE_DIR_" + target_id)), "the webhook target has a queue_dir")
    check(endpoint.hostname == "relay", "MinIO posts to the relay service")
    check(str(endpoint.port) == str(relay_env.get("RELAY_PORT")), "MinIO posts to the port the relay listens on")
    check(endpoint.path in ("/minio-event", "/"), "MinIO posts to /minio-event")
    token = minio_env.get("MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_" + target_id)
    check(token is not None and token == relay_env.get("RELAY_AUTH_TOKEN"), "MinIO's auth_token is the relay's token")
    volumes = relay.get("volumes", [])
    rules_mount = [v for v in volumes if v.endswith(":" + relay_env.get("RELAY_RULES", "") + ":ro")]
    check(len(rules_mount) == 1, "the relay's rules are mounted from the project at RELAY_RULES")
    check(any(v.split(":")[1] == relay_env.get("RELAY_DATA_DIR") for v in volumes), "the data dir is on a volume")
    check(relay.get("build") == ".", "the relay is built from the Dockerfile")
    mc_entry = services["mc"].get("entrypoint", "")
    check("mc event add" in mc_entry and "arn:minio:sqs::%s:webhook" % target_id in mc_entry,
          "the mc one-shot adds the event notification for this target's ARN")
    dockerfile = (ROOT / "Dockerfile").read_text()
    check("bucket-relay" in dockerfile and 'CMD ["serve"]' in dockerfile, "the Dockerfile runs `bucket-relay serve`")

    receiver = services["receiver"]
    receiver_cmd = receiver["command"]
    receiver_url = urlparse(relay_env["RECEIVER_URL"])
    check(receiver_url.hostname == "receiver", "the relay's RECEIVER_URL names the receiver service")
    check(str(receiver_url.port) == receiver_cmd[receiver_cmd.index("--port") + 1],
          "RECEIVER_URL's port is the receiver's --port")

    # Run the same two processes on loopback, wired as the compose file wires them.
    with tempfile.TemporaryDirectory() as work:
        receiver_port, relay_port = free_port(), free_port()
        log = os.path.join(work, "received.jsonl")
        mounts = {v.split(":")[1]: v.split(":")[0] for v in receiver.get("volumes", [])}
        script = receiver_cmd[1]
        for container_dir, host_dir in mounts.items():
            if script.startswith(container_dir + "/"):
                script = str(ROOT / host_dir) + script[len(container_dir):]
        cmd = [sys.executable, script] + receiver_cmd[2:]
        cmd[cmd.index("--host") + 1] = "127.0.0.1"
        cmd[cmd.index("--port") + 1] = str(receiver_port)
        cmd += ["--log", log, "--quiet"]
        env = dict(os.environ)
        env.update({k: str(v) for k, v in relay_env.items()})
        env["RELAY_PORT"] = str(relay_port)
        env["RELAY_HOST"] = "127.0.0.1"
        env["RELAY_RULES"] = str(ROOT / rules_mount[0].split(":")[0])
        env["RELAY_DATA_DIR"] = os.path.join(work, "data")
        env["RECEIVER_URL"] = "http://127.0.0.1:%d" % receiver_port
        procs = []
        try:
            procs.append(subprocess.Popen(cmd, stderr=subprocess.DEVNULL))
            procs.append(subprocess.Popen([args.binary, "serve"], env=env, stderr=open(os.path.join(work, "relay.log"), "w")))
            check(wait_port(receiver_port) and wait_port(relay_port), "the receiver and the relay start as configured")
            body = (ROOT / "examples/events/minio-put-image.json").read_bytes()
            url = "http://127.0.0.1:%d%s" % (relay_port, endpoint.path)

            def post(headers):
                request = urllib.request.Request(url, data=body, method="POST", headers=headers)
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        return response.status
                except urllib.error.HTTPError as error:
                    return error.code

            minio_headers = {"Content-Type": "application/json", "User-Agent": "Go-http-client/1.1"}
            check(post(minio_headers) == 401, "without MinIO's token the relay answers 401")
            minio_headers["Authorization"] = "Bearer " + token  # one word: MinIO sends "Bearer TOKEN"
            check(post(minio_headers) == 200, "with MinIO's token the relay answers 200")
            deadline = time.time() + 15
            received = []
            while time.time() < deadline and len(received) < 2:
                if os.path.exists(log):
                    with open(log, encoding="utf-8") as f:
                        received = [json.loads(line) for line in f if line.strip()]
                time.sleep(0.05)
            paths = sorted(r["path"] for r in received)
            check(paths == ["/audit", "/thumbnailer"], "the shipped rules deliver to the example receiver: %s" % paths)
            thumb = [r for r in received if r["path"] == "/thumbnailer"]
            check(bool(thumb) and thumb[0]["body"].encode() == body, "the thumbnailer gets MinIO's body unchanged")
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
    print("compose: %d passed, %d failed" % (len(passes), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
