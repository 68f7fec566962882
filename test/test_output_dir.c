// test_output_dir.c: a run owns its output folder (issue 15; doc/reliability.md, "The output folder").
// One test per case of the catalogue rows "output folder" and "runs mix": links in OUTPUT are never
// followed (a victim folder beside OUTPUT is snapshotted before and compared after), entries of the
// wrong type and earlier runs are refused before any work, --overwrite-output-dir replaces only the
// run's files, a run that fails after that leaves only its own (incomplete, marked) files, --resume
// refuses a split.json or run.json of another run and works from any directory, ./infer --eval never
// writes into a training run's folder, ./compare refuses mixtures and non-numbers. Then a seeded
// fuzz-style test: OUTPUT pre-populated with random mixtures of files, folders, links and earlier runs;
// whatever ./train does, nothing outside OUTPUT changes and OUTPUT never holds parts of two runs.
//
// The programs come from $ENC_BIN_DIR (default "."); run from the repo root. The runs are the tiny
// random-init DistilBERT (test/fixtures/distilbert-micro.json) on 24 rows, about 0.2 s each.
#include <check.h>
#include <cJSON.h>
#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/dirs.h"
#include "common/fileio.h"
#include "data/rng.h"
#include "run/output_dir.h"
#include "run/pipeline.h"
#include "test/run_suite.h"
#include "test/test_files.h"

#define CONFIG "test/fixtures/distilbert-micro.json"
#define TOKENIZER "../shared/data/vocab/bert-base-uncased"
// relative --config and --tokenizer on purpose: --resume from another directory must still find them
#define TRAIN "train --tokenizer " TOKENIZER " --config " CONFIG " --data %s/data.tsv --n-samples 0 --epochs 1 " \
              "--threads 1 --max-length 16"
#define FUZZ_ITERATIONS 24

static char tmp_root[256], bin_dir[PATH_MAX + 16], repo_dir[PATH_MAX];

static void setup(void) {
    snprintf(tmp_root, sizeof tmp_root, "/tmp/test_output_dir.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_root));
    char p[2048];
    snprintf(p, sizeof p, "%s/data.tsv", tmp_root);
    FILE *fp = fopen(p, "w");
    ck_assert_ptr_nonnull(fp);
    for (int i = 0; i < 24; i++) fprintf(fp, "%s review number %d\t%d\n", i % 2 ? "a great" : "an awful", i, i % 2);
    fclose(fp);
    // the victim: a folder beside every OUTPUT that links in OUTPUT point to
    snprintf(p, sizeof p, "mkdir -p '%s/victim/sub' && echo weights > '%s/victim/model.safetensors' && "
             "echo notes > '%s/victim/sub/notes.txt' && echo 1 > '%s/victim_file'", tmp_root, tmp_root, tmp_root, tmp_root);
    ck_assert_int_eq(system(p), 0);
}

static void teardown(void) { remove_tree(tmp_root); }

static char *path_in(const char *fmt, ...) {
    static char bufs[8][PATH_MAX];
    static int next;
    char *b = bufs[next++ % 8], rel[PATH_MAX - 300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    snprintf(b, PATH_MAX, "%s/%s", tmp_root, rel);
    return b;
}

// Run `cd <cwd> && <bin_dir>/<args>` (cwd NULL: the repo root); stdout and stderr in tmp_root. Status.
static int run_in(const char *cwd, const char *fmt, ...) {
    char args[3000], cmd[3000 + 3 * PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s'/%s >'%s/stdout.txt' 2>'%s/stderr.txt'", cwd ? cwd : repo_dir, bin_dir,
             args, tmp_root, tmp_root);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *path) {
    char *d, err[512];
    size_t n;
    ck_assert_msg(read_file(path, &d, &n, err, sizeof err) == 0, "%s", err);
    return d;
}

// exit status 1, one stderr line holding both needles, and no training started (no epoch line)
static void expect_refused(int status, const char *what, const char *needle1, const char *needle2) {
    char *err = slurp(path_in("stderr.txt")), *out = slurp(path_in("stdout.txt"));
    ck_assert_msg(status == 1, "%s: exit status %d (want 1); stderr: %s", what, status, err);
    int lines = 0;
    for (char *p = err; *p; p++) lines += *p == '\n';
    ck_assert_msg(lines == 1, "%s: want one error line, got:\n%s", what, err);
    ck_assert_msg(strstr(err, needle1), "%s: '%s' not in the error: %s", what, needle1, err);
    ck_assert_msg(!needle2 || strstr(err, needle2), "%s: '%s' not in the error: %s", what, needle2, err);
    ck_assert_msg(!strstr(out, "epoch 1:"), "%s: training ran before the refusal", what);
    free(err);
    free(out);
}

// ---- snapshots: every entry under a folder (links not followed) as one sorted text

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void snapshot_into(const char *dir, const char *rel, char ***lines, int *n, int *cap) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[PATH_MAX], r[PATH_MAX], line[2 * PATH_MAX + 128];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        struct stat st;
        ck_assert_int_eq(lstat(p, &st), 0);
        if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX] = "";
            ssize_t k = readlink(p, target, sizeof target - 1);
            target[k > 0 ? k : 0] = '\0';
            snprintf(line, sizeof line, "%s -> %s", r, target);
        } else if (S_ISDIR(st.st_mode)) {
            snprintf(line, sizeof line, "%s/", r);
            snapshot_into(p, r, lines, n, cap);
        } else {
            size_t size = 0;
            uint64_t h = 0;
            char err[512];
            ck_assert_msg(file_fingerprint(p, &size, &h, err, sizeof err) == 0, "%s", err);
            snprintf(line, sizeof line, "%s %zu %016" PRIx64 " mode %o", r, size, h, (unsigned)(st.st_mode & 07777));
        }
        if (*n == *cap) *lines = realloc(*lines, sizeof **lines * (size_t)(*cap = *cap * 2 + 16));
        ck_assert_ptr_nonnull(*lines);
        (*lines)[(*n)++] = strdup(line);
    }
    closedir(d);
}

static char *snapshot(const char *dir) {
    char **lines = NULL;
    int n = 0, cap = 0;
    snapshot_into(dir, "", &lines, &n, &cap);
    if (n) qsort(lines, (size_t)n, sizeof *lines, cmp_str);
    size_t len = 1;
    for (int i = 0; i < n; i++) len += strlen(lines[i]) + 1;
    char *text = calloc(1, len);
    ck_assert_ptr_nonnull(text);
    for (int i = 0; i < n; i++) {
        strcat(strcat(text, lines[i]), "\n");
        free(lines[i]);
    }
    free(lines);
    return text;
}

static void expect_same_snapshot(const char *before, const char *dir, const char *what) {
    char *after = snapshot(dir);
    ck_assert_msg(!strcmp(before, after), "%s: %s changed.\nbefore:\n%s\nafter:\n%s", what, dir, before, after);
    free(after);
}

// the run in `dir` is complete and one run: ./compare accepts it
static void expect_one_complete_run(const char *dir, const char *what) {
    int st = run_in(NULL, "compare '%s'", dir);
    char *err = slurp(path_in("stderr.txt"));
    ck_assert_msg(st == 0, "%s: ./compare refuses %s: %s", what, dir, err);
    free(err);
}

static void run_id_of(const char *dir, char id[RUN_ID_CHARS + 1]) {
    char err[512];
    int complete;
    ck_assert_msg(run_manifest_read(dir, id, &complete, 0, err, sizeof err) == 0, "%s", err);
}

// ---- the cases

// Library level, the original bug: replacing or removing `best` when it is a link to a folder
// deleted the files in the link's target.
START_TEST(test_replace_never_follows_links) {
    char *victim_before = snapshot(path_in("victim")), err[512];
    ck_assert_int_eq(mkdir(path_in("out"), 0755), 0);
    ck_assert_int_eq(symlink(path_in("victim"), path_in("out/best")), 0);
    char *tmp = dir_replace_begin(path_in("out/best"), err, sizeof err);
    ck_assert_msg(tmp != NULL, "%s", err);
    ck_assert_int_eq(dir_replace_commit(tmp, path_in("out/best"), err, sizeof err), -1);
    ck_assert_msg(strstr(err, "symbolic link"), "%s", err);
    free(tmp);
    ck_assert_int_eq(count_temporaries(path_in("out")), 0);
    ck_assert_int_eq(remove_flat_dir(path_in("out/best"), err, sizeof err), 0);  // the link goes, as a link
    ck_assert_int_eq(remove_tree_nofollow(path_in("victim_link_never_made"), 3, err, sizeof err), 0);
    ck_assert_int_eq(symlink(path_in("victim"), path_in("out/resume")), 0);
    ck_assert_int_eq(remove_tree_nofollow(path_in("out"), 3, err, sizeof err), 0);
    expect_same_snapshot(victim_before, path_in("victim"), "removing links to it");
    free(victim_before);
}
END_TEST

// OUTPUT, best/, resume/ or a report file that is a link: refused before any work, even with
// --overwrite-output-dir; the target is untouched, no temporary left
START_TEST(test_links_in_output_refused) {
    const char *entries[] = {"best", "resume", "metrics.json", "split.json"};
    char *victim_before = snapshot(path_in("victim"));
    for (int i = 0; i < 4; i++) {
        remove_tree(path_in("out"));
        ck_assert_int_eq(mkdir(path_in("out"), 0755), 0);
        ck_assert_int_eq(symlink(path_in(i < 2 ? "victim" : "victim_file"), path_in("out/%s", entries[i])), 0);
        int st = run_in(NULL, TRAIN " --output-dir %s/out --overwrite-output-dir", tmp_root, tmp_root);
        expect_refused(st, entries[i], entries[i], "symbolic link");
        expect_same_snapshot(victim_before, path_in("victim"), entries[i]);
        ck_assert_int_eq(count_temporaries(path_in("out")), 0);
    }
    ck_assert_int_eq(symlink(path_in("victim"), path_in("linked_out")), 0);
    int st = run_in(NULL, TRAIN " --output-dir %s/linked_out", tmp_root, tmp_root);
    expect_refused(st, "OUTPUT a link", "linked_out", "symbolic link");
    expect_same_snapshot(victim_before, path_in("victim"), "OUTPUT a link");
    free(victim_before);
}
END_TEST

// a regular file named best, a folder named metrics.json: refused before training, left as they are
START_TEST(test_wrong_types_refused) {
    ck_assert_int_eq(mkdir(path_in("out"), 0755), 0);
    FILE *fp = fopen(path_in("out/best"), "w");
    ck_assert_ptr_nonnull(fp);
    fputs("not a checkpoint", fp);
    fclose(fp);
    char *before = snapshot(path_in("out"));
    int st = run_in(NULL, TRAIN " --output-dir %s/out --overwrite-output-dir", tmp_root, tmp_root);
    expect_refused(st, "file named best", "out/best", "not a folder");
    expect_same_snapshot(before, path_in("out"), "file named best");
    free(before);
    ck_assert_int_eq(unlink(path_in("out/best")), 0);
    ck_assert_int_eq(mkdir(path_in("out/metrics.json"), 0755), 0);
    st = run_in(NULL, TRAIN " --output-dir %s/out --overwrite-output-dir", tmp_root, tmp_root);
    expect_refused(st, "folder named metrics.json", "out/metrics.json", "not a regular file");
}
END_TEST

// an earlier run is refused without --overwrite-output-dir (the folder unchanged); with it, the run's
// files are replaced, a file of the user's stays, and the new run has a new id
START_TEST(test_earlier_run_refused_then_overwritten) {
    ck_assert_int_eq(run_in(NULL, TRAIN " --seed 1 --output-dir %s/out", tmp_root, tmp_root), 0);
    char first[RUN_ID_CHARS + 1], second[RUN_ID_CHARS + 1];
    run_id_of(path_in("out"), first);
    FILE *fp = fopen(path_in("out/my_notes.txt"), "w");
    ck_assert_ptr_nonnull(fp);
    fputs("mine", fp);
    fclose(fp);
    char *before = snapshot(path_in("out"));
    int st = run_in(NULL, TRAIN " --seed 2 --output-dir %s/out", tmp_root, tmp_root);
    expect_refused(st, "earlier run", "holds an earlier run", "--overwrite-output-dir");
    expect_same_snapshot(before, path_in("out"), "refused second run");
    free(before);
    ck_assert_int_eq(run_in(NULL, TRAIN " --seed 2 --output-dir %s/out --overwrite-output-dir", tmp_root, tmp_root), 0);
    run_id_of(path_in("out"), second);
    ck_assert_str_ne(first, second);
    char *notes = slurp(path_in("out/my_notes.txt"));
    ck_assert_str_eq(notes, "mine");
    free(notes);
    expect_one_complete_run(path_in("out"), "overwritten run");
}
END_TEST

// --output-dir "" wrote into the current folder and printed "wrote /{...}": refused, nothing written
START_TEST(test_empty_output_dir_refused) {
    ck_assert_int_eq(mkdir(path_in("cwd"), 0755), 0);
    char data[PATH_MAX];
    snprintf(data, sizeof data, "%s", path_in("data.tsv"));
    int st = run_in(path_in("cwd"), "train --tokenizer %s/" TOKENIZER " --config %s/" CONFIG " --data %s --n-samples 0 "
                    "--epochs 1 --max-length 16 --output-dir ''", repo_dir, repo_dir, data);
    expect_refused(st, "empty --output-dir", "--output-dir", "empty");
    char *listing = snapshot(path_in("cwd"));
    ck_assert_str_eq(listing, "");
    free(listing);
}
END_TEST

// the starting checkpoint inside the folder the run replaces: refused, the checkpoint untouched
START_TEST(test_model_inside_output_refused) {
    ck_assert_int_eq(run_in(NULL, TRAIN " --output-dir %s/out", tmp_root, tmp_root), 0);
    char *before = snapshot(path_in("out"));
    int st = run_in(NULL, "train --model %s/out/best --data %s/data.tsv --epochs 1 --max-length 16 --output-dir %s/out "
                    "--overwrite-output-dir", tmp_root, tmp_root, tmp_root);
    expect_refused(st, "--model OUT/best", "--model", "which this run replaces");
    expect_same_snapshot(before, path_in("out"), "--model OUT/best");
    free(before);
}
END_TEST

// A run that fails after it replaced an earlier run (a NaN at step 1: "nothing was saved") leaves only
// its own files, marked unfinished: ./compare refuses the folder, --resume finds no state.
START_TEST(test_failed_run_leaves_no_mixture) {
    ck_assert_int_eq(run_in(NULL, TRAIN " --seed 1 --output-dir %s/out", tmp_root, tmp_root), 0);
    int st = run_in(NULL, TRAIN " --seed 2 --output-dir %s/out --overwrite-output-dir --debug-nan-at-step 1", tmp_root,
                    tmp_root);
    ck_assert_int_eq(st, 1);
    struct stat sb;
    const char *gone[] = {"metrics.json", "predictions.csv", "history.json", "best", "resume", "confusion_matrix.svg"};
    for (int i = 0; i < 6; i++)
        ck_assert_msg(lstat(path_in("out/%s", gone[i]), &sb) != 0, "the first run's %s was left beside the second's", gone[i]);
    ck_assert_int_eq(run_in(NULL, "compare %s/out", tmp_root), 1);
    char *err = slurp(path_in("stderr.txt"));
    ck_assert_msg(strstr(err, "did not finish"), "%s", err);
    free(err);
    st = run_in(NULL, "train --resume %s/out", tmp_root);
    expect_refused(st, "resume without a state", "no resume state", NULL);
}
END_TEST

// --resume: a split.json or run.json of another run is refused; the run resumes from another directory
START_TEST(test_resume_checks_split_and_run) {
    ck_assert_int_eq(run_in(NULL, TRAIN " --seed 1 --output-dir %s/a", tmp_root, tmp_root), 0);
    ck_assert_int_eq(run_in(NULL, TRAIN " --seed 2 --output-dir %s/b", tmp_root, tmp_root), 0);
    // the run resumes (its last state: every epoch done) from /, with the relative --config and --tokenizer
    ck_assert_int_eq(run_in("/", "train --resume %s/a --threads 1", tmp_root), 0);
    expect_one_complete_run(path_in("a"), "resumed from /");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp '%s/b/split.json' '%s/a/split.json'", tmp_root, tmp_root);
    ck_assert_int_eq(system(cmd), 0);
    int st = run_in(NULL, "train --resume %s/a", tmp_root);
    expect_refused(st, "split.json of another run", "a/split.json", "not the split the resume state was saved with");
    snprintf(cmd, sizeof cmd, "cp '%s/b/split.json' '%s/b/run.json' '%s/a/'", tmp_root, tmp_root, tmp_root);
    ck_assert_int_eq(system(cmd), 0);
    st = run_in(NULL, "train --resume %s/a", tmp_root);
    expect_refused(st, "run.json of another run", "parts of two runs", NULL);
}
END_TEST

// ./infer --eval into a training run's folder would replace its metrics.json: refused; a subfolder is fine
START_TEST(test_infer_eval_not_into_run) {
    ck_assert_int_eq(run_in(NULL, TRAIN " --output-dir %s/out", tmp_root, tmp_root), 0);
    char *before = snapshot(path_in("out"));
    int st = run_in(NULL, "infer --model %s/out/best --eval --data %s/data.tsv --output-dir %s/out", tmp_root, tmp_root,
                    tmp_root);
    char *err = slurp(path_in("stderr.txt"));
    ck_assert_msg(st == 1 && strstr(err, "holds a training run") && strstr(err, "/eval"), "status %d: %s", st, err);
    free(err);
    expect_same_snapshot(before, path_in("out"), "infer --eval into the run");
    free(before);
    ck_assert_int_eq(run_in(NULL, "infer --model %s/out/best --eval --data %s/data.tsv --output-dir %s/out/eval", tmp_root,
                            tmp_root, tmp_root), 0);
    expect_one_complete_run(path_in("out"), "after infer --eval into out/eval");
}
END_TEST

// ./compare: a file of another run, an incomplete run, a number that is a string
START_TEST(test_compare_refuses_mixtures) {
    ck_assert_int_eq(run_in(NULL, TRAIN " --seed 1 --output-dir %s/a", tmp_root, tmp_root), 0);
    ck_assert_int_eq(run_in(NULL, TRAIN " --seed 2 --output-dir %s/b", tmp_root, tmp_root), 0);
    char cmd[1200], err[512];
    snprintf(cmd, sizeof cmd, "cp '%s/b/metrics.json' '%s/a/metrics.json'", tmp_root, tmp_root);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(run_in(NULL, "compare %s/a", tmp_root), 1);
    char *msg = slurp(path_in("stderr.txt"));
    ck_assert_msg(strstr(msg, "a/metrics.json") && strstr(msg, "another run"), "%s", msg);
    free(msg);
    // {"accuracy": "high"} in a folder whose run.json is consistent with it: printed nan before
    ck_assert_int_eq(write_file_atomic(path_in("b/metrics.json"), "{\"accuracy\": \"high\", \"f1\": 1, \"log_loss\": 1}", 44,
                                       err, sizeof err), 0);
    char id[RUN_ID_CHARS + 1];
    run_id_of(path_in("b"), id);
    ck_assert_msg(run_manifest_complete(path_in("b"), id, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(run_in(NULL, "compare %s/b", tmp_root), 1);
    msg = slurp(path_in("stderr.txt"));
    ck_assert_msg(strstr(msg, "'accuracy' must be a number, found a string"), "%s", msg);
    free(msg);
    ck_assert_int_eq(run_manifest_start(path_in("b"), id, err, sizeof err), 0);
    ck_assert_int_eq(run_in(NULL, "compare %s/b", tmp_root), 1);
    msg = slurp(path_in("stderr.txt"));
    ck_assert_msg(strstr(msg, "did not finish"), "%s", msg);
    free(msg);
}
END_TEST

// ---- the fuzz-style test

// one random thing named `name` in dir: a file, an empty folder, a folder with a file, a link to the
// victim folder / the victim file / nowhere, or nothing
static void plant(Rng *rng, const char *dir, const char *name) {
    char p[PATH_MAX], inner[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *fp;
    switch (rng_below(rng, 7)) {
    case 0: fp = fopen(p, "w"); ck_assert_ptr_nonnull(fp); fputs("planted", fp); fclose(fp); break;
    case 1: ck_assert_int_eq(mkdir(p, 0755), 0); break;
    case 2:
        ck_assert_int_eq(mkdir(p, 0755), 0);
        snprintf(inner, sizeof inner, "%s/model.safetensors", p);
        ck_assert_int_eq(symlink(path_in("victim/model.safetensors"), inner), 0);
        break;
    case 3: ck_assert_int_eq(symlink(path_in("victim"), p), 0); break;
    case 4: ck_assert_int_eq(symlink(path_in("victim_file"), p), 0); break;
    case 5: ck_assert_int_eq(symlink(path_in("nowhere"), p), 0); break;
    default: break;
    }
}

START_TEST(test_fuzz_output_folder) {
    Rng rng;
    rng_seed(&rng, 15, 54);
    // an earlier complete run to start mixtures from
    ck_assert_int_eq(run_in(NULL, TRAIN " --seed 3 --output-dir %s/earlier", tmp_root, tmp_root), 0);
    const char *names[] = {"best", "resume", "split.json", "metrics.json", "history.json", "run.json",
                           "best.tmp.a1b2c3", "resume.old.zz9x8y", "notes.txt"};
    char *victim_before = snapshot(path_in("victim")), *data_before = snapshot(tmp_root), cmd[1200];
    free(data_before);
    int refused = 0, trained = 0;
    for (int it = 0; it < FUZZ_ITERATIONS; it++) {
        remove_tree(path_in("out"));
        int earlier = rng_below(&rng, 2);
        if (earlier) snprintf(cmd, sizeof cmd, "cp -a '%s/earlier' '%s/out'", tmp_root, tmp_root);
        else snprintf(cmd, sizeof cmd, "mkdir '%s/out'", tmp_root);
        ck_assert_int_eq(system(cmd), 0);
        int n_planted = (int)rng_below(&rng, 3);
        for (int k = 0; k < n_planted; k++) {  // replace or add one entry
            const char *name = names[rng_below(&rng, 9)];
            char err[512];
            ck_assert_int_eq(remove_tree_nofollow(path_in("out/%s", name), 4, err, sizeof err), 0);
            plant(&rng, path_in("out"), name);
        }
        int overwrite = rng_below(&rng, 4) != 0;
        char *out_before = snapshot(path_in("out"));
        int st = run_in(NULL, TRAIN " --seed %d --output-dir %s/out%s", tmp_root, it, tmp_root,
                        overwrite ? " --overwrite-output-dir" : "");
        char what[64];
        snprintf(what, sizeof what, "fuzz iteration %d", it);
        expect_same_snapshot(victim_before, path_in("victim"), what);
        struct stat sb;
        ck_assert_msg(lstat(path_in("victim_file"), &sb) == 0 && sb.st_size == 2, "%s: victim_file changed", what);
        if (st == 0) {  // a run: complete, one run, no leftovers
            trained++;
            expect_one_complete_run(path_in("out"), what);
            ck_assert_msg(count_temporaries(path_in("out")) == 0, "%s: temporaries left", what);
        } else {  // refused before any work: OUTPUT exactly as it was
            refused++;
            ck_assert_msg(st == 1, "%s: exit status %d", what, st);
            expect_same_snapshot(out_before, path_in("out"), what);
        }
        free(out_before);
    }
    // the mixtures must exercise both outcomes, or the test proves little
    ck_assert_msg(refused > 0 && trained > 0, "refused %d, trained %d", refused, trained);
    free(victim_before);
}
END_TEST

int main(void) {
    if (!getcwd(repo_dir, sizeof repo_dir)) return 1;
    const char *env = getenv("ENC_BIN_DIR");
    if (env && *env && env[0] == '/') snprintf(bin_dir, sizeof bin_dir, "%s", env);
    else snprintf(bin_dir, sizeof bin_dir, "%s/%s", repo_dir, env && *env ? env : ".");
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/train", bin_dir);
    if (access(p, X_OK) != 0) {
        fprintf(stderr, "test_output_dir: %s not built (make train infer compare)\n", p);
        return 1;
    }
    setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
    Suite *s = suite_create("output_dir");
    TCase *tc = tcase_create("output_dir");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_replace_never_follows_links);
    tcase_add_test(tc, test_links_in_output_refused);
    tcase_add_test(tc, test_wrong_types_refused);
    tcase_add_test(tc, test_earlier_run_refused_then_overwritten);
    tcase_add_test(tc, test_empty_output_dir_refused);
    tcase_add_test(tc, test_model_inside_output_refused);
    tcase_add_test(tc, test_failed_run_leaves_no_mixture);
    tcase_add_test(tc, test_resume_checks_split_and_run);
    tcase_add_test(tc, test_infer_eval_not_into_run);
    tcase_add_test(tc, test_compare_refuses_mixtures);
    tcase_add_test(tc, test_fuzz_output_folder);
    suite_add_tcase(s, tc);
    return run_suite(s) ? 1 : 0;
}
