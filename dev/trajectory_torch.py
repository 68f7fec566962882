#!/usr/bin/env python3
"""PyTorch side and comparison of the trajectory-parity experiment (dev-only; run by dev/trajectory_parity.sh).

Subcommands:
  init    --model DIR --out DIR --seed S [--keep-dropout]
          BertForSequenceClassification (2 labels) from DIR with the classifier head drawn by torch after
          torch.manual_seed(S), dropout off (hidden_dropout_prob = attention_probs_dropout_prob = 0,
          classifier_dropout null -> the hidden dropout, 0 on both sides) unless --keep-dropout, saved with
          save_pretrained (+ tokenizer files): the one starting point both implementations load.
  texts   --data TSV --split split.json --out texts.jsonl
          the train+validation texts as JSON lines (for our ./tokenize).
  train   --init DIR --data TSV --split split.json --order order.txt --out DIR [--our-ids ids.jsonl] ...
          replay the batches of order.txt (build/print_batch_order: ./train's own order) with the same
          schedule as ./train / dev/finetune_torch.py (AdamW one group, decay on every parameter, linear
          warmup int(ratio*total) then linear decay, clip 1.0); log per step loss, lr and the gradient
          norm before clipping (steps.json); validation loss after each epoch; final weights and AdamW
          moments (final.safetensors). With --our-dropout-seed S every dropout draws ./train --seed S's
          masks (install_our_dropout), so the run with dropout on is the same computation as ours too.
  compare --ours OUT_OURS --torch OUT_TORCH [--every N] [--md FILE]
          per-step loss table, max relative loss difference, validation losses, final weights and
          moments max abs differences (ours: OUT_OURS/resume/{trainer_state.json,model.safetensors,
          optimizer.safetensors}, history.json; stderr log for lr).
  eval    --model OUT_OURS/best --data dev.tsv --ours-eval DIR [--md FILE]
          PyTorch evaluates the weights ours trained on a labelled TSV and compares with ./infer --eval's
          metrics.json and predictions.csv in DIR (accuracy, log loss, per-row predictions).
  pooler  --model BASE --ours-best DIR [--md FILE]
          does ./train keep BASE's pretrained pooler when it initialises the missing classifier? (DIR:
          best/ of a 1-step lr-0 ./train run from BASE, so its weights are the loaded ones)
"""
import argparse
import json
import math
import os
import re
import sys


def read_tsv(path):
    # dev/finetune_torch.py's reader (imported here, not at the top: it imports torch)
    from finetune_torch import read_tsv as finetune_read_tsv
    return finetune_read_tsv(path)


def cmd_init(a):
    import torch
    from transformers import AutoConfig, AutoTokenizer, BertForSequenceClassification
    cfg = AutoConfig.from_pretrained(a.model, num_labels=2)
    if not a.keep_dropout:
        cfg.hidden_dropout_prob = 0.0
        cfg.attention_probs_dropout_prob = 0.0
    cfg.classifier_dropout = None
    torch.manual_seed(a.seed)
    model = BertForSequenceClassification.from_pretrained(a.model, config=cfg)
    model.save_pretrained(a.out, safe_serialization=True)
    AutoTokenizer.from_pretrained(a.model).save_pretrained(a.out)
    w = model.classifier.weight
    print(f"init: {a.out}: classifier.weight {tuple(w.shape)} std {w.std().item():.5f}, dropout "
          f"{cfg.hidden_dropout_prob} (attention {cfg.attention_probs_dropout_prob})")

# ./train's dropout masks (kernels/dropout.h), drawn in torch: keep(seed, i) = (splitmix64(seed, i) >> 40) / 2^24 >= p,
# site seed = hash(hash(--seed, step), site). int64 arithmetic wraps like uint64; ">>" is made logical by a mask.
GOLDEN, MIX1, MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def signed(c):  # a uint64 as the int64 with the same bits
    return c - (1 << 64) if c >= 1 << 63 else c


def shr(z, s):  # logical right shift of an int64 tensor
    return (z >> s) & ((1 << (64 - s)) - 1)


def splitmix(seed, i):
    """dropout_hash(seed, i) for an int64 tensor of indices i (the results' bits as int64)"""
    z = (i + 1) * signed(GOLDEN) + signed(seed)
    z = (z ^ shr(z, 30)) * signed(MIX1)
    z = (z ^ shr(z, 27)) * signed(MIX2)
    return z ^ shr(z, 31)


def site_seed(seed, step, site):
    """dropout_site_seed(seed, step, site) as a Python int (uint64)"""
    import torch

    def h(s, i):
        return int(splitmix(s, torch.tensor([i], dtype=torch.int64))[0]) % (1 << 64)
    return h(h(seed, step), site)


def keep_mask(seed, n, p):
    """dropout_keep(seed, i, p) for i = 0..n-1 as a bool tensor"""
    import torch
    return shr(splitmix(seed, torch.arange(n, dtype=torch.int64)), 40) >= math.ceil(p * 16777216.0)


def install_our_dropout(seed, n_layers):
    """Replace torch.nn.functional.dropout (nn.Dropout and BERT's eager attention call it) by ./train's masks.
    A training forward of BertForSequenceClassification calls it 3 L + 2 times, in the order of our sites
    (model/model.c): embeddings 0; layer l: attention probabilities 1+3l, attention output 2+3l, FFN output
    3+3l; then the classifier's input dropout, our site 3L+2 (3L+1 is RoBERTa's head-input dropout).
    Returns the state to set before each forward: state["step"] = ./train's forward_count (1, 2, ...)."""
    import torch
    import torch.nn.functional as F
    plain = F.dropout
    state = {"step": 0, "calls": 0}

    def our_dropout(input, p=0.5, training=True, inplace=False):
        if not training or p == 0:
            return plain(input, p, training, inplace)
        k = state["calls"]
        state["calls"] += 1
        site = k if k <= 3 * n_layers else k + 1
        keep = keep_mask(site_seed(seed, state["step"], site), input.numel(), p).view(input.shape)
        scale = torch.tensor(1.0 / (1.0 - p), dtype=input.dtype)  # ours: (real)(1 / (1 - p))
        return torch.where(keep, input * scale, torch.zeros((), dtype=input.dtype))

    torch.nn.functional.dropout = our_dropout
    return state


def cmd_texts(a):
    texts, _ = read_tsv(a.data)
    split = json.load(open(a.split))
    with open(a.out, "w", encoding="utf-8") as f:
        for r in split["train"] + split["validation"]:
            f.write(json.dumps({"row": r, "text": texts[r]}, ensure_ascii=False) + "\n")


def cmd_train(a):
    import torch
    from safetensors.torch import save_file
    from transformers import AutoTokenizer, BertForSequenceClassification
    torch.set_num_threads(a.threads)
    texts, labels = read_tsv(a.data)
    split = json.load(open(a.split))
    train_rows, valid_rows = split["train"], split["validation"]
    tok = AutoTokenizer.from_pretrained(a.init)

    def encode(rows):
        return tok([texts[i] for i in rows], truncation=True, max_length=a.max_length, padding=True,
                   return_tensors="pt")

    mismatch = 0
    if a.our_ids:  # tokenization: ours (./tokenize) vs the HF tokenizer, every train and validation row
        rows = train_rows + valid_rows
        ours = [json.loads(line)["ids"] for line in open(a.our_ids)]
        assert len(ours) == len(rows), (len(ours), len(rows))
        for r, ids in zip(rows, ours):
            hf = tok(texts[r], truncation=True, max_length=a.max_length)["input_ids"]
            if hf != ids:
                if mismatch < 5:
                    print(f"tokenization differs, row {r}: ours {ids} hf {hf}", file=sys.stderr)
                mismatch += 1
        print(f"tokenization: {len(rows) - mismatch}/{len(rows)} rows identical to the HF tokenizer")

    order = []
    for line in open(a.order):
        parts = [int(x) for x in line.split()]
        order.append((parts[0], parts[1:]))
    epochs = max(e for e, _ in order)
    assert sorted(r for e, b in order if e == 1 for r in b) == sorted(train_rows), "order != split train rows"

    model = BertForSequenceClassification.from_pretrained(a.init, attn_implementation="eager")
    model.train()
    dropout_on = model.config.hidden_dropout_prob > 0 or model.config.attention_probs_dropout_prob > 0
    assert not dropout_on or a.our_dropout_seed is not None, "dropout on needs --our-dropout-seed"
    drop = install_our_dropout(a.our_dropout_seed, model.config.num_hidden_layers) if dropout_on else None
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.weight_decay)
    steps_per_epoch = math.ceil(len(train_rows) / a.batch_size)
    total = steps_per_epoch * epochs
    warmup = int(a.warmup_ratio * total)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: k / max(1, warmup) if k < warmup else max(0.0, (total - k) / max(1, total - warmup)))
    steps, val = [], []
    for step, (epoch, rows) in enumerate(order, 1):
        enc = encode(rows)
        y = torch.tensor([labels[i] for i in rows])
        opt.zero_grad()
        if drop:
            drop["step"], drop["calls"] = step, 0
        out = model(**enc, labels=y)
        assert not drop or drop["calls"] == 3 * model.config.num_hidden_layers + 2, drop
        out.loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), a.max_grad_norm)
        lr = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
        steps.append({"step": step, "epoch": epoch, "loss": out.loss.item(), "lr": lr, "grad_norm": norm.item(),
                      "B": len(rows), "T": enc["input_ids"].shape[1]})
        if step % 10 == 0:
            print(f"step {step}/{len(order)} loss {out.loss.item():.6f} lr {lr:.3e} norm {norm.item():.4f}",
                  flush=True)
        if step == len(order) or order[step][0] != epoch:  # end of an epoch: validation loss
            model.eval()
            total_loss = 0.0
            with torch.no_grad():
                for k in range(0, len(valid_rows), a.eval_batch_size):
                    chunk = valid_rows[k:k + a.eval_batch_size]
                    o = model(**encode(chunk), labels=torch.tensor([labels[i] for i in chunk]))
                    total_loss += o.loss.item() * len(chunk)
            model.train()
            val.append({"epoch": epoch, "val_loss": total_loss / len(valid_rows)})
            print(json.dumps(val[-1]), flush=True)
    os.makedirs(a.out, exist_ok=True)
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    names = {p: n for n, p in model.named_parameters()}
    for p, st in opt.state.items():
        tensors["m." + names[p]] = st["exp_avg"].contiguous()
        tensors["v." + names[p]] = st["exp_avg_sq"].contiguous()
    save_file(tensors, os.path.join(a.out, "final.safetensors"))
    json.dump({"steps": steps, "val": val, "tokenization_mismatches": mismatch, "warmup": warmup, "total": total},
              open(os.path.join(a.out, "steps.json"), "w"), indent=1)


def cmd_compare(a):
    from safetensors.torch import load_file
    state = json.load(open(os.path.join(a.ours, "resume", "trainer_state.json")))
    ours_loss = state["step_losses"]
    ours_hist = json.load(open(os.path.join(a.ours, "history.json")))
    ours_hist = ours_hist if isinstance(ours_hist, list) else ours_hist.get("epochs", ours_hist.get("history"))
    ours_lr = {}  # from ./train's stderr log lines "epoch e/E step s/T | loss x | lr y | ..."
    log = os.path.join(a.ours, "train.log")
    if os.path.exists(log):
        for line in open(log):
            m = re.search(r"step (\d+)/\d+ \| loss [0-9.naif]+ \| lr ([0-9.e+-]+)", line)
            if m:
                ours_lr[int(m.group(1))] = float(m.group(2))
    t = json.load(open(os.path.join(a.torch, "steps.json")))
    steps = t["steps"]
    assert len(steps) == len(ours_loss), (len(steps), len(ours_loss))
    lines = ["| step | epoch | B x T | lr (torch) | lr (ours, log) | grad norm (torch) | loss ours | loss torch | rel. diff |",
             "|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    rel = []
    for i, s in enumerate(steps):
        lo, lt = ours_loss[i], s["loss"]
        rel.append(abs(lo - lt) / abs(lt))
        k = i + 1
        if k <= 10 or k % a.every == 0 or k == len(steps):
            lr_o = f"{ours_lr[k]:.3e}" if k in ours_lr else ""
            lines.append(f"| {k} | {s['epoch']} | {s['B']}x{s['T']} | {s['lr']:.3e} | {lr_o} | {s['grad_norm']:.4f} | "
                         f"{lo:.6f} | {lt:.6f} | {rel[-1]:.1e} |")
    lr_bad = [k for k, v in ours_lr.items() if abs(v - steps[k - 1]["lr"]) > 5e-4 * max(abs(v), 1e-12) + 1e-15]
    first = next((i + 1 for i, r in enumerate(rel) if r > 1e-4), None)
    out = ["\n".join(lines), "",
           f"steps: {len(steps)} (warmup {t['warmup']} of {t['total']}); tokenization mismatches: "
           f"{t['tokenization_mismatches']}",
           f"per-step loss, max relative difference: {max(rel):.2e} (step {rel.index(max(rel)) + 1}); "
           f"first step above 1e-4: {first}; mean over the first 10 steps: {sum(rel[:10]) / min(10, len(rel)):.1e}",
           f"lr: {len(ours_lr)} logged steps of ours compared, {len(lr_bad)} differ beyond the log's 4 digits"]
    for v in t["val"]:
        h = next(h for h in ours_hist if h["epoch"] == v["epoch"])
        out.append(f"epoch {v['epoch']}: validation loss ours {h['val_loss']:.6f} torch {v['val_loss']:.6f} "
                   f"(rel. diff {abs(h['val_loss'] - v['val_loss']) / v['val_loss']:.1e}); "
                   f"train loss ours {h['train_loss']:.6f} torch "
                   f"{sum(s['loss'] for s in steps if s['epoch'] == v['epoch']) / sum(1 for s in steps if s['epoch'] == v['epoch']):.6f}")
    tw = load_file(os.path.join(a.torch, "final.safetensors"))
    ow = load_file(os.path.join(a.ours, "resume", "model.safetensors"))
    oo = load_file(os.path.join(a.ours, "resume", "optimizer.safetensors"))
    worst = {"param": (0.0, ""), "m": (0.0, ""), "v": (0.0, "")}
    max_abs_param, n = 0.0, 0
    for name, x in tw.items():
        kind = name[:2] if name[:2] in ("m.", "v.") else ""
        src = oo if kind else ow
        if name not in src:
            continue
        y = src[name].float()
        d = (x.float() - y).abs().max().item()
        key = kind[:1] if kind else "param"
        if d > worst[key][0]:
            worst[key] = (d, name)
        if not kind:
            max_abs_param = max(max_abs_param, x.abs().max().item())
            n += 1
    out.append(f"final weights ({n} tensors): max abs difference {worst['param'][0]:.2e} ({worst['param'][1]}); "
               f"AdamW m: {worst['m'][0]:.2e} ({worst['m'][1]}), v: {worst['v'][0]:.2e} ({worst['v'][1]})")
    # how far the weights moved, for scale
    init = load_file(os.path.join(a.init, "model.safetensors")) if a.init else None
    if init:
        moved = max((tw[k].float() - init[k].float()).abs().max().item() for k in init if k in tw)
        out.append(f"largest parameter change from the initial weights (torch): {moved:.2e}")
    text = "\n".join(out)
    print(text)
    if a.md:
        open(a.md, "w").write(text + "\n")


def cmd_eval(a):
    """The evaluation path: our ./infer --eval vs PyTorch on the same weights (ours' best/) and file."""
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification
    torch.set_num_threads(a.threads)
    texts, labels = read_tsv(a.data)
    tok = AutoTokenizer.from_pretrained(a.model)
    model = BertForSequenceClassification.from_pretrained(a.model, attn_implementation="eager").eval()
    probs = []
    with torch.no_grad():
        for k in range(0, len(texts), a.batch_size):
            enc = tok(texts[k:k + a.batch_size], truncation=True, max_length=a.max_length, padding=True,
                      return_tensors="pt")
            probs.append(torch.softmax(model(**enc).logits, -1))
    probs = torch.cat(probs)
    y = torch.tensor(labels)
    acc = float((probs.argmax(-1) == y).float().mean())
    ll = float(-probs[torch.arange(len(y)), y].clamp(1e-15, 1 - 1e-15).log().mean())
    ours = json.load(open(os.path.join(a.ours_eval, "metrics.json")))
    rows = [line.rstrip("\n").split(",") for line in open(os.path.join(a.ours_eval, "predictions.csv"))][1:]
    op = torch.tensor([[float(r[5]), float(r[6])] for r in rows])
    ol = [int(r[1]) for r in rows]
    text = (f"evaluation of ours' best/ on {a.data} ({len(texts)} rows, max length {a.max_length}): accuracy ours "
            f"(./infer --eval) {ours['accuracy']:.4f} torch {acc:.4f}; log loss ours {ours['log_loss']:.6f} torch "
            f"{ll:.6f}; labels identical: {ol == labels}; predictions identical: "
            f"{int((op.argmax(-1) == probs.argmax(-1)).sum())}/{len(texts)}; max |prob difference| "
            f"{(op - probs).abs().max().item():.1e}")
    print(text)
    if a.md:
        open(a.md, "a").write(text + "\n")


def cmd_pooler(a):
    """Does ./train keep a base checkpoint's trained head tensors (BERT's pooler) when it draws the new
    classifier? --ours-best: best/ of a 1-step lr-0 ./train run from --model (weights unchanged)."""
    from safetensors.torch import load_file
    pre = load_file(os.path.join(a.model, "model.safetensors"))
    ours = load_file(os.path.join(a.ours_best, "model.safetensors"))
    lines = []
    for k in ("pooler.dense.weight", "pooler.dense.bias"):
        if k not in pre:
            continue
        x, y = pre[k].float(), ours["bert." + k].float()
        d = (x - y).abs().max().item()
        lines.append(f"{k}: ./train's copy {'is identical to' if d == 0 else 'DIFFERS from'} the pretrained tensor "
                     f"(max abs difference {d:.3e}; "
                     f"std pretrained {x.std().item():.4f}, ours {y.std().item():.4f})")
    text = "\n".join(lines)
    print(text)
    if a.md:
        open(a.md, "a").write(text + "\n")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("init")
    p.add_argument("--model", required=True); p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=1); p.add_argument("--keep-dropout", action="store_true")
    p = sub.add_parser("texts")
    p.add_argument("--data", required=True); p.add_argument("--split", required=True); p.add_argument("--out", required=True)
    p = sub.add_parser("train")
    for k in ("--init", "--data", "--split", "--order", "--out"):
        p.add_argument(k, required=True)
    p.add_argument("--our-ids"); p.add_argument("--our-dropout-seed", type=int)
    p.add_argument("--max-length", type=int, default=64); p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--eval-batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=5e-5); p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup-ratio", type=float, default=0.1); p.add_argument("--max-grad-norm", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=2)
    p = sub.add_parser("compare")
    p.add_argument("--ours", required=True); p.add_argument("--torch", required=True)
    p.add_argument("--init"); p.add_argument("--every", type=int, default=10); p.add_argument("--md")
    p = sub.add_parser("eval")
    p.add_argument("--model", required=True); p.add_argument("--data", required=True)
    p.add_argument("--ours-eval", required=True); p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=64); p.add_argument("--threads", type=int, default=2)
    p.add_argument("--md")
    p = sub.add_parser("pooler")
    p.add_argument("--model", required=True); p.add_argument("--ours-best", required=True); p.add_argument("--md")
    a = ap.parse_args()
    {"pooler": cmd_pooler, "eval": cmd_eval, "init": cmd_init, "texts": cmd_texts, "train": cmd_train, "compare": cmd_compare}[a.cmd](a)


if __name__ == "__main__":
    main()
