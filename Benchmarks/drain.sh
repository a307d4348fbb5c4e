#!/usr/bin/env bash
# Delivery alone: how fast the relay drains a backlog, one record per request against batches, in one run.
#
#   Benchmarks/drain.sh [rounds] [fill-seconds]     (RELAY_BIN=path: measure that binary, build nothing;
#                                                    BASE_BIN=path: a second binary measured in the same rounds)
#
# Per round and per target configuration (`one`: format records, maxInFlight 16, the defaults otherwise; `batch`:
# format records, batch of up to 100 records, maxWait 200ms, maxInFlight 16): nginx `return 204` is started and
# stopped (SIGSTOP of its master and worker), wrk posts distinct MinIO events for FILL seconds (they are spooled, none
# can be delivered), nginx continues (SIGCONT), and the time until relay_spool_pending_deliveries is 0 gives records
# delivered per second. The relay's CPU time over the drain (utime + stime from /proc) is printed too: a drain that
# uses less than the cores there are waits on something. Configurations alternate within a round, so a ratio is
# taken from one round on a noisy machine. Every server runs on 127.0.0.1 and is stopped by PID at the end. Needs
# nginx, wrk, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
FILL=${2:-5}
for tool in nginx wrk curl; do
  command -v $tool >/dev/null || { echo "needs $tool (apt-get install nginx-light wrk curl)"; exit 2; }
done
if [ -n "${RELAY_BIN:-}" ]; then
  BIN=$RELAY_BIN
else
  swift build -c release --product bucket-relay >/dev/null
  BIN=$(swift build -c release --show-bin-path)/bucket-relay
fi
WORK=$(mktemp -d /tmp/relay-drain.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
. Benchmarks/common.sh
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$0 ~ "^" m {s += $2} END {printf "%d", s}'; }
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

start_nginx off
NGINX_ALL="$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')"
write_post_lua

drain() { # label binary target-json
  local label=$1 bin=$2 target=$3
  local port; port=$(free_port)
  rm -rf "$WORK/rules" "$WORK/data"; mkdir -p "$WORK/rules"
  echo "{ \"targets\": { \"t\": { \"url\": \"http://127.0.0.1:$NGINX_PORT/hook\", $target } },
          \"rules\": [ { \"name\": \"all\", \"match\": {}, \"to\": [\"t\"] } ] }" > "$WORK/rules/drain.json"
  "$bin" serve --host 127.0.0.1 --port "$port" --rules "$WORK/rules" --data-dir "$WORK/data" --log-level warning \
    2> "$WORK/relay.log" & local pid=$!; PIDS+=($pid)
  wait_port "$port"
  sleep 1 # each fill gets its own os.time() stamp in the events
  kill -STOP $NGINX_ALL
  wrk -t2 -c64 -d"${FILL}s" -s "$WORK/post.lua" "http://127.0.0.1:$port/minio-event" >/dev/null 2>&1 || true
  local backlog; backlog=$(metric "$port" relay_spool_pending_deliveries)
  local before; before=$(metric "$port" 'relay_delivery_attempts_total\\{.*outcome="delivered"')
  local cpu0; cpu0=$(cpu "$pid")
  local t0; t0=$(date +%s.%N)
  kill -CONT $NGINX_ALL
  for _ in $(seq 1 1200); do [ "$(metric "$port" relay_spool_pending_deliveries)" = 0 ] && break; sleep 0.05; done
  local t1; t1=$(date +%s.%N)
  local cpu1; cpu1=$(cpu "$pid")
  local after; after=$(metric "$port" 'relay_delivery_attempts_total\\{.*outcome="delivered"')
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  python3 -c "
t = $t1 - $t0
print('%-14s backlog %6d, delivered %6d in %5.2f s: %6.0f records/s, relay CPU %.2f cores' % (
    '$label', $backlog, $after - $before, t, ($after - $before) / t, ($cpu1 - $cpu0) / 100 / t))"
}

ONE='"format": "records", "maxInFlight": 16'
BATCH='"format": "records", "maxInFlight": 16, "batch": { "maxRecords": 100, "maxWait": "200ms" }'
echo "bucket-relay backlog drain, $(nproc) cores, fill ${FILL}s per run, nginx return 204 as the target"
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round"
  drain "one" "$BIN" "$ONE"
  drain "batch" "$BIN" "$BATCH"
  if [ -n "${BASE_BIN:-}" ]; then
    drain "base one" "$BASE_BIN" "$ONE"
    drain "base batch" "$BASE_BIN" "$BATCH"
  fi
done
