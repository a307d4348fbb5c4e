"""A throw-away Ceph cluster on 127.0.0.1: one monitor, one memstore OSD, one radosgw (civetweb), no mgr.

Debian bookworm's Ceph 16.2.15 (packages ceph-mon, ceph-osd, radosgw, ceph-common). Everything lives under one
work directory; every daemon runs in the foreground (`-f`) as a child of this process, its PID written to the
shared PID file so that run.sh can stop it even if this process dies. See shared/REAL-S3.md for the facts.
"""
import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid


class SetupError(Exception):
    """A step that could not complete: the message says which and why."""


class Processes:
    """Children started here; each PID is appended to `pid_file` as soon as it exists."""

    def __init__(self, pid_file, log_dir):
        self.pid_file = pid_file
        self.log_dir = log_dir
        self.children = []  # (name, Popen), in start order

    def start(self, name, argv, env=None):
        log = open(os.path.join(self.log_dir, name + ".stdout.log"), "ab")
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
        finally:
            log.close()
        self.record(proc.pid)
        self.children.append((name, proc))
        return proc

    def record(self, pid):
        with open(self.pid_file, "a") as f:
            f.write("%d\n" % pid)

    def stop(self, name, sig=signal.SIGTERM, grace=5.0):
        """Sends `sig` to one child by PID, waits up to `grace` s, then SIGKILL. Returns its exit status."""
        for child_name, proc in self.children:
            if child_name == name and proc.poll() is None:
                proc.send_signal(sig)
                try:
                    return proc.wait(grace)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    return proc.wait()
            if child_name == name:
                return proc.returncode
        return None

    def stop_all(self, grace=3.0):
        """Stops every child still running, one at a time, the last started first (radosgw before the OSD before
        the monitor, which each needs while it shuts down): SIGTERM, then SIGKILL after `grace` s."""
        for _, proc in reversed(self.children):
            if proc.poll() is not None:
                continue
            try:
                proc.terminate()
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            except ProcessLookupError:
                pass


def wait_until(what, predicate, timeout, interval=0.2):
    """Polls `predicate` until it returns a true value (returned) or `timeout` s pass (SetupError)."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except SetupError:
            raise
        except Exception as error:  # noqa: BLE001 - any failure of a probe means "not yet"
            last_error = error
        if time.monotonic() >= deadline:
            raise SetupError("%s: not ready after %.0f s%s" % (
                what, timeout, "" if last_error is None else " (last error: %s)" % last_error))
        time.sleep(interval)


class Cluster:
    """Builds and runs the cluster. `ports` is a dict with mon_v2, mon_v1, rgw, bind_min, bind_max."""

    def __init__(self, work_dir, ports, processes):
        self.dir = work_dir
        self.ports = ports
        self.procs = processes
        self.conf = os.path.join(work_dir, "ceph.conf")
        self.out = os.path.join(work_dir, "out")
        self.env = dict(os.environ, CEPH_CONF=self.conf)
        self.rgw_url = "http://127.0.0.1:%d" % ports["rgw"]
        self.access_key = "RELAYE2EACCESSKEY000"
        self.secret_key = "relay-e2e-secret-key-0000000000000000000"

    def run(self, *argv, timeout=60):
        """Runs one Ceph tool to completion (its PID recorded like a daemon's); returns its stdout, raises SetupError
        on failure or after `timeout` s."""
        proc = subprocess.Popen(argv, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=self.dir)
        self.procs.record(proc.pid)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise SetupError("%s: timed out after %d s" % (" ".join(argv), timeout)) from None
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        if proc.returncode != 0:
            raise SetupError("%s: exit %d: %s" % (" ".join(argv), proc.returncode,
                                                  (stderr or stdout).strip()[-800:]))
        return stdout

    def ceph(self, *argv, timeout=30):
        return self.run("ceph", "--connect-timeout", "15", *argv, timeout=timeout)

    def write_conf(self, fsid):
        d, p = self.dir, self.ports
        mon_addr = "[v2:127.0.0.1:%d,v1:127.0.0.1:%d]" % (p["mon_v2"], p["mon_v1"])
        text = """[global]
fsid = {fsid}
mon host = {mon_addr}
public addr = 127.0.0.1
cluster addr = 127.0.0.1
public network = 127.0.0.0/8
ms bind port min = {bind_min}
ms bind port max = {bind_max}
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = {d}/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 1
paxos propose interval = 0.05
paxos min wait = 0.01
mon data = {d}/dev/mon.$id
osd data = {d}/dev/osd$id
log file = {d}/out/$name.log
admin socket = {d}/out/$name.asok
pid file = {d}/out/$name.pid
run dir = {d}/out
crash dir = {d}/out/crash

[osd]
osd objectstore = memstore
memstore device bytes = 1073741824
osd class load list = *
keyring = {d}/dev/osd$id/keyring

[client.rgw.lab]
rgw frontends = civetweb port=127.0.0.1:{rgw}
rgw data = {d}/dev/rgw
keyring = {d}/dev/rgw/keyring
rgw multipart min part size = 4096
""".format(fsid=fsid, mon_addr=mon_addr, d=d, bind_min=p["bind_min"], bind_max=p["bind_max"], rgw=p["rgw"])
        with open(self.conf, "w") as f:
            f.write(text)

    def start(self, timeout=120):
        """Builds the cluster and returns once radosgw answers HTTP and the S3 user exists."""
        deadline = time.monotonic() + timeout

        def left():
            return max(1.0, deadline - time.monotonic())

        for sub in ("out", "out/crash", "dev/mon.a", "dev/osd0", "dev/rgw"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        fsid = str(uuid.uuid4())
        self.write_conf(fsid)
        keyring = os.path.join(self.dir, "keyring")
        self.run("ceph-authtool", "--create-keyring", "--gen-key", "--name=mon.", keyring, "--cap", "mon", "allow *")
        self.run("ceph-authtool", "--gen-key", "--name=client.admin", "--cap", "mon", "allow *", "--cap", "osd",
                 "allow *", "--cap", "mds", "allow *", "--cap", "mgr", "allow *", keyring)
        monmap = os.path.join(self.dir, "monmap")
        self.run("monmaptool", "--create", "--clobber", "--fsid", fsid, "--addv", "a",
                 "[v2:127.0.0.1:%d,v1:127.0.0.1:%d]" % (self.ports["mon_v2"], self.ports["mon_v1"]), monmap)
        self.run("ceph-mon", "--mkfs", "-i", "a", "--monmap", monmap, "--keyring", keyring)
        self.procs.start("ceph-mon", ["ceph-mon", "-f", "-i", "a"], env=self.env)

        osd_uuid = str(uuid.uuid4())
        secret = self.run("ceph-authtool", "--gen-print-key").strip()
        new_json = os.path.join(self.dir, "osd-new.json")
        with open(new_json, "w") as f:
            json.dump({"cephx_secret": secret}, f)
        osd_id = self.ceph("osd", "new", osd_uuid, "-i", new_json, timeout=left()).strip()
        if osd_id != "0":
            raise SetupError("ceph osd new: expected id 0, got %r" % osd_id)
        with open(os.path.join(self.dir, "dev/osd0/keyring"), "w") as f:
            f.write("[osd.0]\n\tkey = %s\n" % secret)
        self.run("ceph-osd", "-i", "0", "--mkfs", "--key", secret, "--osd-uuid", osd_uuid, timeout=left())
        osd = self.procs.start("ceph-osd", ["ceph-osd", "-f", "-i", "0"], env=self.env)

        def osd_up():
            if osd.poll() is not None:
                raise SetupError("ceph-osd exited with %s (see out/osd.0.log)" % osd.returncode)
            dump = json.loads(self.ceph("osd", "dump", "--format=json", timeout=20))
            return any(o.get("osd") == 0 and o.get("up") == 1 for o in dump.get("osds", []))

        self.wait("osd.0 up", osd_up, left())

        self.ceph("auth", "get-or-create", "client.rgw.lab", "mon", "allow rw", "osd", "allow rwx", "mgr",
                  "allow rw", "-o", os.path.join(self.dir, "dev/rgw/keyring"), timeout=left())
        rgw = self.procs.start("radosgw", ["radosgw", "-f", "-n", "client.rgw.lab"], env=self.env)

        def rgw_answers():
            if rgw.poll() is not None:
                raise SetupError("radosgw exited with %s (see out/client.rgw.lab.log)" % rgw.returncode)
            with urllib.request.urlopen(self.rgw_url + "/", timeout=5) as response:
                return response.status == 200

        self.wait("radosgw HTTP", rgw_answers, left())
        self.run("radosgw-admin", "user", "create", "--uid=lab", "--display-name=Relay E2E", "--access-key",
                 self.access_key, "--secret-key", self.secret_key, timeout=left())
        self.rgw = rgw

    def wait(self, what, predicate, timeout):
        try:
            return wait_until(what, predicate, timeout)
        except SetupError:
            raise
        except Exception as error:  # noqa: BLE001
            raise SetupError("%s: %s" % (what, error)) from None
