#!/usr/bin/env python3
"""dev/perturb_checkpoint.py: a copy of a checkpoint with one tensor perturbed, the negative control of
./parity (dev-only; doc/parity.md). Every element of --tensor gets +delta or -delta (random signs, seed 0);
the other files of the folder (config, tokenizer) are copied unchanged.

    ~/venv/bin/python dev/perturb_checkpoint.py --model models/all-MiniLM-L6-v2 \\
        --tensor encoder.layer.3.intermediate.dense.weight --delta 1e-3 --out /tmp/minilm-perturbed
    ./parity --model /tmp/minilm-perturbed --dump /tmp/minilm.dump.safetensors    # must FAIL in layer 3
"""
import argparse
import os
import shutil
import sys

import torch
from safetensors.torch import load_file, save_file


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="checkpoint folder with model.safetensors")
    ap.add_argument("--tensor", required=True, help="tensor name as stored in model.safetensors")
    ap.add_argument("--delta", type=float, default=1e-3)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    tensors = load_file(os.path.join(args.model, "model.safetensors"))
    if args.tensor not in tensors:
        close = [n for n in tensors if args.tensor.split(".")[-1] in n][:5]
        raise SystemExit(f"{args.model}/model.safetensors: no tensor {args.tensor} (e.g. {', '.join(close)})")
    os.makedirs(args.out, exist_ok=True)
    for name in os.listdir(args.model):
        src = os.path.join(args.model, name)
        if name != "model.safetensors" and os.path.isfile(src):
            shutil.copy(src, os.path.join(args.out, name))
    g = torch.Generator().manual_seed(0)
    t = tensors[args.tensor]
    signs = torch.randint(0, 2, t.shape, generator=g).to(t.dtype) * 2 - 1
    tensors[args.tensor] = (t + args.delta * signs).contiguous()
    tmp = os.path.join(args.out, "model.safetensors.tmp")
    save_file(tensors, tmp, metadata={"format": "pt"})
    os.replace(tmp, os.path.join(args.out, "model.safetensors"))
    print(f"{args.out}: {args.tensor} {tuple(t.shape)} perturbed by +-{args.delta}")


if __name__ == "__main__":
    sys.exit(main())
