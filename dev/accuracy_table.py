#!/usr/bin/env python3
"""Summarise dev/accuracy_parity.sh runs: per seed and mean (± std) of accuracy, F1, log loss on SST-2 dev,
training wall time, examples/s and peak memory, ours vs PyTorch. Usage: dev/accuracy_table.py runs/parity"""
import glob
import json
import os
import statistics
import sys


def ours(d):
    m = json.load(open(os.path.join(d, "sst2-dev", "metrics.json")))
    hist = json.load(open(os.path.join(d, "history.json")))
    n_train = len(json.load(open(os.path.join(d, "split.json")))["train"])
    eps = statistics.mean(h["examples_per_s"] for h in hist)
    rss = int(open(os.path.join(d, "peak_rss_kb")).read().split()[-1]) / 1024
    return {"accuracy": m["accuracy"], "f1": m["f1"], "log_loss": m["log_loss"], "examples_per_s": eps,
            "train_seconds": n_train * len(hist) / eps, "peak_rss_mb": rss}


def torch_side(d):
    m = json.load(open(os.path.join(d, "metrics.json")))
    return {k: m[k] for k in ["accuracy", "f1", "log_loss", "examples_per_s", "train_seconds", "peak_rss_mb"]}


def main():
    out = sys.argv[1]
    rows = []
    for d in sorted(glob.glob(os.path.join(out, "ours-seed*"))):
        seed = d.rsplit("seed", 1)[1]
        t = os.path.join(out, f"torch-seed{seed}")
        if os.path.exists(os.path.join(t, "metrics.json")) and os.path.exists(os.path.join(d, "sst2-dev")):
            rows.append((seed, ours(d), torch_side(t)))
    keys = ["accuracy", "f1", "log_loss", "train_seconds", "examples_per_s", "peak_rss_mb"]
    print("| seed | impl | " + " | ".join(keys) + " |")
    print("|---|---|" + "---:|" * len(keys))
    for seed, o, t in rows:
        for name, r in (("ours (C, CPU)", o), ("PyTorch", t)):
            print(f"| {seed} | {name} | " + " | ".join(f"{r[k]:.4f}" if k in keys[:3] else f"{r[k]:.1f}" for k in keys) + " |")
    for name, idx in (("ours (C, CPU)", 1), ("PyTorch", 2)):
        vals = {k: [r[idx][k] for r in rows] for k in keys}
        cells = []
        for k in keys:
            mean = statistics.mean(vals[k])
            sd = statistics.stdev(vals[k]) if len(vals[k]) > 1 else 0.0
            cells.append(f"{mean:.4f} ± {sd:.4f}" if k in keys[:3] else f"{mean:.1f}")
        print(f"| mean | {name} | " + " | ".join(cells) + " |")
    if rows:
        gap = 100 * (statistics.mean(r[1]["accuracy"] for r in rows) - statistics.mean(r[2]["accuracy"] for r in rows))
        print(f"\nmean accuracy, ours − PyTorch: {gap:+.2f} points over {len(rows)} seeds (target: within ±0.5)")


if __name__ == "__main__":
    main()
