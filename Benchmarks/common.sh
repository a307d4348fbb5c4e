# Shared by Benchmarks/throughput.sh and Benchmarks/drain.sh (sourced, not run): loopback ports, the nginx target
# and wrk's script of distinct MinIO events. Expects WORK (a scratch directory) and PIDS (an array of PIDs to stop).

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; return 1; }

# start_nginx ACCESS_LOG: nginx `return 204` on a free port, one worker, keep-alive; ACCESS_LOG is a path or "off".
# Sets NGINX_PORT and NGINX_PID (its master) and adds the master to PIDS.
start_nginx() {
  NGINX_PORT=$(free_port)
  mkdir -p "$WORK/nginx"
  cat > "$WORK/nginx/nginx.conf" <<NGINX
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log $1;
  client_body_temp_path $WORK/nginx/body; proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi; uwsgi_temp_path $WORK/nginx/uwsgi; scgi_temp_path $WORK/nginx/scgi;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$NGINX_PORT; location / { return 204; } }
}
NGINX
  nginx -c "$WORK/nginx/nginx.conf" -g 'daemon off;' & NGINX_PID=$!; PIDS+=($NGINX_PID)
  wait_port "$NGINX_PORT"
}

# write_post_lua: $WORK/post.lua, for `wrk -s`: every request a distinct event (its own sequencer and key), so the
# relay does not take it for a resend; each wrk invocation (warm-up, measured run) sends events of its own.
write_post_lua() {
  cat > "$WORK/post.lua" <<'LUA'
local threads = 0
local run = os.time() % 65536
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
}
