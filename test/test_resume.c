// test_resume.c: numerical faults, resume after SIGKILL, and determinism of ./train (issue 9, parts
// 4-6; doc/reliability.md "Numerical faults", "Resume", "Determinism").
//
// One reference run A (uninterrupted, --save-steps 5) is made once for the suite; the tests compare
// other runs with it byte for byte:
// - determinism: a second identical run gives identical best/, resume/, metrics.json,
//   predictions.csv, split.json and history.json (examples_per_s, a wall-clock rate, left out);
// - kill and resume: a run killed with SIGKILL twice (fork/exec, killed once the resume state has
//   passed a step; then --resume, killed again; then --resume to the end) ends identical to A;
// - a NaN in a gradient (the hidden --debug-nan-at-step flag) stops the run with one line naming the
//   step and the tensor, leaves best/ and resume/ at their last good state, and --resume from there
//   (without the flag) ends identical to A;
// - weights large enough that the logits overflow (a natural NaN loss) stop at step 1, nothing saved;
// - resume refuses other arguments, a damaged state and a missing one, with one line each;
//   optimizer.safetensors with a negative / NaN moment, a wrong shape, a missing or extra tensor
//   is refused by its reader.
//
// The programs come from $ENC_BIN_DIR (default "."; `make test-asan` sets it). Run from the repo root.
#define _DEFAULT_SOURCE  // nanosleep, kill
#include <check.h>
#include <cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fileio.h"
#include "run/resume.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "model/train_state.h"
#include "test/run_suite.h"
#include "test/test_files.h"

#define DATA "../shared/data/uci-sentences/yelp_labelled.txt"
#define TOKENIZER "../shared/data/vocab/bert-base-uncased"
#define CONFIG "test/fixtures/distilbert-micro.json"
// 240 train / 60 validation rows, batch 8: 3 epochs of 30 steps (90 in all); resume state every 5 steps
#define RUN_ARGV "--config", CONFIG, "--tokenizer", TOKENIZER, "--data", DATA, "--n-samples", "300", "--max-length", \
                 "32", "--batch-size", "8", "--epochs", "3", "--lr", "3e-3", "--seed", "7", "--threads", "2",    \
                 "--save-steps", "5"
#define STEPS_PER_EPOCH 30

static char tmp_root[256];
static const char *bin_dir = ".";
static int ref_status = -1;


// Start <bin_dir>/train with argv (NULL-terminated, without the program name), its stdout and
// stderr in tmp_root/<name>.out / .err; returns the pid.
static pid_t start_train(const char *name, const char *const *args) {
    char prog[512], out[512], errp[512];
    snprintf(prog, sizeof prog, "%s/train", bin_dir);
    snprintf(out, sizeof out, "%s/%s.out", tmp_root, name);
    snprintf(errp, sizeof errp, "%s/%s.err", tmp_root, name);
    const char *argv[64] = {prog};
    int n = 1;
    while (args[n - 1] && n < 63) { argv[n] = args[n - 1]; n++; }
    argv[n] = NULL;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644), fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fo < 0 || fe < 0) _exit(127);
        dup2(fo, 1);
        dup2(fe, 2);
        execv(prog, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

// Run train to the end; returns its exit status (-1: killed by a signal).
static int run_train(const char *name, const char *const *args) {
    pid_t pid = start_train(name, args);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *path_in(const char *fmt, ...) {
    static char buf[128][600];
    static int k;
    char *p = buf[k++ % 128];
    int n = snprintf(p, 600, "%s/", tmp_root);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p + n, 600 - (size_t)n, fmt, ap);
    va_end(ap);
    return p;
}

static char *slurp(const char *path, size_t *len) {
    char *data, err[512];
    size_t n;
    ck_assert_msg(read_file(path, &data, &n, err, sizeof err) == 0, "%s", err);
    if (len) *len = n;
    return data;
}

static void put(const char *path, const char *text) {
    char err[512];
    ck_assert_msg(write_file_atomic(path, text, strlen(text), err, sizeof err) == 0, "%s", err);
}

static cJSON *parse_file(const char *path) {
    char *text = slurp(path, NULL);
    cJSON *j = cJSON_Parse(text);
    free(text);
    ck_assert_msg(j != NULL, "%s does not parse", path);
    return j;
}

static int exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

static void expect_same_bytes(const char *a, const char *b) {
    size_t na, nb;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    size_t first = 0;
    while (first < na && first < nb && x[first] == y[first]) first++;
    ck_assert_msg(na == nb && first == na, "%s and %s differ (%zu vs %zu bytes, first difference at byte %zu)", a, b, na,
                  nb, first);
    free(x);
    free(y);
}

// Remove every member named key, at any depth (wall-clock fields).
static void drop_key(cJSON *j, const char *key) {
    if (!j) return;
    cJSON_DeleteItemFromObjectCaseSensitive(j, key);
    cJSON *c;
    cJSON_ArrayForEach(c, j) drop_key(c, key);
}

// Two JSON files equal once the wall-clock fields are removed (numbers printed as in the files).
static void expect_same_json(const char *a, const char *b) {
    char *x = slurp(a, NULL), *y = slurp(b, NULL);
    cJSON *jx = cJSON_Parse(x), *jy = cJSON_Parse(y);
    ck_assert_msg(jx && jy, "%s or %s does not parse", a, b);
    // wall-clock fields, and the run id (run.json: every run has its own)
    const char *clock_keys[] = {"examples_per_s", "epoch_seconds", "files", "run_id"};
    for (int i = 0; i < 4; i++) drop_key(jx, clock_keys[i]), drop_key(jy, clock_keys[i]);
    char *px = cJSON_PrintUnformatted(jx), *py = cJSON_PrintUnformatted(jy);
    ck_assert_msg(strcmp(px, py) == 0, "%s and %s differ beyond the timing fields:\n%.400s\n%.400s", a, b, px, py);
    cJSON_free(px);
    cJSON_free(py);
    cJSON_Delete(jx);
    cJSON_Delete(jy);
    free(x);
    free(y);
}

// Run `other` ended like the reference run A: every output byte-identical (timings aside).
static void expect_same_as_reference(const char *other) {
    const char *bytes[] = {"best/model.safetensors", "best/config.json", "best/train_args.json",
                           "resume/model.safetensors", "resume/optimizer.safetensors", "resume/config.json",
                           "metrics.json", "predictions.csv", "split.json"};
    for (size_t i = 0; i < sizeof bytes / sizeof bytes[0]; i++)
        expect_same_bytes(path_in("a/%s", bytes[i]), path_in("%s/%s", other, bytes[i]));
    expect_same_json(path_in("a/history.json"), path_in("%s/history.json", other));
    expect_same_json(path_in("a/resume/trainer_state.json"), path_in("%s/resume/trainer_state.json", other));
}

static int count_leftovers(const char *dir) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += strstr(e->d_name, ".tmp.") || strstr(e->d_name, ".old.");
    closedir(d);
    return n;
}

// The stderr of a failed run: exactly one line starting "train: error: ", containing each of the
// given strings (NULL-terminated). Progress lines (on stderr too) may come before it.
static void expect_error_line(const char *name, ...) {
    char *text = slurp(path_in("%s.err", name), NULL);
    char *last = text, *p;
    for (p = text; *p; p++)
        if (p[0] == '\n' && p[1]) last = p + 1;
    ck_assert_msg(strncmp(last, "train: error: ", 14) == 0, "%s: last stderr line is '%s'", name, last);
    ck_assert_msg(strchr(last, '\n') == NULL || strchr(last, '\n')[1] == '\0', "%s: error is not one line", name);
    va_list ap;
    va_start(ap, name);
    const char *want;
    while ((want = va_arg(ap, const char *)))
        ck_assert_msg(strstr(last, want), "%s: error line '%s' lacks '%s'", name, last, want);
    va_end(ap);
    free(text);
}

// The step of OUTPUT/resume/trainer_state.json, or -1 while there is none.
static long resume_step(const char *out) {
    char path[700], *data, err[256];  // not path_in: this runs in a polling loop
    snprintf(path, sizeof path, "%s/%s/resume/trainer_state.json", tmp_root, out);
    size_t len;
    if (read_file(path, &data, &len, err, sizeof err) != 0) return -1;
    cJSON *j = cJSON_Parse(data);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "step");
    long step = cJSON_IsNumber(s) ? (long)s->valuedouble : -1;
    cJSON_Delete(j);
    free(data);
    return step;
}

// Start train, wait until its resume state has passed `step`, SIGKILL it; fails if it ended first.
static void kill_after_step(const char *name, const char *out, const char *const *args, long step) {
    pid_t pid = start_train(name, args);
    int st;
    struct timespec nap = {0, 2000000};  // 2 ms
    for (;;) {
        if (resume_step(out) >= step) break;
        pid_t w = waitpid(pid, &st, WNOHANG);
        ck_assert_msg(w == 0, "%s: train ended (status %d) before its resume state reached step %ld", name, st, step);
        nanosleep(&nap, NULL);
    }
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "%s: train was not killed (it had finished)", name);
}

static void suite_setup(void) {
    snprintf(tmp_root, sizeof tmp_root, "/tmp/test_resume.XXXXXX");
    if (!mkdtemp(tmp_root)) { perror("mkdtemp"); exit(1); }
    // sleeping OpenMP threads: spinning ones make small steps 10-40x slower on a loaded machine
    setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
    const char *args[] = {RUN_ARGV, "--output-dir", path_in("a"), NULL};
    pid_t pid = start_train("a", args);
    int st;
    waitpid(pid, &st, 0);
    ref_status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void suite_teardown(void) {
    if (getenv("TEST_RESUME_KEEP")) fprintf(stderr, "kept %s\n", tmp_root);
    else remove_tree(tmp_root);
}

static void require_reference(void) {
    if (ref_status != 0) {
        char *log = slurp(path_in("a.err"), NULL);  // not freed: the test ends here
        ck_abort_msg("reference run exited with %d: %s", ref_status, log);
    }
}

// ---------------------------------------------------------------------------------------------------

START_TEST(test_determinism) {
    require_reference();
    const char *args[] = {RUN_ARGV, "--output-dir", path_in("c"), NULL};
    ck_assert_int_eq(run_train("c", args), 0);
    expect_same_as_reference("c");
    // and the run learned something (identical runs that learn nothing would prove little)
    cJSON *m = parse_file(path_in("a/metrics.json"));
    double acc = cJSON_GetObjectItemCaseSensitive(m, "accuracy")->valuedouble;
    ck_assert_msg(acc > 0.55, "reference accuracy %g", acc);
    cJSON_Delete(m);
}
END_TEST

START_TEST(test_kill_and_resume) {
    require_reference();
    const char *out = path_in("b");
    const char *args[] = {RUN_ARGV, "--output-dir", out, NULL};
    // killed in epoch 2 (after best/ of epoch 1), then again in epoch 3 while resumed
    kill_after_step("b1", "b", args, STEPS_PER_EPOCH + 7);
    ck_assert(exists(path_in("b/best/model.safetensors")));
    ck_assert(!exists(path_in("b/metrics.json")));
    const char *resume_args[] = {"--resume", out, "--threads", "2", NULL};
    kill_after_step("b2", "b", resume_args, 2 * STEPS_PER_EPOCH + 8);
    ck_assert(!exists(path_in("b/metrics.json")));
    ck_assert_int_eq(run_train("b3", resume_args), 0);
    char *log = slurp(path_in("b3.out"), NULL);
    ck_assert_msg(strstr(log, "resuming: "), "no 'resuming' line: %s", log);
    free(log);
    expect_same_as_reference("b");
    ck_assert_int_eq(count_leftovers(out), 0);
}
END_TEST

START_TEST(test_nan_gradient_stops_and_resume_recovers) {
    require_reference();
    const char *out = path_in("n");
    const char *args[] = {RUN_ARGV, "--output-dir", out, "--debug-nan-at-step", "47", NULL};
    ck_assert_int_eq(run_train("n", args), 1);
    expect_error_line("n", "step 47 (epoch 2)", "non-finite gradient in 'distilbert.", "best/ (epoch 1)",
                      "resume/ (step 45)", NULL);
    ck_assert_int_eq(resume_step("n"), 45);
    ck_assert(!exists(path_in("n/metrics.json")));
    ck_assert_int_eq(count_leftovers(out), 0);
    cJSON *ta = parse_file(path_in("n/best/train_args.json"));
    ck_assert_int_eq((int)cJSON_GetObjectItemCaseSensitive(ta, "best_epoch")->valuedouble, 1);
    cJSON_Delete(ta);
    // the saved state is good: resuming (without the hook) ends exactly as the reference
    const char *resume_args[] = {"--resume", out, "--threads", "2", NULL};
    ck_assert_int_eq(run_train("n2", resume_args), 0);
    expect_same_as_reference("n");
}
END_TEST

START_TEST(test_overflowing_weights_stop_at_step_1) {
    // a checkpoint whose classifier weights are ~1e38: the logits overflow to Inf, the loss is NaN
    char err[512];
    ModelConfig cfg;
    ck_assert_msg(config_load(&cfg, CONFIG, err, sizeof err) == 0, "%s", err);
    const char *names[] = {"0", "1"};
    ck_assert_int_eq(config_set_labels(&cfg, 2, names), 0);
    Model m;
    ck_assert_msg(model_init(&m, &cfg, err, sizeof err) == 0, "%s", err);
    model_init_weights(&m, 3, 0);
    const ParamEntry *e = model_find_param(&m, "classifier.weight");
    ck_assert_ptr_nonnull(e);
    // row 0 +3e38, row 1 -3e38: the two logits head for +Inf and -Inf (equal rows would give equal
    // huge logits, and log 2 + H - H rounds to a loss of 0); pre_classifier 100x larger, so its
    // ReLU outputs sum well above 1
    for (size_t i = 0; i < e->numel; i++) m.params_memory[e->offset + i] = i < e->numel / 2 ? 3e38f : -3e38f;
    const ParamEntry *pre = model_find_param(&m, "pre_classifier.weight");
    ck_assert_ptr_nonnull(pre);
    for (size_t i = 0; i < pre->numel; i++) m.params_memory[pre->offset + i] *= 100;
    char *dir = path_in("huge");
    ck_assert_msg(checkpoint_save(&m, dir, err, sizeof err) == 0, "%s", err);
    model_free(&m);
    const char *args[] = {"--model", dir, "--tokenizer", TOKENIZER, "--data", DATA, "--n-samples", "100",
                          "--max-length", "32", "--batch-size", "8", "--epochs", "1", "--threads", "2",
                          "--output-dir", path_in("h"), NULL};
    ck_assert_int_eq(run_train("h", args), 1);
    expect_error_line("h", "step 1 (epoch 1)", "the training loss is", "non-finite gradient in '", "nothing was saved",
                      NULL);
    ck_assert(!exists(path_in("h/best")));
    ck_assert(!exists(path_in("h/resume")));
}
END_TEST

START_TEST(test_resume_refuses) {
    require_reference();
    // a different argument, named
    const char *a1[] = {"--resume", path_in("a"), "--lr", "2e-3", NULL};
    ck_assert_int_eq(run_train("r1", a1), 1);
    expect_error_line("r1", "--lr 0.002", "differs from the run being resumed", "trainer_state.json", NULL);
    const char *a2[] = {"--resume", path_in("a"), "--batch-size", "4", NULL};
    ck_assert_int_eq(run_train("r2", a2), 1);
    expect_error_line("r2", "--batch-size 4", "differs", NULL);
    // no state
    const char *a3[] = {"--resume", path_in("nothing"), NULL};
    ck_assert_int_eq(run_train("r3", a3), 1);
    expect_error_line("r3", "nothing/resume: no resume state", NULL);
    // damaged states (catalogue rows 87-88): a copy of A's output, altered one way at a time
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", path_in("a"), path_in("d"));
    ck_assert_int_eq(system(cmd), 0);
    const char *ad[] = {"--resume", path_in("d"), NULL};
    // a flipped byte in the moments
    char *opt = path_in("d/resume/optimizer.safetensors");
    size_t n;
    char *bytes = slurp(opt, &n);
    bytes[n - 3] ^= 0x40;
    ck_assert_msg(write_file_atomic(opt, bytes, n, cmd, sizeof cmd) == 0, "%s", cmd);
    ck_assert_int_eq(run_train("r4", ad), 1);
    expect_error_line("r4", "optimizer.safetensors", "checksum", NULL);
    bytes[n - 3] ^= 0x40;
    ck_assert_msg(write_file_atomic(opt, bytes, n, cmd, sizeof cmd) == 0, "%s", cmd);
    free(bytes);
    // trainer_state.json: truncated, step beyond the schedule, not ours
    char *state_path = path_in("d/resume/trainer_state.json");
    char *state = slurp(state_path, &n);
    char *cut = strndup(state, n / 2);
    put(state_path, cut);
    ck_assert_int_eq(run_train("r5", ad), 1);
    expect_error_line("r5", "trainer_state.json", "invalid JSON", NULL);
    free(cut);
    char *edited = strdup(state), *at = strstr(edited, "\"total_steps\":\t90");
    ck_assert_ptr_nonnull(at);
    memcpy(at, "\"total_steps\":\t10", 17);
    put(state_path, edited);
    ck_assert_int_eq(run_train("r6", ad), 1);
    expect_error_line("r6", "step 90 > total_steps 10", NULL);
    free(edited);
    edited = strdup(state);
    at = strstr(edited, RESUME_FORMAT);
    ck_assert_ptr_nonnull(at);
    at[0] = 'X';
    put(state_path, edited);
    ck_assert_int_eq(run_train("r7", ad), 1);
    expect_error_line("r7", "not a resume state", NULL);
    free(edited);
    free(state);
}
END_TEST

// optimizer.safetensors in and out (model/train_state.c): exact round trip, then each bad file
// refused with one line naming the tensor (catalogue row 88; the checksum in trainer_state.json
// would catch an edited file first, so these go straight to the reader).
static void micro_model(Model *m) {
    char err[512];
    ModelConfig cfg;
    ck_assert_msg(config_load(&cfg, CONFIG, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(model_init(m, &cfg, err, sizeof err) == 0, "%s", err);
}

static void expect_load_error(Model *m, const char *path, int step, const char *want) {
    char err[512];
    ck_assert_int_eq(optimizer_state_load(m, path, step, err, sizeof err), -1);
    ck_assert_msg(strstr(err, want) && !strchr(err, '\n'), "error '%s' lacks '%s'", err, want);
}

START_TEST(test_optimizer_state_file) {
    char err[512];
    Model m, r;
    micro_model(&m);
    micro_model(&r);
    size_t P = m.num_parameters;
    m.m_memory = malloc(P * sizeof(real));
    m.v_memory = malloc(P * sizeof(real));
    ck_assert(m.m_memory && m.v_memory);
    for (size_t i = 0; i < P; i++) m.m_memory[i] = (real)sin((double)i) * 1e-3f, m.v_memory[i] = (real)(i % 97) * 1e-7f;
    m.adamw_step = 12;
    char *path = path_in("opt.safetensors");
    ck_assert_msg(optimizer_state_save(&m, path, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(optimizer_state_load(&r, path, 12, err, sizeof err) == 0, "%s", err);
    ck_assert(memcmp(m.m_memory, r.m_memory, P * sizeof(real)) == 0 && memcmp(m.v_memory, r.v_memory, P * sizeof(real)) == 0);
    ck_assert_int_eq(r.adamw_step, 12);
    expect_load_error(&r, path, 13, "adamw_step is 12");

    // hand-made files: every tensor but one as written, that one altered
    int n = m.n_entries;
    st_write_tensor *t = calloc(2 * (size_t)n + 1, sizeof *t);
    char (*names)[PARAM_NAME_LEN + 2] = calloc(2 * (size_t)n + 1, sizeof *names);
    float *bad = malloc(P * sizeof(float));
    ck_assert(t && names && bad);
    for (int i = 0; i < 2 * n; i++) {
        const ParamEntry *e = &m.table[i / 2];
        snprintf(names[i], sizeof names[0], "%c.%s", i % 2 ? 'v' : 'm', e->name);
        t[i] = (st_write_tensor){.name = names[i], .ndim = e->ndim, .shape = {e->shape[0], e->shape[1]},
                                 .data = (i % 2 ? m.v_memory : m.m_memory) + e->offset};
    }
    st_meta meta[] = {{"adamw_step", "12"}};
    const int victim = 2 * (n / 2) + 1;  // v. of a middle tensor
    const float *orig = t[victim].data;
    size_t numel = m.table[victim / 2].numel;
    memcpy(bad, orig, numel * sizeof(float));
    // a negative second moment
    bad[3] = -1e-9f;
    t[victim].data = bad;
    ck_assert_msg(safetensors_write_meta(path, t, 2 * n, meta, 1, err, sizeof err) == 0, "%s", err);
    expect_load_error(&r, path, 12, "negative second moment");
    // NaN
    bad[3] = NAN;
    ck_assert_msg(safetensors_write_meta(path, t, 2 * n, meta, 1, err, sizeof err) == 0, "%s", err);
    expect_load_error(&r, path, 12, "non-finite");
    // the wrong shape
    t[victim].data = orig;
    t[victim].shape[0] = 1;
    t[victim].shape[1] = (int64_t)numel;
    t[victim].ndim = 2;
    ck_assert_msg(safetensors_write_meta(path, t, 2 * n, meta, 1, err, sizeof err) == 0, "%s", err);
    expect_load_error(&r, path, 12, "does not have the shape");
    t[victim].ndim = m.table[victim / 2].ndim;
    t[victim].shape[0] = m.table[victim / 2].shape[0];
    t[victim].shape[1] = m.table[victim / 2].shape[1];
    // a tensor missing, and one too many
    ck_assert_msg(safetensors_write_meta(path, t, 2 * n - 1, meta, 1, err, sizeof err) == 0, "%s", err);
    expect_load_error(&r, path, 12, "expected");
    t[2 * n] = (st_write_tensor){.name = "extra", .ndim = 1, .shape = {1}, .data = bad};
    ck_assert_msg(safetensors_write_meta(path, t, 2 * n + 1, meta, 1, err, sizeof err) == 0, "%s", err);
    expect_load_error(&r, path, 12, "expected");
    free(t);
    free(names);
    free(bad);
    model_free(&m);
    model_free(&r);
}
END_TEST

int main(void) {
    if (getenv("ENC_BIN_DIR") && *getenv("ENC_BIN_DIR")) bin_dir = getenv("ENC_BIN_DIR");
    char p[512];
    snprintf(p, sizeof p, "%s/train", bin_dir);
    if (access(p, X_OK) != 0) {
        fprintf(stderr, "test_resume: %s not built (make train)\n", p);
        return 1;
    }
    Suite *s = suite_create("resume");
    TCase *tc = tcase_create("train");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_test(tc, test_determinism);
    tcase_add_test(tc, test_kill_and_resume);
    tcase_add_test(tc, test_nan_gradient_stops_and_resume_recovers);
    tcase_add_test(tc, test_overflowing_weights_stop_at_step_1);
    tcase_add_test(tc, test_resume_refuses);
    tcase_add_test(tc, test_optimizer_state_file);
    suite_add_tcase(s, tc);
    return run_suite(s) ? 1 : 0;
}
