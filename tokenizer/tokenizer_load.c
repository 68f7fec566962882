// tokenizer_load.c: build a Tokenizer from a tokenizer.json (HF tokenizers format) or from legacy files
// (vocab.txt; vocab.json + merges.txt; optional tokenizer_config.json / special_tokens_map.json).
// Only the components we implement are accepted; anything else is a clear error, never a silent fallback:
//   normalizer     null | BertNormalizer
//   pre_tokenizer  BertPreTokenizer (WordPiece) | ByteLevel (BPE)
//   model          WordPiece | BPE (type inferred when missing, as HF does for untagged models)
//   post_processor null | TemplateProcessing | BertProcessing | RobertaProcessing | ByteLevel
//   decoder        null | WordPiece | ByteLevel
// truncation / padding sections are ignored (the caller's max_length rules, reference-semantics.md §8.4).
#include "tokenizer/tokenizer_internal.h"
#include "tokenizer/unicode.h"
#include "common/fileio.h"
#include "common/json_check.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_TOKENIZER_JSON (64u << 20)
#define MAX_VOCAB_FILE (32u << 20)
#define MAX_CONFIG_FILE (1u << 20)
#define MAX_TOKEN_BYTES 1024
#define MAX_JSON_DEPTH 64  // tokenizer.json nests ~6 levels (normalizer Sequence inside Sequence, ...)

// read a file after checking its size against cap
static int read_capped(const char *path, size_t cap, char **data, size_t *len, char *err, size_t errlen) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size > cap) {
        snprintf(err, errlen, "%s: file too large (%lld bytes, limit %zu)", path, (long long)st.st_size, cap);
        return -1;
    }
    return read_file(path, data, len, err, errlen);
}

// the checked parse of common/json_check.h: strict UTF-8, no NUL or \u0000, no trailing text, depth cap
static cJSON *parse_json_file(const char *path, size_t cap, char *err, size_t errlen) {
    return json_read_file(path, cap, MAX_JSON_DEPTH, err, errlen);
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static const cJSON *get(const cJSON *obj, const char *key) {
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

// boolean field with a default (null / missing -> default); -1 if present but not a boolean
static int get_bool(const cJSON *obj, const char *key, int dflt) {
    const cJSON *v = get(obj, key);
    if (!v || cJSON_IsNull(v)) return dflt;
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    return -1;
}

static int json_int(const cJSON *v, long lo, long hi, long *out) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    // range first (also rejects inf): casting a double outside long's range is undefined behaviour
    // (fuzz_tokenizer_json / fuzz_bpe_files, UBSan: "4.4e+122 is outside the range of 'long'")
    if (!(d >= (double)lo && d <= (double)hi) || d != floor(d)) return -1;
    *out = (long)d;
    return 0;
}

// a token given as "str" or {"content": "str", ...} (tokenizer_config.json / special_tokens_map.json)
static const char *token_string(const cJSON *v) {
    if (cJSON_IsString(v)) return v->valuestring;
    const cJSON *c = get(v, "content");
    return cJSON_IsString(c) ? c->valuestring : NULL;
}

static int check_token_bytes(const char *tok, size_t len, const char *what, char *err, size_t errlen) {
    if (len == 0) { snprintf(err, errlen, "%s: empty token", what); return -1; }
    if (len > MAX_TOKEN_BYTES) { snprintf(err, errlen, "%s: token longer than %d bytes", what, MAX_TOKEN_BYTES); return -1; }
    long bad = utf8_find_invalid(tok, len);
    if (bad >= 0) { snprintf(err, errlen, "%s: invalid UTF-8 in token '%.32s'", what, tok); return -1; }
    return 0;
}

// Register an added token. If its content is in the vocabulary the ids must agree; otherwise it gets its id.
static int add_added_token(Tokenizer *t, const char *content, int id, int special, int single_word, int lstrip,
                           int rstrip, int normalized, const char *what, char *err, size_t errlen) {
    size_t len = strlen(content);
    if (check_token_bytes(content, len, what, err, errlen) != 0) return -1;
    int have = vocab_find(&t->vocab, content, len);
    if (id < 0) id = have;
    if (id < 0) { snprintf(err, errlen, "%s: special token '%.64s' not in the vocabulary", what, content); return -1; }
    if (have >= 0 && have != id) {
        snprintf(err, errlen, "%s: added token '%.64s' has id %d, vocab says %d", what, content, id, have);
        return -1;
    }
    if (have < 0 && vocab_add(&t->vocab, content, len, id, what, err, errlen) != 0) return -1;
    for (int k = 0; k < t->n_added; k++)
        if (t->added[k].id == id) return 0; // already registered (e.g. cls and bos are both "<s>")
    AddedToken *a = realloc(t->added, (size_t)(t->n_added + 1) * sizeof *a);
    if (!a) { snprintf(err, errlen, "%s: out of memory", what); return -1; }
    t->added = a;
    AddedToken *n = &t->added[t->n_added];
    n->content = malloc(len + 1);
    if (!n->content) { snprintf(err, errlen, "%s: out of memory", what); return -1; }
    memcpy(n->content, content, len + 1);
    n->len = len; n->id = id; n->special = special; n->single_word = single_word;
    n->lstrip = lstrip; n->rstrip = rstrip; n->normalized = normalized;
    t->added_first_byte[(unsigned char)content[0]] = 1;
    t->n_added++;
    return 0;
}

static int set_template(Tokenizer *t, const char *cls, const char *sep, const char *what, char *err, size_t errlen) {
    int c = vocab_find(&t->vocab, cls, strlen(cls)), s = vocab_find(&t->vocab, sep, strlen(sep));
    if (c < 0 || s < 0) {
        snprintf(err, errlen, "%s: special token '%.64s' not in the vocabulary", what, c < 0 ? cls : sep);
        return -1;
    }
    t->prefix_ids[0] = c; t->n_prefix = 1;
    t->suffix_ids[0] = s; t->n_suffix = 1;
    return 0;
}

static void set_pad(Tokenizer *t, const char *pad) {
    t->pad_id = pad ? vocab_find(&t->vocab, pad, strlen(pad)) : -1;
    if (t->pad_id < 0) t->pad_id = vocab_find(&t->vocab, "[PAD]", 5);
    if (t->pad_id < 0) t->pad_id = vocab_find(&t->vocab, "<pad>", 5);
}

// ---------------------------------------------------------------------------------------------------
// tokenizer.json

static int load_vocab_object(Tokenizer *t, const cJSON *vocab, const char *what, char *err, size_t errlen) {
    if (!cJSON_IsObject(vocab)) { snprintf(err, errlen, "%s: 'vocab' must be an object", what); return -1; }
    // ids are (nearly) dense: at most 65536 beyond the number of entries, so memory follows the file size
    long max_id = (long)cJSON_GetArraySize(vocab) + 65535;
    if (max_id > VOCAB_MAX_ID) max_id = VOCAB_MAX_ID;
    for (const cJSON *e = vocab->child; e; e = e->next) {
        long id;
        if (json_int(e, 0, max_id, &id) != 0) {
            snprintf(err, errlen, "%s: id for '%.64s' must be an integer in [0, %ld] (entries + 65535)", what,
                     e->string, max_id);
            return -1;
        }
        size_t len = strlen(e->string);
        if (check_token_bytes(e->string, len, what, err, errlen) != 0) return -1;
        if (vocab_add(&t->vocab, e->string, len, (int)id, what, err, errlen) != 0) return -1;
    }
    if (t->vocab.count == 0) { snprintf(err, errlen, "%s: empty vocabulary", what); return -1; }
    return 0;
}

static int load_json_merges(Tokenizer *t, const cJSON *merges, const char *what, char *err, size_t errlen) {
    if (!cJSON_IsArray(merges)) { snprintf(err, errlen, "%s: 'merges' must be an array", what); return -1; }
    int rank = 0;
    for (const cJSON *m = merges->child; m; m = m->next, rank++) {
        const char *l = NULL, *r = NULL;
        size_t ll = 0, rl = 0;
        if (cJSON_IsString(m)) { // "a b" (tokenizers < 0.20)
            const char *sp = strchr(m->valuestring, ' ');
            if (sp && !strchr(sp + 1, ' ')) { l = m->valuestring; ll = (size_t)(sp - l); r = sp + 1; rl = strlen(r); }
        } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(m->child) &&
                   cJSON_IsString(m->child->next)) { // ["a", "b"] (tokenizers >= 0.20)
            l = m->child->valuestring; ll = strlen(l); r = m->child->next->valuestring; rl = strlen(r);
        }
        if (!l || ll == 0 || rl == 0) {
            snprintf(err, errlen, "%s: merges[%d] must be 'a b' or [a, b]", what, rank);
            return -1;
        }
        if (bpe_add_merge(t, l, ll, r, rl, rank, what, err, errlen) != 0) return -1;
    }
    return 0;
}

static const char *type_of(const cJSON *obj) {
    const cJSON *ty = get(obj, "type");
    return cJSON_IsString(ty) ? ty->valuestring : NULL;
}

static int parse_template(Tokenizer *t, const cJSON *pp, const char *what, char *err, size_t errlen) {
    const cJSON *single = get(pp, "single"), *specials = get(pp, "special_tokens");
    if (!cJSON_IsArray(single)) { snprintf(err, errlen, "%s: TemplateProcessing without 'single'", what); return -1; }
    int seen_a = 0;
    for (const cJSON *item = single->child; item; item = item->next) {
        const cJSON *seq = get(item, "Sequence"), *sp = get(item, "SpecialToken");
        if (seq) { if (seen_a++) goto bad; continue; }
        const cJSON *name = get(sp, "id");
        if (!cJSON_IsString(name)) goto bad;
        const cJSON *ids = get(get(specials, name->valuestring), "ids");
        if (!cJSON_IsArray(ids)) {
            snprintf(err, errlen, "%s: template special token '%.64s' missing from special_tokens", what, name->valuestring);
            return -1;
        }
        for (const cJSON *v = ids->child; v; v = v->next) {
            long id;
            if (json_int(v, 0, INT32_MAX - 1, &id) != 0 || !vocab_token(&t->vocab, (int)id, &(size_t){0})) {
                snprintf(err, errlen, "%s: template token '%.64s' has an id outside the vocabulary", what, name->valuestring);
                return -1;
            }
            int *n = seen_a ? &t->n_suffix : &t->n_prefix;
            if (*n == 4) goto bad;
            (seen_a ? t->suffix_ids : t->prefix_ids)[(*n)++] = (int32_t)id;
        }
    }
    if (seen_a != 1) goto bad;
    return 0;
bad:
    snprintf(err, errlen, "%s: unsupported TemplateProcessing 'single' template", what);
    return -1;
}

static int parse_cls_sep(Tokenizer *t, const cJSON *pp, const char *what, char *err, size_t errlen) {
    const cJSON *cls = get(pp, "cls"), *sep = get(pp, "sep");
    if (!cJSON_IsArray(cls) || !cJSON_IsArray(sep) || !cJSON_IsString(cls->child) || !cJSON_IsString(sep->child)) {
        snprintf(err, errlen, "%s: post_processor needs 'cls' and 'sep' as [token, id]", what);
        return -1;
    }
    if (set_template(t, cls->child->valuestring, sep->child->valuestring, what, err, errlen) != 0) return -1;
    long c, s;
    if (json_int(cls->child->next, 0, INT32_MAX, &c) != 0 || json_int(sep->child->next, 0, INT32_MAX, &s) != 0 ||
        c != t->prefix_ids[0] || s != t->suffix_ids[0]) {
        snprintf(err, errlen, "%s: post_processor cls/sep ids disagree with the vocabulary", what);
        return -1;
    }
    return 0;
}

static int load_tokenizer_json(Tokenizer *t, const char *path, char *err, size_t errlen) {
    cJSON *root = parse_json_file(path, MAX_TOKENIZER_JSON, err, errlen);
    if (!root) return -1;
    int rc = -1;
    const char *ty;
    const cJSON *model = get(root, "model");
    if (!cJSON_IsObject(model)) { snprintf(err, errlen, "%s: missing key 'model'", path); goto done; }

    // model type: explicit, or inferred like HF's untagged deserialization
    ty = type_of(model);
    int is_wp = get(model, "continuing_subword_prefix") && get(model, "max_input_chars_per_word");
    int is_bpe = get(model, "merges") != NULL;
    if (ty && strcmp(ty, "WordPiece") == 0) { is_wp = 1; is_bpe = 0; }
    else if (ty && strcmp(ty, "BPE") == 0) { is_wp = 0; is_bpe = 1; }
    else if (ty) { snprintf(err, errlen, "%s: unsupported model '%.64s'", path, ty); goto done; }
    else if (is_wp == is_bpe) { snprintf(err, errlen, "%s: cannot tell model type (WordPiece or BPE)", path); goto done; }
    t->kind = is_wp ? TOKENIZER_WORDPIECE : TOKENIZER_BPE;
    if (load_vocab_object(t, get(model, "vocab"), path, err, errlen) != 0) goto done;

    // normalizer
    const cJSON *norm = get(root, "normalizer");
    if (norm && !cJSON_IsNull(norm)) {
        ty = type_of(norm);
        if (!ty || strcmp(ty, "BertNormalizer") != 0) {
            snprintf(err, errlen, "%s: unsupported normalizer '%.64s'", path, ty ? ty : "?");
            goto done;
        }
        if (t->kind != TOKENIZER_WORDPIECE) {
            snprintf(err, errlen, "%s: unsupported combination: BertNormalizer with a BPE model", path);
            goto done;
        }
        int lower = get_bool(norm, "lowercase", 1);
        int clean = get_bool(norm, "clean_text", 1), chinese = get_bool(norm, "handle_chinese_chars", 1);
        int strip = get_bool(norm, "strip_accents", lower); // null means "same as lowercase"
        if (lower < 0 || clean < 0 || chinese < 0 || strip < 0) {
            snprintf(err, errlen, "%s: BertNormalizer options must be booleans", path);
            goto done;
        }
        t->wp.lowercase = lower; t->wp.clean_text = clean; t->wp.handle_chinese_chars = chinese; t->wp.strip_accents = strip;
    }

    // pre-tokenizer
    const cJSON *pre = get(root, "pre_tokenizer");
    ty = type_of(pre);
    if (t->kind == TOKENIZER_WORDPIECE) {
        if (!ty || strcmp(ty, "BertPreTokenizer") != 0) {
            snprintf(err, errlen, "%s: unsupported pre_tokenizer '%.64s' (WordPiece needs BertPreTokenizer)", path, ty ? ty : "null");
            goto done;
        }
    } else {
        if (!ty || strcmp(ty, "ByteLevel") != 0) {
            snprintf(err, errlen, "%s: unsupported pre_tokenizer '%.64s' (BPE needs ByteLevel)", path, ty ? ty : "null");
            goto done;
        }
        if (norm && !cJSON_IsNull(norm)) goto done;
        t->bpe.add_prefix_space = get_bool(pre, "add_prefix_space", 0);
        t->bpe.use_regex = get_bool(pre, "use_regex", 1);
        if (t->bpe.add_prefix_space < 0 || t->bpe.use_regex < 0) {
            snprintf(err, errlen, "%s: ByteLevel options must be booleans", path);
            goto done;
        }
    }

    // model options
    if (t->kind == TOKENIZER_WORDPIECE) {
        const cJSON *unk = get(model, "unk_token"), *prefix = get(model, "continuing_subword_prefix");
        long max_chars = 100;
        const cJSON *mc = get(model, "max_input_chars_per_word");
        if (mc && json_int(mc, 1, 10000, &max_chars) != 0) {
            snprintf(err, errlen, "%s: max_input_chars_per_word must be in [1, 10000]", path);
            goto done;
        }
        if (wordpiece_init(t, cJSON_IsString(unk) ? unk->valuestring : "[UNK]",
                           cJSON_IsString(prefix) ? prefix->valuestring : "##", (int)max_chars, path, err, errlen) != 0)
            goto done;
    } else {
        const cJSON *v;
        if ((v = get(model, "dropout")) && !cJSON_IsNull(v)) { snprintf(err, errlen, "%s: unsupported BPE dropout", path); goto done; }
        if (((v = get(model, "continuing_subword_prefix")) && cJSON_IsString(v) && v->valuestring[0]) ||
            ((v = get(model, "end_of_word_suffix")) && cJSON_IsString(v) && v->valuestring[0])) {
            snprintf(err, errlen, "%s: unsupported BPE continuing_subword_prefix / end_of_word_suffix", path);
            goto done;
        }
        if (get_bool(model, "byte_fallback", 0) != 0) { snprintf(err, errlen, "%s: unsupported BPE byte_fallback", path); goto done; }
        t->bpe.ignore_merges = get_bool(model, "ignore_merges", 0);
        if (t->bpe.ignore_merges < 0) { snprintf(err, errlen, "%s: ignore_merges must be a boolean", path); goto done; }
        if (load_json_merges(t, get(model, "merges"), path, err, errlen) != 0) goto done;
        if (bpe_finish_init(t, path, err, errlen) != 0) goto done;
    }

    // added tokens
    const cJSON *added = get(root, "added_tokens");
    if (added && !cJSON_IsNull(added)) {
        if (!cJSON_IsArray(added)) { snprintf(err, errlen, "%s: 'added_tokens' must be an array", path); goto done; }
        for (const cJSON *a = added->child; a; a = a->next) {
            const cJSON *content = get(a, "content");
            long id;
            if (!cJSON_IsString(content) || json_int(get(a, "id"), 0, INT32_MAX - 1, &id) != 0) {
                snprintf(err, errlen, "%s: added_tokens entries need 'content' (string) and 'id' (integer)", path);
                goto done;
            }
            int special = get_bool(a, "special", 0), single = get_bool(a, "single_word", 0);
            int lstrip = get_bool(a, "lstrip", 0), rstrip = get_bool(a, "rstrip", 0), normalized = get_bool(a, "normalized", 0);
            if (special < 0 || single < 0 || lstrip < 0 || rstrip < 0 || normalized < 0) {
                snprintf(err, errlen, "%s: added token '%.64s': flags must be booleans", path, content->valuestring);
                goto done;
            }
            // a normalized added token is matched on the normalized text; without a normalizer that is the raw text
            if (normalized && norm && !cJSON_IsNull(norm)) {
                snprintf(err, errlen, "%s: unsupported: added token '%.64s' with normalized=true under a normalizer", path,
                         content->valuestring);
                goto done;
            }
            if (add_added_token(t, content->valuestring, (int)id, special, single, lstrip, rstrip, normalized, path, err,
                                errlen) != 0)
                goto done;
        }
    }

    // post-processor: the single-sequence template
    const cJSON *pp = get(root, "post_processor");
    if (pp && !cJSON_IsNull(pp)) {
        ty = type_of(pp);
        if (ty && strcmp(ty, "TemplateProcessing") == 0) { if (parse_template(t, pp, path, err, errlen) != 0) goto done; }
        else if (ty && (strcmp(ty, "BertProcessing") == 0 || strcmp(ty, "RobertaProcessing") == 0)) {
            if (parse_cls_sep(t, pp, path, err, errlen) != 0) goto done;
        } else if (!ty || strcmp(ty, "ByteLevel") != 0) { // ByteLevel post-processing only trims offsets
            snprintf(err, errlen, "%s: unsupported post_processor '%.64s'", path, ty ? ty : "?");
            goto done;
        }
    }

    // decoder
    const cJSON *dec = get(root, "decoder");
    t->decoder = DECODER_NONE;
    if (dec && !cJSON_IsNull(dec)) {
        ty = type_of(dec);
        if (ty && strcmp(ty, "WordPiece") == 0) { t->decoder = DECODER_WORDPIECE; t->decoder_cleanup = get_bool(dec, "cleanup", 1) == 1; }
        else if (ty && strcmp(ty, "ByteLevel") == 0) t->decoder = DECODER_BYTELEVEL;
        else { snprintf(err, errlen, "%s: unsupported decoder '%.64s'", path, ty ? ty : "?"); goto done; }
    }
    if ((t->decoder == DECODER_WORDPIECE && t->kind != TOKENIZER_WORDPIECE) ||
        (t->decoder == DECODER_BYTELEVEL && t->kind != TOKENIZER_BPE)) {
        snprintf(err, errlen, "%s: unsupported decoder for this model", path);
        goto done;
    }
    const cJSON *padding = get(root, "padding");
    const cJSON *pad_token = get(padding, "pad_token");
    set_pad(t, cJSON_IsString(pad_token) ? pad_token->valuestring : NULL);
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

// ---------------------------------------------------------------------------------------------------
// legacy files

typedef struct {
    cJSON *config, *special_map; // tokenizer_config.json, special_tokens_map.json (either may be NULL)
} LegacyConfig;

static int legacy_config_load(LegacyConfig *c, const char *dir, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    const char *names[2] = {"tokenizer_config.json", "special_tokens_map.json"};
    cJSON **slots[2] = {&c->config, &c->special_map};
    for (int i = 0; i < 2; i++) {
        char *p = path_join(dir, names[i]);
        if (!p) { snprintf(err, errlen, "%s: out of memory", dir); return -1; }
        if (file_exists(p)) {
            *slots[i] = parse_json_file(p, MAX_CONFIG_FILE, err, errlen);
            if (!*slots[i]) { free(p); return -1; }
            if (!cJSON_IsObject(*slots[i])) { snprintf(err, errlen, "%s: expected a JSON object", p); free(p); return -1; }
        }
        free(p);
    }
    return 0;
}

static void legacy_config_free(LegacyConfig *c) {
    cJSON_Delete(c->config);
    cJSON_Delete(c->special_map);
}

// special token name (e.g. "unk_token"): special_tokens_map.json, else tokenizer_config.json, else default
static const char *legacy_special(const LegacyConfig *c, const char *key, const char *dflt) {
    const char *s = token_string(get(c->special_map, key));
    if (!s) s = token_string(get(c->config, key));
    return s ? s : dflt;
}

// lstrip/rstrip flags of a special token: from tokenizer_config.json added_tokens_decoder or the token object
static void legacy_token_flags(const LegacyConfig *c, const char *key, const char *content, int *lstrip, int *rstrip) {
    const cJSON *sources[3] = {get(c->special_map, key), get(c->config, key), NULL};
    const cJSON *decoder = get(c->config, "added_tokens_decoder");
    for (const cJSON *e = decoder ? decoder->child : NULL; e; e = e->next) {
        const char *s = token_string(e);
        if (s && strcmp(s, content) == 0) { sources[2] = e; break; }
    }
    for (int i = 0; i < 3; i++) {
        if (!cJSON_IsObject(sources[i])) continue;
        int l = get_bool(sources[i], "lstrip", *lstrip), r = get_bool(sources[i], "rstrip", *rstrip);
        if (l >= 0) *lstrip = l;
        if (r >= 0) *rstrip = r;
        return;
    }
}

static int load_vocab_txt(Tokenizer *t, const char *path, const char *dir, char *err, size_t errlen) {
    char *data;
    size_t len;
    if (read_capped(path, MAX_VOCAB_FILE, &data, &len, err, errlen) != 0) return -1;
    int rc = -1, id = 0;
    char what[512];
    for (size_t i = 0; i < len; id++) {
        size_t e = i;
        while (e < len && data[e] != '\n') e++;
        size_t tl = e - i;
        if (tl > 0 && data[i + tl - 1] == '\r') tl--; // CRLF files load like LF ones
        snprintf(what, sizeof what, "%s:%d", path, id + 1);
        if (check_token_bytes(data + i, tl, what, err, errlen) != 0) goto done;
        if (memchr(data + i, '\0', tl)) { snprintf(err, errlen, "%s: NUL byte in token", what); goto done; }
        if (vocab_add(&t->vocab, data + i, tl, id, what, err, errlen) != 0) goto done;
        i = e + 1;
    }
    if (id == 0) { snprintf(err, errlen, "%s: empty vocabulary", path); goto done; }
    LegacyConfig c;
    if (legacy_config_load(&c, dir, err, errlen) != 0) { legacy_config_free(&c); goto done; }
    t->kind = TOKENIZER_WORDPIECE;
    int lower = get_bool(c.config, "do_lower_case", 1), chinese = get_bool(c.config, "tokenize_chinese_chars", 1);
    int strip = get_bool(c.config, "strip_accents", lower);
    if (lower < 0 || chinese < 0 || strip < 0) {
        snprintf(err, errlen, "%s/tokenizer_config.json: do_lower_case / tokenize_chinese_chars / strip_accents must be booleans", dir);
        legacy_config_free(&c);
        goto done;
    }
    t->wp.clean_text = 1; t->wp.lowercase = lower; t->wp.handle_chinese_chars = chinese; t->wp.strip_accents = strip;
    static const char *const keys[5] = {"unk_token", "sep_token", "pad_token", "cls_token", "mask_token"};
    static const char *const dflt[5] = {"[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"};
    const char *tok[5];
    for (int k = 0; k < 5; k++) {
        tok[k] = legacy_special(&c, keys[k], dflt[k]);
        int l = 0, r = 0;
        legacy_token_flags(&c, keys[k], tok[k], &l, &r);
        if (add_added_token(t, tok[k], -1, 1, 0, l, r, 0, path, err, errlen) != 0) { legacy_config_free(&c); goto done; }
    }
    // tok[] may point into the cJSON trees of c: free them only after the last use (fuzz_vocab_txt found
    // a use after free when the special tokens came from tokenizer_config.json / special_tokens_map.json)
    int ok = wordpiece_init(t, tok[0], "##", 100, path, err, errlen) == 0 &&
             set_template(t, tok[3], tok[1], path, err, errlen) == 0;
    if (ok) set_pad(t, tok[2]);
    legacy_config_free(&c);
    if (!ok) goto done;
    t->decoder = DECODER_WORDPIECE;
    t->decoder_cleanup = 1;
    rc = 0;
done:
    free(data);
    return rc;
}

static int load_merges_txt(Tokenizer *t, const char *path, char *err, size_t errlen) {
    char *data;
    size_t len;
    if (read_capped(path, MAX_VOCAB_FILE, &data, &len, err, errlen) != 0) return -1;
    int rc = -1, line = 0, rank = 0;
    char what[512];
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && data[e] != '\n') e++;
        size_t ll = e - i;
        if (ll > 0 && data[i + ll - 1] == '\r') ll--;
        line++;
        const char *s = data + i;
        i = e + 1;
        if (line == 1 && ll >= 8 && memcmp(s, "#version", 8) == 0) continue;
        snprintf(what, sizeof what, "%s:%d", path, line);
        const char *sp = memchr(s, ' ', ll);
        if (ll == 0 || !sp || sp == s || sp == s + ll - 1 || memchr(sp + 1, ' ', (size_t)(s + ll - sp - 1))) {
            snprintf(err, errlen, "%s: expected two symbols separated by one space", what);
            goto done;
        }
        if (bpe_add_merge(t, s, (size_t)(sp - s), sp + 1, (size_t)(s + ll - sp - 1), rank++, what, err, errlen) != 0) goto done;
    }
    rc = 0;
done:
    free(data);
    return rc;
}

static int load_vocab_json_merges(Tokenizer *t, const char *vocab_path, const char *merges_path, const char *dir,
                                  char *err, size_t errlen) {
    cJSON *vocab = parse_json_file(vocab_path, MAX_VOCAB_FILE, err, errlen);
    if (!vocab) return -1;
    t->kind = TOKENIZER_BPE;
    int rc = load_vocab_object(t, vocab, vocab_path, err, errlen);
    cJSON_Delete(vocab);
    if (rc != 0) return -1;
    if (load_merges_txt(t, merges_path, err, errlen) != 0) return -1;
    if (bpe_finish_init(t, merges_path, err, errlen) != 0) return -1;
    LegacyConfig c;
    if (legacy_config_load(&c, dir, err, errlen) != 0) { legacy_config_free(&c); return -1; }
    rc = -1;
    t->bpe.add_prefix_space = get_bool(c.config, "add_prefix_space", 0);
    t->bpe.use_regex = 1;
    if (t->bpe.add_prefix_space < 0) { snprintf(err, errlen, "%s/tokenizer_config.json: add_prefix_space must be a boolean", dir); goto done; }
    // RoBERTa's special tokens; those absent from the vocabulary are skipped (GPT-2 has none of them)
    static const char *const keys[7] = {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"};
    static const char *const dflt[7] = {"<s>", "</s>", "<unk>", "</s>", "<pad>", "<s>", "<mask>"};
    const char *tok[7];
    for (int k = 0; k < 7; k++) {
        tok[k] = legacy_special(&c, keys[k], dflt[k]);
        if (vocab_find(&t->vocab, tok[k], strlen(tok[k])) < 0) { tok[k] = NULL; continue; }
        int l = 0, r = 0; // as transformers 5 without added_tokens_decoder: <mask> has no lstrip
        legacy_token_flags(&c, keys[k], tok[k], &l, &r);
        if (add_added_token(t, tok[k], -1, 1, 0, l, r, 0, vocab_path, err, errlen) != 0) goto done;
    }
    if (tok[5] && tok[3] && set_template(t, tok[5], tok[3], vocab_path, err, errlen) != 0) goto done;
    set_pad(t, tok[4]);
    t->decoder = DECODER_BYTELEVEL;
    rc = 0;
done:
    legacy_config_free(&c);
    return rc;
}

// ---------------------------------------------------------------------------------------------------

static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    size_t n = (size_t)(slash - path);
    char *d = malloc(n + 2);
    if (!d) return NULL;
    if (n == 0) { strcpy(d, "/"); return d; }
    memcpy(d, path, n);
    d[n] = '\0';
    return d;
}

int tokenizer_load(Tokenizer **out, const char *path, char *err, size_t errlen) {
    *out = NULL;
    Tokenizer *t = calloc(1, sizeof *t);
    if (!t) { snprintf(err, errlen, "%s: out of memory", path); return -1; }
    vocab_init(&t->vocab);
    t->pad_id = -1;
    int rc = -1;
    struct stat st;
    char *tj = NULL, *vt = NULL, *vj = NULL, *mt = NULL, *dir = NULL;
    if (stat(path, &st) != 0) { snprintf(err, errlen, "%s: no such file or directory", path); goto done; }
    if (S_ISDIR(st.st_mode)) {
        tj = path_join(path, "tokenizer.json"); vt = path_join(path, "vocab.txt");
        vj = path_join(path, "vocab.json"); mt = path_join(path, "merges.txt");
        if (!tj || !vt || !vj || !mt) { snprintf(err, errlen, "%s: out of memory", path); goto done; }
        if (file_exists(tj)) rc = load_tokenizer_json(t, tj, err, errlen);
        else if (file_exists(vt)) rc = load_vocab_txt(t, vt, path, err, errlen);
        else if (file_exists(vj) && file_exists(mt)) rc = load_vocab_json_merges(t, vj, mt, path, err, errlen);
        else snprintf(err, errlen, "%s: no tokenizer.json, vocab.txt or vocab.json + merges.txt in this directory", path);
    } else {
        size_t n = strlen(path);
        dir = dir_of(path);
        if (!dir) { snprintf(err, errlen, "%s: out of memory", path); goto done; }
        if (n >= 4 && strcmp(path + n - 4, ".txt") == 0) rc = load_vocab_txt(t, path, dir, err, errlen);
        else rc = load_tokenizer_json(t, path, err, errlen);
    }
done:
    free(tj); free(vt); free(vj); free(mt); free(dir);
    if (rc != 0) {
        tokenizer_free(t);
        err_one_line(err, errlen);  // tokens and names quoted from the files may hold newlines
        return -1;
    }
    *out = t;
    return 0;
}
