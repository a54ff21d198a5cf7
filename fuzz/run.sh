#!/usr/bin/env bash
# Runs libFuzzer targets of a WEIR_FUZZ build (what `make fuzz` calls).
#   fuzz/run.sh BUILD_DIR SECONDS [TARGET...]     (no TARGET: every target)
# Per target: copies its seed corpus and regression inputs into BUILD_DIR/fuzz-work/<target>/
# corpus (the corpus grows there across runs), fuzzes for SECONDS, prints
# `fuzz_<target>_execs: N` (and seconds, corpus size), and on a crash prints the saved input
# (BUILD_DIR/fuzz-work/<target>/crash-*) and the command to reproduce it. Exits 1 if any target
# crashed, after running all of them.
set -uo pipefail
build=${1:?usage: fuzz/run.sh BUILD_DIR SECONDS [TARGET...]}
seconds=${2:?usage: fuzz/run.sh BUILD_DIR SECONDS [TARGET...]}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$here"/*_fuzz.cc; do n=$(basename "$f" _fuzz.cc); targets+=("$n"); done
fi

# Largest input per target: enough for every realistic input of that format, small enough that a
# run measures weir's code rather than the copying of huge inputs (each target also returns at
# once above its own bound).
max_len() {
  case "$1" in
    http_request|multipart|job_request|config_entity) echo 16384 ;;
    workflow) echo 8192 ;;
    json_patch) echo 4096 ;;
    cron|resolve_inside|asset_id|uri) echo 512 ;;
    *) echo 4096 ;;
  esac
}

failed=()
for t in "${targets[@]}"; do
  bin="$build/fuzz/fuzz_$t"
  if [ ! -x "$bin" ]; then echo "fuzz: $bin is missing (build the fuzz_all target)"; failed+=("$t"); continue; fi
  work="$build/fuzz-work/$t"
  mkdir -p "$work/corpus"
  cp -n "$here/corpus/$t"/* "$work/corpus/" 2>/dev/null
  [ -d "$here/regressions/$t" ] && cp -n "$here/regressions/$t"/* "$work/corpus/" 2>/dev/null
  dict=()
  [ -f "$here/dicts/$t.dict" ] && dict=(-dict="$here/dicts/$t.dict")
  log="$work/last-run.log"
  echo "fuzz: $t for ${seconds}s (max_len $(max_len "$t"))"
  start=$(date +%s)
  "$bin" -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=25 -rss_limit_mb=2560 \
    -print_final_stats=1 -artifact_prefix="$work/" "${dict[@]}" "$work/corpus" >"$log" 2>&1
  rc=$?
  elapsed=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ -z "$execs" ]; then execs=$(grep -o '#[0-9]*' "$log" | tail -1 | tr -d '#'); fi
  echo "fuzz_${t}_execs: ${execs:-0}"
  echo "fuzz_${t}_seconds: $elapsed"
  echo "fuzz_${t}_corpus: $(ls "$work/corpus" | wc -l)"
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    echo "fuzz: $t FAILED (exit $rc); log $log"
    grep -E "ERROR: |SUMMARY|invariant broken|Test unit written" "$log" | head -5
    for c in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
      [ -f "$c" ] && echo "fuzz: reproduce with $bin $c; keep it as fuzz/regressions/$t/<name> once fixed"
    done
  fi
done
if [ ${#failed[@]} -ne 0 ]; then echo "fuzz: failed: ${failed[*]}"; exit 1; fi
echo "fuzz: every target ran without a crash"
