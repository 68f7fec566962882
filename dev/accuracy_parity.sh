#!/bin/sh
# dev/accuracy_parity.sh: fine-tune the pretrained all-MiniLM-L6-v2 with our CPU trainer and with
# PyTorch/transformers on the same rows (SST-2 by default; the split.json our ./train writes is read by
# dev/finetune_torch.py), same hyperparameters, several seeds; evaluate both on the SST-2 dev set (872
# sentences), or on EVAL_DATA, and print the comparison table (dev/accuracy_table.py).
# Usage: dev/accuracy_parity.sh [OUT]        (default runs/parity)
# Env:   SEEDS="1 2 3"  N_TRAIN=8000  N_VALID=500  MAX_LENGTH=64  EPOCHS=2  BATCH=16  LR=5e-5  THREADS=2
#        PYTHON=~/venv/bin/python (torch + transformers)
#        PRECISION=fp32|bf16 (default fp32): ours --precision (bf16 GEMMs on the CPU, doc/cpu-bf16.md) and
#        PyTorch's --precision (bf16: torch.autocast on the CPU), for training and the evaluation
#        DATA=../shared/data/sst2/train.tsv  EVAL_DATA=../shared/data/sst2/dev.tsv  (tsv or csv: see
#        dev/finetune_torch.py; each side's evaluation goes to OUT/{ours,torch}-seedN/eval)
#        TORCH_FROM=DIR (optional): reuse DIR/torch-seedN instead of rerunning PyTorch for seed N, but only when
#        DIR/ours-seedN/split.json is byte-identical to this run's split.json (PyTorch depends on our build only
#        through that file); otherwise PyTorch is run as usual. Same other settings assumed (not checked).
set -eu
cd "$(dirname "$0")/.."
OUT=${1:-runs/parity}
SHARED=${SHARED:-../shared}
SEEDS=${SEEDS:-"1 2 3"}; N_TRAIN=${N_TRAIN:-8000}; N_VALID=${N_VALID:-500}; MAX_LENGTH=${MAX_LENGTH:-64}
EPOCHS=${EPOCHS:-2}; BATCH=${BATCH:-16}; LR=${LR:-5e-5}; THREADS=${THREADS:-2}; PRECISION=${PRECISION:-fp32}
PYTHON=${PYTHON:-$HOME/venv/bin/python}
DATA=${DATA:-$SHARED/data/sst2/train.tsv}; EVAL_DATA=${EVAL_DATA:-$SHARED/data/sst2/dev.tsv}
MODEL=models/all-MiniLM-L6-v2
export OMP_WAIT_POLICY=PASSIVE
make -s train infer
./dev/get_minilm.sh "$MODEL"
mkdir -p "$OUT"
N=$((N_TRAIN + N_VALID))
RATIO=$(python3 -c "print($N_VALID / $N)")
for seed in $SEEDS; do
    ours="$OUT/ours-seed$seed"; torch_out="$OUT/torch-seed$seed"
    /usr/bin/time -f "%M" -o "$OUT.ours-seed$seed.rss" ./train --model "$MODEL" --data "$DATA" \
        --n-samples "$N" --valid-ratio "$RATIO" --max-length "$MAX_LENGTH" --batch-size "$BATCH" \
        --eval-batch-size 64 --epochs "$EPOCHS" --lr "$LR" --seed "$seed" --threads "$THREADS" --output-dir "$ours" \
        --overwrite-output-dir --precision "$PRECISION"
    mv "$OUT.ours-seed$seed.rss" "$ours/peak_rss_kb"
    ./infer --model "$ours/best" --eval --data "$EVAL_DATA" --output-dir "$ours/eval" \
        --threads "$THREADS" --precision "$PRECISION"
    if [ -n "${TORCH_FROM:-}" ] && [ -f "$TORCH_FROM/torch-seed$seed/metrics.json" ] \
        && cmp -s "$TORCH_FROM/ours-seed$seed/split.json" "$ours/split.json"; then
        echo "seed $seed: split.json identical to $TORCH_FROM; reusing $TORCH_FROM/torch-seed$seed"
        rm -rf "$torch_out"; cp -r "$TORCH_FROM/torch-seed$seed" "$torch_out"; continue
    fi
    "$PYTHON" dev/finetune_torch.py --model "$MODEL" --data "$DATA" --split "$ours/split.json" \
        --eval-data "$EVAL_DATA" --output-dir "$torch_out" --max-length "$MAX_LENGTH" \
        --epochs "$EPOCHS" --batch-size "$BATCH" --lr "$LR" --seed "$seed" --threads "$THREADS" --precision "$PRECISION"
done
"$PYTHON" dev/accuracy_table.py "$OUT"
