#!/bin/sh
# dev/run_main_job.sh: the main job end to end on real data, a few minutes on 2 cores.
#   fine-tune a small random-init DistilBERT (configs/distilbert-small.json: dim 128, 2 layers) on
#   5,000 SST-2 training sentences (4,500 train / 500 validation), 2 epochs, then
#   - evaluate the best checkpoint on the standard SST-2 dev set (872 sentences, never seen),
#   - classify a few new texts.
# Usage: dev/run_main_job.sh [OUTPUT_DIR] (default runs/sst2-small); SHARED=../shared by default.
# Numbers from a run are in doc/pipeline.md. Rerunning replaces the earlier run in OUTPUT_DIR
# (--overwrite-output-dir: ./train refuses a folder holding an earlier run without it).
set -eu
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
OUT=${1:-runs/sst2-small}
THREADS=${THREADS:-2}
# sleep at OpenMP barriers instead of spinning: on a shared machine spinning is 10-40x slower (doc/pipeline.md)
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
make train infer

./train --config configs/distilbert-small.json --tokenizer "$SHARED/data/vocab/bert-base-uncased" \
    --data "$SHARED/data/sst2/train.tsv" --n-samples 5000 --valid-ratio 0.1 \
    --max-length 64 --batch-size 32 --eval-batch-size 64 --epochs 2 --lr 1e-3 --bucket \
    --threads "$THREADS" --output-dir "$OUT" --overwrite-output-dir

echo "== the best checkpoint on the SST-2 dev set (872 held-out sentences)"
./infer --model "$OUT/best" --eval --data "$SHARED/data/sst2/dev.tsv" --output-dir "$OUT/sst2-dev" --threads "$THREADS"

echo "== new texts"
./infer --model "$OUT/best" --threads "$THREADS" \
    "a gorgeous, witty and deeply moving film" \
    "the plot is thin and the jokes fall flat" \
    "an utterly forgettable two hours"
