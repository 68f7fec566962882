#!/usr/bin/env python3
"""Generate tokenizer/unicode_tables.c from the Unicode Character Database bundled with Python.

    python3 dev/gen_tokenizer_unicode_tables.py > tokenizer/unicode_tables.c

Only the standard library is needed (unicodedata; Python 3.11 ships Unicode 14.0.0).
What is generated (see tokenizer/unicode.h for how C reads it):
  * a per-code-point property byte: general category (5 bits) | White_Space | has-lowercase | has-NFD,
    stored as a two-stage table (stage 1: block index per 128 code points; stage 2: unique blocks);
  * full lowercase mappings (str.lower() of one character: multi-character ones such as U+0130 included,
    no context such as final sigma, like Rust's char::to_lowercase used by HF tokenizers);
  * full canonical decompositions (NFD of one character, recursive, without Hangul syllables, which
    tokenizer/unicode.c decomposes algorithmically).
"""
import sys
import unicodedata

CATEGORIES = ["Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No",
              "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So",
              "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co"]
# White_Space property (PropList.txt; unchanged since Unicode 6.3). Python has no accessor for it.
WHITE_SPACE = set(list(range(0x09, 0x0E)) + [0x20, 0x85, 0xA0, 0x1680] + list(range(0x2000, 0x200B))
                  + [0x2028, 0x2029, 0x202F, 0x205F, 0x3000])
PROP_WHITESPACE, PROP_LOWER, PROP_DECOMP = 0x20, 0x40, 0x80
BLOCK_SHIFT = 7
BLOCK = 1 << BLOCK_SHIFT
N = 0x110000


def is_hangul_syllable(cp):
    return 0xAC00 <= cp <= 0xD7A3


def main():
    props = bytearray(N)
    lower = {}
    decomp = {}
    for cp in range(N):
        ch = chr(cp)
        p = CATEGORIES.index(unicodedata.category(ch))
        if cp in WHITE_SPACE:
            p |= PROP_WHITESPACE
        if 0xD800 <= cp <= 0xDFFF:
            props[cp] = p
            continue
        low = ch.lower()
        if low != ch:
            p |= PROP_LOWER
            lower[cp] = [ord(c) for c in low]
        if not is_hangul_syllable(cp):
            d = unicodedata.normalize("NFD", ch)
            if d != ch:
                p |= PROP_DECOMP
                decomp[cp] = [ord(c) for c in d]
        props[cp] = p

    # two-stage table
    blocks, index, seen = [], [], {}
    for b in range(N // BLOCK):
        chunk = bytes(props[b * BLOCK:(b + 1) * BLOCK])
        if chunk not in seen:
            seen[chunk] = len(blocks)
            blocks.append(chunk)
        index.append(seen[chunk])

    out = sys.stdout
    out.write("// unicode_tables.c: GENERATED, do not edit. Regenerate with\n")
    out.write("//   python3 dev/gen_tokenizer_unicode_tables.py > tokenizer/unicode_tables.c\n")
    out.write("// Source: Unicode Character Database %s (Python %s unicodedata).\n"
              % (unicodedata.unidata_version, sys.version.split()[0]))
    out.write('#include "tokenizer/unicode.h"\n\n')
    out.write("const char *const unicode_version = \"%s\";\n\n" % unicodedata.unidata_version)
    out.write("// stage 1: for code point cp, the block holding its property byte is unicode_prop_blocks\n")
    out.write("// [unicode_prop_index[cp >> %d] << %d ...]\n" % (BLOCK_SHIFT, BLOCK_SHIFT))
    out.write("const uint16_t unicode_prop_index[%d] = {\n" % len(index))
    for i in range(0, len(index), 24):
        out.write(",".join(str(x) for x in index[i:i + 24]) + ",\n")
    out.write("};\n\n")
    out.write("// stage 2: %d unique blocks of %d property bytes\n" % (len(blocks), BLOCK))
    out.write("const uint8_t unicode_prop_blocks[%d] = {\n" % (len(blocks) * BLOCK))
    for blk in blocks:
        for i in range(0, BLOCK, 32):
            out.write(",".join(str(x) for x in blk[i:i + 32]) + ",\n")
    out.write("};\n\n")

    def write_map(name, mapping):
        keys = sorted(mapping)
        pool = []
        vals = []
        for k in keys:
            v = mapping[k]
            assert len(v) < 8
            vals.append((len(pool) << 3) | len(v))
            pool.extend(v)
        out.write("// %s: sorted keys; value = pool offset << 3 | length\n" % name)
        out.write("const int unicode_%s_count = %d;\n" % (name, len(keys)))
        out.write("const uint32_t unicode_%s_keys[%d] = {\n" % (name, len(keys)))
        for i in range(0, len(keys), 12):
            out.write(",".join("0x%X" % x for x in keys[i:i + 12]) + ",\n")
        out.write("};\n")
        out.write("const uint32_t unicode_%s_vals[%d] = {\n" % (name, len(vals)))
        for i in range(0, len(vals), 12):
            out.write(",".join(str(x) for x in vals[i:i + 12]) + ",\n")
        out.write("};\n")
        out.write("const uint32_t unicode_%s_pool[%d] = {\n" % (name, len(pool)))
        for i in range(0, len(pool), 12):
            out.write(",".join("0x%X" % x for x in pool[i:i + 12]) + ",\n")
        out.write("};\n\n")

    write_map("lower", lower)
    write_map("decomp", decomp)


if __name__ == "__main__":
    main()
