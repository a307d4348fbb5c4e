#!/usr/bin/env python3
"""End-to-end: a real Ceph RGW 16.2 (Debian) posts bucket notifications to bucket-relay, which routes them to three
example receivers. Started by run.sh, which installs the packages, picks a Python with boto3 and cleans up after us.

    python3 Tests/rgw/rgw_e2e.py --binary BIN --work-dir DIR --pid-file DIR/pids [--timeout 300]

Prints one line per check and `rgw: N passed, M failed`; exits 1 on any failure.

Choices (see README.md beside this file): a non-persistent topic, so that RGW posts each event to the relay inside
the S3 request (the relay has spooled it when boto3 returns) with no 6-18 s first-delivery lag and no retry storm; a
notification without an RGW-side filter, so that every routing decision is the relay's; rules.json routes by event
family, bucket, prefix, suffix and `not` on the key exactly as RGW sends it (raw, never unescaped).
"""
import argparse
import json
import os
import random
import signal
import socket
import sys
import time
import traceback
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RECEIVER = os.path.join(ROOT, "examples", "receiver", "receiver.py")
BUCKET = "relay-e2e"
TOPIC = "relay-e2e"
OPAQUE = "relay-e2e-opaque"
RECEIVERS = ("created", "removed", "tricky")

# The tricky keys (RGW sends them raw; the relay must route on them as they are).
K_SPACE = "in/hello world.txt"
K_PLUS = "in/a+b.txt"
K_PERCENT = "in/a%20c.txt"
K_UMLAUT = "in/über ü.txt"
K_OUT_TXT = "out/plain.txt"
K_OUT_BIN = "out/data.bin"
K_COPY = "in/copy of a+b.txt"
K_MULTIPART = "in/big ü+%20.bin"

passed = []
failed = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    (passed if ok else failed).append(what)
    return ok


class Deadline(Exception):
    pass


def on_alarm(signum, frame):
    raise Deadline("time limit reached")


def on_term(signum, frame):
    raise SystemExit(128 + signum)


def free_port_block(size):
    """A base port such that base..base+size-1 are free on 127.0.0.1 now (below the ephemeral range)."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 32000 - size)
        sockets = []
        try:
            for port in range(base, base + size):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise cluster.SetupError("no block of %d free ports on 127.0.0.1" % size)


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read()


def read_log(path):
    """The requests a receiver logged so far (a half-written last line is left for the next read)."""
    entries = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.endswith("\n"):
                    entries.append(json.loads(line))
    except FileNotFoundError:
        pass
    return entries


def metric(text, name, labels=""):
    """The value of one Prometheus sample (`name{labels}`) in `text`, or None."""
    wanted = name + ("{%s}" % labels if labels else "")
    for line in text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.split()[-1])
    return None


def describe(delivery):
    return "%s %r (rule %s)" % delivery


def parse_delivery(receiver, entry):
    """(eventName, key, rule) of one request a receiver logged, and a list of format problems found in it."""
    problems = []
    headers = {k.lower(): v for k, v in entry["headers"].items()}
    rule = headers.get("x-relay-rule")
    if not headers.get("webhook-id"):
        problems.append("no webhook-id header")
    if entry["path"] != "/" + receiver:
        problems.append("path %r, expected %r" % (entry["path"], "/" + receiver))
    try:
        body = json.loads(entry["body"])
    except ValueError:
        return (None, None, rule), ["body is not JSON: %r" % entry["body"][:200]]
    if receiver == "tricky":  # CloudEvents 1.0 structured
        record = body.get("data") or {}
        name = "s3:" + body.get("type", "").removeprefix("com.amazonaws.s3.")
        key = body.get("subject")
        if body.get("specversion") != "1.0":
            problems.append("specversion %r" % body.get("specversion"))
        if record.get("eventName") and "s3:" + record["eventName"].removeprefix("s3:") != name:
            problems.append("type %r but data.eventName %r" % (body.get("type"), record.get("eventName")))
    else:
        records = body.get("Records") or [{}]
        if len(records) != 1:
            problems.append("%d records in one delivery" % len(records))
        record = records[0]
        name = record.get("eventName", "")
        name = name if name.startswith("s3:") else "s3:" + name
        key = (record.get("s3") or {}).get("object", {}).get("key")
        if receiver == "created":  # MinIO envelope
            if body.get("EventName") != name:
                problems.append("envelope EventName %r, record %r" % (body.get("EventName"), name))
            if body.get("Key") != BUCKET + "/" + str(key):
                problems.append("envelope Key %r for record key %r" % (body.get("Key"), key))
    raw_key = (record.get("s3") or {}).get("object", {}).get("key")
    if raw_key != key:
        problems.append("forwarded record key %r differs from %r" % (raw_key, key))
    if record.get("eventSource") != "ceph:s3":
        problems.append("eventSource %r" % record.get("eventSource"))
    if record.get("opaqueData") != OPAQUE:
        problems.append("opaqueData %r (the record was not forwarded as RGW sent it)" % record.get("opaqueData"))
    if (record.get("s3") or {}).get("bucket", {}).get("name") != BUCKET:
        problems.append("bucket %r" % (record.get("s3") or {}).get("bucket", {}).get("name"))
    return (name, key, rule), problems


class Run:
    def __init__(self, args):
        self.args = args
        self.work = args.work_dir
        self.procs = cluster.Processes(args.pid_file, os.path.join(self.work, "out"))
        self.procs.record(os.getpid())  # so that run.sh can stop this process too if it hangs
        self.relay = None
        self.started = time.monotonic()
        self.timings = []

    def mark(self, what):
        self.timings.append((what, time.monotonic() - self.started))

    # -- setup -------------------------------------------------------------------------------------------------

    def start_everything(self):
        os.makedirs(os.path.join(self.work, "out"), exist_ok=True)
        base = free_port_block(40)
        self.ports = {
            "mon_v2": base, "mon_v1": base + 1, "rgw": base + 2, "relay": base + 3,
            "created": base + 4, "removed": base + 5, "tricky": base + 6,
            "bind_min": base + 10, "bind_max": base + 39,
        }
        self.ceph = cluster.Cluster(os.path.join(self.work, "ceph"), self.ports, self.procs)
        os.makedirs(self.ceph.dir, exist_ok=True)

        # Receivers and relay first: they start while the cluster comes up.
        env = dict(os.environ)
        for name in RECEIVERS:
            log = os.path.join(self.work, "receiver-%s.jsonl" % name)
            self.procs.start("receiver-" + name, [sys.executable, RECEIVER, "--host", "127.0.0.1", "--port",
                                                  str(self.ports[name]), "--log", log, "--quiet"])
            env["RGW_E2E_%s_URL" % name.upper()] = "http://127.0.0.1:%d" % self.ports[name]
        self.data_dir = os.path.join(self.work, "relay-data")
        self.relay_url = "http://127.0.0.1:%d" % self.ports["relay"]
        self.relay = self.procs.start("relay", [
            self.args.binary, "serve", "--host", "127.0.0.1", "--port", str(self.ports["relay"]),
            "--rules", os.path.join(HERE, "rules.json"), "--data-dir", self.data_dir,
        ], env=env)

        self.ceph.start(timeout=120)
        self.mark("cluster up")
        check(True, "Ceph cluster up: mon, memstore OSD, radosgw (civetweb) on 127.0.0.1:%d" % self.ports["rgw"])

        def relay_ready():
            if self.relay.poll() is not None:
                raise cluster.SetupError("relay exited with %s (see out/relay.stdout.log)" % self.relay.returncode)
            return http_get(self.relay_url + "/readyz")[0] == 200

        cluster.wait_until("relay /readyz", relay_ready, 30)
        for name in RECEIVERS:
            cluster.wait_until("receiver " + name, lambda n=name: socket.create_connection(
                ("127.0.0.1", self.ports[n]), timeout=1).close() or True, 15)
        check(True, "relay ready on %s, receivers on ports %s" % (
            self.relay_url, ", ".join(str(self.ports[n]) for n in RECEIVERS)))

    def clients(self):
        import boto3
        import botocore
        from botocore.config import Config

        options = dict(region_name="default", signature_version="s3v4", s3={"addressing_style": "path"},
                       connect_timeout=5, read_timeout=30, retries={"total_max_attempts": 1, "mode": "standard"})
        try:  # botocore >= 1.36 adds CRC checksums (aws-chunked uploads) that RGW 16.2 does not understand
            config = Config(request_checksum_calculation="when_required",
                            response_checksum_validation="when_required", **options)
        except TypeError:
            config = Config(**options)
        common = dict(endpoint_url=self.ceph.rgw_url, aws_access_key_id=self.ceph.access_key,
                      aws_secret_access_key=self.ceph.secret_key, config=config)
        self.s3 = boto3.client("s3", **common)
        self.sns = boto3.client("sns", **common)
        print("     (boto3 %s, botocore %s, %s)" % (boto3.__version__, botocore.__version__, sys.executable))

    def delete_notifications(self):
        """Signed `DELETE /bucket?notification`: RGW 16.2 adds to a bucket's notifications on every put (gotcha 2)."""
        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        request = AWSRequest(method="DELETE", url="%s/%s?notification" % (self.ceph.rgw_url, BUCKET), data=b"")
        S3SigV4Auth(Credentials(self.ceph.access_key, self.ceph.secret_key), "s3", "default").add_auth(request)
        prepared = urllib.request.Request(request.url, method="DELETE", headers=dict(request.headers.items()))
        try:
            with urllib.request.urlopen(prepared, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def configure(self):
        self.s3.create_bucket(Bucket=BUCKET)
        topic = self.sns.create_topic(Name=TOPIC, Attributes={
            "push-endpoint": self.relay_url + "/minio-event",
            "OpaqueData": OPAQUE,
        })
        arn = topic["TopicArn"]
        check(arn == "arn:aws:sns:default::" + TOPIC, "SNS topic created, non-persistent, push-endpoint %s/minio-event"
              " (%s)" % (self.relay_url, arn))
        status = self.delete_notifications()
        check(200 <= status < 300, "DELETE /%s?notification before the put answers 2xx (%d)" % (BUCKET, status))
        self.s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={
            "TopicConfigurations": [{
                "Id": "relay", "TopicArn": arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
            }],
        })
        configs = self.s3.get_bucket_notification_configuration(Bucket=BUCKET).get("TopicConfigurations", [])
        check(len(configs) == 1 and configs[0].get("TopicArn") == arn,
              "bucket has exactly one notification, to the relay's topic (%d)" % len(configs))

    # -- the scenario ------------------------------------------------------------------------------------------

    def scenario(self):
        """Runs the S3 operations; returns the deliveries each receiver must get, as (eventName, key, rule)."""
        expect = {name: [] for name in RECEIVERS}
        self.records_sent = 0  # one per created or removed object: RGW posts each on its own

        def want(receiver, event, key, rule):
            expect[receiver].append(("s3:ObjectCreated:" + event if ":" not in event else event, key, rule))

        body = b"same bytes for every small object\n"  # same eTag everywhere: RGW's eventId is time + eTag
        for key in (K_SPACE, K_PLUS, K_PERCENT, K_UMLAUT, K_OUT_TXT, K_OUT_BIN):
            self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
            self.records_sent += 1
        want("created", "Put", K_SPACE, "created-in")
        want("created", "Put", K_PLUS, "created-in")
        want("tricky", "Put", K_PLUS, "literal-plus")
        want("created", "Put", K_PERCENT, "created-in")
        want("tricky", "Put", K_PERCENT, "literal-percent")
        want("created", "Put", K_UMLAUT, "created-in")
        want("tricky", "Put", K_UMLAUT, "non-ascii-created")
        # K_OUT_TXT: excluded by out-not-txt's `not`, in no other rule: delivered nowhere.
        want("created", "Put", K_OUT_BIN, "out-not-txt")

        # COPY: "literal-plus" and "copies" both send it to tricky, which gets it once (first rule in load order).
        self.s3.copy_object(Bucket=BUCKET, Key=K_COPY, CopySource={"Bucket": BUCKET, "Key": K_PLUS})
        self.records_sent += 1
        want("created", "Copy", K_COPY, "created-in")
        want("tricky", "Copy", K_COPY, "literal-plus")

        upload = self.s3.create_multipart_upload(Bucket=BUCKET, Key=K_MULTIPART)["UploadId"]
        parts = []
        for number, part in ((1, b"a" * 8192), (2, b"b" * 100)):
            etag = self.s3.upload_part(Bucket=BUCKET, Key=K_MULTIPART, UploadId=upload, PartNumber=number,
                                       Body=part)["ETag"]
            parts.append({"PartNumber": number, "ETag": etag})
        self.s3.complete_multipart_upload(Bucket=BUCKET, Key=K_MULTIPART, UploadId=upload,
                                          MultipartUpload={"Parts": parts})
        self.records_sent += 1  # one CompleteMultipartUpload; RGW 16.2 sends nothing for initiate or the parts
        want("created", "CompleteMultipartUpload", K_MULTIPART, "created-in")
        want("tricky", "CompleteMultipartUpload", K_MULTIPART, "multipart")
        listed = sorted(o["Key"] for o in self.s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))
        check(listed == sorted([K_SPACE, K_PLUS, K_PERCENT, K_UMLAUT, K_OUT_TXT, K_OUT_BIN, K_COPY, K_MULTIPART]),
              "RGW holds the 8 objects under their exact names")

        self.s3.delete_object(Bucket=BUCKET, Key=K_SPACE)
        self.records_sent += 1
        want("removed", "s3:ObjectRemoved:Delete", K_SPACE, "removed-any")

        batch = [K_PLUS, K_PERCENT, K_UMLAUT, K_OUT_TXT, K_OUT_BIN, K_COPY, K_MULTIPART]
        result = self.s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in batch]})
        deleted = sorted(d["Key"] for d in result.get("Deleted", []))
        check(deleted == sorted(batch) and not result.get("Errors"),
              "DeleteObjects removed all %d objects (%d deleted, errors %s)" % (
                  len(batch), len(deleted), result.get("Errors")))
        self.records_sent += len(batch)
        for key in batch:
            want("removed", "s3:ObjectRemoved:Delete", key, "removed-any")
        want("tricky", "s3:ObjectRemoved:Delete", K_PLUS, "literal-plus")
        want("tricky", "s3:ObjectRemoved:Delete", K_PERCENT, "literal-percent")
        want("tricky", "s3:ObjectRemoved:Delete", K_COPY, "literal-plus")
        rgw_alive = self.ceph.rgw.poll() is None
        check(rgw_alive, "radosgw still running after DeleteObjects on a bucket with a notification")
        return expect

    # -- checking ----------------------------------------------------------------------------------------------

    def collect(self, expect, timeout=20):
        """Waits until every receiver has at least what it expects and the relay's spool is empty; then a short
        quiet period, so that a stray extra delivery is seen too."""
        total = sum(len(v) for v in expect.values())
        logs = {n: os.path.join(self.work, "receiver-%s.jsonl" % n) for n in RECEIVERS}

        def settled():
            got = sum(len(read_log(logs[n])) for n in RECEIVERS)
            pending = metric(http_get(self.relay_url + "/metrics")[1].decode(), "relay_spool_pending_deliveries")
            return got >= total and pending == 0

        try:
            cluster.wait_until("deliveries", settled, timeout, interval=0.1)
        except cluster.SetupError:
            pass  # the comparison below says what is missing
        time.sleep(0.5)
        return {n: read_log(logs[n]) for n in RECEIVERS}

    def compare(self, expect, received):
        for receiver in RECEIVERS:
            actual = []
            for entry in received[receiver]:
                delivery, problems = parse_delivery(receiver, entry)
                actual.append(delivery)
                if problems:
                    check(False, "%s got %s: %s" % (receiver, describe(delivery), "; ".join(problems)))
            remaining = list(actual)
            for delivery in expect[receiver]:
                found = delivery in remaining
                if found:
                    remaining.remove(delivery)
                else:
                    near = [d for d in actual if d[1] == delivery[1] and d[0] == delivery[0]]
                    if near:
                        hint = " (got it via rule %s)" % ", ".join(str(d[2]) for d in near)
                    else:
                        hint = ""
                check(found, "%-7s <- %s%s" % (receiver, describe(delivery), "" if found else " missing" + hint))
            check(not remaining, "%-7s got nothing else%s" % (
                receiver, "" if not remaining else ": " + "; ".join(describe(d) for d in remaining)))

    def check_relay_state(self):
        text = http_get(self.relay_url + "/metrics")[1].decode()
        routed = metric(text, "relay_records_total", 'outcome="routed"') or 0
        unmatched = metric(text, "relay_records_total", 'outcome="unmatched"') or 0
        duplicate = metric(text, "relay_records_total", 'outcome="duplicate"') or 0
        undecodable = metric(text, "relay_records_total", 'outcome="undecodable"') or 0
        sent, unmatched_keys = self.records_sent, [K_OUT_TXT]  # K_OUT_TXT's Put matches no rule
        want_routed = sent - len(unmatched_keys)
        check(routed == want_routed and unmatched == len(unmatched_keys) and duplicate == 0 and undecodable == 0,
              "relay counted the %d records RGW sent: %d routed, %d unmatched (%s), 0 duplicate, 0 undecodable "
              "(got %d, %d, %d, %d)" % (sent, want_routed, len(unmatched_keys), ", ".join(unmatched_keys), routed,
                                        unmatched, duplicate, undecodable))
        dead = os.path.join(self.data_dir, "dead-letter.jsonl")
        lines = []
        if os.path.exists(dead):
            with open(dead, encoding="utf-8") as f:
                lines = [line for line in f if line.strip()]
        check(not lines, "dead-letter file empty%s" % ("" if not lines else ": " + " | ".join(
            l.strip()[:300] for l in lines[:3])))
        rgw_log = os.path.join(self.ceph.out, "client.rgw.lab.log")
        errors = []
        with open(rgw_log, encoding="utf-8", errors="replace") as f:
            errors = [line.strip() for line in f if "push to endpoint" in line or "ERROR: failed to" in line]
        check(not errors, "radosgw logged no failed push to the relay%s" % (
            "" if not errors else ": " + " | ".join(e[-200:] for e in errors[:3])))

    def stop_relay(self):
        status = self.procs.stop("relay", signal.SIGTERM, grace=10)
        check(status == 0, "relay exits 0 on SIGTERM (%s)" % status)

    # -- main --------------------------------------------------------------------------------------------------

    def dump_logs(self):
        """Tails of the daemons' logs, for a failed CI run."""
        out = os.path.join(self.work, "out")
        names = ["relay.stdout.log"]
        if hasattr(self, "ceph"):
            names += [os.path.join("..", "ceph", "out", n) for n in ("client.rgw.lab.log", "osd.0.log", "mon.a.log")]
        for name in names:
            path = os.path.normpath(os.path.join(out, name))
            if not os.path.exists(path):
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                tail = f.readlines()[-25:]
            print("---- last lines of %s" % os.path.basename(path))
            sys.stdout.write("".join("  " + line[:400] for line in tail))
            if tail and not tail[-1].endswith("\n"):
                print()

    def main(self):
        try:
            self.start_everything()
            self.clients()
            self.configure()
            self.mark("configured")
            expect = self.scenario()
            self.mark("S3 operations")
            received = self.collect(expect)
            self.mark("deliveries")
            self.compare(expect, received)
            self.check_relay_state()
            self.stop_relay()
        except cluster.SetupError as error:
            check(False, "setup: %s" % error)
        except Deadline:
            check(False, "time limit of %d s reached (everything is stopped)" % self.args.timeout)
        except SystemExit:
            check(False, "stopped by a signal")
            raise
        except Exception as error:  # noqa: BLE001 - any error is one failed check, with its trace
            traceback.print_exc(file=sys.stdout)
            check(False, "unexpected error: %s: %s" % (type(error).__name__, error))
        finally:
            signal.alarm(0)
            if failed:
                try:
                    self.dump_logs()
                except Exception:  # noqa: BLE001
                    pass
            self.procs.stop_all()
            self.mark("stopped")
            packages = "" if self.args.setup_seconds is None else "packages %.1f s; " % self.args.setup_seconds
            print("     timings: %sthen, from the start of the test: %s" % (
                packages, ", ".join("%s %.1f s" % t for t in self.timings)))
            print("rgw: %d passed, %d failed" % (len(passed), len(failed)), flush=True)
        return 1 if failed else 0


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True, help="the bucket-relay executable")
    parser.add_argument("--work-dir", required=True, help="an empty directory for everything this run writes")
    parser.add_argument("--pid-file", required=True, help="every PID started is appended here")
    parser.add_argument("--timeout", type=int, default=300, help="seconds before the run fails (default 300)")
    parser.add_argument("--setup-seconds", type=float, help="time run.sh spent on packages, for the timings line")
    return parser.parse_args()


if __name__ == "__main__":
    args = parse_args()
    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    signal.alarm(args.timeout)
    try:
        code = Run(args).main()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    sys.exit(code)
