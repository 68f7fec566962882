#!/usr/bin/env python3
"""Tokens/s of our C tokenizers vs Hugging Face `tokenizers` (Rust, one thread) on the IMDb reviews.

    python3 -m venv ~/venv && ~/venv/bin/pip install tokenizers==0.23.3 transformers==5.24.0
    ~/venv/bin/python dev/bench_tokenizer.py [--repeats 7]          # from the repo root

Both sides encode the same 5000 reviews (../shared/data/imdb-reviews/imdb_reviews.csv) one at a time, without
truncation, with the special tokens; HF uses Tokenizer.encode_batch with RAYON_NUM_THREADS=1 (no per-call
Python overhead, no parallelism). Each repetition times the whole set; we report the median tokens/s of each
and their ratio (ours / HF). Token counts must agree. Ours runs via dev/bench_tokenizer.c, built here.
"""
import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors  # noqa: E402
import tokenizers  # noqa: E402

VOCAB = "../shared/data/vocab"
BUILD = ["cc", "-O2", "-march=x86-64-v2", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-I.", "dev/bench_tokenizer.c",
         "build/libenc.a"]


def roberta_hf():
    d = os.path.join(VOCAB, "roberta-base")
    tok = Tokenizer(models.BPE.from_file(os.path.join(d, "vocab.json"), os.path.join(d, "merges.txt")))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    tok.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    return tok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    with open("../shared/data/imdb-reviews/imdb_reviews.csv", newline="", encoding="utf-8") as f:
        reviews = [row[0] for row in list(csv.reader(f))[1:]]
    subprocess.run(["make", "-s", "build/libenc.a"], check=True)
    libs = subprocess.run(["pkg-config", "--libs", "libcjson"], capture_output=True, text=True, check=True).stdout.split()
    subprocess.run(BUILD + libs + ["-lm", "-o", "build/bench_tokenizer"], check=True)
    print("tokenizers %s, %d reviews, %.1f MB, %d repetitions" %
          (tokenizers.__version__, len(reviews), sum(len(r.encode()) for r in reviews) / 1e6, args.repeats))
    with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as f:
        for r in reviews:
            f.write(r.encode("utf-8") + b"\0")
        texts_path = f.name
    try:
        for name, ours_path, hf in [("WordPiece bert-base-uncased", os.path.join(VOCAB, "bert-base-uncased"),
                                     Tokenizer.from_file(os.path.join(VOCAB, "bert-base-uncased/tokenizer.json"))),
                                    ("BPE roberta-base", os.path.join(VOCAB, "roberta-base"), roberta_hf())]:
            hf_rates, hf_tokens = [], 0
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                encs = hf.encode_batch(reviews)
                dt = time.perf_counter() - t0
                hf_tokens = sum(len(e.ids) for e in encs)
                hf_rates.append(hf_tokens / dt)
            out = subprocess.run(["build/bench_tokenizer", ours_path, texts_path, str(args.repeats)],
                                 capture_output=True, text=True, check=True).stdout.split("\n")
            ours_rates, ours_tokens = [], 0
            for line in out:
                if line:
                    _, n, _, s = line.split()
                    ours_tokens = int(n)
                    ours_rates.append(int(n) / float(s))
            if ours_tokens != hf_tokens:
                sys.exit("%s: token counts differ: ours %d, HF %d" % (name, ours_tokens, hf_tokens))
            o, h = statistics.median(ours_rates), statistics.median(hf_rates)
            print("%-28s tokens %d  ours %.2f M tok/s  HF %.2f M tok/s  ratio %.2fx" % (name, ours_tokens, o / 1e6, h / 1e6, o / h))
    finally:
        os.unlink(texts_path)


if __name__ == "__main__":
    main()
