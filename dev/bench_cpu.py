"""CPU speed and memory: our C trainer vs PyTorch (transformers) on the same cores.

    ~/venv/bin/python dev/bench_cpu.py [--threads 2] [--reps 5] [--compile] [--quick]

Builds build/libenc.a and build/bench_cpu (dev/bench_cpu.c), then for
  (a) a DistilBERT-base-shaped classifier (dim 768, 6 layers, vocab 30522), training batch 8 x 128
  (b) an all-MiniLM-L6-v2-shaped classifier (BERT, dim 384, 6 layers), training batch 16 x 128
measures one training step (forward + backward + AdamW, dropout on) and inference (batch 32 x 128 and
batch 1 x 128 latency, eval mode), ours vs PyTorch fp32 eager (SDPA and "eager" attention;
torch.compile with --compile), each in its own process (so peak RSS is per configuration), with
torch.set_num_threads and OMP_NUM_THREADS equal to ours. Each process reports the median of --reps runs
after one warm-up; --rounds alternating rounds of (ours, PyTorch) are run and each side's best median is
kept (the machine is shared: this compares both at their least-disturbed). Prints a markdown table of
times, ratios (ours / PyTorch, < 1 means we are faster) and peak RSS (getrusage ru_maxrss).

    ~/venv/bin/python dev/bench_cpu.py --bf16 [--bf16-paths] [--threads 2] [--reps 5] [--rounds 3]

--bf16 instead compares precisions, in one run and the same alternating rounds: ours fp32, ours bf16
(--precision bf16: the best bf16 GEMM path of this CPU; --bf16-paths adds each path forced), PyTorch fp32
and PyTorch bf16 autocast (torch.autocast("cpu", dtype=torch.bfloat16) around the forward and loss, as
the HF Trainer's --bf16 does; SDPA attention), same threads. It also measures each precision's peak
with bare instruction loops (build/bench_peak, dev/bench_peak.c) and prints GFLOP/s as a share of it
(FLOPs: 6N + 12·L·C·T per token for a training step, 2N + 4·L·C·T for inference, N = GEMM parameters).
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (label, model, mode, batch)
CASES = [
    ("DistilBERT train step, 8x128", "distilbert", "train", 8),
    ("DistilBERT inference, 32x128", "distilbert", "infer", 32),
    ("DistilBERT inference, 1x128", "distilbert", "infer", 1),
    ("MiniLM-L6 train step, 16x128", "minilm", "train", 16),
    ("MiniLM-L6 inference, 32x128", "minilm", "infer", 32),
    ("MiniLM-L6 inference, 1x128", "minilm", "infer", 1),
]
SEQ = 128


def reps_for(mode, batch, reps):
    return reps * 4 if (mode == "infer" and batch == 1) else reps


# ---------------------------------------------------------------- PyTorch worker (separate process)

def torch_worker(model_name, mode, batch, reps, threads, attn, compile_, amp="fp32"):
    import contextlib
    import torch
    from transformers import BertConfig, BertForSequenceClassification
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if model_name == "distilbert":
        cfg = DistilBertConfig(vocab_size=30522, dim=768, n_layers=6, n_heads=12, hidden_dim=3072,
                               max_position_embeddings=512, num_labels=2)
        cls = DistilBertForSequenceClassification
    else:
        cfg = BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                         intermediate_size=1536, max_position_embeddings=512, type_vocab_size=2,
                         layer_norm_eps=1e-12, hidden_act="gelu", num_labels=2)
        cls = BertForSequenceClassification
    cfg._attn_implementation = attn
    model = cls(cfg)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1000, 30000, (batch, SEQ), generator=g)
    mask = torch.ones(batch, SEQ, dtype=torch.long)
    labels = torch.arange(batch) % 2
    fwd = torch.compile(model) if compile_ else model
    # bf16 autocast: linear / matmul in bf16, layernorm / softmax / loss in fp32, fp32 parameters and AdamW
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if amp == "bf16" else contextlib.nullcontext
    times, cpu = [], []
    if mode == "train":
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01)
        for r in range(-1 - (2 if compile_ else 0), reps):
            t0, c0 = time.perf_counter(), time.process_time()
            with autocast():
                loss = fwd(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            if r >= 0:
                times.append((time.perf_counter() - t0) * 1e3)
                cpu.append((time.process_time() - c0) * 1e3)
    else:
        model.eval()
        with torch.inference_mode(), autocast():
            for r in range(-1 - (2 if compile_ else 0), reps):
                t0, c0 = time.perf_counter(), time.process_time()
                fwd(input_ids=ids, attention_mask=mask).logits
                if r >= 0:
                    times.append((time.perf_counter() - t0) * 1e3)
                    cpu.append((time.process_time() - c0) * 1e3)
    print(json.dumps({"impl": "torch", "times_ms": times, "median_ms": statistics.median(times),
                      "median_cpu_ms": statistics.median(cpu),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))


# ---------------------------------------------------------------- driver

def build():
    subprocess.run(["make", "-s", "build/libenc.a"], cwd=ROOT, check=True)
    cjson = subprocess.run(["pkg-config", "--cflags", "--libs", "libcjson"], capture_output=True, text=True,
                           check=True).stdout.split()
    cflags = [f for f in cjson if f.startswith("-I")]
    libs = [f for f in cjson if not f.startswith("-I")]
    subprocess.run(["cc", "-O2", "-std=c11", "-fopenmp", "-I.", *cflags, "dev/bench_cpu.c", "build/libenc.a",
                    *libs, "-lm", "-o", "build/bench_cpu"], cwd=ROOT, check=True)


def run_json(cmd, env):
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        return {"error": (p.stderr or p.stdout).strip().splitlines()[-1:] or ["failed"]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--compile", action="store_true", help="also torch.compile (inductor) the PyTorch model")
    ap.add_argument("--wait-policy", default="PASSIVE", help="OMP_WAIT_POLICY for both sides")
    ap.add_argument("--rounds", type=int, default=3, help="alternating ours/PyTorch rounds; best median is kept")
    ap.add_argument("--only", default="", help="run only the cases whose label contains this text")
    ap.add_argument("--quick", action="store_true", help="skip the PyTorch 'eager' attention variant")
    ap.add_argument("--bf16", action="store_true", help="compare precisions: ours and PyTorch, fp32 and bf16")
    ap.add_argument("--bf16-paths", action="store_true", help="with --bf16: also each bf16 GEMM path of ours, forced")
    ap.add_argument("--worker", nargs=7, metavar=("MODEL", "MODE", "BATCH", "REPS", "ATTN", "COMPILE", "AMP"),
                    help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        m, mode, batch, reps, attn, comp, amp = a.worker
        torch_worker(m, mode, int(batch), int(reps), a.threads, attn, comp == "1", amp)
        return
    build()
    if a.bf16:
        compare_precisions(a)
        return
    # passive waiting: idle OpenMP threads sleep instead of spinning, so CPU time counts real work only
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OMP_WAIT_POLICY=a.wait_policy)
    variants = [("sdpa", False)] + ([] if a.quick else [("eager", False)]) + ([("sdpa", True)] if a.compile else [])
    rows = []
    cases = [c for c in CASES if not a.only or a.only in c[0]]
    for label, model, mode, batch in cases:
        reps = reps_for(mode, batch, a.reps)
        ours_cmd = ["build/bench_cpu", "--model", model, "--mode", mode, "--batch", str(batch), "--seq", str(SEQ),
                    "--reps", str(reps), "--threads", str(a.threads)]
        keys = [("compile" if comp else "eager") + "/" + attn for attn, comp in variants]
        runs = {"ours": []}
        runs.update({k: [] for k in keys})
        # rounds alternate ours and PyTorch, so both see the same background load; keep each side's best median
        for _ in range(a.rounds):
            runs["ours"].append(run_json(ours_cmd, env))
            for (attn, comp), key in zip(variants, keys):
                runs[key].append(run_json([sys.executable, __file__, "--threads", str(a.threads), "--worker", model,
                                           mode, str(batch), str(reps), attn, "1" if comp else "0", "fp32"], env))
        best = {k: min(v, key=lambda d: d.get("median_ms", float("inf"))) for k, v in runs.items()}
        for k, v in runs.items():  # peak RSS: the largest seen
            best[k] = dict(best[k], peak_rss_mb=max(d.get("peak_rss_mb", 0) for d in v))
        rows.append((label, best["ours"], {k: best[k] for k in keys}))
        print(json.dumps({"case": label, "runs": runs}), file=sys.stderr, flush=True)

    keys = [("compile" if c else "eager") + "/" + at for at, c in variants]
    print(f"\n{a.threads} threads, seq {SEQ}, OMP_WAIT_POLICY={a.wait_policy}; each time is the median of {a.reps} "
          f"runs (batch 1: {a.reps * 4}) in one process, best of {a.rounds} alternating rounds; wall = elapsed ms, "
          f"cpu = CPU ms of all threads; ratio = ours / PyTorch (< 1: ours faster)\n")

    def ms(d, f="median_ms"):
        return f"{d[f]:.0f}" if f in d else "n/a"

    def ratio(o, t, f="median_ms"):
        return f"**{o[f] / t[f]:.2f}**" if f in o and f in t else "n/a"

    head = "| case | ours wall / cpu | " + " | ".join(f"torch {k} wall / cpu | ratio wall / cpu" for k in keys) + \
           " | peak RSS MB ours | " + " | ".join(f"torch {k}" for k in keys) + " |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for label, ours, theirs in rows:
        cells = [label, f"{ms(ours)} / {ms(ours, 'median_cpu_ms')}"]
        for k in keys:
            t = theirs[k]
            cells += [f"{ms(t)} / {ms(t, 'median_cpu_ms')}",
                      f"{ratio(ours, t)} / {ratio(ours, t, 'median_cpu_ms')}"]
        cells.append(f"{ours.get('peak_rss_mb', float('nan')):.0f}")
        cells += [f"{theirs[k].get('peak_rss_mb', float('nan')):.0f}" for k in keys]
        print("| " + " | ".join(cells) + " |")


# ---------------------------------------------------------------- --bf16: precisions side by side

# (layers, channels, FFN channels) of the two shapes, for the FLOP count
SHAPES = {"distilbert": (6, 768, 3072), "minilm": (6, 384, 1536)}


def step_gflop(model, mode, batch):
    L, C, I = SHAPES[model]
    n = L * (4 * C * C + 2 * C * I)  # parameters used in GEMMs (the head's B rows are negligible)
    per_token = 6 * n + 12 * L * C * SEQ if mode == "train" else 2 * n + 4 * L * C * SEQ
    return per_token * batch * SEQ * 1e-9


def compare_precisions(a):
    subprocess.run(["cc", "-O2", "-std=c11", "-fopenmp", "dev/bench_peak.c", "-o", "build/bench_peak"], cwd=ROOT,
                   check=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OMP_WAIT_POLICY=a.wait_policy)
    peak = run_json(["build/bench_peak", str(a.threads), "0.3"], env)  # best of 5 x 0.3 s per precision
    print(json.dumps({"peak": peak}), file=sys.stderr, flush=True)
    ours_variants = ["fp32", "bf16"] + (["bf16-avx512", "bf16-amx"] if a.bf16_paths else [])
    keys = [f"ours {v}" for v in ours_variants] + ["torch fp32", "torch bf16"]
    rows = []
    for label, model, mode, batch in [c for c in CASES if not a.only or a.only in c[0]]:
        reps = reps_for(mode, batch, a.reps)
        runs = {k: [] for k in keys}
        for _ in range(a.rounds):  # alternating rounds: every variant sees the same background load
            for v in ours_variants:
                runs[f"ours {v}"].append(run_json(
                    ["build/bench_cpu", "--model", model, "--mode", mode, "--batch", str(batch), "--seq", str(SEQ),
                     "--reps", str(reps), "--threads", str(a.threads), "--precision", v], env))
            for amp in ("fp32", "bf16"):
                runs[f"torch {amp}"].append(run_json(
                    [sys.executable, __file__, "--threads", str(a.threads), "--worker", model, mode, str(batch),
                     str(reps), "sdpa", "0", amp], env))
        best = {k: min(v, key=lambda d: d.get("median_ms", float("inf"))) for k, v in runs.items()}
        rows.append((label, model, mode, batch, best))
        print(json.dumps({"case": label, "runs": runs}), file=sys.stderr, flush=True)

    print(f"\n{a.threads} threads, seq {SEQ}, OMP_WAIT_POLICY={a.wait_policy}; each time is the median of {a.reps} "
          f"runs (batch 1: {a.reps * 4}) in one process, best of {a.rounds} alternating rounds (wall ms). "
          f"Peak (bare instruction loops, {a.threads} threads): " +
          ", ".join(f"{k.replace('_gflops', '')} {v:.0f} GFLOP/s" for k, v in peak.items() if k.endswith("_gflops")) + "\n")
    bf16_peak = peak.get("amx_bf16_gflops", peak.get("avx512_bf16_gflops"))

    def ms(d):
        return f"{d['median_ms']:.0f}" if "median_ms" in d else "n/a"

    def ratio(x, y):
        return f"**{x['median_ms'] / y['median_ms']:.2f}**" if "median_ms" in x and "median_ms" in y else "n/a"

    def share(d, gflop, pk):
        if "median_ms" not in d or not pk:
            return "n/a"
        g = gflop / (d["median_ms"] * 1e-3)
        return f"{g:.0f} ({100 * g / pk:.0f} %)"

    head = ("| case | " + " | ".join(f"{k} ms" for k in keys) +
            " | ours bf16 / ours fp32 | ours bf16 / torch bf16 | ours fp32 / torch fp32 | torch bf16 / torch fp32"
            " | ours fp32 GFLOP/s (% fp32 peak) | ours bf16 GFLOP/s (% bf16 peak) |")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for label, model, mode, batch, b in rows:
        gflop = step_gflop(model, mode, batch)
        cells = [label] + [ms(b[k]) for k in keys]
        cells += [ratio(b["ours bf16"], b["ours fp32"]), ratio(b["ours bf16"], b["torch bf16"]),
                  ratio(b["ours fp32"], b["torch fp32"]), ratio(b["torch bf16"], b["torch fp32"])]
        cells += [share(b["ours fp32"], gflop, peak.get("fp32_gflops")), share(b["ours bf16"], gflop, bf16_peak)]
        print("| " + " | ".join(cells) + " |")
    gemms = {d.get("gemm") for k in keys if k.startswith("ours") for _, _, _, _, b in rows for d in [b[k]]}
    print("\nours' GEMM paths: " + "; ".join(sorted(g for g in gemms if g)))


if __name__ == "__main__":
    main()
