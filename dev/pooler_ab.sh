#!/bin/sh
# dev/pooler_ab.sh: A/B for the one systematic difference dev/trajectory_parity.sh found between our
# ./train and dev/finetune_torch.py on all-MiniLM-L6-v2: ./train re-draws BERT's pooler (N(0, 0.02)) when
# it initialises the missing classifier, transformers keeps the pretrained pooler.
#   A: ./train from models/all-MiniLM-L6-v2 as dev/accuracy_parity.sh runs it (pooler re-drawn);
#   B: the same run (same seed: same split, batch order, dropout masks and classifier init) from a copy of
#      the model that already holds ./train's own classifier for that seed plus the pretrained pooler
#      (the best/ of a 1-step lr-0 run, which leaves the loaded weights unchanged, with the pooler grafted
#      back), so that nothing is re-drawn: the run a fixed checkpoint_load would make.
# Both evaluated on SST-2 dev; compare with PyTorch's numbers from dev/accuracy_parity.sh (same settings).
# Usage: dev/pooler_ab.sh [OUT]     (default runs/pooler_ab; ~6 minutes per run on 2 busy cores)
# Env:   SEEDS="1 2 3"  VARIANTS="B A"  N_TRAIN=4000 N_VALID=500 EPOCHS=2 THREADS=2 PYTHON=~/venv/bin/python
set -eu
cd "$(dirname "$0")/.."
OUT=${1:-runs/pooler_ab}
SHARED=${SHARED:-../shared}
SEEDS=${SEEDS:-"1 2 3"}; VARIANTS=${VARIANTS:-"B A"}; N_TRAIN=${N_TRAIN:-4000}; N_VALID=${N_VALID:-500}
EPOCHS=${EPOCHS:-2}; THREADS=${THREADS:-2}; PYTHON=${PYTHON:-$HOME/venv/bin/python}
MODEL=models/all-MiniLM-L6-v2
D=$SHARED/data/sst2
export OMP_WAIT_POLICY=PASSIVE
make -s train infer
./dev/get_minilm.sh "$MODEL"
mkdir -p "$OUT"
N=$((N_TRAIN + N_VALID))
RATIO=$(python3 -c "print($N_VALID / $N)")
COMMON="--data $D/train.tsv --n-samples $N --valid-ratio $RATIO --max-length 64 --batch-size 16 --eval-batch-size 64 --threads $THREADS"
for seed in $SEEDS; do
    rm -rf "$OUT/head$seed" "$OUT/init$seed"
    ./train --model "$MODEL" $COMMON --epochs 1 --max-steps 1 --lr 0 --seed "$seed" --output-dir "$OUT/head$seed" \
        > "$OUT/head$seed.log" 2>&1
    "$PYTHON" - "$OUT/head$seed/best" "$OUT/init$seed" "$MODEL" <<'PY'
import os, shutil, sys
from safetensors.torch import load_file, save_file
src, dst, model = sys.argv[1:]
shutil.copytree(src, dst)
w, pre = load_file(os.path.join(src, "model.safetensors")), load_file(os.path.join(model, "model.safetensors"))
for k in ("pooler.dense.weight", "pooler.dense.bias"):
    w["bert." + k] = pre[k].clone()
save_file(w, os.path.join(dst, "model.safetensors"), metadata={"format": "pt"})
os.remove(os.path.join(dst, "train_args.json"))
PY
    for v in $VARIANTS; do
        if [ "$v" = B ]; then M=$OUT/init$seed; else M=$MODEL; fi
        O=$OUT/$v-seed$seed
        rm -rf "$O"
        ./train --model "$M" $COMMON --epochs "$EPOCHS" --lr 5e-5 --seed "$seed" --output-dir "$O" > "$O.log" 2>&1
        ./infer --model "$O/best" --eval --data "$D/dev.tsv" --output-dir "$O/sst2-dev" --threads "$THREADS" > "$O.eval.log"
        python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print('$v seed $seed: SST-2 dev accuracy %.4f log_loss %.4f' % (m['accuracy'], m['log_loss']))" \
            "$O/sst2-dev/metrics.json" | tee -a "$OUT/results.txt"
    done
done
