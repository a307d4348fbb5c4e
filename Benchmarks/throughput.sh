#!/usr/bin/env bash
# End-to-end throughput of bucket-relay (release build) against baselines measured in the same run.
#
#   Benchmarks/throughput.sh [seconds] [connections]      (RELAY_BIN=path: measure that binary, build nothing)
#
# Load: wrk POSTing a real MinIO event body (Tests/Fixtures/minio/put-image.json), keep-alive.
#  1. nginx `return 204` directly: the loopback HTTP ceiling of this machine.
#  2. the relay -> one target (nginx 204): receive, decode, match, spool (fsync'd group commit), answer 200,
#     deliver through libcurl. Deliveries are counted in nginx's access log after the spool drains.
#  3. a Flask echo app under gunicorn (2 sync workers): what MinIO's webhook tutorial has users write instead.
# Every server runs on 127.0.0.1 and is stopped by PID at the end. Needs nginx-light, wrk, python3 (+ flask,
# gunicorn for 3; skipped when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-10}
CONNECTIONS=${2:-64}
WORK=$(mktemp -d /tmp/relay-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

for tool in nginx wrk; do
  command -v $tool >/dev/null || { echo "needs $tool (apt-get install nginx-light wrk)"; exit 2; }
done
# RELAY_BIN=path uses that binary instead of building this checkout (to compare two builds in one session).
if [ -n "${RELAY_BIN:-}" ]; then
  BIN=$RELAY_BIN
else
  swift build -c release --product bucket-relay >/dev/null
  BIN=$(swift build -c release --show-bin-path)/bucket-relay
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; return 1; }

NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<NGINX
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log $WORK/nginx/access.log;
  client_body_temp_path $WORK/nginx/body; proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi; uwsgi_temp_path $WORK/nginx/uwsgi; scgi_temp_path $WORK/nginx/scgi;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$NGINX_PORT; location / { return 204; } }
}
NGINX
nginx -c "$WORK/nginx/nginx.conf" -g 'daemon off;' & PIDS+=($!)
wait_port "$NGINX_PORT"

# Every request is a distinct event (its own sequencer and key): the relay does not fan out a resent event twice.
cat > "$WORK/post.lua" <<'LUA'
local threads = 0
local run = os.time() % 65536 -- each wrk invocation (warm-up, measured run) sends events of its own
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
  thread:set("run", run)
end
local f = io.open("Tests/Fixtures/minio/put-image.json", "rb"); local template = f:read("*a"); f:close()
local counter = 0
function request()
  counter = counter + 1
  local seq = string.format("%04X%02X%010X", run or 0, tid or 0, counter)
  local body = template:gsub("188A0D8A74975E28", seq):gsub("cat%.jpg", "cat-" .. seq .. ".jpg")
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
LUA

run_wrk() { # url -> prints requests/s, keeps the full report
  wrk -t2 -c"$CONNECTIONS" -d2s -s "$WORK/post.lua" "$1" >/dev/null 2>&1 || true   # warm-up
  sleep 1 # the next run's events get another os.time() stamp
  wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s "$WORK/post.lua" "$1" > "$WORK/wrk.out" 2>&1
  cat "$WORK/wrk.out" >> "$WORK/wrk.all"
  awk '/Requests\/sec/ {print $2}' "$WORK/wrk.out"
}
latency() { awk '/ 50%/ {p50=$2} / 99%/ {p99=$2} END {print p50 " / " p99}' "$WORK/wrk.out"; }
non2xx() { awk '/Non-2xx/ {print $5} END {}' "$WORK/wrk.out" | head -1; }

# 1. nginx directly
NGINX_RPS=$(run_wrk "http://127.0.0.1:$NGINX_PORT/")
NGINX_LAT=$(latency)
: > "$WORK/nginx/access.log"

# 2. the relay
RELAY_PORT=$(free_port)
mkdir -p "$WORK/rules"
cat > "$WORK/rules/bench.json" <<JSON
{ "targets": { "sink": { "url": "http://127.0.0.1:$NGINX_PORT/events", "maxInFlight": 64 } },
  "rules": [ { "name": "all-created", "match": { "event": "s3:ObjectCreated:*" }, "to": ["sink"] } ] }
JSON
"$BIN" serve --host 127.0.0.1 --port "$RELAY_PORT" --rules "$WORK/rules" --data-dir "$WORK/data" \
  --log-level "${RELAY_LOG_LEVEL:-info}" 2> "$WORK/relay.log" & RELAY_PID=$!; PIDS+=($RELAY_PID)
wait_port "$RELAY_PORT"
RELAY_RPS=$(run_wrk "http://127.0.0.1:$RELAY_PORT/minio-event")
RELAY_LAT=$(latency)
RELAY_NON2XX=$(non2xx)
ACKED=$(awk '/requests in/ {print $1}' "$WORK/wrk.out")
# Wait for the spool to drain, then count deliveries (warm-up requests included in both counts below).
DRAIN_START=$(date +%s.%N)
PENDING_AT_END=$(curl -s "http://127.0.0.1:$RELAY_PORT/metrics" | awk '/^relay_spool_pending_deliveries/ {print $2}')
for _ in $(seq 1 600); do
  pending=$(curl -s "http://127.0.0.1:$RELAY_PORT/metrics" | awk '/^relay_spool_pending_deliveries/ {print $2}')
  awk -v p="${pending:-1}" 'BEGIN { exit !(p + 0 == 0) }' && break; sleep 0.1
done
DRAIN_SECONDS=$(python3 -c "import time; print('%.1f' % (time.time() - $DRAIN_START))")
DELIVERED=$(wc -l < "$WORK/nginx/access.log")
ACCEPTED_TOTAL=$(curl -s "http://127.0.0.1:$RELAY_PORT/metrics" | awk -F' ' '/^relay_requests_total\{outcome="accepted"\}/ {print $2}')
RSS_KB=$(awk '/VmHWM/ {print $2}' /proc/$RELAY_PID/status)
kill -TERM $RELAY_PID; wait $RELAY_PID 2>/dev/null || true

# 3. Flask echo app under gunicorn
FLASK_RPS="skipped"; FLASK_LAT="-"
if python3 -c 'import flask, gunicorn' 2>/dev/null; then
  FLASK_PORT=$(free_port)
  cat > "$WORK/flask_echo.py" <<'PY'
import json
from flask import Flask, request, jsonify
app = Flask(__name__)
@app.route("/minio/events", methods=["POST"])
def events():
    event = request.get_json(force=True)
    app.logger.info(json.dumps(event))
    return jsonify(event)
PY
  (cd "$WORK" && exec python3 -m gunicorn -w 2 -b 127.0.0.1:$FLASK_PORT --log-level warning flask_echo:app) & PIDS+=($!)
  wait_port "$FLASK_PORT"
  FLASK_RPS=$(run_wrk "http://127.0.0.1:$FLASK_PORT/minio/events")
  FLASK_LAT=$(latency)
fi

ratio() { python3 -c "a='$1'; b='$2'; print('%.2f' % (float(a)/float(b)) if b not in ('', 'skipped') else '-')"; }
echo
echo "bucket-relay throughput, $(nproc) cores, wrk -t2 -c$CONNECTIONS -d${SECONDS_PER_RUN}s, body $(wc -c < Tests/Fixtures/minio/put-image.json) B"
printf '%-48s %12s %18s\n' "server" "req/s" "p50 / p99"
printf '%-48s %12s %18s\n' "nginx return 204 (ceiling)" "$NGINX_RPS" "$NGINX_LAT"
printf '%-48s %12s %18s\n' "bucket-relay -> nginx 204 (spooled, delivered)" "$RELAY_RPS" "$RELAY_LAT"
printf '%-48s %12s %18s\n' "Flask echo app, gunicorn -w 2" "$FLASK_RPS" "$FLASK_LAT"
echo "relay / nginx ceiling: $(ratio "$RELAY_RPS" "$NGINX_RPS")   relay / Flask echo: $(ratio "$RELAY_RPS" "$FLASK_RPS")"
echo "relay: accepted (2xx) ${ACCEPTED_TOTAL:-?}, delivered ${DELIVERED}, non-2xx answers ${RELAY_NON2XX:-0}, peak RSS $((RSS_KB/1024)) MiB"
echo "relay: backlog when the load stopped ${PENDING_AT_END:-?}, drained in ${DRAIN_SECONDS}s; log level ${RELAY_LOG_LEVEL:-info}"
