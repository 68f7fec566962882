// output_dir.h: ./train's output folder belongs to one run (issue 15, doc/pipeline.md "The output
// folder"). The rules, checked before any work starts:
//   - nothing outside the folder is ever changed: no symbolic link is followed when removing or
//     replacing, and a folder (or run entry) that is a link, or of the wrong type, is refused;
//   - a folder that holds an earlier run is refused unless --overwrite-output-dir or --resume;
//   - run.json marks the run: its id, and "running" until every output is written, then "complete"
//     with the size and FNV-1a 64 of every output file, so a reader (./compare, --resume) can tell a
//     complete run from a cut-short one and refuse a folder whose files come from different runs.
#ifndef RUN_OUTPUT_DIR_H
#define RUN_OUTPUT_DIR_H

#include <stddef.h>
#include <stdint.h>

#define RUN_MANIFEST "run.json"
#define RUN_FORMAT "enc-train-run"
#define RUN_ID_CHARS 16  // hex digits of a run id

// The entries a run of ./train owns in its folder, and whether each is a folder.
typedef struct {
    const char *name;
    int is_dir;
} RunEntry;
extern const RunEntry RUN_ENTRIES[];
extern const int N_RUN_ENTRIES;

// Check `dir` before any work. Refused (-1, one line in err): an empty name; `dir` or any run entry
// in it that is a symbolic link; `dir` that is not a folder; a run entry of the wrong type (a file
// named best, a folder named metrics.json). *has_run = 1 when `dir` holds any run entry or a
// leftover temporary of one ("<entry>.tmp.XXXXXX", "<entry>.old.XXXXXX"), else 0 (also when `dir`
// does not exist yet).
int output_dir_check(const char *dir, int *has_run, char *err, size_t errlen);

// Check the folder of ./infer --eval's reports (metrics.json, predictions.csv, confusion_matrix.svg)
// before any work: not empty, not a link, a folder if it exists, its report files regular files, and
// not the folder of a training run (which holds a run's own metrics.json): that is refused, naming a
// subfolder to use instead.
int eval_dir_check(const char *dir, char *err, size_t errlen);

// The run entry of `dir` that `path` (an existing file or folder) lies in, after resolving links;
// NULL when it lies in none (or does not exist). A starting checkpoint or data file there would be
// removed or replaced by the run.
const char *output_dir_entry_holding(const char *dir, const char *path);

// Remove an earlier run from `dir`: run.json first (so a folder cut short here reads as incomplete),
// then every other run entry and every leftover temporary. Links are removed as links; other files
// in `dir` are left alone.
int output_dir_clear(const char *dir, char *err, size_t errlen);

// Remove only the leftover temporaries of a killed run (what --resume does before it continues).
int output_dir_remove_leftovers(const char *dir, char *err, size_t errlen);

// A new run id: RUN_ID_CHARS lowercase hex digits from /dev/urandom (clock and pid if unreadable).
void run_id_new(char id[RUN_ID_CHARS + 1]);

// Write dir/run.json: {"format", "version", "run_id", "status": "running"} (atomically).
int run_manifest_start(const char *dir, const char *run_id, char *err, size_t errlen);
// Write dir/run.json with "status": "complete" and "files": {name: {"size", "fnv1a64"}} for every
// run file in dir, best/'s files and resume/trainer_state.json (which itself hashes the rest of
// resume/).
int run_manifest_complete(const char *dir, const char *run_id, char *err, size_t errlen);

// Read dir/run.json (format, version, run id, status checked): *complete = 1 for "complete". With
// verify_files and a complete run, every file listed must have its recorded size and hash, and every
// run file present must be listed ("<file>: comes from another run or changed after the run ended").
int run_manifest_read(const char *dir, char run_id[RUN_ID_CHARS + 1], int *complete, int verify_files, char *err,
                      size_t errlen);

// Size and FNV-1a 64 of a whole file.
int file_fingerprint(const char *path, size_t *size, uint64_t *hash, char *err, size_t errlen);

#endif
