#!/usr/bin/env bash
# dev/gpu_check.sh: the one GPU check. Run from anywhere on a machine with an NVIDIA GPU and nvcc:
#   dev/gpu_check.sh            build (make cuda), run every lab in build/cuda/, print the table
#   LAB_REPS=20 dev/gpu_check.sh    fewer timing repetitions (default 50 per block size)
# Steps: `make cuda` (all dev/cuda/*.cu, whoever wrote them), then every executable in build/cuda/
# (each validates all its versions at several sizes, then benchmarks them, printing RESULT lines),
# (model_check among them: the GPU model against transformers and the CPU model), then the GPU training
# path if one exists (GPU_TRAIN_CMD, see below), then the model benchmark (bench_model vs dev/bench_gpu.py,
# its own table). Ends with a table of every RESULT line:
#   op, version, status, max rel error, time (us, L2 flushed, median), achieved GB/s or TFLOP/s,
#   roofline floor (us), % of floor (floor / time).
# Exit status: non-zero if the build, any lab (crash, timeout, failed validation) or training failed.
# Budget: under 6 minutes on one H100 (each lab is capped at LAB_TIMEOUT seconds, default 120).
set -u
cd "$(dirname "$0")/.."

LAB_TIMEOUT=${LAB_TIMEOUT:-120}
LOG_DIR=${LOG_DIR:-build/gpu_check}
mkdir -p "$LOG_DIR"
results="$LOG_DIR/results.txt"
: > "$results"
failures=()
start=$(date +%s)

echo "== nvidia-smi"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null || echo "(nvidia-smi unavailable)"

echo "== make cuda"
if ! make cuda -j"$(nproc 2>/dev/null || echo 4)" > "$LOG_DIR/build.log" 2>&1; then
    tail -n 30 "$LOG_DIR/build.log"
    echo "BUILD FAILED (full log: $LOG_DIR/build.log)"
    failures+=("build")
fi
grep -i "warning" "$LOG_DIR/build.log" | head -n 20
# every lab and driver must have been built: a missing one (e.g. model_check without cJSON) fails
for src in dev/cuda/*.cu; do
    name=$(basename "$src" .cu)
    if [ ! -x "build/cuda/$name" ]; then echo "  NOT BUILT: build/cuda/$name"; failures+=("$name not built"); fi
done

echo "== labs"
shopt -s nullglob
for lab in build/cuda/*; do
    [ -f "$lab" ] && [ -x "$lab" ] || continue
    name=$(basename "$lab")
    [ "$name" = bench_model ] && continue   # run in the model benchmark section below
    t0=$(date +%s)
    timeout "$LAB_TIMEOUT" "$lab" > "$LOG_DIR/$name.log" 2>&1
    rc=$?
    t1=$(date +%s)
    grep '^RESULT ' "$LOG_DIR/$name.log" >> "$results"
    nfail=$(grep -c 'FAIL' "$LOG_DIR/$name.log")
    if [ $rc -ne 0 ]; then
        what="exit $rc"; [ $rc -eq 124 ] && what="timeout after ${LAB_TIMEOUT}s"
        echo "  $name: FAILED ($what, $nfail failing lines; log $LOG_DIR/$name.log, $((t1 - t0))s)"
        grep -E 'FAIL|error|MISMATCH' "$LOG_DIR/$name.log" | head -n 12 | sed 's/^/      /'
        failures+=("$name")
    else
        echo "  $name: ok ($(grep -c '^RESULT ' "$LOG_DIR/$name.log") results, $((t1 - t0))s)"
    fi
done

echo "== GPU training path"
# GPU_TRAIN_CMD: the GPU trainer end to end. By default the emulator's pipeline check, run with the
# real GPU build of ./train and ./infer (make cuda): a tiny DistilBERT on 48 SST-2 rows with
# --device cuda (fp32 and bf16) against --device cpu step by step, resume across devices, and the
# CPU reload of the GPU-trained checkpoint (test/cuda_emu/run_train_emu.sh).
GPU_TRAIN_CMD=${GPU_TRAIN_CMD:-TRAIN=./train INFER=./infer test/cuda_emu/run_train_emu.sh}
has_device_flag=0
if ./train --help 2>&1 | grep -q -- '--device'; then has_device_flag=1; fi
if [ -n "$GPU_TRAIN_CMD" ]; then
    echo "  $GPU_TRAIN_CMD"
    if ! timeout 180 bash -c "$GPU_TRAIN_CMD" > "$LOG_DIR/train.log" 2>&1; then
        tail -n 20 "$LOG_DIR/train.log"
        failures+=("GPU training")
    else
        tail -n 5 "$LOG_DIR/train.log"
    fi
elif [ $has_device_flag -eq 1 ]; then
    echo "train has --device but GPU_TRAIN_CMD is not set: not run (set the default in dev/gpu_check.sh)"
else
    echo "no GPU training path yet"
fi

echo "== model benchmark: ours vs PyTorch (DistilBERT-base, B32 x T256)"
# build/cuda/bench_model (our GPU path) then dev/bench_gpu.py (PyTorch eager + torch.compile, fp32 and
# bf16 autocast) on the same GPU; BENCH_COMPILE=0 skips torch.compile. A failure of ours fails the check.
if [ -x build/cuda/bench_model ]; then
    if ! timeout 300 build/cuda/bench_model > "$LOG_DIR/bench_model.log" 2>&1; then
        tail -n 10 "$LOG_DIR/bench_model.log"; failures+=("bench_model")
    fi
    py=${PYTHON:-python3}; [ -x "$HOME/venv/bin/python" ] && py=${PYTHON:-$HOME/venv/bin/python}
    compile_flag=""; [ "${BENCH_COMPILE:-1}" = 0 ] && compile_flag="--no-compile"
    timeout 900 "$py" dev/bench_gpu.py $compile_flag > "$LOG_DIR/bench_torch.log" 2>&1 || tail -n 5 "$LOG_DIR/bench_torch.log"
    grep -v '^BENCH' "$LOG_DIR/bench_torch.log" | head -n 6
    cat "$LOG_DIR/bench_model.log" "$LOG_DIR/bench_torch.log" | grep '^BENCH' | awk '
    function val(key,   i, kv) { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) return kv[2] } return "-" }
    BEGIN { printf "%-14s %-5s %-6s %10s %12s %7s %8s  %s\n", "impl", "prec", "mode", "median_ms", "tokens/s", "MFU", "mem_GB", "vs eager (time ratio, <1 = ours faster)" }
    { k = val("precision") "/" val("mode"); t = val("median_ms"); rows[NR] = $0; if (val("impl") == "torch_eager") eager[k] = t }
    END { for (i = 1; i <= NR; i++) { $0 = rows[i]; k = val("precision") "/" val("mode"); r = (k in eager && eager[k] > 0) ? sprintf("%.2f", val("median_ms") / eager[k]) : "-"
          printf "%-14s %-5s %-6s %10s %12s %7s %8s  %s\n", val("impl"), val("precision"), val("mode"), val("median_ms"), val("tokens_per_s"), val("mfu"), val("mem_gb"), r } }'
else
    echo "build/cuda/bench_model not built"
fi

echo
echo "== summary ($(( $(date +%s) - start ))s; device: $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1))"
awk '
function val(key,   i, kv) {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) return kv[2] }
    return "-"
}
BEGIN { printf "%-20s %3s %-6s %10s %11s %9s %9s %11s %7s  %s\n", "op", "ver", "status", "maxrel", "time_us", "GB/s", "TFLOP/s", "floor_us", "%floor", "size" }
{
    printf "%-20s %3s %-6s %10s %11s %9s %9s %11s %7s  %s\n", val("op"), val("version"), val("status"), val("maxrel"),
           val("time_us"), val("gbps"), val("tflops"), val("floor_us"), val("pct"), val("size")
    if (val("status") != "ok") bad++
}
END { if (NR == 0) print "(no RESULT lines)"; if (bad) printf "%d result line(s) not ok\n", bad }
' "$results"

if grep -q ' status=FAIL' "$results"; then failures+=("validation"); fi
if [ ${#failures[@]} -ne 0 ]; then
    echo "GPU CHECK FAILED: ${failures[*]}"
    exit 1
fi
echo "GPU CHECK PASSED"
