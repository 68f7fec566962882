#!/usr/bin/env python3
"""Make the parity fixtures (DistilBERT, BERT, RoBERTa) from Hugging Face transformers (dev-only).

The C test test/test_parity.c loads the checkpoints written here with our own loader and compares, through
the code of ./parity (model/dump.c, model/dump_compare.c), every activation, every gradient and the
parameters after AdamW steps against these dumps, which are computed by PyTorch + transformers
(dev/dump_torch.py), never by our code.

Setup (once, outside the work tree):
    python3 -m venv ~/venv && ~/venv/bin/pip install torch==2.15.0 transformers==5.25.0 safetensors==0.8.0 numpy
Regenerate (from the repo root):
    ~/venv/bin/python dev/make_parity_fixtures.py
Versions used for the committed fixtures: torch 2.15.0, transformers 5.25.0, safetensors 0.8.0.

What it writes, for small random models: test/fixtures/distilbert-tiny (DistilBertForSequenceClassification,
float32 weights), test/fixtures/distilbert-tiny-fp16 (the same weights stored as float16, which the
reference loads upcast to float32), test/fixtures/bert-tiny (BertForSequenceClassification, 3 labels,
head size 8) and test/fixtures/roberta-tiny (RobertaForSequenceClassification, padding_idx 1):
  <dir>/config.json, <dir>/model.safetensors     via save_pretrained
  <dir>/dump.safetensors        a parity dump (doc/parity.md) written by dev/dump_torch.py's dump_model:
                                input_ids, attention_mask (I64 [3, T]), labels (I64 [3]), 3 sequences
                                of lengths 12, 7, 4; every activation of the format and its gradient,
                                every parameter gradient (eval mode, eager attention); adamw.<name>:
                                the parameters after one AdamW step (lr 1e-3, weight decay 0.01, no
                                clipping), adamw.grad_norm
  <dir>/dump-clip2.safetensors  the batch, the parameter gradients and adamw.<name> after two steps of
                                forward/backward, clip_grad_norm_(0.05), AdamW (lr 1e-3, wd 0.01): the
                                norms (adamw.grad_norm) are far above 0.05, so both clip
"""
import os
import sys

import torch
from safetensors import safe_open
from transformers import (BertConfig, BertForSequenceClassification, DistilBertConfig,
                          DistilBertForSequenceClassification, RobertaConfig, RobertaForSequenceClassification)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dump_torch  # noqa: E402  (dev/dump_torch.py: the one writer of the dump format)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIXTURES = os.path.join(ROOT, "test", "fixtures")
LR, WD, MAX_NORM = 1e-3, 0.01, 0.05


def make_model(kind):
    torch.manual_seed(1234)
    if kind == "distilbert":
        config = DistilBertConfig(
            vocab_size=512, dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=64,
            num_labels=2, id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1},
            pad_token_id=0, attn_implementation="eager",
        )
        model = DistilBertForSequenceClassification(config)
    elif kind == "bert":
        config = BertConfig(
            vocab_size=300, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=40, type_vocab_size=2, num_labels=3, pad_token_id=0,
            attn_implementation="eager",
        )
        model = BertForSequenceClassification(config)
    else:
        config = RobertaConfig(
            vocab_size=300, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
            max_position_embeddings=42, type_vocab_size=1, layer_norm_eps=1e-5, num_labels=2,
            pad_token_id=1, bos_token_id=0, eos_token_id=2, attn_implementation="eager",
        )
        model = RobertaForSequenceClassification(config)
    pad = config.pad_token_id
    # HF's init leaves LayerNorm at (1, 0) and biases at 0; perturb them so a swapped or ignored
    # weight/bias cannot pass unnoticed, and make the weights larger than 0.02 so gradients are not tiny.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            elif "layer_norm" in name or "LayerNorm" in name:
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.1 * torch.randn_like(p))
        model.base_model.embeddings.word_embeddings.weight[pad].zero_()
        if kind == "roberta":
            model.base_model.embeddings.position_embeddings.weight[pad].zero_()
    return model


def make_batch(vocab, pad, num_labels):
    g = torch.Generator().manual_seed(99)
    lengths = [12, 7, 4]
    T = max(lengths)
    ids = torch.full((3, T), pad, dtype=torch.long)
    mask = torch.zeros(3, T, dtype=torch.long)
    for b, n in enumerate(lengths):
        ids[b, :n] = torch.randint(3, vocab, (n,), generator=g)  # never the pad id (0 or 1)
        ids[b, 0], ids[b, n - 1] = 101 % vocab, 102 % vocab  # CLS- and SEP-like tokens
        mask[b, :n] = 1
    labels = torch.tensor([1, 0, num_labels - 1])
    return ids, mask, labels


def dump(model_dir, model, ids, mask, labels):
    """The two dumps of a fixture, both through dev/dump_torch.py's dump_model (the format of ./parity)."""
    out = dump_torch.dump_model(os.path.join(model_dir, "dump.safetensors"), model, ids, mask, labels,
                                source=os.path.basename(model_dir), steps=1, lr=LR, weight_decay=WD)
    dump_torch.dump_model(os.path.join(model_dir, "dump-clip2.safetensors"), model, ids, mask, labels,
                          source=os.path.basename(model_dir), steps=2, lr=LR, weight_decay=WD, max_grad_norm=MAX_NORM,
                          activations=False)
    with safe_open(os.path.join(model_dir, "dump-clip2.safetensors"), "pt") as f:
        norms = f.get_tensor("adamw.grad_norm").tolist()
    assert min(norms) > 2 * MAX_NORM, f"gradient norms {norms} do not clip at {MAX_NORM}"
    print(f"{model_dir}: loss {out.loss.item():.6f}, clip norms {norms}")


def main():
    torch.set_num_threads(1)
    for kind in ["distilbert", "bert", "roberta"]:
        model = make_model(kind)
        cfg = model.config
        ids, mask, labels = make_batch(cfg.vocab_size, cfg.pad_token_id, cfg.num_labels)
        fp32_dir = os.path.join(FIXTURES, f"{kind}-tiny")
        model.save_pretrained(fp32_dir, safe_serialization=True)
        dump(fp32_dir, model, ids, mask, labels)
        if kind == "distilbert":
            fp16_dir = os.path.join(FIXTURES, "distilbert-tiny-fp16")
            model.half().save_pretrained(fp16_dir, safe_serialization=True)
            reloaded = DistilBertForSequenceClassification.from_pretrained(
                fp16_dir, dtype=torch.float32, attn_implementation="eager")
            dump(fp16_dir, reloaded, ids, mask, labels)


if __name__ == "__main__":
    sys.exit(main())
