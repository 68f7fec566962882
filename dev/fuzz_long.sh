#!/usr/bin/env bash
# Long fuzzing runs (issue 9): each harness runs for SECONDS of wall time, JOBS harnesses at a time,
# continuing its corpus in build/fuzz/corpus/<name> (seeds from build/fuzz/seeds/<name>).
#
#   make fuzz && dev/fuzz_long.sh [-j JOBS] [-t SECONDS] [name ...]     (default: -j 2 -t 1800, all)
#
# Per harness: build/fuzz/long/<name>.log (libFuzzer's output) and one row appended to
# build/fuzz/long/summary.md: executions, coverage (cov / ft) at start and end, peak RSS, CPU seconds
# the harness used, and the result (no finding, or the artifact written in build/fuzz/artifacts/).
# Run it from the repository root (fuzz_encode reads ../shared/data/vocab).
set -u
jobs=2
seconds=1800
while getopts "j:t:" opt; do
  case $opt in
    j) jobs=$OPTARG ;;
    t) seconds=$OPTARG ;;
    *) echo "usage: $0 [-j JOBS] [-t SECONDS] [name ...]" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
cd "$(dirname "$0")/.." || exit 1
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in test/fuzz/fuzz_*.c; do n=${f#test/fuzz/fuzz_}; names+=("${n%.c}"); done
fi
for n in "${names[@]}"; do
  [ -x "build/fuzz/fuzz_$n" ] || { echo "build/fuzz/fuzz_$n: not built (run make fuzz)" >&2; exit 1; }
done
out=build/fuzz/long
mkdir -p "$out" build/fuzz/artifacts
[ -f "$out/summary.md" ] || {
  echo "| harness | started | wall s | CPU s | executions | cov start → end | ft start → end | peak RSS MB | result |"
  echo "|---|---|---|---|---|---|---|---|---|"
} > "$out/summary.md"

run_one() {
  local n=$1 log=$out/$1.log start t0 t1 rc
  mkdir -p "build/fuzz/corpus/$n"
  start=$(date -u +%H:%M)
  t0=$(date +%s)
  # bash's `time` gives the CPU seconds the harness really got on a shared machine
  { TIMEFORMAT='cpu_seconds %U %S'; time nice -n 10 "./build/fuzz/fuzz_$n" -max_total_time="$seconds" \
      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -dict=test/fuzz/fuzz.dict \
      -artifact_prefix="build/fuzz/artifacts/$n-" "build/fuzz/corpus/$n" "build/fuzz/seeds/$n" >"$log" 2>&1; } 2>"$log.time"
  rc=$?
  t1=$(date +%s)
  local execs cov0 cov1 ft0 ft1 rss cpu result
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  cov0=$(grep -m1 'INITED' "$log" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*')
  ft0=$(grep -m1 'INITED' "$log" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*')
  cov1=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  ft1=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$')
  cpu=$(awk '/cpu_seconds/ {printf "%.0f", $2 + $3}' "$log.time")
  if [ $rc -eq 0 ]; then result="no finding"
  else result="**finding** (exit $rc): $(grep -o "Test unit written to [^ ]*" "$log" | head -1)"; fi
  echo "| fuzz_$n | $start | $((t1 - t0)) | ${cpu:-?} | ${execs:-?} | ${cov0:-?} → ${cov1:-?} | ${ft0:-?} → ${ft1:-?} | ${rss:-?} | $result |" \
    >> "$out/summary.md"
  echo "fuzz_$n done: exit $rc, ${execs:-?} executions"
}

running=0
for n in "${names[@]}"; do
  if [ $running -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
  run_one "$n" &
  running=$((running + 1))
done
wait
cat "$out/summary.md"
