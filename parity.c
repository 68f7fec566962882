// parity.c: compare our model with a PyTorch dump (dev/dump_torch.py), layer by layer, forward and backward.
//
//   ./parity --model DIR --dump FILE [--device cpu|cuda] [--precision fp32|bf16] [--json] [--write-dump OUT]
//
// Runs the checkpoint DIR on the dump's batch (eval mode: no dropout) with its labels, backward from the
// mean loss, and, when the dump holds adamw.* tensors, its AdamW run; then compares every tensor the dump
// holds with ours and prints one line per tensor in execution order (forward, then backward from the loss,
// then the AdamW run): name, shape, max abs / max rel / relative L2 error, the tolerance, ok or FAIL; then
// the first tensor that fails. Exit 0 when every tensor passes, 1 otherwise (and on any error, with one line).
// The format and the tolerance table: doc/parity.md. Argument parsing and orchestration only: the format is
// model/dump.h, the comparison model/dump_compare.h, the device run/device.h.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "model/checkpoint.h"
#include "model/dump.h"
#include "model/dump_compare.h"
#include "model/model.h"
#include "run/device.h"

typedef struct {
    const char *model_dir, *dump_path, *write_dump, *device, *precision;
    int json;
} ParityArgs;

static void usage(FILE *out) {
    fprintf(out,
            "usage: ./parity --model DIR --dump FILE [options]\n"
            "  --model DIR          checkpoint directory (config.json, model.safetensors) the dump was made from\n"
            "  --dump FILE          a parity dump (dev/dump_torch.py; format in doc/parity.md)\n"
            "  --device D           cpu|cuda (default: cuda in a CUDA build when a GPU is usable, else cpu)\n"
            "  --precision P        fp32|bf16 (bf16: --device cuda only; picks the bf16 tolerance table)\n"
            "  --json               the report as JSON on stdout instead of the table\n"
            "  --write-dump OUT     also write our own tensors to OUT in the same format\n"
            "  --help\n"
            "exit status: 0 every tensor within tolerance, 1 otherwise or on an error\n");
}

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "parity: error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static ParityArgs parse_args(int argc, char **argv) {
    ParityArgs a = {0};
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) usage(stdout), exit(0);
        if (!strcmp(f, "--json")) { a.json = 1; continue; }
        const char **slot = !strcmp(f, "--model") ? &a.model_dir : !strcmp(f, "--dump") ? &a.dump_path
                          : !strcmp(f, "--write-dump") ? &a.write_dump : !strcmp(f, "--device") ? &a.device
                          : !strcmp(f, "--precision") ? &a.precision : NULL;
        if (!slot) usage(stderr), die("unknown argument '%s'", f);
        if (i + 1 >= argc) die("%s needs a value", f);
        *slot = argv[++i];
    }
    if (!a.model_dir || !a.dump_path) usage(stderr), die("--model and --dump are required");
    return a;
}

// forward on the dump's batch with its labels (eval mode), then backward from the mean loss
static void forward_backward(Device *dev, Model *m, const DumpInputs *in) {
    char err[512];
    if (device_forward(dev, m, in->ids, in->mask, in->labels, in->B, in->T, 0, err, sizeof err) != 0) die("%s", err);
    device_zero_grad(dev, m);
    device_backward(dev, m);
}

// the dump's AdamW run, from the gradients of the forward/backward already done: per step clip (when
// max_grad_norm > 0; the norm is recorded either way) and one AdamW update, then forward/backward again
static void adamw_run(Device *dev, Model *m, const DumpInputs *in, const DumpAdamW *a, float *norms) {
    char err[512];
    for (int s = 0; s < a->steps; s++) {
        if (s > 0) forward_backward(dev, m, in);
        norms[s] = (float)device_clip_grad_norm(dev, m, a->max_grad_norm);
        if (device_adamw_update(dev, m, a->lr, a->beta1, a->beta2, a->eps, a->weight_decay, err, sizeof err) != 0)
            die("%s", err);
    }
}

int main(int argc, char **argv) {
    ParityArgs a = parse_args(argc, argv);
    char err[1024], notice[512];
    Device dev;
    if (device_parse(&dev, a.device, a.precision, err, sizeof err) != 0 || device_select(&dev, stderr, err, sizeof err) != 0)
        die("%s", err);

    safetensors_file dump;
    DumpInputs in;
    DumpAdamW adamw;
    if (dump_open(&dump, a.dump_path, err, sizeof err) != 0 || dump_read_inputs(&dump, &in, err, sizeof err) != 0 ||
        dump_read_adamw(&dump, &adamw, err, sizeof err) != 0)
        die("%s", err);

    // the dump must be for this architecture and size (checked on config.json before the weights are read);
    // then the checkpoint, with the parameters it lacks (a base model's head) as the dump drew them
    ModelConfig cfg;
    char *config_path = path_join(a.model_dir, "config.json");
    if (!config_path) die("out of memory");
    if (config_load(&cfg, config_path, err, sizeof err) != 0 || dump_check_model(&dump, &cfg, err, sizeof err) != 0)
        die("%s", err);
    config_free(&cfg);
    free(config_path);
    Model m;
    if (checkpoint_load(&m, a.model_dir, dump_num_labels(&dump), NULL, 0, notice, sizeof notice, err, sizeof err) != 0 ||
        dump_apply_init(&dump, &m, err, sizeof err) != 0)
        die("%s", err);
    if (notice[0]) fprintf(stderr, "parity: %s (replaced by the dump's init.* tensors where it has them)\n", notice);
    if (model_alloc_activations(&m, in.B, in.T, err, sizeof err) != 0) die("%s: %s", a.dump_path, err);
    if (device_init(&dev, &m, in.B, in.T, err, sizeof err) != 0) die("%s", err);

    forward_backward(&dev, &m, &in);
    device_download(&dev, &m, 1);
    device_download_activations(&dev, &m);
    ModelView view = {&m.config, m.table, m.n_entries, &m.acts, &m.grads_acts, m.grads_memory,
                      device_mean_loss(&dev, &m), in.B, in.T, device_last_block_token0(&dev)};
    DumpList ours = {0};
    if (dump_collect(&ours, &view, 1, err, sizeof err) != 0) die("%s", err);
    if (adamw.steps > 0) {
        float *norms = malloc(sizeof(float) * (size_t)adamw.steps);
        if (!norms) die("out of memory");
        adamw_run(&dev, &m, &in, &adamw, norms);
        device_download(&dev, &m, 0);
        if (dump_collect_adamw(&ours, &view, m.params_memory, norms, adamw.steps, err, sizeof err) != 0) die("%s", err);
        free(norms);
    }

    ToleranceTable table = dev.bf16 ? PRECISION_TABLE_BF16 : PRECISION_TABLE_FP32;
    CompareResult *results = NULL;
    int n_results = 0;
    if (dump_check_names(&dump, &ours, err, sizeof err) != 0 ||
        dump_compare(&dump, &ours, table, &adamw, &results, &n_results, err, sizeof err) != 0)
        die("%s", err);
    if (n_results == 0) die("%s: holds no tensor to compare (only the batch)", a.dump_path);
    if (a.json) {
        if (dump_print_json(stdout, results, n_results, table, err, sizeof err) != 0) die("%s", err);
    } else {
        printf("parity: %s on %s (%d x %d tokens), %s, %s tolerances: %d of this model's %d tensors are in the dump\n",
               a.model_dir, a.dump_path, in.B, in.T, dev.kind == DEVICE_CUDA ? "cuda" : "cpu", dump_table_name(table),
               n_results, ours.n);
        dump_print_report(stdout, results, n_results, table);
    }
    if (a.write_dump && dump_write(a.write_dump, &in, &ours, &m.config, &adamw, dump_table_name(table), err,
                                   sizeof err) != 0)
        die("%s", err);
    int ok = dump_first_failure(results, n_results) < 0;
    free(results);
    dump_list_free(&ours);
    device_free(&dev);
    model_free(&m);
    dump_inputs_free(&in);
    safetensors_close(&dump);
    return ok ? 0 : 1;
}
