#!/usr/bin/env bash
# A1 of docs/performance.md: GET /api/v3/jobs/{id} under wrk (16 and 256 connections) while 100
# jobs run, against nginx (1 worker) serving a static file of the same size, in the same run,
# alternating rounds. Prints `name: value` lines; the last is the headline ratio.
# Usage: bench/api_bench.sh BUILD_DIR [ROUNDS] [SECONDS]
# A1_AUTH=token: weir runs with auth.mode required and a static tokens file (an admin token, with
# auth.admin_impersonation so the 100 jobs keep their users), and every request to weir, wrk's
# included, carries `Authorization: Bearer TOKEN` (nginx gets the same header, which it ignores).
set -euo pipefail
build="${1:-build}"; rounds="${2:-3}"; secs="${3:-5}"
weir="$(cd "$build" && pwd)/weir"
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d /tmp/weir-a1-XXXXXX)"
pids=()
# weir leaves its jobs running when it stops (a restart re-adopts them): end the job process
# groups whose working folder is in $tmp as well.
kill_jobs() {
  local d pg
  for d in /proc/[0-9]*; do
    case "$(readlink "$d/cwd" 2>/dev/null)" in
      "$tmp"/weir/*) pg=$(ps -o pgid= -p "${d#/proc/}" 2>/dev/null | tr -d ' ')
                     [ -n "$pg" ] && kill -TERM -- "-$pg" 2>/dev/null || true ;;
    esac
  done
}
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; kill_jobs; rm -rf "$tmp"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wport=$(free_port)
printf 'jobs:\n  max_system_memory_mb: 10000000\n  max_active_jobs_per_user: 0\n' > "$tmp/weir.yaml"
auth_header=()
case "${A1_AUTH:-}" in
  "") ;;
  token)
    token="a1-bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    printf '%s bench-admin admin\n' "$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)" > "$tmp/tokens"
    chmod 600 "$tmp/tokens"
    printf 'auth:\n  mode: required\n  static_tokens_file: %s\n  admin_impersonation: true\n' "$tmp/tokens" >> "$tmp/weir.yaml"
    export WEIR_TOKEN="$token"
    auth_header=(-H "Authorization: Bearer $token")
    ;;
  *) echo "A1_AUTH must be empty or token" >&2; exit 2 ;;
esac
"$weir" server --config "$tmp/weir.yaml" --listen 127.0.0.1:$wport --data-dir "$tmp/weir" > "$tmp/weir.out" 2> "$tmp/weir.log" &
pids+=($!); weir_pid=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$wport/admin/health" >/dev/null 2>&1 && break; sleep 0.1; done
url="http://127.0.0.1:$wport"
"$weir" --server "$url" apply -f "$root/examples/demo.yaml" > /dev/null
for _ in $(seq 1 100); do
  "$weir" --server "$url" job submit -c sched:sla -C type:bash --user bench$((RANDOM % 50)) -- 'sleep 300' > /dev/null
done
id=$("$weir" --server "$url" job submit -c sched:sla -C type:bash --wait -- 'echo hi' 2>/dev/null >/dev/null; "$weir" --server "$url" -o json job list --status SUCCEEDED --size 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["id"])')
curl -fsS "${auth_header[@]}" "$url/api/v3/jobs/$id" > "$tmp/job.json"
size=$(stat -c %s "$tmp/job.json")

mkdir -p "$tmp/www"; cp "$tmp/job.json" "$tmp/www/job.json"
# nginx started as root serves as another user (nobody / www-data): let it reach the file
# (mktemp -d makes $tmp 0700, and a 403 would be measured instead).
chmod 711 "$tmp"; chmod 755 "$tmp/www"; chmod 644 "$tmp/www/job.json"
nport=$(free_port)
cat > "$tmp/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/nginx.err;
events { worker_connections 1024; }
http {
  access_log off;
  server { listen 127.0.0.1:$nport; root $tmp/www; location / { default_type application/json; } }
}
CONF
nginx -c "$tmp/nginx.conf" -p "$tmp" &
pids+=($!)
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$nport/job.json" >/dev/null 2>&1 && break; sleep 0.1; done

# wrk's "Requests/sec" and the 99% latency line (in ms).
run_wrk() {
  local conns=$1 target=$2 out
  out=$(wrk -t1 -c"$conns" -d"${secs}s" --latency "${auth_header[@]}" "$target")
  # An answer other than 2xx (a refused token, say) makes the figure meaningless.
  if grep -q 'Non-2xx' <<<"$out"; then echo "wrk got non-2xx answers from $target:" >&2; echo "$out" >&2; exit 1; fi
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; print v}' <<<"$out")
  echo "$rps $p99"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "a1_auth: ${A1_AUTH:-none}"
echo "a1_body_bytes: $size"
headline=""
for conns in 16 256; do
  : > "$tmp/w.rps"; : > "$tmp/n.rps"; : > "$tmp/w.p99"; : > "$tmp/n.p99"
  for r in $(seq 1 "$rounds"); do
    read -r nr np <<<"$(run_wrk "$conns" "http://127.0.0.1:$nport/job.json")"
    read -r wr wp <<<"$(run_wrk "$conns" "$url/api/v3/jobs/$id")"
    [ -n "$nr" ] && [ -n "$wr" ] || exit 1  # run_wrk said why
    echo "$nr" >> "$tmp/n.rps"; echo "$np" >> "$tmp/n.p99"
    echo "$wr" >> "$tmp/w.rps"; echo "$wp" >> "$tmp/w.p99"
    echo "a1_c${conns}_round_$r: nginx $nr req/s, weir $wr req/s"
  done
  n=$(median < "$tmp/n.rps"); w=$(median < "$tmp/w.rps")
  echo "a1_c${conns}_nginx_req_per_s: $n"
  echo "a1_c${conns}_weir_req_per_s: $w"
  echo "a1_c${conns}_nginx_p99_ms: $(median < "$tmp/n.p99")"
  echo "a1_c${conns}_weir_p99_ms: $(median < "$tmp/w.p99")$([ "$conns" = 16 ] && echo ' (target <= 5)')"
  ratio=$(awk -v a="$w" -v b="$n" 'BEGIN {printf "%.3f", a/b}')
  echo "a1_c${conns}_ratio_weir_to_nginx (target >= 0.50): $ratio"
  [ "$conns" = 16 ] && headline=$ratio
done
echo "weir_rss_mb: $(awk '/VmHWM/ {printf "%.1f", $2/1024}' /proc/$weir_pid/status)"
echo "headline_a1_c16_ratio: $headline"
