#!/usr/bin/env python3
"""dev/dump_torch.py: a PyTorch reference dump for ./parity (dev-only; the format is doc/parity.md).

Runs a Hugging Face DistilBERT / BERT (MiniLM) / RoBERTa sequence classifier in PyTorch on a batch of
texts, in eval mode (dropout off), with eager attention, and writes one safetensors file holding:
  input_ids, attention_mask, labels                      I64 (B,T), (B,T), (B)
  the forward activations (forward hooks), the loss      F32, names in doc/parity.md
  grad.<activation>                                      dloss/d(activation) (retain_grad)
  grad.<HF parameter name>                               every parameter gradient
  adamw.<HF parameter name>, adamw.grad_norm             with --steps N: the parameters after N
                                                         torch.optim.AdamW steps on the same batch
                                                         (hyperparameters in the metadata)
  init.<HF parameter name>                               parameters the checkpoint lacked (a base
                                                         checkpoint's classifier head), as drawn here

Setup (once):  python3 -m venv ~/venv && ~/venv/bin/pip install torch transformers safetensors numpy
Use:
  ~/venv/bin/python dev/dump_torch.py --model models/all-MiniLM-L6-v2 \\
      --data ../shared/data/sst2/dev.tsv --limit 32 --max-length 64 --out /tmp/minilm.dump.safetensors
  ./parity --model models/all-MiniLM-L6-v2 --dump /tmp/minilm.dump.safetensors

Your own PyTorch module can write the same format with DumpRecorder (below): call
`x = rec.record("layer.0.q", x)` on each activation in the forward, then `loss.backward()` and
`rec.save(path, model, inputs, metadata)`.
"""
import argparse
import copy
import math
import os
import sys

import torch
from safetensors.torch import save_file

FORMAT_NAME = "encoder-parity-dump"
FORMAT_VERSION = "1"


class DumpRecorder:
    """Named activations of one forward, then their gradients and the parameter gradients, written
    in the dump format (doc/parity.md)."""

    def __init__(self):
        self.activations = {}  # name -> tensor still in the autograd graph, in execution order

    def record(self, name, tensor):
        """Keep `tensor` (an activation of the forward) under `name`; returns it unchanged."""
        if name in self.activations:
            raise ValueError(f"activation {name} recorded twice")
        if tensor.requires_grad:
            tensor.retain_grad()
        self.activations[name] = tensor
        return tensor

    def tensors(self, model):
        """The recorded values, their gradients (after loss.backward()) and every parameter gradient."""
        out = {}
        for name, t in self.activations.items():
            out[name] = t.detach().float().clone()
            if name != "loss" and t.grad is not None:
                out["grad." + name] = t.grad.detach().float().clone()
        for name, p in model.named_parameters():
            if p.grad is not None:
                out["grad." + name] = p.grad.detach().float().clone()
        return out

    def save(self, path, model, inputs, metadata, extra=None):
        """Write inputs (input_ids, attention_mask, labels), the tensors above and `extra` to `path`."""
        tensors = {k: v.to(torch.int64) for k, v in inputs.items()}
        tensors.update(self.tensors(model))
        tensors.update(extra or {})
        write_dump(path, tensors, metadata)


def write_dump(path, tensors, metadata):
    """safetensors with the format's metadata, written to a temporary file and renamed."""
    meta = {"format": "pt", "dump_format": FORMAT_NAME, "dump_version": FORMAT_VERSION,
            "precision": "float32", "torch": torch.__version__}
    meta.update({k: str(v) for k, v in metadata.items()})
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    tmp = path + ".tmp"
    save_file(tensors, tmp, metadata=meta)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- Hugging Face models

def layer_modules(model):
    """Per layer: (q, k, v, attention out projection, first LayerNorm, FFN in, FFN out, second LayerNorm)."""
    base = model.base_model
    kind = model.config.model_type
    if kind == "distilbert":
        return [(b.attention.q_lin, b.attention.k_lin, b.attention.v_lin, b.attention.out_lin, b.sa_layer_norm,
                 b.ffn.lin1, b.ffn.lin2, b.output_layer_norm) for b in base.transformer.layer]
    if kind in ("bert", "roberta"):
        return [(b.attention.self.query, b.attention.self.key, b.attention.self.value, b.attention.output.dense,
                 b.attention.output.LayerNorm, b.intermediate.dense, b.output.dense, b.output.LayerNorm)
                for b in base.encoder.layer]
    raise SystemExit(f"dump_torch: model_type '{kind}' is not DistilBERT, BERT or RoBERTa")


def head_modules(model):
    """(head dense, head output linear): pre_classifier/classifier, pooler.dense/classifier,
    classifier.dense/classifier.out_proj."""
    kind = model.config.model_type
    if kind == "distilbert":
        return model.pre_classifier, model.classifier
    if kind == "bert":
        if model.base_model.pooler is None:
            raise SystemExit("dump_torch: this BERT has no pooler (add_pooling_layer=False)")
        return model.base_model.pooler.dense, model.classifier
    return model.classifier.dense, model.classifier.out_proj


def attach_hooks(model, rec):
    """Forward hooks recording each activation under its dump name; returns the hook handles."""
    handles = []

    def output_as(name):
        def hook(module, args, out):
            rec.record(name, out)
        return hook

    def input_as(name):
        def hook(module, args):
            rec.record(name, args[0])
        return hook

    handles.append(model.base_model.embeddings.register_forward_hook(output_as("embeddings")))
    for l, (q, k, v, out, ln1, ffn_in, ffn_out, ln2) in enumerate(layer_modules(model)):
        p = f"layer.{l}."
        handles.append(q.register_forward_hook(output_as(p + "q")))
        handles.append(k.register_forward_hook(output_as(p + "k")))
        handles.append(v.register_forward_hook(output_as(p + "v")))
        handles.append(out.register_forward_pre_hook(input_as(p + "attention_context")))
        handles.append(out.register_forward_hook(output_as(p + "attention_output")))
        handles.append(ln1.register_forward_hook(output_as(p + "attention_layernorm")))
        handles.append(ffn_in.register_forward_hook(output_as(p + "ffn_preact")))
        handles.append(ffn_out.register_forward_hook(output_as(p + "ffn_output")))
        handles.append(ln2.register_forward_hook(output_as(p + "output_layernorm")))
    dense, out_linear = head_modules(model)
    handles.append(dense.register_forward_hook(output_as("head_dense")))
    handles.append(out_linear.register_forward_pre_hook(input_as("pooled")))
    return handles


def forward_backward(model, ids, mask, labels, rec=None):
    """One eval-mode forward with labels and its backward; records probabilities, logits and loss."""
    model.zero_grad(set_to_none=False)
    out = model(input_ids=ids, attention_mask=mask, labels=labels, output_attentions=rec is not None)
    if rec is not None:
        for l, probs in enumerate(out.attentions):
            rec.record(f"layer.{l}.attention_probs", probs)
        rec.record("logits", out.logits)
        rec.record("loss", out.loss)
    out.loss.backward()
    return out


def grad_norm(model):
    """Global L2 norm of every parameter gradient (what clip_grad_norm_ returns)."""
    return math.sqrt(sum(float((p.grad.double() ** 2).sum()) for p in model.parameters() if p.grad is not None))


def adamw_steps(model, ids, mask, labels, steps, lr, betas, eps, weight_decay, max_grad_norm):
    """`steps` x (forward, backward, optional clip_grad_norm_, torch.optim.AdamW step) on a copy of model.
    Returns the parameters after the steps (adamw.<name>) and the norm before clipping of each step."""
    m = copy.deepcopy(model)
    opt = torch.optim.AdamW(m.parameters(), lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
    norms = []
    for _ in range(steps):
        forward_backward(m, ids, mask, labels)
        if max_grad_norm > 0:
            norms.append(float(torch.nn.utils.clip_grad_norm_(m.parameters(), max_grad_norm)))
        else:
            norms.append(grad_norm(m))
        opt.step()
    out = {"adamw." + name: p.detach().float().clone() for name, p in m.named_parameters()}
    out["adamw.grad_norm"] = torch.tensor(norms, dtype=torch.float32)
    return out


def dump_model(path, model, ids, mask, labels, source="", steps=0, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
               weight_decay=0.01, max_grad_norm=0.0, init_names=(), activations=True):
    """Dump an HF *ForSequenceClassification (float32) on one batch. init_names: parameters the
    checkpoint lacked (stored as init.<name>). activations=False writes inputs, parameter gradients and
    the AdamW run only (a smaller file)."""
    model.eval()  # dropout off; autograd stays on
    if model.config.num_labels < 2:
        raise SystemExit("dump_torch: num_labels must be >= 2 (single-label classification)")
    rec = DumpRecorder()
    handles = attach_hooks(model, rec) if activations else []
    out = forward_backward(model, ids, mask, labels, rec if activations else None)
    for h in handles:
        h.remove()
    c = model.config
    metadata = {
        "model_type": c.model_type, "source": source,
        "num_hidden_layers": len(layer_modules(model)), "hidden_size": model.base_model.embeddings.word_embeddings.embedding_dim,
        "vocab_size": c.vocab_size, "num_labels": c.num_labels,
        "batch_size": ids.shape[0], "sequence_length": ids.shape[1],
        "transformers": __import__("transformers").__version__, "adamw_steps": steps,
    }
    extra = {}
    params = dict(model.named_parameters())
    for name in init_names:
        extra["init." + name] = params[name].detach().float().clone()
    if steps > 0:
        extra.update(adamw_steps(model, ids, mask, labels, steps, lr, betas, eps, weight_decay, max_grad_norm))
        metadata.update({"lr": repr(lr), "beta1": repr(betas[0]), "beta2": repr(betas[1]), "eps": repr(eps),
                         "weight_decay": repr(weight_decay), "max_grad_norm": repr(max_grad_norm)})
    inputs = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    rec.save(path, model, inputs, metadata, extra)
    return out


# --------------------------------------------------------------------------- command line

def read_texts(args):
    """(texts, labels): --texts one per line (labels row % num_labels), or --data TSV text<TAB>label."""
    path = args.texts or args.data
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    texts, labels = [], []
    for i, line in enumerate(lines):
        if args.texts:
            texts.append(line)
            continue
        text, _, label = line.rpartition("\t")
        if not label.strip().lstrip("-").isdigit():
            if i == 0:
                continue  # a header line (sentence<TAB>label)
            raise SystemExit(f"{path}: line {i + 1}: the last tab-separated field '{label}' is not an integer label")
        texts.append(text)
        labels.append(int(label))
    if args.limit:
        texts, labels = texts[:args.limit], labels[:args.limit]
    if not texts:
        raise SystemExit(f"{path}: no texts")
    return texts, labels


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="HF checkpoint folder (config.json, weights, tokenizer)")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--texts", help="one text per line (labels: row index mod num_labels)")
    src.add_argument("--data", help="TSV text<TAB>label (a header line is skipped)")
    ap.add_argument("--limit", type=int, default=0, help="the first N texts only")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--num-labels", type=int, default=0, help="override the config's (a base checkpoint)")
    ap.add_argument("--steps", type=int, default=0, help="AdamW steps on the same batch (adamw.* tensors)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--beta1", type=float, default=0.9)
    ap.add_argument("--beta2", type=float, default=0.999)
    ap.add_argument("--eps", type=float, default=1e-8)
    ap.add_argument("--max-grad-norm", type=float, default=0.0, help="clip_grad_norm_ before each step (0: none)")
    ap.add_argument("--seed", type=int, default=0, help="torch seed for a head the checkpoint lacks")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    torch.manual_seed(args.seed)
    kw = {"num_labels": args.num_labels} if args.num_labels else {}
    model, info = AutoModelForSequenceClassification.from_pretrained(
        args.model, dtype=torch.float32, attn_implementation="eager", output_loading_info=True, **kw)
    param_names = {n for n, _ in model.named_parameters()}
    init_names = sorted(n for n in info["missing_keys"] if n in param_names)
    if init_names:
        print(f"dump_torch: {args.model} lacks {', '.join(init_names)}: drawn with seed {args.seed}, stored as init.*")
    tok = AutoTokenizer.from_pretrained(args.model)
    texts, labels = read_texts(args)
    if not labels:
        labels = [i % model.config.num_labels for i in range(len(texts))]
    enc = tok(texts, truncation=True, max_length=args.max_length, padding=True, return_tensors="pt")
    labels = torch.tensor(labels, dtype=torch.int64)
    out = dump_model(args.out, model, enc["input_ids"], enc["attention_mask"], labels, source=args.model,
                     steps=args.steps, lr=args.lr, betas=(args.beta1, args.beta2), eps=args.eps,
                     weight_decay=args.weight_decay, max_grad_norm=args.max_grad_norm, init_names=init_names)
    B, T = enc["input_ids"].shape
    print(f"{args.out}: {B} texts x {T} tokens, loss {out.loss.item():.6f}")


if __name__ == "__main__":
    sys.exit(main())
