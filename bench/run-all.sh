#!/usr/bin/env bash
# `make bench`: every benchmark, each printing `name: value` lines (see docs/performance.md).
# SOAK_JOBS (default 10000) sizes the soak; the documented full soak is `soak_bench --jobs 50000`.
# A2_JOBS (default 3000) sizes A2; the documented full A2 is `a2_bench --jobs 20000`.
set -euo pipefail
build="${1:-build}"
here="$(cd "$(dirname "$0")" && pwd)"
echo "== gateway (J1 J2 J3)"; "$build/bench/gateway_bench" "${@:2}"
echo "== J1 with a stalled event subscriber"; "$build/bench/gateway_bench" --jobs 500 --rounds 3 --only j1s
echo "== events (SSE lag)"; "$build/bench/event_lag_bench"
echo "== api (A1)"; "$here/api_bench.sh" "$build"
if [ -x "$build/bench/a2_bench" ]; then
  echo "== one node on SQLite vs three on PostgreSQL (A2, A1 on both)"
  "$build/bench/a2_bench" --jobs "${A2_JOBS:-3000}"
fi
if [ -x "$build/bench/workflow_bench" ]; then echo "== workflow (W1)"; "$build/bench/workflow_bench"; fi
if [ -x "$build/bench/storage_bench" ]; then echo "== storage (S1 S2)"; "$build/bench/storage_bench"; fi
if [ -x "$build/bench/scheduler_bench" ]; then echo "== scheduler (W2)"; "$build/bench/scheduler_bench"; fi
if [ -x "$build/bench/metrics_bench" ]; then echo "== metrics (M1)"; "$build/bench/metrics_bench"; fi
if [ -x "$build/bench/crash_loop" ]; then echo "== crash loop and R1"; "$build/bench/crash_loop"; fi
if [ -x "$build/bench/slurm_up" ]; then echo "== slurm (H1)"; "$here/slurm_bench.sh" "$build"; fi
if [ -d "$build/web/node_modules/playwright-core" ] && [ -x /usr/bin/chromium ]; then
  echo "== web UI (U1)"; node "$here/ui_bench.mjs" "$build" "${UI_JOBS:-100000}"
fi
if [ -x "$build/bench/soak_bench" ]; then echo "== soak"; "$build/bench/soak_bench" --jobs "${SOAK_JOBS:-10000}"; fi
