#!/usr/bin/env python3
"""Summarise dev/accuracy_parity.sh runs: per seed and mean (± std) of accuracy, F1, log loss on the evaluation file,
training wall time, examples/s and peak memory, ours vs PyTorch; then the paired differences (same split per
seed on both sides) with their standard error and 95 % interval.
Usage: dev/accuracy_table.py runs/parity [runs/parity-more ...]   (several folders: their seeds pooled)"""
import glob
import json
import os
import statistics
import sys


def eval_dir(d):
    """ours' evaluation folder: eval/ (runs before 2026-11-27: sst2-dev/)"""
    return os.path.join(d, "eval") if os.path.isdir(os.path.join(d, "eval")) else os.path.join(d, "sst2-dev")


def ours(d):
    m = json.load(open(os.path.join(eval_dir(d), "metrics.json")))
    hist = json.load(open(os.path.join(d, "history.json")))
    n_train = len(json.load(open(os.path.join(d, "split.json")))["train"])
    eps = statistics.mean(h["examples_per_s"] for h in hist)
    rss = int(open(os.path.join(d, "peak_rss_kb")).read().split()[-1]) / 1024
    return {"accuracy": m["accuracy"], "f1": m["f1"], "log_loss": m["log_loss"], "examples_per_s": eps,
            "train_seconds": n_train * len(hist) / eps, "peak_rss_mb": rss}


def torch_side(d):
    m = json.load(open(os.path.join(d, "metrics.json")))
    return {k: m[k] for k in ["accuracy", "f1", "log_loss", "examples_per_s", "train_seconds", "peak_rss_mb"]}


# two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom (beyond: the normal 1.96)
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def paired(name, diffs, scale, unit):
    """mean of the per-seed differences ours − PyTorch, its standard error and 95 % interval"""
    n, mean = len(diffs), statistics.mean(diffs)
    fmt = f"+.{2 if scale > 1 else 4}f"
    line = f"{name}, ours − PyTorch per seed: " + ", ".join(f"{scale * d:{fmt}}" for d in diffs)
    if n < 2:
        return line
    se = statistics.stdev(diffs) / n ** 0.5
    q = T975[n - 2] if n - 1 <= len(T975) else 1.96
    lo, hi = scale * (mean - q * se), scale * (mean + q * se)
    return (f"{line}\n  mean {scale * mean:{fmt}}{unit}, standard error {scale * se:{fmt[1:]}}, "
            f"t = {mean / se if se else float('inf'):.2f} ({n - 1} df), 95 % interval {lo:{fmt}} to {hi:{fmt}}; "
            f"ours higher on {sum(d > 0 for d in diffs)} of {n} seeds")


def main():
    rows = []
    for out in sys.argv[1:]:
        for d in sorted(glob.glob(os.path.join(out, "ours-seed*"))):
            seed = d.rsplit("seed", 1)[1]
            t = os.path.join(out, f"torch-seed{seed}")
            if os.path.exists(os.path.join(t, "metrics.json")) and os.path.exists(eval_dir(d)):
                rows.append((seed, ours(d), torch_side(t)))
    rows.sort(key=lambda r: int(r[0]) if r[0].isdigit() else r[0])
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
        print(paired("accuracy", [r[1]["accuracy"] - r[2]["accuracy"] for r in rows], 100, " points"))
        print(paired("log loss", [r[1]["log_loss"] - r[2]["log_loss"] for r in rows], 1, ""))


if __name__ == "__main__":
    main()
