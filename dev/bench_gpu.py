"""GPU speed and memory, PyTorch side: DistilBertForSequenceClassification at DistilBERT-base shape
(vocab 30522, dim 768, 6 layers, 12 heads, FFN 3072, 2 labels), batch B x T (default 32 x 256) of random
full-length token ids — the same problem as build/cuda/bench_model (dev/cuda/bench_model.cu), which
dev/gpu_check.sh runs right before this script on the same GPU and then prints one table of both.

    python3 dev/bench_gpu.py [--B 32] [--T 256] [--iters 20] [--warmup 5] [--no-compile]

For precision fp32 (TF32 off: torch.backends.cuda.matmul.allow_tf32 = False, PyTorch's default) and
bf16 autocast (torch.autocast("cuda", torch.bfloat16): bf16 GEMMs, fp32 master weights and optimizer),
eager and torch.compile(model), it times
  train: forward (dropout on) + loss.backward() + clip_grad_norm_(1.0) + AdamW(lr 5e-5, wd 0.01) step +
         zero_grad, one step;
  infer: forward in eval mode under torch.inference_mode().
Median of --iters CUDA-event-timed steps after --warmup untimed ones; tokens/s = B·T / median; MFU
against 989 TFLOP/s (H100 SXM bf16 dense) with the FLOP counts of bench_model.cu (kernel-notes §7.1);
peak memory = torch.cuda.max_memory_allocated() over the timed configuration (reset before it).
One line per configuration, bench_model's format:
  BENCH impl=<torch_eager|torch_compile> precision=<fp32|bf16> mode=<train|infer> median_ms=<t> tokens_per_s=<n> mfu=<f> mem_gb=<g>
Also prints which SDPA backend ran (torch.profiler kernel names), since that decides attention speed.
Exits 0 with a message when torch, transformers or a GPU is missing (the comparison is then ours only).
"""
import argparse
import statistics
import sys

PEAK = 989e12


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--B", type=int, default=32)
    ap.add_argument("--T", type=int, default=256)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--no-compile", action="store_true")
    args = ap.parse_args()
    try:
        import torch
        from transformers import DistilBertConfig, DistilBertForSequenceClassification
    except Exception as e:  # noqa: BLE001
        print(f"bench_gpu.py: PyTorch/transformers not available ({e}); no PyTorch numbers")
        return 0
    if not torch.cuda.is_available():
        print("bench_gpu.py: no CUDA device visible to PyTorch; no PyTorch numbers")
        return 0
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    B, T = args.B, args.T
    C, L, I = 768, 6, 3072
    N = L * (4 * C * C + 2 * C * I)
    flops_tok = {"train": 6 * N + 12 * L * C * T, "infer": 2 * N + 4 * L * C * T}
    dev = torch.device("cuda")
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, 30000, (B, T), generator=g).to(dev)
    mask = torch.ones(B, T, dtype=torch.long, device=dev)
    labels = (torch.arange(B) % 2).to(dev)
    print(f"bench_gpu.py: torch {torch.__version__} on {torch.cuda.get_device_name()}, B={B} T={T}")

    impls = ["torch_eager"] + ([] if args.no_compile else ["torch_compile"])
    for impl in impls:
        for precision in ("fp32", "bf16"):
            for mode in ("train", "infer"):
                torch.manual_seed(0)
                cfg = DistilBertConfig(vocab_size=30522, dim=768, n_layers=6, n_heads=12, hidden_dim=3072,
                                       max_position_embeddings=512, num_labels=2)
                model = DistilBertForSequenceClassification(cfg).to(dev)
                run_model = torch.compile(model) if impl == "torch_compile" else model
                opt = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01)
                ac = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if precision == "bf16" else None

                def step():
                    if mode == "train":
                        model.train()
                        if ac:
                            with ac():
                                loss = run_model(input_ids=ids, attention_mask=mask, labels=labels).loss
                        else:
                            loss = run_model(input_ids=ids, attention_mask=mask, labels=labels).loss
                        loss.backward()
                        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                        opt.step()
                        opt.zero_grad(set_to_none=True)
                    else:
                        model.eval()
                        with torch.inference_mode():
                            if ac:
                                with ac():
                                    run_model(input_ids=ids, attention_mask=mask)
                            else:
                                run_model(input_ids=ids, attention_mask=mask)

                try:
                    for _ in range(args.warmup):
                        step()
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats()
                    times = []
                    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    for _ in range(args.iters):
                        e0.record()
                        step()
                        e1.record()
                        e1.synchronize()
                        times.append(e0.elapsed_time(e1))
                    med = statistics.median(times)
                    tok = B * T / (med * 1e-3)
                    mem = torch.cuda.max_memory_allocated() / 1e9
                    print(f"BENCH impl={impl} precision={precision} mode={mode} median_ms={med:.3f} "
                          f"tokens_per_s={tok:.0f} mfu={tok * flops_tok[mode] / PEAK:.4f} mem_gb={mem:.3f}", flush=True)
                    if impl == "torch_eager" and mode == "train":
                        from torch.profiler import ProfilerActivity, profile
                        with profile(activities=[ProfilerActivity.CUDA]) as prof:
                            step()
                            torch.cuda.synchronize()
                        names = {e.key for e in prof.key_averages()}
                        att = sorted(n for n in names if any(k in n.lower() for k in ("flash", "fmha", "cudnn", "attention", "efficient")))
                        print(f"  sdpa kernels ({precision}): {', '.join(att[:4]) or 'none found (math path)'}")
                except Exception as e:  # noqa: BLE001
                    print(f"BENCH impl={impl} precision={precision} mode={mode} error={type(e).__name__}: {e}")
                del model, run_model, opt
                torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
