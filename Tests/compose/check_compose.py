#!/usr/bin/env python3
"""Checks docker-compose.yaml and the Dockerfile without a Docker engine: parses them, checks the wiring, checks that
the Dockerfile's build context holds what Package.swift needs, runs the `mc` one-shot's script against a stub `mc`
(it must fail when a command fails, and wait for MinIO), then runs the same relay and example receiver on loopback
exactly as the compose file configures them and sends a MinIO webhook through.

    python3 Tests/compose/check_compose.py --binary .build/debug/bucket-relay

The full build of the Dockerfile's context with its own command is Tests/compose/check_dockerfile_build.sh (long).
Exit 0 when every check passes; prints one line per check.
"""
import argparse
import json
import os
import re
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
    """Compose's `${VAR}` / `${VAR:-default}` interpolation, from this process's environment; `$$` is a `$`."""
    import re

    def replace(match):
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(3)
        return os.environ.get(name) or (default if default is not None else "")

    if isinstance(value, str):
        return re.sub(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}", replace, value)
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


def one_shot_script(service):
    """The shell text the one-shot runs: `entrypoint: ["/bin/sh", "-c"]` with the script as `command`, or the
    script inside the entrypoint."""
    entrypoint = service.get("entrypoint", [])
    command = service.get("command", [])
    words = (entrypoint if isinstance(entrypoint, list) else shlex.split(entrypoint)) + (
        command if isinstance(command, list) else [command]
    )
    if len(words) >= 3 and words[0].endswith("sh") and words[1] == "-c":
        return words[2]
    return " ".join(words)


def check_one_shot(script):
    """Runs the one-shot's script with a stub `mc` first on PATH: every command must run while all succeed, the script
    must stop with a non-zero status at the first failing command, and it must wait until MinIO answers."""
    with tempfile.TemporaryDirectory() as work:
        stub = os.path.join(work, "mc")
        calls = os.path.join(work, "calls")
        with open(stub, "w", encoding="utf-8") as f:
            f.write(
                "#!/bin/sh\n"
                'echo "$*" >> "$MC_CALLS"\n'
                'case "$1 $2" in "$MC_FAIL") exit 1 ;; esac\n'
                'if [ "$1 $2" = "alias set" ] && [ "$(grep -c "^alias set" "$MC_CALLS")" -le "${MC_DOWN:-0}" ]; then\n'
                "  exit 1\n"
                "fi\n"
                "exit 0\n"
            )
        os.chmod(stub, 0o755)

        def run(fail="", down=0):
            if os.path.exists(calls):
                os.remove(calls)
            env = dict(os.environ, PATH=work + os.pathsep + os.environ.get("PATH", ""), MC_CALLS=calls,
                       MC_FAIL=fail, MC_DOWN=str(down))
            result = subprocess.run(["/bin/sh", "-c", script], env=env, capture_output=True, timeout=120)
            made = open(calls, encoding="utf-8").read().splitlines() if os.path.exists(calls) else []
            return result.returncode, made

        status, made = run()
        check(status == 0 and any(c.startswith("event add") for c in made),
              "the one-shot exits 0 when every mc command succeeds (%d calls)" % len(made))
        status, made = run(fail="event add")
        check(status != 0, "the one-shot exits non-zero when `mc event add` fails (status %d)" % status)
        check(not any(c.startswith("event list") for c in made), "the one-shot stops at the first failing command")
        status, made = run(fail="mb --ignore-existing")
        check(status != 0 and not any(c.startswith("event add") for c in made),
              "the one-shot exits non-zero when `mc mb` fails, before adding the notification")
        status, made = run(down=2)
        check(status == 0 and sum(c.startswith("alias set") for c in made) == 3,
              "the one-shot retries `mc alias set` until MinIO answers (2 failures, then success)")


def check_receiver_lines():
    """The example receiver prints one whole line per request, also when requests arrive together, and says why when
    its port is taken (make run relies on both)."""
    port = free_port()
    ready = tempfile.mktemp(prefix="receiver-ready-")
    receiver = subprocess.Popen([sys.executable, str(ROOT / "examples/receiver/receiver.py"), "--port", str(port),
                                 "--ready-file", ready], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 10
        while not os.path.exists(ready) and time.time() < deadline and receiver.poll() is None:
            time.sleep(0.05)
        if not check(os.path.exists(ready), "the example receiver writes its --ready-file once bound"):
            return
        taken = subprocess.run([sys.executable, str(ROOT / "examples/receiver/receiver.py"), "--port", str(port)],
                               capture_output=True, timeout=10)
        check(taken.returncode == 1 and b"Address already in use" in taken.stderr and b"Traceback" not in taken.stderr,
              "a second receiver on the same port exits 1 with one line saying so: %s" % taken.stderr.decode().strip())
        count = 60

        answered = []

        def post(i):
            request = urllib.request.Request("http://127.0.0.1:%d/p%d" % (port, i), data=b'{"Records":[]}',
                                             headers={"webhook-id": "msg_%d" % i, "X-Relay-Attempt": "1"})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    answered.append(response.status)
            except OSError as error:
                answered.append(str(error))

        import threading
        threads = [threading.Thread(target=post, args=(i,)) for i in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        receiver.terminate()
        out, _ = receiver.communicate(timeout=10)
        if os.path.exists(ready):
            os.remove(ready)
    check(answered == [204] * count, "the example receiver answers %d concurrent requests 204: %s"
          % (count, sorted(set(map(str, answered)))))
    lines = out.decode().splitlines()
    whole = [line for line in lines if re.match(r"^POST /p(\d+) id=msg_\1 attempt=1 ", line)]
    check(len(lines) == count and len(whole) == count,
          "the example receiver prints one whole line per request for %d concurrent requests (%d lines, %d whole)"
          % (count, len(lines), len(whole)))


def check_dockerfile_context():
    """The Dockerfile's build stage, its context after .dockerignore, and Package.swift agree."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import dockerfile_context as dc

    all_stages = dc.stages(ROOT / "Dockerfile")
    build = [s for s in all_stages if s["name"] == "build"]
    if not check(len(build) == 1, "the Dockerfile has a stage named build"):
        return
    build = build[0]
    runs = [r for r in build["runs"] if "swift build" in r]
    check(len(runs) == 1 and "-c release" in runs[0] and "--static-swift-stdlib" in runs[0],
          "the build stage builds the release binary with --static-swift-stdlib")
    check(dc.ignored(".build/release/bucket-relay", dc.ignore_patterns(ROOT))
          and dc.ignored("Tests/.build/x", dc.ignore_patterns(ROOT))
          and not dc.ignored("Sources/RelayCore/JSON/JSONParser.swift", dc.ignore_patterns(ROOT)),
          ".dockerignore keeps .build out of the context and Sources in")
    with tempfile.TemporaryDirectory() as work:
        try:
            copied = set(dc.copy_stage(ROOT, build, work))
        except SystemExit as error:
            check(False, "the build stage's COPY lines find their sources: %s" % error)
            return
        check("Package.swift" in copied, "the build context holds Package.swift")
        missing = [f for f in dc.manifest_folders(Path(work) / "Package.swift") if not Path(work, f).is_dir()]
        check(not missing, "the build context holds the folder of every target Package.swift declares%s"
              % (": missing " + ", ".join(missing) if missing else ""))
    runtime = all_stages[-1]
    froms = [c for c in runtime["copies"] if any(f.startswith("--from=build") for f in c[0])]
    binary = froms[0][1][0] if froms else ""
    produced = os.path.relpath(binary, build["workdir"]) if binary.startswith(build["workdir"] + "/") else None
    check(produced is not None and bool(runs) and produced in runs[0],
          "the runtime stage copies the binary from where the build command installs it (%s)" % binary)
    check(any(c[1] == ["rules"] for c in runtime["copies"]), "the runtime stage ships the shipped rules/")


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
    mc = services["mc"]
    mc_script = one_shot_script(mc)
    check("mc event add" in mc_script and "arn:minio:sqs::%s:webhook" % target_id in mc_script,
          "the mc one-shot adds the event notification for this target's ARN")
    check(mc.get("restart") == "on-failure", "the mc one-shot is restarted when it fails (restart: on-failure)")
    check_one_shot(mc_script)
    for name in ("minio", "mc"):
        image = services[name].get("image", "")
        check(re.match(r"^quay\.io/minio/(minio|mc):RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ$", image) is not None,
              "the %s image is pulled from quay.io, pinned to a release: %s" % (name, image))
    dockerfile = (ROOT / "Dockerfile").read_text()
    check("bucket-relay" in dockerfile and 'CMD ["serve"]' in dockerfile, "the Dockerfile runs `bucket-relay serve`")
    check_dockerfile_context()
    check_receiver_lines()

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
