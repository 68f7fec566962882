#!/bin/sh
# dev/trajectory_parity.sh: controlled trajectory comparison of our ./train and PyTorch/transformers
# (issue 5: is the +1.1-point accuracy gap of dev/accuracy_parity.sh noise or a systematic difference?).
#
# Both sides run exactly the same computation:
#   - the same initial weights, classifier head included: dev/trajectory_torch.py init draws the head
#     with torch (torch.manual_seed(SEED)) and saves a BertForSequenceClassification with save_pretrained;
#     ./train loads that directory and keeps the head (it initialises only head tensors that are missing);
#   - dropout off: that config.json has hidden_dropout_prob = attention_probs_dropout_prob = 0 and
#     classifier_dropout null (both sides then use the hidden dropout, 0); or, with DROPOUT=1, the
#     checkpoint's dropout (0.1 everywhere) on both sides with the same masks: PyTorch's dropout is replaced
#     by ./train's counter-based masks (dev/trajectory_torch.py install_our_dropout);
#   - the same rows (PyTorch reads the split.json ./train wrote) and the same batch order (./train's own
#     per-epoch PCG32 shuffle, printed by dev/print_batch_order.c linked against build/libenc.a);
#   - the same hyperparameters: AdamW lr LR, wd 0.01 on every parameter, betas (0.9, 0.999), eps 1e-8,
#     warmup int(0.1 * total) steps then linear decay, global-norm clipping 1.0, batch BATCH, max length
#     MAX_LENGTH, dynamic padding; tokenization compared row by row (./tokenize vs the HF tokenizer).
# It compares the per-step training loss (ours: OUT/ours/resume/trainer_state.json step_losses), the lr
# (ours: the progress lines of OUT/ours/train.log), the validation loss after each epoch, and the final
# weights and AdamW moments (OUT/ours/resume/*.safetensors vs OUT/torch/final.safetensors); then the
# evaluation path: ./infer --eval and PyTorch score ours' best/ on SST-2 dev (accuracy, log loss, rows).
# Last, outside the controlled run: whether ./train keeps the pretrained BERT pooler of the base checkpoint
# when it initialises the missing classifier (it did not: see doc/results.md, "Trajectory parity").
# The report goes to stdout and OUT/report.md.
#
# Usage: dev/trajectory_parity.sh [OUT]          (default runs/trajectory; a few minutes on 2 busy cores)
# Env:   N_TRAIN=500 N_VALID=128 EPOCHS=2 BATCH=16 MAX_LENGTH=64 LR=5e-5 SEED=1 THREADS=2 EVERY=5 DROPOUT=0
#        PYTHON=~/venv/bin/python (torch + transformers + safetensors)  SHARED=../shared
set -eu
cd "$(dirname "$0")/.."
OUT=${1:-runs/trajectory}
SHARED=${SHARED:-../shared}
N_TRAIN=${N_TRAIN:-500}; N_VALID=${N_VALID:-128}; EPOCHS=${EPOCHS:-2}; BATCH=${BATCH:-16}
MAX_LENGTH=${MAX_LENGTH:-64}; LR=${LR:-5e-5}; SEED=${SEED:-1}; THREADS=${THREADS:-2}; EVERY=${EVERY:-5}
DROPOUT=${DROPOUT:-0}
if [ "$DROPOUT" = 1 ]; then INIT_DROPOUT=--keep-dropout; TORCH_DROPOUT="--our-dropout-seed $SEED"
else INIT_DROPOUT=; TORCH_DROPOUT=; fi
PYTHON=${PYTHON:-$HOME/venv/bin/python}
MODEL=models/all-MiniLM-L6-v2
DATA=$SHARED/data/sst2/train.tsv
export OMP_WAIT_POLICY=PASSIVE
make -s train tokenize
./dev/get_minilm.sh "$MODEL"
cc -O2 -std=c11 -fopenmp -I. $(pkg-config --cflags libcjson) dev/print_batch_order.c build/libenc.a \
    $(pkg-config --libs libcjson) -lm -o build/print_batch_order
rm -rf "$OUT"
mkdir -p "$OUT"

# 1. the common starting point (pretrained encoder + a torch-drawn head, dropout 0 unless DROPOUT=1)
"$PYTHON" dev/trajectory_torch.py init --model "$MODEL" --out "$OUT/init" --seed "$SEED" $INIT_DROPOUT

# 2. ours: ./train from that directory (it writes the split, the per-step losses, the final state)
N=$((N_TRAIN + N_VALID))
RATIO=$(python3 -c "print($N_VALID / $N)")
./train --model "$OUT/init" --data "$DATA" --n-samples "$N" --valid-ratio "$RATIO" --max-length "$MAX_LENGTH" \
    --batch-size "$BATCH" --eval-batch-size 64 --epochs "$EPOCHS" --lr "$LR" --seed "$SEED" \
    --threads "$THREADS" --output-dir "$OUT/ours" > "$OUT/ours.stdout" 2> "$OUT/ours.stderr" || {
    cat "$OUT/ours.stdout" "$OUT/ours.stderr"; exit 1; }
cp "$OUT/ours.stderr" "$OUT/ours/train.log"
grep -q "initialised new head" "$OUT/ours.stdout" && { echo "error: ./train re-initialised the head"; exit 1; }
grep "^training:" "$OUT/ours.stdout"

# 3. ./train's batch order and tokenization, then PyTorch replays the same batches
python3 -c "import json,sys; print(' '.join(map(str, json.load(open(sys.argv[1]))['train'])))" "$OUT/ours/split.json" |
    build/print_batch_order "$BATCH" "$SEED" "$EPOCHS" > "$OUT/order.txt"
"$PYTHON" dev/trajectory_torch.py texts --data "$DATA" --split "$OUT/ours/split.json" --out "$OUT/texts.jsonl"
./tokenize --tokenizer "$OUT/init" --max-length "$MAX_LENGTH" < "$OUT/texts.jsonl" > "$OUT/our_ids.jsonl"
"$PYTHON" dev/trajectory_torch.py train --init "$OUT/init" --data "$DATA" --split "$OUT/ours/split.json" \
    --order "$OUT/order.txt" --our-ids "$OUT/our_ids.jsonl" --out "$OUT/torch" --max-length "$MAX_LENGTH" \
    --batch-size "$BATCH" --lr "$LR" --threads "$THREADS" $TORCH_DROPOUT

# 4. the comparison
"$PYTHON" dev/trajectory_torch.py compare --ours "$OUT/ours" --torch "$OUT/torch" --init "$OUT/init" \
    --every "$EVERY" --md "$OUT/report.md"

# 5. the evaluation path on SST-2 dev: ./infer --eval vs PyTorch, same weights (ours' best/)
./infer --model "$OUT/ours/best" --eval --data "$SHARED/data/sst2/dev.tsv" --output-dir "$OUT/ours-dev" \
    --threads "$THREADS" > "$OUT/ours-dev.stdout"
"$PYTHON" dev/trajectory_torch.py eval --model "$OUT/ours/best" --data "$SHARED/data/sst2/dev.tsv" \
    --ours-eval "$OUT/ours-dev" --max-length "$MAX_LENGTH" --threads "$THREADS" --md "$OUT/report.md"

# 6. outside the controlled run: what ./train loads from the base checkpoint of dev/accuracy_parity.sh
#    (no classifier there, so ./train draws one): a 1-step run at lr 0 leaves the loaded weights as they are
./train --model "$MODEL" --data "$DATA" --n-samples 40 --valid-ratio 0.2 --max-length "$MAX_LENGTH" --batch-size 16 \
    --eval-batch-size 16 --epochs 1 --max-steps 1 --lr 0 --seed "$SEED" --threads "$THREADS" \
    --output-dir "$OUT/ours-lr0" > "$OUT/ours-lr0.log" 2>&1
grep "initialised new head" "$OUT/ours-lr0.log" || true
"$PYTHON" dev/trajectory_torch.py pooler --model "$MODEL" --ours-best "$OUT/ours-lr0/best" --md "$OUT/report.md"
