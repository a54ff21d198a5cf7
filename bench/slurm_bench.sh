#!/usr/bin/env bash
# H1, the Slurm executor benchmark (issue 12, docs/performance.md): on one private single-node
# Slurm (bench/slurm_up), in the same run:
#   - 200 trivial jobs through weir's Slurm executor vs 200 plain `sbatch --wrap true`: time to
#     submit all, time until all ended; the headline is weir's end-to-end rate over raw sbatch's;
#   - the start of a job: submit → the command runs (it records `date +%s%N`), through weir vs
#     through sbatch (median of 10 each): weir's added milliseconds; `srun true` for reference.
# Usage: bench/slurm_bench.sh BUILD_DIR [JOBS]. Skips (exit 0) when Slurm is not installed.
# H1_POLL_MS sets exec.slurm.poll_interval_ms (default: weir's default, 250).
set -euo pipefail
build="${1:-build}"; jobs="${2:-200}"
weir="$(cd "$build" && pwd)/weir"
up="$(cd "$build" && pwd)/bench/slurm_up"
if ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  echo "slurm_bench: skipped (slurm-wlm and munge are not installed)"; exit 0
fi
tmp="$(mktemp -d /tmp/weir-s3-XXXXXX)"; chmod 755 "$tmp"
wpid=
coproc SLURM { "$up"; }
cleanup() {
  [ -n "$wpid" ] && { kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null || true; }
  if [ -n "${SLURM_PID:-}" ]; then exec {SLURM[1]}>&-; wait "$SLURM_PID" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
read -r conf_line <&"${SLURM[0]}"; read -r node_line <&"${SLURM[0]}"
export "${conf_line?}"
now_ms() { date +%s%3N; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Until no job of the cluster is pending, running or completing.
wait_slurm_idle() { while [ -n "$(squeue -h -t PD,R,CG -o %i)" ]; do sleep 0.05; done; }

# --- raw sbatch ---
mkdir -p "$tmp/raw"
t0=$(now_ms)
for i in $(seq "$jobs"); do sbatch --parsable -o /dev/null -D "$tmp/raw" --wrap true >/dev/null; done
t1=$(now_ms); wait_slurm_idle; t2=$(now_ms)
raw_submit=$((t1 - t0)); raw_all=$((t2 - t0))

# --- weir ---
port=$(free_port)
cat > "$tmp/weir.yaml" <<YAML
server:
  listen: 127.0.0.1:$port
jobs:
  max_active_jobs_per_user: 0
exec:
  slurm:
    conf: $SLURM_CONF
    job_root: $tmp/jobs
    poll_interval_ms: ${H1_POLL_MS:-250}
YAML
"$weir" server --config "$tmp/weir.yaml" --data-dir "$tmp/data" >"$tmp/weir.log" 2>&1 &
wpid=$!
url="http://127.0.0.1:$port"
for _ in $(seq 600); do curl -sf "$url/admin/health" >/dev/null 2>&1 && break; sleep 0.05; done
cat > "$tmp/config.yaml" <<YAML
commands:
  - {id: bash, name: bash, user: admin, version: "5", status: ACTIVE, executable: /bin/bash -c, tags: [type:bash]}
clusters:
  - {id: hpc, name: hpc, user: admin, version: "1", status: UP, tags: [sched:hpc], commands: [bash],
     metadata: {executor: slurm}}
YAML
"$weir" --server "$url" apply -f "$tmp/config.yaml" >/dev/null
submit() {  # submit COMMAND_LINE → job id
  curl -sf -o /dev/null -w '%header{location}' -H 'Content-Type: application/json' \
    -d "{\"name\":\"b\",\"user\":\"bench\",\"version\":\"1\",\"clusterCriterias\":[{\"tags\":[\"sched:hpc\"]}],\"commandCriteria\":[\"type:bash\"],\"commandArguments\":[\"$1\"]}" \
    "$url/api/v3/jobs" | sed 's|.*/||'
}
# One keep-alive connection for all submissions and the polling (bench/h1_client.py says why).
read -r weir_submit weir_all < <(python3 "$(dirname "$0")/h1_client.py" 127.0.0.1 "$port" "$jobs")

# --- start latency: submit → the command runs ---
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
raw_start=$(for i in $(seq 10); do
  s=$(date +%s%N); sbatch -o /dev/null -D "$tmp/raw" --wrap "date +%s%N > $tmp/raw/start.$i" >/dev/null
  while [ ! -s "$tmp/raw/start.$i" ]; do sleep 0.005; done
  echo $(( ($(cat "$tmp/raw/start.$i") - s) / 1000000 )); done | median)
weir_start=$(for i in $(seq 10); do
  s=$(date +%s%N); submit "date +%s%N > $tmp/start.$i" >/dev/null
  while [ ! -s "$tmp/start.$i" ]; do sleep 0.005; done
  echo $(( ($(cat "$tmp/start.$i") - s) / 1000000 )); done | median)
srun_ms=$(for i in $(seq 10); do s=$(now_ms); srun -D "$tmp/raw" true; echo $(( $(now_ms) - s )); done | median)
wait_slurm_idle

echo "slurm_jobs: $jobs"
echo "slurm_raw_submit_ms: $raw_submit"
echo "slurm_raw_all_ended_ms: $raw_all"
echo "slurm_weir_submit_ms: $weir_submit"
echo "slurm_weir_all_ended_ms: $weir_all"
echo "slurm_raw_start_ms (sbatch submit -> command runs, median of 10): $raw_start"
echo "slurm_weir_start_ms (weir submit -> command runs, median of 10): $weir_start"
echo "slurm_weir_added_start_ms: $((weir_start - raw_start))"
echo "slurm_srun_true_ms (median of 10): $srun_ms"
python3 -c "print('slurm_weir_vs_sbatch_end_to_end_rate: %.2f' % ($raw_all / $weir_all))"
