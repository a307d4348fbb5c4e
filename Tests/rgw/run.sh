#!/usr/bin/env bash
# End-to-end test against a real Ceph RGW 16.2 (Debian bookworm) on 127.0.0.1: RGW's bucket notifications go to
# bucket-relay, which routes them to three example receivers. See README.md beside this file.
#
#     Tests/rgw/run.sh BINARY          # e.g. Tests/rgw/run.sh .build/debug/bucket-relay
#
# Installs ceph-mon, ceph-osd, radosgw, ceph-common (and python3-boto3 when no python3 has boto3) if missing, then
# runs rgw_e2e.py, which builds a fresh cluster in a temp dir, runs the checks, prints one line per check and
# `rgw: N passed, M failed`. Exit 0 only when every check passed. Everything started is stopped by PID on exit,
# even on failure or timeout, and the temp dir is removed (RGW_E2E_KEEP=1 keeps it for debugging).
#
# Environment: RGW_E2E_TIMEOUT (seconds for cluster + test, default 300; package installation is bounded apart).
set -uo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 BINARY" >&2
    exit 2
fi
binary=$1
here=$(cd "$(dirname "$0")" && pwd)
case "$binary" in /*) ;; *) binary="$PWD/$binary" ;; esac
if [ ! -x "$binary" ]; then
    echo "rgw: $binary is not an executable" >&2
    echo "rgw: 0 passed, 1 failed"
    exit 1
fi
timeout_s=${RGW_E2E_TIMEOUT:-300}
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive

fail_setup() {
    echo "FAIL setup: $*"
    echo "rgw: 0 passed, 1 failed"
    exit 1
}

# -- packages (bounded: the downloads may be cut short, the unpacking from the local cache may not) -------------
apt_updated=""
apt_install() {
    if [ -z "$apt_updated" ]; then
        timeout 180 $sudo apt-get update -qq || fail_setup "apt-get update failed"
        apt_updated=1
    fi
    timeout 300 $sudo apt-get install -y -qq --download-only --no-install-recommends "$@" >/dev/null ||
        fail_setup "downloading $* failed"
    $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null || fail_setup "installing $* failed"
}

started=$(date +%s.%N)
missing=()
for p in ceph-mon ceph-osd radosgw ceph-common; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
python=""
for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import boto3' >/dev/null 2>&1; then
        python=$(command -v "$candidate")
        break
    fi
done
if [ -z "$python" ]; then
    missing+=(python3-boto3)
    python=/usr/bin/python3
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "     installing: ${missing[*]}"
    apt_install "${missing[@]}"
fi
"$python" -c 'import boto3' 2>/dev/null || fail_setup "$python cannot import boto3"
setup_s=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

# -- run, then stop whatever is left by PID and remove the temp dir -------------------------------------------------
work=$(mktemp -d /tmp/rgw-e2e.XXXXXX) || fail_setup "mktemp failed"
pids="$work/pids"
: >"$pids"
cleanup() {
    local pid
    # rgw_e2e.py stops its children itself; this is the net for a test killed before it could.
    while read -r pid; do
        [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
    done <"$pids"
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        local alive=""
        while read -r pid; do
            [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && alive=1
        done <"$pids"
        [ -z "$alive" ] && break
        sleep 0.2
    done
    while read -r pid; do
        [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    done <"$pids"
    if [ -n "${RGW_E2E_KEEP:-}" ]; then
        echo "     kept $work" >&2
    else
        rm -rf "$work"
    fi
}
on_signal() {
    # Forward to the test, which stops its children and prints its summary; cleanup then catches the rest.
    [ -n "${child:-}" ] && kill -TERM "$child" 2>/dev/null && wait "$child" 2>/dev/null
    exit "$1"
}
child=""
trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'on_signal 129' HUP

# The test enforces its own deadline (SIGALRM) and prints its summary last; `timeout` is the net for a test that
# hangs anyway (then cleanup above stops what it started).
timeout -k 5 $((timeout_s + 30)) "$python" -B "$here/rgw_e2e.py" --binary "$binary" --work-dir "$work" \
    --pid-file "$pids" --timeout "$timeout_s" --setup-seconds "$setup_s" </dev/null &
child=$!
wait "$child"
status=$?
child=""
if [ "$status" -eq 137 ]; then
    echo "FAIL the test did not end within $((timeout_s + 30)) s and was killed"
    echo "rgw: 0 passed, 1 failed"
fi
exit "$status"
