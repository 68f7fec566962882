#!/usr/bin/env bash
# run_train_emu.sh: the training pipeline with the GPU model on the CUDA emulator, end to end on real
# data (make test-train-emu, part of make test-cuda-emu). A tiny random-init DistilBERT
# (test/fixtures/distilbert-micro.json) on the first 60 rows of SST-2 (48 train / 12 validation, max
# length 32, batch 8, 1 epoch = 6 steps, dropout on):
#   - ./train-emu --device cuda runs; its outputs exist and parse;
#   - its best/ reloads on the CPU (./infer-emu --device cpu --eval with the run's split.json) and
#     reproduces the run's metrics.json and predictions.csv byte for byte (the run's reports come from
#     the reloaded checkpoint on the CPU too); the GPU evaluation (./infer-emu --device cuda) gives the
#     same probabilities within fp32 tolerance, and so do the logits of a few texts;
#   - the same job with --device cpu: the per-step losses (resume/trainer_state.json) agree within
#     1e-5 relative (the GPU draws the CPU's dropout masks), and with --precision bf16 within
#     5e-2 + 5e-2·|cpu| (doc/cuda.md, "Tolerances");
#   - --resume across devices: a CPU run stopped at step 4 (state saved at step 2) finishes on the GPU,
#     and a GPU run stopped the same way finishes on the CPU, each with the uninterrupted run's losses.
# Last line: `N passed, N failed`; exit status 1 when anything failed. Needs ./train-emu, ./infer-emu,
# or the programs named by TRAIN and INFER (dev/gpu_check.sh runs it with the real GPU build:
# TRAIN=./train INFER=./infer).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
SHARED=${SHARED:-../shared}
TRAIN=${TRAIN:-./train-emu}
INFER=${INFER:-./infer-emu}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/train_emu.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
# logged LOG COMMAND...: run COMMAND with its stdout and stderr into LOG
logged() { local log=$1; shift; "$@" > "$log" 2>&1; }

head -61 "$SHARED/data/sst2/train.tsv" > "$TMP/data.tsv" || { echo "no $SHARED/data/sst2/train.tsv"; echo "0 passed, 1 failed"; exit 1; }
JOB=(--config test/fixtures/distilbert-micro.json --tokenizer "$SHARED/data/vocab/bert-base-uncased" --data "$TMP/data.tsv"
     --n-samples 0 --max-length 32 --batch-size 8 --eval-batch-size 4 --epochs 1 --lr 1e-3 --seed 7 --threads 2)
TEXTS=("a gorgeous, witty and deeply moving film" "the plot is thin and the jokes fall flat" "an utterly forgettable two hours")

# run NAME ARGS...: "$TRAIN" with the job's arguments into $TMP/NAME (log in $TMP/NAME.log)
train() { local name=$1; shift; "$TRAIN" "${JOB[@]}" --output-dir "$TMP/$name" "$@" > "$TMP/$name.log" 2>&1; }
# the per-step losses of a run, one per line
losses() { grep -o '"step_losses":[^]]*' "$1/resume/trainer_state.json" | sed 's/.*\[//' | tr ',' '\n' | tr -d ' \t'; }
# close A B ABS REL: every line of the files A, B (numbers) within ABS + REL·|b|; prints the worst ratio
close() {
    paste "$1" "$2" | awk -v abs="$3" -v rel="$4" '
        { n++; d = $1 - $2; if (d < 0) d = -d; b = $2 < 0 ? -$2 : $2; r = d / (abs + rel * b); if (r > worst) worst = r }
        END { printf "      %d values, worst error / tolerance %.3g\n", n, worst; exit !(n > 0 && worst <= 1) }'
}
# the probability columns of a predictions.csv (rows in order), one number per line
probs() { tail -n +2 "$1" | awk -F, '{ for (i = 6; i <= NF; i++) print $i }'; }

# --- the GPU run and its outputs
t0=$(date +%s)
check "train --device cuda (fp32) runs" train gpu --device cuda
echo "      $(($(date +%s) - t0)) s; $(grep -m1 '^device:' "$TMP/gpu.log")"
check "it printed 'device: cuda (...)'" grep -q '^device: cuda (.*fp32)' "$TMP/gpu.log"
check "the reloaded best/ gives the validation loss the run saw" grep -q 'reloaded: val loss .* (identical)' "$TMP/gpu.log"
files_ok() {
    for f in split.json history.json history.svg metrics.json predictions.csv confusion_matrix.svg best/config.json \
             best/model.safetensors best/tokenizer.json best/train_args.json resume/trainer_state.json; do
        [ -s "$TMP/gpu/$f" ] || { echo "      missing $f"; return 1; }
    done
    [ "$(losses "$TMP/gpu" | wc -l)" = 6 ] && grep -q '"val_loss"' "$TMP/gpu/history.json" && grep -q '"accuracy"' "$TMP/gpu/metrics.json"
}
check "its outputs exist and parse (6 step losses)" files_ok

# --- the GPU-trained checkpoint on the CPU
check "infer --device cpu --eval reloads best/" logged "$TMP/eval_cpu.log" "$INFER" --model "$TMP/gpu/best" --device cpu --eval --data "$TMP/data.tsv" \
    --split "$TMP/gpu/split.json" --output-dir "$TMP/eval_cpu"
check "... and reproduces the run's metrics.json byte for byte" cmp -s "$TMP/gpu/metrics.json" "$TMP/eval_cpu/metrics.json"
check "... and its predictions.csv byte for byte" cmp -s "$TMP/gpu/predictions.csv" "$TMP/eval_cpu/predictions.csv"
check "infer --device cuda --eval runs" logged "$TMP/eval_gpu.log" "$INFER" --model "$TMP/gpu/best" --device cuda --eval --data "$TMP/data.tsv" \
    --split "$TMP/gpu/split.json" --output-dir "$TMP/eval_gpu"
probs "$TMP/gpu/predictions.csv" > "$TMP/p_run"; probs "$TMP/eval_gpu/predictions.csv" > "$TMP/p_gpu"
check "GPU evaluation = the run's probabilities (1e-5 + 1e-4·|p|)" close "$TMP/p_gpu" "$TMP/p_run" 1e-5 1e-4
for d in cpu cuda; do
    "$INFER" --model "$TMP/gpu/best" --device $d --logits "${TEXTS[@]}" 2> "$TMP/texts_$d.err" |
        grep -o '"logits":\[[^]]*' | sed 's/.*\[//' | tr ',' '\n' > "$TMP/logits_$d"
done
check "logits of 3 texts, GPU vs CPU (1e-5 + 1e-4·|cpu|)" close "$TMP/logits_cuda" "$TMP/logits_cpu" 1e-5 1e-4

# --- the same job on the CPU; bf16 on the GPU
check "train --device cpu runs" train cpu --device cpu
losses "$TMP/gpu" > "$TMP/l_gpu"; losses "$TMP/cpu" > "$TMP/l_cpu"
check "per-step losses, GPU fp32 vs CPU (1e-5 relative)" close "$TMP/l_gpu" "$TMP/l_cpu" 0 1e-5
check "train --device cuda --precision bf16 runs" train bf16 --device cuda --precision bf16
check "it printed 'device: cuda (... bf16)'" grep -q '^device: cuda (.*bf16)' "$TMP/bf16.log"
losses "$TMP/bf16" > "$TMP/l_bf16"
echo "      losses: cpu $(tr '\n' ' ' < "$TMP/l_cpu")"
echo "      bf16:       $(tr '\n' ' ' < "$TMP/l_bf16")"
check "per-step losses, GPU bf16 vs CPU (5e-2 + 5e-2·|cpu|)" close "$TMP/l_bf16" "$TMP/l_cpu" 5e-2 5e-2

# --- --resume across devices: stopped at step 4 by the test hook, the state of step 2 resumed
for from in cpu cuda; do
    to=$([ $from = cpu ] && echo cuda || echo cpu)
    train "stop_$from" --device $from --save-steps 2 --debug-nan-at-step 4
    check "a $from run stopped at step 4 with its step-2 state (exit 1)" test $? = 1
    check "... and said so" grep -q 'step 4 (epoch 1).*resume/ (step 2)' "$TMP/stop_$from.log"
    check "--resume on $to finishes it" logged "$TMP/resumed_$to.log" "$TRAIN" --resume "$TMP/stop_$from" --device $to
    losses "$TMP/stop_$from" > "$TMP/l_resumed_$to"
    check "... with the uninterrupted run's per-step losses (1e-5 relative)" close "$TMP/l_resumed_$to" "$TMP/l_cpu" 0 1e-5
done

# --- errors: one line, non-zero exit
# one_error MESSAGE ARGS...: "$TRAIN" ARGS fails with exactly one line, containing MESSAGE
one_error() {
    local msg=$1; shift
    ! "$TRAIN" "$@" --output-dir "$TMP/err" > "$TMP/err.log" 2>&1 && [ "$(wc -l < "$TMP/err.log")" = 1 ] &&
        grep -q -- "$msg" "$TMP/err.log"
}
check "--precision fp16: one error line" one_error "is not one of fp32, bf16" "${JOB[@]}" --device cuda --precision fp16
check "--device tpu: one error line" one_error "not one of cpu, cuda" "${JOB[@]}" --device tpu
if [ $fail -gt 0 ]; then
    for f in "$TMP"/*.log; do echo "== $f"; tail -5 "$f"; done
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
