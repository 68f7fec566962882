// fuzz_dataset_common.h: one dataset file (CSV, TSV or JSONL) through dataset_load with options taken
// from the input's first byte; the rest of the input is the file. Option byte:
//   bits 0-1 has_header (0 auto, 1 yes, 2 no, 3 auto)     bits 2-3 label mode (auto, int, names, auto)
//   bit 4 unlabeled          bit 5 fixed labels {negative, positive}     bit 6 num_labels = 2
//   bit 7 columns by index: text "0", label "1" (JSONL: keys "sentence" / "label")
// Checks on success: n >= 1, every text non-empty and NUL-free, every label in [0, n_labels) (or -1 when
// unlabeled), label names present.
#ifndef FUZZ_DATASET_COMMON_H
#define FUZZ_DATASET_COMMON_H

#include "test/fuzz/fuzz_common.h"

#include "data/dataset.h"

static int fuzz_dataset(DatasetFormat format, const char *file_name, const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char path[300], err[512];
    fuzz_path(file_name, path, sizeof path);
    fuzz_write_file(path, data + 1, size - 1);
    uint8_t o = data[0];
    static char *fixed[2] = {"negative", "positive"};
    DatasetOptions opt = dataset_options_default(path);
    opt.format = format;
    opt.has_header = (o & 3) == 1 ? 1 : (o & 3) == 2 ? 0 : -1;
    opt.label_mode = (o >> 2 & 3) == 1 ? DATASET_LABELS_INT : (o >> 2 & 3) == 2 ? DATASET_LABELS_NAMES : DATASET_LABELS_AUTO;
    opt.unlabeled = o >> 4 & 1;
    if (o >> 5 & 1) { opt.fixed_label_names = fixed; opt.n_fixed = 2; }
    if (o >> 6 & 1) opt.num_labels = 2;
    if (o >> 7 & 1) {
        opt.text_column = format == DATASET_FORMAT_JSONL ? "sentence" : "0";
        opt.label_column = format == DATASET_FORMAT_JSONL ? "label" : "1";
    }
    Dataset ds;
    memset(&ds, 0, sizeof ds);
    if (dataset_load(&ds, &opt, err, sizeof err) != 0) {
        FUZZ_CHECK_ERR(err);
        dataset_free(&ds);  // must be safe after a failed load
        return 0;
    }
    FUZZ_CHECK(ds.n >= 1, "no rows but success");
    for (int i = 0; i < ds.n; i++) {
        FUZZ_CHECK(ds.texts[i] && ds.texts[i][0], "row %d: empty text", i);
        if (opt.unlabeled) FUZZ_CHECK(ds.labels[i] == -1, "row %d: label %d when unlabeled", i, ds.labels[i]);
        else FUZZ_CHECK(ds.labels[i] >= 0 && ds.labels[i] < ds.n_labels, "row %d: label %d of %d", i, ds.labels[i], ds.n_labels);
    }
    for (int k = 0; k < ds.n_labels; k++) FUZZ_CHECK(ds.label_names && ds.label_names[k], "label name %d", k);
    if (opt.num_labels > 0 && !opt.unlabeled && !opt.fixed_label_names)
        FUZZ_CHECK(ds.n_labels <= opt.num_labels, "%d labels > num_labels %d", ds.n_labels, opt.num_labels);
    dataset_free(&ds);
    return 0;
}

#endif
