#!/usr/bin/env python3
"""Make the parity fixtures (DistilBERT, BERT, RoBERTa) from Hugging Face transformers (dev-only).

The C test test/test_parity.c loads the checkpoints written here with our own loader and compares
logits, loss, every parameter gradient and the parameters after AdamW steps against these dumps,
which are computed by PyTorch + transformers, never by our code.

Setup (once, outside the work tree):
    python3 -m venv ~/venv && ~/venv/bin/pip install torch==2.15.0 transformers==5.24.0 safetensors==0.8.0 numpy
Regenerate (from the repo root):
    ~/venv/bin/python dev/make_parity_fixtures.py
Versions used for the committed fixtures: torch 2.15.0, transformers 5.24.0, safetensors 0.8.0.

What it writes, for small random models: test/fixtures/distilbert-tiny (DistilBertForSequenceClassification,
float32 weights), test/fixtures/distilbert-tiny-fp16 (the same weights stored as float16, which the
reference loads upcast to float32), test/fixtures/bert-tiny (BertForSequenceClassification, 3 labels,
head size 8) and test/fixtures/roberta-tiny (RobertaForSequenceClassification, padding_idx 1):
  <dir>/config.json, <dir>/model.safetensors     via save_pretrained
  <dir>/dump.safetensors:
    input_ids, attention_mask (I64 [3, T]), labels (I64 [3])    3 sequences of lengths 12, 7, 4
    logits [3, 2], loss []                                      eval mode (no dropout), eager attention
    grad.<name>                                                 every parameter gradient
    step1.<name>                                                parameters after one AdamW step
                                                                (lr 1e-3, weight decay 0.01, no clipping)
    clip_norm [2]                                               total gradient norms before clipping
    clip2.<name>                                                parameters after two steps of
                                                                forward/backward, clip_grad_norm_(0.05),
                                                                AdamW (lr 1e-3, wd 0.01): the norms
                                                                are far above 0.05, so both clip
"""
import copy
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import (BertConfig, BertForSequenceClassification, DistilBertConfig,
                          DistilBertForSequenceClassification, RobertaConfig, RobertaForSequenceClassification)

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


def forward_backward(model, ids, mask, labels):
    model.zero_grad(set_to_none=False)
    out = model(input_ids=ids, attention_mask=mask, labels=labels)
    out.loss.backward()
    return out


def dump(model_dir, model, ids, mask, labels):
    model.eval()  # dropout off; autograd still on
    tensors = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    out = forward_backward(model, ids, mask, labels)
    tensors["logits"] = out.logits.detach().clone()
    tensors["loss"] = out.loss.detach().clone()
    for name, p in model.named_parameters():
        tensors["grad." + name] = p.grad.detach().clone()

    # one AdamW step, no clipping
    m1 = copy.deepcopy(model)
    opt = torch.optim.AdamW(m1.parameters(), lr=LR, weight_decay=WD)
    forward_backward(m1, ids, mask, labels)
    opt.step()
    for name, p in m1.named_parameters():
        tensors["step1." + name] = p.detach().clone()

    # two steps with clipping
    m2 = copy.deepcopy(model)
    opt = torch.optim.AdamW(m2.parameters(), lr=LR, weight_decay=WD)
    norms = []
    for _ in range(2):
        forward_backward(m2, ids, mask, labels)
        norms.append(float(torch.nn.utils.clip_grad_norm_(m2.parameters(), MAX_NORM)))
        opt.step()
    assert min(norms) > 2 * MAX_NORM, f"gradient norms {norms} do not clip at {MAX_NORM}"
    tensors["clip_norm"] = torch.tensor(norms, dtype=torch.float32)
    for name, p in m2.named_parameters():
        tensors["clip2." + name] = p.detach().clone()

    tensors = {k: v.contiguous() for k, v in tensors.items()}
    save_file(tensors, os.path.join(model_dir, "dump.safetensors"), metadata={"format": "pt"})
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
