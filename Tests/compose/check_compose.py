#!/usr/bin/env python3
"""Checks docker-compose.yaml, docker-compose.jetstream.yaml and the Dockerfile without a Docker engine: parses them,
checks the wiring, checks that the Dockerfile's build context holds what Package.swift needs, runs the `mc` one-shots'
scripts against a stub `mc` (they must fail when a command fails, and wait for MinIO), then runs the same processes
on loopback exactly as each compose file configures them: the relay and the example receiver with a MinIO webhook
sent through; the NATS cluster of three, the two relays on it and the receiver, with an event published into the
stream as MinIO's notify_nats does (where the binary has `--jetstream-subject`) and a webhook to the second relay.

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
        # A batch (a target with "batch"): one line per record, numbered; a CloudEvent by its type and subject.
        record = json.loads((ROOT / "examples/events/minio-put-image.json").read_text())["Records"][0]
        cloudevent = {"specversion": "1.0", "type": "com.amazonaws.s3.ObjectCreated:Put", "subject": "photos/x.jpg"}
        batch = json.dumps({"Records": [record, record, cloudevent]}).encode()
        urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%d/batch" % port, data=batch,
                                                      headers={"webhook-id": "msg_b", "X-Relay-Attempt": "1"}),
                               timeout=10).close()
    finally:
        receiver.terminate()
        out, _ = receiver.communicate(timeout=10)
        if os.path.exists(ready):
            os.remove(ready)
    check(answered == [204] * count, "the example receiver answers %d concurrent requests 204: %s"
          % (count, sorted(set(map(str, answered)))))
    lines = out.decode().splitlines()
    batch_lines = [line for line in lines if line.startswith("POST /batch ")]
    lines = [line for line in lines if not line.startswith("POST /batch ")]
    check(batch_lines == ["POST /batch id=msg_b attempt=1 [1/3] s3:ObjectCreated:Put photos/uploads/2026/cat.jpg",
                          "POST /batch id=msg_b attempt=1 [2/3] s3:ObjectCreated:Put photos/uploads/2026/cat.jpg",
                          "POST /batch id=msg_b attempt=1 [3/3] com.amazonaws.s3.ObjectCreated:Put photos/x.jpg"],
          "the example receiver prints a batch one line per record: %s" % batch_lines)
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


# MinIO's notify_nats settings (internal/event/target/nats.go: EnvNATS*), each followed by `_<TARGET ID>`.
MINIO_NATS_SETTINGS = {
    "ENABLE", "ADDRESS", "SUBJECT", "USERNAME", "USER_CREDENTIALS", "PASSWORD", "TOKEN", "NKEY_SEED", "TLS",
    "TLS_SKIP_VERIFY", "TLS_HANDSHAKE_FIRST", "PING_INTERVAL", "QUEUE_DIR", "QUEUE_LIMIT", "CERT_AUTHORITY",
    "CLIENT_CERT", "CLIENT_KEY", "JETSTREAM",
}
# Flags (and their environment twins) that a newer relay has; where the binary lacks them, their checks say SKIP.
NEWER_FLAGS = {"--instance": "RELAY_INSTANCE", "--jetstream-subject": "RELAY_JETSTREAM_SUBJECT"}


def option(words, name, default=None):
    """The value after `name` in an argument list (`--name value`), else `default`."""
    return words[words.index(name) + 1] if name in words and words.index(name) + 1 < len(words) else default


def serve_help(binary):
    try:
        return subprocess.run([binary, "serve", "--help"], capture_output=True, timeout=30).stdout.decode()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def check_jetstream_compose(binary):
    """docker-compose.jetstream.yaml: a NATS cluster of three, MinIO publishing with notify_nats + jetstream, two
    relays on JetStream with R3 streams, the example receiver, the mc one-shot; then the same topology on loopback."""
    print("-- docker-compose.jetstream.yaml", flush=True)
    path = ROOT / "docker-compose.jetstream.yaml"
    if not check(path.is_file(), "docker-compose.jetstream.yaml exists"):
        return
    compose = interpolate(load_yaml(path))
    services = compose.get("services", {})
    nats_names = sorted(n for n in services if re.match(r"^nats-\d+$", n))
    relay_names = sorted(n for n in services if re.match(r"^relay-\d+$", n))
    check(len(nats_names) == 3 and len(relay_names) == 2 and {"minio", "mc", "receiver"} <= set(services),
          "services: three NATS nodes %s, two relays %s, minio, mc, receiver" % (nats_names, relay_names))
    if len(nats_names) < 3 or not relay_names:
        return
    help_text = serve_help(binary)

    # The NATS cluster.
    nodes = {}
    for name in nats_names:
        service = services[name]
        words = service.get("command", [])
        words = words if isinstance(words, list) else shlex.split(words)
        image = service.get("image", "")
        check(re.match(r"^nats:\d+\.\d+\.\d+(-alpine)?$", image) is not None,
              "%s: the nats image is pinned to a release: %s" % (name, image))
        cluster = urlparse(option(words, "--cluster", ""))
        routes = [urlparse(r) for r in option(words, "--routes", "").split(",") if r]
        nodes[name] = {"words": words, "port": int(option(words, "-p", "4222")),
                       "monitor": option(words, "-m") or option(words, "--http_port"),
                       "cluster_port": cluster.port, "routes": routes,
                       "cluster_name": option(words, "--cluster_name"), "image": image}
        check("--js" in words or "-js" in words or "--jetstream" in words, "%s: JetStream is on (--js)" % name)
        check(option(words, "--name") == name, "%s: its server name is its service name (JetStream clusters need "
              "one per node)" % name)
        check(option(words, "--sd") is not None and any(v.endswith(":" + option(words, "--sd"))
                                                        for v in service.get("volumes", [])),
              "%s: its JetStream store (--sd) is on a volume" % name)
    cluster_names = {n["cluster_name"] for n in nodes.values()}
    check(len(cluster_names) == 1 and None not in cluster_names, "the three nodes share one --cluster_name")
    check(len({n["image"] for n in nodes.values()}) == 1, "the three nodes run the same nats image")
    for name, node in nodes.items():
        others = {(n, nodes[n]["cluster_port"]) for n in nodes if n != name}
        check({(r.hostname, r.port) for r in node["routes"]} == others,
              "%s: --routes names the other two nodes at their cluster port" % name)

    # MinIO publishing into JetStream.
    minio_env = services["minio"].get("environment", {})
    nats_keys = [k for k in minio_env if k.startswith("MINIO_NOTIFY_NATS_")]
    address_keys = [k for k in nats_keys if k.startswith("MINIO_NOTIFY_NATS_ADDRESS_")]
    if not check(len(address_keys) == 1, "MinIO has one nats target configured by MINIO_NOTIFY_NATS_ADDRESS_*"):
        return
    target_id = address_keys[0][len("MINIO_NOTIFY_NATS_ADDRESS_"):]
    unknown = [k for k in nats_keys if not (k.endswith("_" + target_id)
               and k[len("MINIO_NOTIFY_NATS_"):-len("_" + target_id)] in MINIO_NATS_SETTINGS)]
    check(not unknown, "every MINIO_NOTIFY_NATS_* variable is one MinIO reads, for target %s%s"
          % (target_id, ": not " + ", ".join(unknown) if unknown else ""))
    check(minio_env.get("MINIO_NOTIFY_NATS_ENABLE_" + target_id) == "on", "the nats target is enabled")
    check(minio_env.get("MINIO_NOTIFY_NATS_JETSTREAM_" + target_id) == "on", "the nats target publishes with "
          "JetStream (jetstream on: a PubAck per event)")
    check(bool(minio_env.get("MINIO_NOTIFY_NATS_QUEUE_DIR_" + target_id)), "the nats target has a queue_dir")
    host, _, port = str(minio_env.get("MINIO_NOTIFY_NATS_ADDRESS_" + target_id, "")).rpartition(":")
    check(host in nodes and port == str(nodes[host]["port"]), "MinIO's nats address is a NATS node's client port: "
          "%s:%s" % (host, port))
    subject = minio_env.get("MINIO_NOTIFY_NATS_SUBJECT_" + target_id)
    mc_script = one_shot_script(services["mc"])
    check("mc event add" in mc_script and "arn:minio:sqs::%s:nats" % target_id in mc_script,
          "the mc one-shot adds the event notification for the nats target's ARN (arn:minio:sqs::%s:nats)" % target_id)
    check(services["mc"].get("restart") == "on-failure", "the mc one-shot is restarted when it fails")
    check_one_shot(mc_script)
    for name in ("minio", "mc"):
        image = services[name].get("image", "")
        check(re.match(r"^quay\.io/minio/(minio|mc):RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ$", image) is not None,
              "the %s image is pulled from quay.io, pinned to a release: %s" % (name, image))

    # The relays.
    relays = {}
    for name in relay_names:
        service = services[name]
        words = service.get("command", [])
        words = words if isinstance(words, list) else shlex.split(words)
        env = {k: str(v) for k, v in service.get("environment", {}).items()}
        relays[name] = {"words": words, "env": env, "service": service}
        check(service.get("build") == "." and words[:1] == ["serve"],
              "%s: built from the Dockerfile, runs `bucket-relay serve`" % name)
        for word in words:
            if not word.startswith("--"):
                continue
            if word in NEWER_FLAGS and word not in help_text:
                print("SKIP %s: %s (needs a relay with %s)" % (name, word, word), flush=True)
                continue
            check(re.search(r"(^|\s)%s[\s=]" % re.escape(word), help_text) is not None,
                  "%s: `serve %s` exists (serve --help)" % (name, word))
        for variable in env:
            if not variable.startswith("RELAY_"):
                continue
            flag = next((f for f, v in NEWER_FLAGS.items() if v == variable), None)
            if flag and flag not in help_text:
                print("SKIP %s: %s (needs a relay with %s)" % (name, variable, flag), flush=True)
                continue
            check(variable in help_text, "%s: %s is a variable `serve` reads (serve --help)" % (name, variable))
        urls = [urlparse(u) for u in option(words, "--jetstream", env.get("RELAY_JETSTREAM", "")).split(",") if u]
        check(sorted((u.hostname, u.port) for u in urls) == sorted((n, nodes[n]["port"]) for n in nodes),
              "%s: --jetstream names all three NATS nodes at their client port" % name)
        replicas = option(words, "--jetstream-replicas", env.get("RELAY_JETSTREAM_REPLICAS", "1"))
        check(replicas == "3", "%s: --jetstream-replicas 3 (R3 streams on the three nodes)" % name)
        relay_subject = option(words, "--jetstream-subject", env.get("RELAY_JETSTREAM_SUBJECT", "minio.events"))
        check(subject == relay_subject, "%s: reads the subject MinIO publishes on (%s)" % (name, subject))
        rules_dir = env.get("RELAY_RULES", "")
        check(any(v == "./rules:%s:ro" % rules_dir for v in service.get("volumes", [])),
              "%s: the project's rules are mounted read-only at RELAY_RULES" % name)
        check(service.get("restart") in ("on-failure", "always", "unless-stopped"),
              "%s: restarted when it stops (a relay that starts before the cluster elects a leader exits)" % name)
        check(set(nats_names) <= set(service.get("depends_on", [])), "%s: starts after the NATS nodes" % name)
        receiver_url = urlparse(env.get("RECEIVER_URL", ""))
        receiver_cmd = services["receiver"]["command"]
        check(receiver_url.hostname == "receiver"
              and str(receiver_url.port) == receiver_cmd[receiver_cmd.index("--port") + 1],
              "%s: RECEIVER_URL names the receiver service at its --port" % name)
    tokens = {r["env"].get("RELAY_AUTH_TOKEN") for r in relays.values()}
    check(len(tokens) == 1 and None not in tokens, "both relays take webhooks with the same token")
    instances = [r["env"].get("RELAY_INSTANCE") for r in relays.values()]
    check(len(set(instances)) == len(instances) and None not in instances,
          "each relay has its own instance name (RELAY_INSTANCE): %s" % instances)
    host_ports = [p.split(":")[0] for r in relays.values() for p in r["service"].get("ports", [])]
    check(len(host_ports) == len(set(host_ports)), "the relays publish different host ports: %s" % host_ports)
    run_jetstream_topology(binary, services, nodes, relays, help_text, subject, minio_env.get(
        "MINIO_NOTIFY_NATS_QUEUE_DIR_" + target_id))


def run_jetstream_topology(binary, services, nodes, relays, help_text, subject, _queue_dir):
    """The compose file's NATS nodes, relays and receiver as processes on 127.0.0.1: container ports become free
    loopback ports, service names 127.0.0.1, volumes temp dirs; every other argument and variable as written."""
    nats_server = next((p for p in ("/usr/sbin/nats-server", "/usr/bin/nats-server") if os.access(p, os.X_OK)), None)
    if nats_server is None:
        print("SKIP the jetstream topology on loopback (needs nats-server: apt-get install nats-server)", flush=True)
        return
    sys.path.insert(0, str(ROOT / "Tests/faults"))
    sys.path.insert(0, str(ROOT / "Tests/jetstream"))
    sys.dont_write_bytecode = True
    from natsnode import NatsClient, NatsError

    ports = {(n, p): free_port() for n, node in nodes.items() for p in (node["port"], node["cluster_port"],
                                                                         int(node["monitor"] or 8222))}

    def mapped_url(url):
        u = urlparse(url)
        if (u.hostname, u.port) in ports:
            return "%s://127.0.0.1:%d" % (u.scheme, ports[(u.hostname, u.port)])
        return url

    procs = []
    with tempfile.TemporaryDirectory() as work:
        try:
            for name, node in nodes.items():
                words = list(node["words"])
                words[words.index("-p") + 1] = str(ports[(name, node["port"])])
                monitor_flag = "-m" if "-m" in words else "--http_port"
                words[words.index(monitor_flag) + 1] = str(ports[(name, int(node["monitor"]))])
                words[words.index("--sd") + 1] = os.path.join(work, name)
                words[words.index("--cluster") + 1] = "nats://127.0.0.1:%d" % ports[(name, node["cluster_port"])]
                words[words.index("--routes") + 1] = ",".join(
                    mapped_url(r.geturl()) for r in node["routes"])
                procs.append(subprocess.Popen([nats_server, "-a", "127.0.0.1"] + words, stdout=subprocess.DEVNULL,
                                              stderr=open(os.path.join(work, name + ".log"), "w"),
                                              start_new_session=True))

            def healthy(name):
                try:
                    url = "http://127.0.0.1:%d/healthz" % ports[(name, int(nodes[name]["monitor"]))]
                    with urllib.request.urlopen(url, timeout=1) as response:
                        return json.loads(response.read()).get("status") == "ok"
                except (OSError, ValueError):
                    return False
            deadline = time.time() + 40
            while time.time() < deadline and not all(healthy(n) for n in nodes):
                time.sleep(0.2)
            if not check(all(healthy(n) for n in nodes), "the three NATS nodes form a JetStream cluster on loopback "
                         "with the compose file's arguments"):
                return
            receiver_port = free_port()
            log = os.path.join(work, "received.jsonl")
            receiver_cmd = services["receiver"]["command"]
            cmd = [sys.executable, str(ROOT / "examples/receiver/receiver.py")] + receiver_cmd[2:]
            cmd[cmd.index("--host") + 1] = "127.0.0.1"
            cmd[cmd.index("--port") + 1] = str(receiver_port)
            procs.append(subprocess.Popen(cmd + ["--log", log, "--quiet"], stderr=subprocess.DEVNULL,
                                          start_new_session=True))
            relay_ports = {}
            for name, relay in relays.items():
                words = [w for w in relay["words"]]
                i = 0
                while i < len(words):  # drop the flags this binary does not have yet (they were reported SKIP)
                    if words[i] in NEWER_FLAGS and words[i] not in help_text:
                        del words[i:i + 2]
                        continue
                    i += 1
                if "--jetstream" in words:
                    j = words.index("--jetstream") + 1
                    words[j] = ",".join(mapped_url(u) for u in words[j].split(","))
                env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
                env.update(relay["env"])
                relay_ports[name] = free_port()
                env.update({"RELAY_PORT": str(relay_ports[name]), "RELAY_HOST": "127.0.0.1",
                            "RELAY_RULES": str(ROOT / "rules"), "RELAY_DATA_DIR": os.path.join(work, "data-" + name),
                            "RECEIVER_URL": "http://127.0.0.1:%d" % receiver_port})
                if "RELAY_JETSTREAM" in env:
                    env["RELAY_JETSTREAM"] = ",".join(mapped_url(u) for u in env["RELAY_JETSTREAM"].split(","))
                procs.append(subprocess.Popen([binary] + words, env=env, start_new_session=True,
                                              stderr=open(os.path.join(work, name + ".log"), "w")))
            up = all(wait_port(p, 60) for p in relay_ports.values()) and wait_port(receiver_port)
            if not check(up, "the two relays start on the cluster as the compose file configures them (R3 streams)"):
                for name in relays:
                    print("   %s: %s" % (name, open(os.path.join(work, name + ".log")).read()[-1500:]))
                return
            body = (ROOT / "examples/events/minio-put-image.json").read_bytes()
            token = next(iter(relays.values()))["env"].get("RELAY_AUTH_TOKEN")
            second = relay_ports[sorted(relay_ports)[-1]]
            request = urllib.request.Request("http://127.0.0.1:%d/minio-event" % second, data=body, method="POST",
                                             headers={"Content-Type": "application/json",
                                                      "Authorization": "Bearer %s" % token})
            try:
                with urllib.request.urlopen(request, timeout=15) as response:
                    status = response.status
            except urllib.error.HTTPError as error:
                status = error.code
            except OSError as error:
                status = str(error)
            check(status == 200, "a webhook to the second relay is answered 200 (after JetStream's PubAck): %s"
                  % status)
            wanted = [("/audit", "cat.jpg"), ("/thumbnailer", "cat.jpg")]
            published = "--jetstream-subject" in help_text
            if published:
                # What MinIO's notify_nats target does with jetstream on: a JetStream publish of the webhook body.
                variant = body.replace(b"cat.jpg", b"dog.jpg").replace(b"188A0D8A74975E28", b"188A0D8A74975E29")
                client = NatsClient(["nats://127.0.0.1:%d" % ports[(n, nodes[n]["port"])] for n in nodes], 10)
                ack = None
                deadline = time.time() + 30
                while time.time() < deadline and ack is None:
                    try:
                        ack = client.publish_js(subject, variant)
                    except (OSError, NatsError, ValueError):
                        time.sleep(0.5)
                client.close()
                check(ack is not None, "an event published on %s as MinIO does gets a PubAck (%s)" % (subject, ack))
                wanted += [("/audit", "dog.jpg"), ("/thumbnailer", "dog.jpg")]
            else:
                print("SKIP MinIO's notify_nats publish into %s (needs a relay with --jetstream-subject)" % subject,
                      flush=True)
            received = []
            deadline = time.time() + 30
            while time.time() < deadline and len(received) < len(wanted):
                if os.path.exists(log):
                    with open(log, encoding="utf-8") as f:
                        received = [json.loads(line) for line in f if line.strip()]
                time.sleep(0.1)
            got = sorted((r["path"], "dog.jpg" if "dog.jpg" in r["body"] else "cat.jpg") for r in received)
            check(got == sorted(wanted), "the shipped rules deliver through the cluster to the example receiver, once "
                  "each: %s" % got)
        finally:
            for p in reversed(procs):
                if p.poll() is None:
                    p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=5)


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
    check_jetstream_compose(args.binary)
    print("compose: %d passed, %d failed" % (len(passes), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
