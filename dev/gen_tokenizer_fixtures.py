#!/usr/bin/env python3
"""Expected token ids for test/test_tokenizer.c, made with Hugging Face tokenizers / transformers.

    python3 -m venv ~/venv && ~/venv/bin/pip install tokenizers==0.23.3 transformers==5.24.0
    ~/venv/bin/python dev/gen_tokenizer_fixtures.py        # from the repo root, ../shared beside it

Writes test/fixtures/tokenizer/:
  bert-base-uncased.jsonl    ids from ../shared/data/vocab/bert-base-uncased/tokenizer.json; the script checks
                             that transformers' BertTokenizer built from vocab.txt gives the same ids
  roberta-base.jsonl         ids from transformers' RobertaTokenizer built from vocab.json + merges.txt,
                             cross-checked with a tokenizers ByteLevel BPE + RobertaProcessing pipeline
  small-bpe/tokenizer.json   a small byte-level BPE (RoBERTa layout) trained here, so the tokenizer.json BPE
                             path is tested without committing roberta-base's 1.3 MB tokenizer.json
  small-bpe-legacy/          the same tokenizer as vocab.json + merges.txt + tokenizer_config.json
  small-bpe.jsonl            its ids (tokenizer.json and legacy files agree; checked here)
Each line: {"text": ..., "hex": UTF-8 bytes of the text in hex, "max_length": 0 (none) or N, "ids": [...]}.
The C test reads "hex" (cJSON strings stop at an embedded NUL).
"""
import csv
import json
import os
import shutil
import sys
import tempfile

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from tokenizers import AddedToken
import tokenizers
import transformers

SHARED = "../shared/data"
OUT = "test/fixtures/tokenizer"

LONG = ("This movie was, without a doubt, one of the most surprising films I've seen in years. "
        "The acting (especially by the lead) was superb; the script, however, wasn't always convincing. "
        "I'd give it 7/10 -- maybe 8/10 on a good day! Visit http://www.example.com/reviews?id=42&sort=new "
        "for more.<br /><br />Naïve critics said it's \"déjà vu\", but I disagree... Ça va? Größe: 3.5m. ") * 12

TEXTS = [
    "Hello, my dog is cute",
    "Hello world",
    " Hello world",
    "",
    " ",
    "   \t\n  ",
    "  leading and trailing spaces  ",
    "multiple    spaces   between     words",
    "don't won't I'm you're we've they'll she'd IT'S It's",
    "!!!???...,,,;;;:::---___***",
    "a.b,c!d?e;f:g(h)i[j]k{l}m<n>o/p\\q|r~s`t^u_v+w=x$y%z&#@",
    "Numbers: 0 1 12 123 1234 12345 3.14159 -42 1,000,000 2nd 3rd 1990s 555-1234",
    "URL: https://www.imdb.com/title/tt0111161/?ref_=nv_sr_1 and mail foo.bar@example.org",
    "HTML <br /><br />line break<br/>and <i>italic</i> &amp; &lt;tags&gt;",
    "Accents: café naïve résumé Ångström Zoë façade piñata crème brûlée",
    "German: Straße Größe Fußball ß ẞ",
    "Greek: Αθήνα καλημέρα ΣΟΦΙΑ σοφία ς",
    "Cyrillic: Привет, мир! Ёлка ЁЖИК",
    "CJK: 我喜欢这部电影。日本語のテキスト、カタカナ。한국어 텍스트입니다.",
    "Arabic: مرحبا بالعالم، هذا فيلم رائع!",
    "Hebrew: שלום עולם",
    "Hindi: नमस्ते दुनिया",
    "Thai: สวัสดีครับ",
    "Emoji: 😀😂👍🏽 ❤️ 🎬🍿 👨‍👩‍👧 🇺🇸 🥲🫠",
    "Symbols: € £ ¥ © ® ™ ° ± × ÷ § ¶ • … — – ‘quotes’ “double”",
    "Control chars: a\x00b c\x01d e\x07f g\x1bh i\x7fj k\x85l m\x9fn",
    "Tabs\tand\nnewlines\r\nand\rreturns\x0bvertical\x0cformfeed",
    "NBSP:\u00a0here; thin\u2009space; ideographic\u3000space; line\u2028sep; para\u2029sep; nnbsp\u202fx",
    "Zero-width: a\u200bb c\u200cd e\u200df \ufeffBOM soft\u00adhyphen",
    "Replacement char: a\ufffdb",
    "Combining: e\u0301 a\u0308 n\u0303 o\u0302 \u0130stanbul \u0131 \u1e9e \ufb01 \u2126 \u212b",
    "Compatibility: ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ ½ ² ﬀ ™",
    "Supplementary: 𝐇𝐞𝐥𝐥𝐨 𝒜 𠀀𠀁 \U0002B820 \U0002B920",
    "CJK ranges: a\U0002B820b a\U0002B920b a\u4e2db a\uf900b a\u3041b \u4e2d\u6587abc",
    "a" * 100,
    "b" * 101,
    "x" + "ab" * 60 + " short",
    "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "unaffable unbelievably overwhelmingly",
    "MiXeD CaSe WoRdS and ALLCAPS",
    "[CLS] special [SEP] tokens [MASK] in [PAD] text [UNK]",
    "<s>roberta</s> special <mask> tokens <pad> <unk>",
    "x<mask>y and  <mask>  z",
    "[SEP][SEP]<s><s>",
    "'s 're 've 'm 'll 'd 't 'x 'S",
    "it's it''s it'''s ''''",
    "\n\nHello",
    "Hello there       dear",
    "end with spaces   ",
    "end with newline\n",
    "tab\tbefore word and \u00a0nbsp before word",
    "    indented\n    code block",
    "a  b   c    d",
    "123abc abc123 a1b2c3 ١٢٣ ൧",
    "Long word " + "pneumono" * 20 + " end",
    "Ⅻ ⅻ ⑩ ½",
    "\u0085\u0085x",
    "Mixed: English日本語English한국어English",
    "ÀÉÎÕÜ àéîõü",
    LONG,
]


def hexs(s):
    return s.encode("utf-8").hex()


def cases():
    """(text, max_length) pairs: every text untruncated, the long ones also truncated at 16 and 256."""
    out = []
    for t in TEXTS:
        out.append((t, 0))
        if len(t) > 40:
            out.append((t, 16))
        if len(t) > 600:
            out.append((t, 256))
    return out


def encode_tokenizer(tok, text, max_length):
    if max_length:
        tok.enable_truncation(max_length)
    else:
        tok.no_truncation()
    return tok.encode(text).ids


def encode_transformers(tok, text, max_length):
    if max_length:
        return tok(text, truncation=True, max_length=max_length)["input_ids"]
    return tok(text)["input_ids"]


def write(name, rows):
    path = os.path.join(OUT, name)
    with open(path, "w", encoding="utf-8") as f:
        for text, max_length, ids in rows:
            f.write(json.dumps({"text": text, "hex": hexs(text), "max_length": max_length, "ids": ids},
                               ensure_ascii=True) + "\n")
    print("wrote", path, len(rows), "cases", file=sys.stderr)


def check_same(name, a, b):
    for (text, ml, ia), ib in zip(a, b):
        if ia != ib:
            sys.exit("%s: paths disagree on %r (max_length %d):\n %s\n %s" % (name, text[:60], ml, ia, ib))


def bert():
    vocab_dir = os.path.join(SHARED, "vocab/bert-base-uncased")
    fast = Tokenizer.from_file(os.path.join(vocab_dir, "tokenizer.json"))
    rows = [(t, ml, encode_tokenizer(fast, t, ml)) for t, ml in cases()]
    with tempfile.TemporaryDirectory() as tmp:  # a directory with only vocab.txt: the legacy path
        shutil.copy(os.path.join(vocab_dir, "vocab.txt"), tmp)
        legacy = transformers.BertTokenizer.from_pretrained(tmp, local_files_only=True)
    check_same("bert", rows, [encode_transformers(legacy, t, ml) for t, ml, _ in rows])
    write("bert-base-uncased.jsonl", rows)


def roberta_pipeline(vocab, merges):
    """tokenizers' own RoBERTa pipeline, as RobertaTokenizerFast converts it."""
    tok = Tokenizer(models.BPE.from_file(vocab, merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")),
                                                      add_prefix_space=False)
    # transformers 5 gives <mask> no lstrip when it loads vocab.json + merges.txt without a tokenizer_config.json
    # (roberta-base's own tokenizer.json has lstrip=true; small-bpe tests that)
    tok.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    return tok


def roberta():
    vocab_dir = os.path.join(SHARED, "vocab/roberta-base")
    vocab, merges = os.path.join(vocab_dir, "vocab.json"), os.path.join(vocab_dir, "merges.txt")
    legacy = transformers.RobertaTokenizer.from_pretrained(vocab_dir, local_files_only=True)
    rows = [(t, ml, encode_transformers(legacy, t, ml)) for t, ml in cases()]
    fast = roberta_pipeline(vocab, merges)
    check_same("roberta", rows, [encode_tokenizer(fast, t, ml) for t, ml, _ in rows])
    write("roberta-base.jsonl", rows)


def small_bpe():
    # train on our own texts plus 300 IMDb reviews (only the derived vocabulary is committed)
    with open(os.path.join(SHARED, "imdb-reviews/imdb_reviews.csv"), newline="", encoding="utf-8") as f:
        reviews = [row[0] for _, row in zip(range(300), csv.reader(f)) if row][1:]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    trainer = trainers.BpeTrainer(vocab_size=800, min_frequency=2, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(TEXTS + reviews, trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")))
    # <mask> absorbs the space before it, as in roberta-base
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, normalized=False)])
    json_dir, legacy_dir = os.path.join(OUT, "small-bpe"), os.path.join(OUT, "small-bpe-legacy")
    os.makedirs(json_dir, exist_ok=True)
    os.makedirs(legacy_dir, exist_ok=True)
    tok.save(os.path.join(json_dir, "tokenizer.json"))
    tok.model.save(legacy_dir)  # vocab.json + merges.txt
    with open(os.path.join(legacy_dir, "tokenizer_config.json"), "w") as f:
        mask_id = tok.token_to_id("<mask>")
        json.dump({"add_prefix_space": False, "model_max_length": 512, "tokenizer_class": "RobertaTokenizer",
                   "added_tokens_decoder": {str(mask_id): {"content": "<mask>", "lstrip": True, "rstrip": False,
                                                           "normalized": False, "single_word": False,
                                                           "special": True}}}, f, indent=1)
    reloaded = Tokenizer.from_file(os.path.join(json_dir, "tokenizer.json"))
    rows = [(t, ml, encode_tokenizer(reloaded, t, ml)) for t, ml in cases()]
    legacy = transformers.RobertaTokenizer.from_pretrained(legacy_dir, local_files_only=True)
    check_same("small-bpe", rows, [encode_transformers(legacy, t, ml) for t, ml, _ in rows])
    write("small-bpe.jsonl", rows)


def main():
    print("tokenizers", tokenizers.__version__, "transformers", transformers.__version__, file=sys.stderr)
    os.makedirs(OUT, exist_ok=True)
    bert()
    roberta()
    small_bpe()


if __name__ == "__main__":
    main()
