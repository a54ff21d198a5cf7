#!/usr/bin/env bash
# `make run`: start `weir server` on 127.0.0.1:8080 with its data in ./.weir, load the demo
# configuration, and print the command that submits a first job. Ctrl-C stops the server
# (running jobs keep running; the next start re-adopts them).
set -euo pipefail
weir="${1:-build/weir}"
listen="${WEIR_LISTEN:-127.0.0.1:8080}"
url="http://$listen"
mkdir -p .weir
"$weir" server --listen "$listen" --data-dir .weir &
server_pid=$!
trap 'kill -TERM $server_pid 2>/dev/null; wait $server_pid 2>/dev/null' EXIT INT TERM
for _ in $(seq 1 100); do
  if curl -fsS "$url/admin/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 $server_pid 2>/dev/null; then echo "weir server exited; see above" >&2; exit 1; fi
  sleep 0.1
done
"$weir" --server "$url" apply -f examples/demo.yaml
cat <<TXT

weir is serving the Genie v3 API at $url/api/v3 (data in ./.weir).
Web UI: $url/ui/
Submit a first job:

  $weir --server $url job submit --cluster-tags sched:sla --command-tags type:bash --args "'echo hello from weir'" --wait

Press Ctrl-C to stop the server.
TXT
wait $server_pid
