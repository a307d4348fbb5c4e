#!/usr/bin/env bash
# End-to-end throughput of bucket-relay (release build) against baselines measured in the same run.
#
#   Benchmarks/throughput.sh [seconds] [connections]      (RELAY_BIN=path: measure that binary, build nothing)
#
# Load: wrk POSTing a real MinIO event body (Tests/Fixtures/minio/put-image.json), keep-alive.
#  1. nginx `return 204` directly: the loopback HTTP ceiling of this machine.
#  2. the relay -> one target (nginx 204): receive, decode, match, spool (fsync'd group commit), answer 200,
#     deliver through libcurl, one record per POST. Delivered records are counted from the relay's
#     relay_delivery_attempts_total{outcome="delivered"} once the spool has drained.
#  4. the same with a batched target (format records, batch of up to 100 records, maxWait 200ms).
# For 2 and 4, delivery alone is timed too: a backlog spooled for BACKLOG_SECONDS (5) while nginx is stopped
# (SIGSTOP), then drained once it continues (SIGCONT): records delivered / drain time.
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

. Benchmarks/common.sh
start_nginx "$WORK/nginx/access.log"
write_post_lua

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

# 2. the relay, one record per request to the target; 4. the same with a batched target (100 records per POST).
wait_drained() { # port: until relay_spool_pending_deliveries is 0 (at most 60 s)
  for _ in $(seq 1 600); do
    pending=$(curl -s "http://127.0.0.1:$1/metrics" | awk '/^relay_spool_pending_deliveries/ {print $2}')
    awk -v p="${pending:-1}" 'BEGIN { exit !(p + 0 == 0) }' && return 0; sleep 0.1
  done
}
delivered_records() { # port: records delivered since the relay started
  curl -s "http://127.0.0.1:$1/metrics" | awk '/^relay_delivery_attempts_total\{.*outcome="delivered"/ {s += $2} END {printf "%d", s}'
}
run_relay() { # label rules-json -> sets RPS_<label>, LAT_<label>, ...; counts delivered records from /metrics
  local label=$1 rules=$2
  local port; port=$(free_port)
  rm -rf "$WORK/rules" "$WORK/data"; mkdir -p "$WORK/rules"
  echo "$rules" > "$WORK/rules/bench.json"
  "$BIN" serve --host 127.0.0.1 --port "$port" --rules "$WORK/rules" --data-dir "$WORK/data" \
    --log-level "${RELAY_LOG_LEVEL:-info}" 2> "$WORK/relay-$label.log" & local pid=$!; PIDS+=($pid)
  wait_port "$port"
  # Warm-up, then wait for its deliveries, so that the measured window counts only its own events.
  wrk -t2 -c"$CONNECTIONS" -d2s -s "$WORK/post.lua" "http://127.0.0.1:$port/minio-event" >/dev/null 2>&1 || true
  wait_drained "$port"
  sleep 1 # the next run's events get another os.time() stamp
  : > "$WORK/nginx/access.log"
  local before; before=$(delivered_records "$port")
  local started; started=$(date +%s.%N)
  wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s "$WORK/post.lua" "http://127.0.0.1:$port/minio-event" > "$WORK/wrk.out" 2>&1
  cat "$WORK/wrk.out" >> "$WORK/wrk.all"
  local rps; rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.out")
  local lat; lat=$(latency)
  local bad; bad=$(non2xx)
  local pending_end; pending_end=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^relay_spool_pending_deliveries/ {print $2}')
  local drain_start; drain_start=$(date +%s.%N)
  wait_drained "$port"
  local ended; ended=$(date +%s.%N)
  local delivered; delivered=$(( $(delivered_records "$port") - before ))
  local accepted; accepted=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^relay_requests_total\{outcome="accepted"\}/ {print $2}')
  local posts; posts=$(wc -l < "$WORK/nginx/access.log")
  # Delivery alone: with nginx stopped (SIGSTOP), a backlog is spooled for a few seconds; then nginx continues
  # and the backlog's drain is timed. Ingress no longer limits this figure; only claiming, sending and recording do.
  local nginx_pids; nginx_pids="$(cat "$WORK/nginx/nginx.pid") $(pgrep -P "$(cat "$WORK/nginx/nginx.pid")" | tr '\n' ' ')"
  kill -STOP $nginx_pids
  wrk -t2 -c"$CONNECTIONS" -d"${BACKLOG_SECONDS:-5}s" -s "$WORK/post.lua" "http://127.0.0.1:$port/minio-event" >/dev/null 2>&1 || true
  local backlog_before; backlog_before=$(delivered_records "$port")
  local backlog; backlog=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^relay_spool_pending_deliveries/ {print $2}')
  local resumed; resumed=$(date +%s.%N)
  kill -CONT $nginx_pids
  wait_drained "$port"
  local drained; drained=$(date +%s.%N)
  local backlog_delivered; backlog_delivered=$(( $(delivered_records "$port") - backlog_before ))
  local backlog_rps; backlog_rps=$(python3 -c "t = $drained - $resumed; print('%.0f' % ($backlog_delivered / t))")
  local rss; rss=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
  kill -TERM $pid; wait $pid 2>/dev/null || true
  # Delivered/s: the records of the measured run delivered, over the time from its start until the spool was
  # empty again (a backlog still draining when wrk stops counts against the relay).
  local delivered_rps; delivered_rps=$(python3 -c "t = $ended - $started; print('%.0f' % ($delivered / t))")
  local drain; drain=$(python3 -c "print('%.1f' % ($ended - $drain_start))")
  eval "RPS_$label='$rps'; LAT_$label='$lat'; BAD_$label='${bad:-0}'; DELIVERED_$label='$delivered'"
  eval "ACCEPTED_$label='${accepted:-?}'; POSTS_$label='$posts'; RSS_$label='$((rss/1024))'; DRPS_$label='$delivered_rps'"
  eval "PENDING_$label='${pending_end:-?}'; DRAIN_$label='$drain'; BACKLOG_$label='${backlog:-?}'; BRPS_$label='$backlog_rps'"
}
run_relay one '{ "targets": { "sink": { "url": "http://127.0.0.1:'"$NGINX_PORT"'/events", "maxInFlight": 64 } },
  "rules": [ { "name": "all-created", "match": { "event": "s3:ObjectCreated:*" }, "to": ["sink"] } ] }'
run_relay batch '{ "targets": { "sink": { "url": "http://127.0.0.1:'"$NGINX_PORT"'/events", "format": "records",
    "maxInFlight": 8, "batch": { "maxRecords": 100, "maxBytes": "256KiB", "maxWait": "200ms" } } },
  "rules": [ { "name": "all-created", "match": { "event": "s3:ObjectCreated:*" }, "to": ["sink"] } ] }'
RELAY_RPS=$RPS_one

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
printf '%-48s %12s %18s\n' "bucket-relay -> nginx 204 (spooled, delivered)" "$RPS_one" "$LAT_one"
printf '%-48s %12s %18s\n' "bucket-relay -> nginx 204, batch of 100" "$RPS_batch" "$LAT_batch"
printf '%-48s %12s %18s\n' "Flask echo app, gunicorn -w 2" "$FLASK_RPS" "$FLASK_LAT"
echo "relay / nginx ceiling: $(ratio "$RPS_one" "$NGINX_RPS")   relay / Flask echo: $(ratio "$RPS_one" "$FLASK_RPS")"
for label in one batch; do
  eval "echo \"relay ($label): acked \$RPS_$label/s, delivered \$DRPS_$label records/s (delivered/s / nginx ceiling \$(ratio \$DRPS_$label \$NGINX_RPS)); accepted (2xx) \$ACCEPTED_$label, records delivered \$DELIVERED_$label in \$POSTS_$label POSTs, non-2xx \$BAD_$label, peak RSS \$RSS_$label MiB, backlog at the end \$PENDING_$label drained in \$DRAIN_$label s\""
  eval "echo \"relay ($label): a backlog of \$BACKLOG_$label deliveries (spooled while nginx was stopped) drained at \$BRPS_$label records/s\""
done
echo "batched / unbatched delivered/s under load: $(ratio "$DRPS_batch" "$DRPS_one"); draining a backlog: $(ratio "$BRPS_batch" "$BRPS_one"); log level ${RELAY_LOG_LEVEL:-info}"
