// test_tokenizer.c: the WordPiece and byte-level BPE tokenizers (tokenizer/).
//
// Golden ids: test/fixtures/tokenizer/*.jsonl, made by dev/gen_tokenizer_fixtures.py with HF tokenizers /
// transformers, on a varied text set (punctuation, URLs, HTML, accents, CJK, emoji, control and zero-width
// characters, overlong words, empty and whitespace-only texts, truncation at 16 and 256). Every id must
// match, for both tokenizer kinds and both loading paths (tokenizer.json and legacy vocab files).
// Then: error cases (missing files, unsupported components, invalid UTF-8, bad merges), batch padding,
// decoding, and a time bound on a 1 MB word (hostile-inputs.md §4.4).
// Run from the repo root (vocabularies are read from ../shared/data/vocab).
#include <check.h>
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/fileio.h"
#include "tokenizer/tokenizer.h"
#include "test/run_suite.h"

#define VOCAB "../shared/data/vocab/"
#define FIX "test/fixtures/tokenizer/"

static char tmpdir[256];

static Tokenizer *load_ok(const char *path) {
    Tokenizer *t = NULL;
    char err[512] = "";
    int rc = tokenizer_load(&t, path, err, sizeof err);
    ck_assert_msg(rc == 0, "load %s failed: %s", path, err);
    return t;
}

// tokenizer_load must fail with an error containing `needle`
static void load_fails(const char *path, const char *needle) {
    Tokenizer *t = NULL;
    char err[512] = "";
    int rc = tokenizer_load(&t, path, err, sizeof err);
    ck_assert_msg(rc == -1 && t == NULL, "load %s should fail", path);
    ck_assert_msg(strstr(err, needle) != NULL, "error for %s is '%s', expected to contain '%s'", path, err, needle);
}

static int hexval(char c) { return c >= '0' && c <= '9' ? c - '0' : c - 'a' + 10; }

// Encode every fixture line with the tokenizer at `path`; assert all ids match, reporting the first mismatch.
static void check_fixture(const char *path, const char *fixture) {
    Tokenizer *t = load_ok(path);
    char *data, err[512];
    size_t len;
    ck_assert_msg(read_file(fixture, &data, &len, err, sizeof err) == 0, "%s", err);
    TokenizerEncoding enc = {0};
    int lines = 0;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *row = cJSON_Parse(line);
        ck_assert_ptr_nonnull(row);
        const cJSON *hex = cJSON_GetObjectItemCaseSensitive(row, "hex");
        const cJSON *ml = cJSON_GetObjectItemCaseSensitive(row, "max_length");
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(row, "ids");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(row, "text");
        ck_assert(cJSON_IsString(hex) && cJSON_IsNumber(ml) && cJSON_IsArray(ids));
        size_t n = strlen(hex->valuestring) / 2;
        char *bytes = malloc(n + 1);
        for (size_t i = 0; i < n; i++) bytes[i] = (char)(hexval(hex->valuestring[2 * i]) * 16 + hexval(hex->valuestring[2 * i + 1]));
        int rc = tokenizer_encode(t, bytes, n, ml->valueint, &enc, err, sizeof err);
        ck_assert_msg(rc == 0, "%s line %d: encode failed: %s", fixture, lines + 1, err);
        int want_n = cJSON_GetArraySize(ids), i = 0;
        for (const cJSON *id = ids->child; id; id = id->next, i++) {
            ck_assert_msg(i < enc.n && enc.ids[i] == id->valueint,
                          "%s via %s, line %d (max_length %d), text '%.60s': first mismatch at index %d: ours %d, expected %d "
                          "(ours has %d ids, expected %d)",
                          fixture, path, lines + 1, ml->valueint, text->valuestring, i, i < enc.n ? enc.ids[i] : -1,
                          id->valueint, enc.n, want_n);
        }
        ck_assert_msg(enc.n == want_n, "%s via %s, line %d text '%.60s': %d ids, expected %d", fixture, path, lines + 1,
                      text->valuestring, enc.n, want_n);
        for (int k = 0; k < enc.n; k++) ck_assert_int_eq(enc.attention_mask[k], 1);
        free(bytes);
        cJSON_Delete(row);
        lines++;
    }
    ck_assert_int_gt(lines, 50);
    tokenizer_encoding_free(&enc);
    free(data);
    tokenizer_free(t);
}

START_TEST(bert_tokenizer_json) { check_fixture(VOCAB "bert-base-uncased", FIX "bert-base-uncased.jsonl"); }
END_TEST
START_TEST(bert_vocab_txt) { check_fixture(VOCAB "bert-base-uncased/vocab.txt", FIX "bert-base-uncased.jsonl"); }
END_TEST
START_TEST(roberta_vocab_json_merges) { check_fixture(VOCAB "roberta-base", FIX "roberta-base.jsonl"); }
END_TEST
START_TEST(small_bpe_tokenizer_json) { check_fixture(FIX "small-bpe", FIX "small-bpe.jsonl"); }
END_TEST
START_TEST(small_bpe_tokenizer_json_file) { check_fixture(FIX "small-bpe/tokenizer.json", FIX "small-bpe.jsonl"); }
END_TEST
START_TEST(small_bpe_legacy) { check_fixture(FIX "small-bpe-legacy", FIX "small-bpe.jsonl"); }
END_TEST

// the spec's own test vectors (reference-semantics.md §8.2, §8.3)
START_TEST(spec_vectors) {
    char err[256];
    TokenizerEncoding enc = {0};
    Tokenizer *bert = load_ok(VOCAB "bert-base-uncased");
    const char *s = "Hello, my dog is cute";
    ck_assert_int_eq(tokenizer_encode(bert, s, strlen(s), 0, &enc, err, sizeof err), 0);
    int want[] = {101, 7592, 1010, 2026, 3899, 2003, 10140, 102};
    ck_assert_int_eq(enc.n, 8);
    for (int i = 0; i < 8; i++) ck_assert_int_eq(enc.ids[i], want[i]);
    ck_assert_int_eq(tokenizer_pad_id(bert), 0);
    ck_assert_int_eq(tokenizer_kind(bert), TOKENIZER_WORDPIECE);
    Tokenizer *rob = load_ok(VOCAB "roberta-base");
    ck_assert_int_eq(tokenizer_encode(rob, " Hello world", 12, 0, &enc, err, sizeof err), 0);
    int want2[] = {0, 20920, 232, 2};
    ck_assert_int_eq(enc.n, 4);
    for (int i = 0; i < 4; i++) ck_assert_int_eq(enc.ids[i], want2[i]);
    ck_assert_int_eq(tokenizer_pad_id(rob), 1);
    ck_assert_int_eq(tokenizer_kind(rob), TOKENIZER_BPE);
    ck_assert_int_eq(tokenizer_vocab_size(rob), 50265);
    size_t tl;
    const char *tok = tokenizer_id_to_token(rob, 232, &tl);
    ck_assert(tok && tl == 7 && memcmp(tok, "\xc4\xa0world", 7) == 0);
    ck_assert_int_eq(tokenizer_token_to_id(rob, "\xc4\xa0world", 7), 232);
    // truncation below the number of special tokens keeps just the specials
    ck_assert_int_eq(tokenizer_encode(rob, "Hello world", 11, 2, &enc, err, sizeof err), 0);
    ck_assert_int_eq(enc.n, 2);
    tokenizer_encoding_free(&enc);
    tokenizer_free(bert);
    tokenizer_free(rob);
}
END_TEST

START_TEST(batch_padding) {
    Tokenizer *t = load_ok(VOCAB "roberta-base");
    const char *texts[2] = {"Hello world", "Hello world, this is a longer text that gets truncated"};
    size_t lens[2] = {strlen(texts[0]), strlen(texts[1])};
    int32_t ids[2 * 8], mask[2 * 8];
    int lengths[2];
    char err[256];
    ck_assert_int_eq(tokenizer_encode_batch(t, texts, lens, 2, 8, ids, mask, lengths, err, sizeof err), 0);
    int row0[8] = {0, 31414, 232, 2, 1, 1, 1, 1}, m0[8] = {1, 1, 1, 1, 0, 0, 0, 0};
    for (int i = 0; i < 8; i++) { ck_assert_int_eq(ids[i], row0[i]); ck_assert_int_eq(mask[i], m0[i]); }
    ck_assert_int_eq(lengths[0], 4);
    ck_assert_int_eq(lengths[1], 8);
    ck_assert_int_eq(ids[8], 0);
    ck_assert_int_eq(ids[15], 2); // </s> kept after truncation
    for (int i = 8; i < 16; i++) ck_assert_int_eq(mask[i], 1);
    tokenizer_free(t);
}
END_TEST

START_TEST(decode) {
    char err[256], *out;
    size_t n;
    Tokenizer *rob = load_ok(VOCAB "roberta-base");
    int32_t r[] = {0, 31414, 232, 2};
    ck_assert_int_eq(tokenizer_decode(rob, r, 4, 1, &out, &n, err, sizeof err), 0);
    ck_assert_str_eq(out, "Hello world");
    free(out);
    ck_assert_int_eq(tokenizer_decode(rob, r, 4, 0, &out, &n, err, sizeof err), 0);
    ck_assert_str_eq(out, "<s>Hello world</s>");
    free(out);
    // round trip of non-ASCII text through byte-level pieces
    TokenizerEncoding enc = {0};
    const char *s = "Größe: 日本語 😀 déjà vu";
    ck_assert_int_eq(tokenizer_encode(rob, s, strlen(s), 0, &enc, err, sizeof err), 0);
    ck_assert_int_eq(tokenizer_decode(rob, enc.ids, enc.n, 1, &out, &n, err, sizeof err), 0);
    ck_assert_str_eq(out, s);
    free(out);
    Tokenizer *bert = load_ok(VOCAB "bert-base-uncased");
    const char *b = "Hello, my dog isn't unaffable.";
    ck_assert_int_eq(tokenizer_encode(bert, b, strlen(b), 0, &enc, err, sizeof err), 0);
    ck_assert_int_eq(tokenizer_decode(bert, enc.ids, enc.n, 1, &out, &n, err, sizeof err), 0);
    ck_assert_str_eq(out, "hello, my dog isn't unaffable.");
    free(out);
    int32_t bad = 999999;
    ck_assert_int_eq(tokenizer_decode(bert, &bad, 1, 0, &out, &n, err, sizeof err), -1);
    tokenizer_encoding_free(&enc);
    tokenizer_free(rob);
    tokenizer_free(bert);
}
END_TEST

START_TEST(invalid_utf8) {
    Tokenizer *t = load_ok(VOCAB "bert-base-uncased");
    TokenizerEncoding enc = {0};
    char err[256] = "";
    const char *cases[] = {"ab\xff", "\xc3", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80"};
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(tokenizer_encode(t, cases[i], strlen(cases[i]), 0, &enc, err, sizeof err), -1);
        ck_assert_msg(strstr(err, "invalid UTF-8") != NULL, "error '%s'", err);
    }
    // NUL bytes inside the text are fine: BERT's cleaning drops them
    ck_assert_int_eq(tokenizer_encode(t, "a\0b", 3, 0, &enc, err, sizeof err), 0);
    ck_assert_int_eq(enc.n, 3);
    tokenizer_encoding_free(&enc);
    tokenizer_free(t);
}
END_TEST

static char *write_tmp(const char *name, const char *content) {
    char *p = path_join(tmpdir, name);
    FILE *fp = fopen(p, "wb");
    ck_assert_ptr_nonnull(fp);
    fputs(content, fp);
    fclose(fp);
    return p;
}

START_TEST(load_errors) {
    load_fails("no/such/dir", "no such file");
    load_fails(tmpdir, "no tokenizer.json, vocab.txt or vocab.json");
    char *p;
    const char *tail = "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\","
                       "\"max_input_chars_per_word\":100,\"vocab\":{\"[UNK]\":0,\"a\":1}}}";
    char buf[1024];
    snprintf(buf, sizeof buf, "{\"normalizer\":{\"type\":\"NFKC\"},\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},%s", tail);
    p = write_tmp("nfkc.json", buf); load_fails(p, "unsupported normalizer 'NFKC'"); free(p);
    snprintf(buf, sizeof buf, "{\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Metaspace\"},%s", tail);
    p = write_tmp("meta.json", buf); load_fails(p, "unsupported pre_tokenizer 'Metaspace'"); free(p);
    snprintf(buf, sizeof buf, "{\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},\"decoder\":{\"type\":\"Metaspace\"},%s", tail);
    p = write_tmp("dec.json", buf); load_fails(p, "unsupported decoder 'Metaspace'"); free(p);
    p = write_tmp("unigram.json", "{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}"); load_fails(p, "unsupported model 'Unigram'"); free(p);
    p = write_tmp("untagged.json", "{\"model\":{\"vocab\":{\"a\":0}}}"); load_fails(p, "cannot tell model type"); free(p);
    p = write_tmp("broken.json", "{\"model\": {"); load_fails(p, "invalid JSON"); free(p);
    snprintf(buf, sizeof buf, "{\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},\"added_tokens\":[{\"id\":5,\"content\":\"a\"}],%s", tail);
    p = write_tmp("added.json", buf); load_fails(p, "added token 'a' has id 5, vocab says 1"); free(p);
    p = write_tmp("maxchars.json", "{\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},\"model\":{\"type\":\"WordPiece\","
                  "\"unk_token\":\"[UNK]\",\"max_input_chars_per_word\":1000000000,\"vocab\":{\"[UNK]\":0}}}");
    load_fails(p, "max_input_chars_per_word"); free(p);
    p = write_tmp("nounk.json", "{\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},\"model\":{\"type\":\"WordPiece\","
                  "\"unk_token\":\"[UNK]\",\"vocab\":{\"a\":0}}}");
    load_fails(p, "unk_token '[UNK]' is not in the vocabulary"); free(p);
    // BPE: merges whose result is not in the vocabulary, bad merge line, missing byte symbols
    char *d = path_join(tmpdir, "bpe"), cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", d);
    ck_assert_int_eq(system(cmd), 0);
    free(write_tmp("bpe/vocab.json", "{\"a\":0,\"b\":1}"));
    free(write_tmp("bpe/merges.txt", "#version: 0.2\na b\n"));
    load_fails(d, "'ab' not in vocab");
    free(write_tmp("bpe/merges.txt", "#version: 0.2\na b c\n"));
    load_fails(d, "merges.txt:2: expected two symbols");
    free(write_tmp("bpe/vocab.json", "{\"a\":0,\"b\":1,\"ab\":2}"));
    free(write_tmp("bpe/merges.txt", "a b\n"));
    load_fails(d, "lacks the token for byte 0x00");
    free(write_tmp("bpe/vocab.json", "{\"a\":0,\"b\":-1}"));
    load_fails(d, "must be an integer");
    free(d);
    // vocab.txt: duplicates and empty lines
    p = write_tmp("dup.txt", "[UNK]\nthe\nthe\n"); load_fails(p, "duplicate token 'the'"); free(p);
    p = write_tmp("empty.txt", "[UNK]\n\nthe\n"); load_fails(p, "empty token"); free(p);
    p = write_tmp("nocls.txt", "[UNK]\n[SEP]\n[PAD]\n[MASK]\nthe\n"); load_fails(p, "special token '[CLS]' not in the vocabulary"); free(p);
    // CRLF vocab.txt loads like LF
    p = write_tmp("crlf.txt", "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\nthe\r\n");
    Tokenizer *t = load_ok(p);
    TokenizerEncoding enc = {0};
    char err[256];
    ck_assert_int_eq(tokenizer_encode(t, "The", 3, 0, &enc, err, sizeof err), 0);
    ck_assert_int_eq(enc.n, 3);
    ck_assert_int_eq(enc.ids[1], 5);
    tokenizer_encoding_free(&enc);
    tokenizer_free(t);
    free(p);
}
END_TEST

// hostile-inputs.md §4.4: a 1 MB word must not take quadratic time in either model
START_TEST(long_word_time) {
    size_t n = 1 << 20;
    char *s = malloc(n);
    for (size_t i = 0; i < n; i++) s[i] = "abcdefghij"[i % 10 < 7 ? i % 7 : 0];
    const char *paths[2] = {VOCAB "roberta-base", VOCAB "bert-base-uncased"};
    for (int k = 0; k < 2; k++) {
        Tokenizer *t = load_ok(paths[k]);
        TokenizerEncoding enc = {0};
        char err[256];
        clock_t c0 = clock();
        ck_assert_int_eq(tokenizer_encode(t, s, n, 0, &enc, err, sizeof err), 0);
        double sec = (double)(clock() - c0) / CLOCKS_PER_SEC;
        ck_assert_msg(sec < 2.0, "%s: 1 MB word took %.2f s", paths[k], sec);
        ck_assert_int_gt(enc.n, 2);
        tokenizer_encoding_free(&enc);
        tokenizer_free(t);
    }
    free(s);
}
END_TEST

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_tokenizer.XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    Suite *s = suite_create("tokenizer");
    TCase *golden = tcase_create("golden");
    tcase_set_timeout(golden, 60);
    tcase_add_test(golden, bert_tokenizer_json);
    tcase_add_test(golden, bert_vocab_txt);
    tcase_add_test(golden, roberta_vocab_json_merges);
    tcase_add_test(golden, small_bpe_tokenizer_json);
    tcase_add_test(golden, small_bpe_tokenizer_json_file);
    tcase_add_test(golden, small_bpe_legacy);
    tcase_add_test(golden, spec_vectors);
    suite_add_tcase(s, golden);
    TCase *api = tcase_create("api");
    tcase_set_timeout(api, 60);
    tcase_add_test(api, batch_padding);
    tcase_add_test(api, decode);
    tcase_add_test(api, invalid_utf8);
    tcase_add_test(api, load_errors);
    tcase_add_test(api, long_word_time);
    suite_add_tcase(s, api);
    int failed = run_suite(s);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return failed ? 1 : 0;
}
