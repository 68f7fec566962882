# Makefile: CPU build by default (gcc, C11). Libraries cJSON and check come from pkg-config.
#   make            build the programs
#   make test       build and run every test suite (test/test_*.c and test/gradcheck_*.c)
#   make tokenize   the tokenizer command-line tool
#   make cuda       CUDA labs, the GPU model (build/cuda/) and ./train ./infer ./parity with --device cuda (nvcc; no GPU needed)
# Sources are picked up by directory, so a new file in kernels/, model/, tokenizer/, data/ or run/ needs no edit here.

CC      ?= gcc
CFLAGS  ?= -O2 -march=x86-64-v2
CFLAGS  += -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wshadow -Wno-unused-parameter -I.
LDLIBS  += -lm
# extra flags for every compile and link: `make test-asan` builds with the sanitizers through this
SANFLAGS ?=
CFLAGS  += $(SANFLAGS)
LDFLAGS += $(SANFLAGS)

# OpenMP if the compiler has it (the code degrades to one thread without it)
OPENMP_OK := $(shell echo 'int main(void){return 0;}' | $(CC) -fopenmp -x c - -o /dev/null 2>/dev/null && echo yes)
ifeq ($(OPENMP_OK),yes)
  CFLAGS += -fopenmp
  LDFLAGS += -fopenmp
else
  $(info OpenMP not found: building single-threaded)
endif

CJSON_CFLAGS := $(shell pkg-config --cflags libcjson 2>/dev/null)
CJSON_LIBS   := $(shell pkg-config --libs libcjson 2>/dev/null)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)
ifeq ($(CJSON_LIBS),)
  $(error cJSON not found by pkg-config: apt-get install libcjson-dev pkg-config)
endif
CFLAGS += $(CJSON_CFLAGS)

BUILD := build
LIB_SRC := $(wildcard common/*.c kernels/*.c model/*.c tokenizer/*.c data/*.c run/*.c)
LIB_OBJ := $(patsubst %.c,$(BUILD)/f32/%.o,$(LIB_SRC))
LIB_OBJ_F64 := $(patsubst %.c,$(BUILD)/f64/%.o,$(LIB_SRC))
LIB     := $(BUILD)/libenc.a
LIB_F64 := $(BUILD)/libenc_f64.a

# The compute kernels (kernels/ and the AdamW loop in model/optimizer.c) are built for the CPU that
# builds them (-march=native: AVX-512 on the dev/CI machines), so their vector code and the
# matmul micro-kernel use its full width; without AVX-512 the same sources compile their portable
# paths (#ifdef __AVX512F__). KERNEL_ARCH= (empty) builds them for plain x86-64-v2 like the rest.
KERNEL_ARCH ?= $(shell echo 'int main(void){return 0;}' | $(CC) -march=native -x c - -o /dev/null 2>/dev/null && echo -march=native)
$(BUILD)/f32/kernels/%.o $(BUILD)/f64/kernels/%.o: CFLAGS += $(KERNEL_ARCH)
# -fno-math-errno: sqrtf without the errno branch, so the AdamW loop vectorises (v >= 0 always)
$(BUILD)/f32/model/optimizer.o $(BUILD)/f64/model/optimizer.o: CFLAGS += $(KERNEL_ARCH) -fno-math-errno

PROGRAMS := $(patsubst %.c,%,$(wildcard train.c infer.c compare.c tokenize.c parity.c))
TESTS    := $(patsubst test/%.c,$(BUILD)/%,$(wildcard test/test_*.c))
GRADCHECKS := $(patsubst test/%.c,$(BUILD)/%,$(wildcard test/gradcheck_*.c))

.PHONY: all test clean cuda test-asan asan-binaries fuzz fuzz-smoke test-cuda-emu test-cuda-emu-asan cuda-programs \
        emu-objs train-emu infer-emu parity-emu test-train-emu test-parity-emu
all: $(PROGRAMS)
	@command -v $(NVCC) >/dev/null 2>&1 || echo "nvcc not found: built the CPU programs only (make cuda builds the GPU path where nvcc is)"

# the library, once in float (what ships) and once with real = double (for finite-difference checks)
$(BUILD)/f32/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/f64/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DREAL_DOUBLE -MMD -MP -c $< -o $@
$(LIB): $(LIB_OBJ)
	@mkdir -p $(BUILD)
	rm -f $@ && ar rcs $@ $^
$(LIB_F64): $(LIB_OBJ_F64)
	@mkdir -p $(BUILD)
	rm -f $@ && ar rcs $@ $^

# `make` links the CPU programs, `make cuda` ./train and ./infer with the GPU path; cuda-programs
# removes this stamp, so `make` (and `make test`) after `make cuda` links the CPU ones again
CPU_STAMP := $(BUILD)/programs-cpu.stamp
$(CPU_STAMP):
	@mkdir -p $(BUILD) && touch $@
%: %.c $(LIB) $(CPU_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(CJSON_LIBS) $(LDLIBS) -o $@

tokenize: tokenize.c $(LIB)

$(BUILD)/test_%: test/test_%.c $(LIB) $(wildcard test/*.h)
	$(CC) $(CFLAGS) $(CHECK_CFLAGS) $(LDFLAGS) $< $(LIB) $(CHECK_LIBS) $(CJSON_LIBS) $(LDLIBS) -o $@
$(BUILD)/gradcheck_%: test/gradcheck_%.c $(LIB_F64) $(wildcard test/*.h)
	$(CC) $(CFLAGS) -DREAL_DOUBLE $(CHECK_CFLAGS) $(LDFLAGS) $< $(LIB_F64) $(CHECK_LIBS) $(CJSON_LIBS) $(LDLIBS) -o $@

# each suite runs from the repo root; a failing suite fails `make test` but the others still run
test: $(TESTS) $(GRADCHECKS) $(PROGRAMS)
	@fail=0; for t in $(TESTS) $(GRADCHECKS); do echo "== $$t"; OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-PASSIVE} ./$$t || fail=1; done; \
	if [ $$fail -ne 0 ]; then echo "SOME TEST SUITES FAILED"; exit 1; fi; echo "all test suites passed"

# CUDA kernel labs (dev/cuda/*.cu) and the GPU model (model/model_cuda.cu and its kernels, kernels/cuda/*.cu:
# build/cuda/libmodel_cuda.a), both built by dev/cuda/Makefile into build/cuda/ with the labs' flags,
# then ./train, ./infer and ./parity with the GPU path (-DWITH_CUDA, run/device.h:
# --device, --precision): only with nvcc; compiling and linking needs no GPU. The CUDA runtime is linked
# statically, so the programs start where no toolkit is installed and fall back to the CPU without a GPU.
# These programs replace the CPU ones until the next `make` (CPU_STAMP below). The CPU build never
# needs nvcc.
NVCC ?= nvcc
CUDA_HOME ?= /usr/local/cuda
CUDA_LIBS := $(BUILD)/cuda/libmodel_cuda.a -L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lpthread -lrt -lstdc++
cuda:
	@if command -v $(NVCC) >/dev/null 2>&1; then $(MAKE) -C dev/cuda NVCC=$(NVCC) && $(MAKE) cuda-programs; \
	else echo "nvcc not found: skipping the CUDA build"; fi
cuda-programs: $(LIB)
	for p in train infer parity; do $(CC) $(CFLAGS) -DWITH_CUDA $(LDFLAGS) $$p.c $(CUDA_LIBS) $(LIB) $(CJSON_LIBS) $(LDLIBS) -o $$p || exit 1; done
	rm -f $(CPU_STAMP)

# ./train-emu, ./infer-emu and ./parity-emu: train.c / infer.c / parity.c with the GPU path, the GPU model running on our CUDA
# emulator (test/cuda_emu, clang++; no GPU, no toolkit). A C++ link of the program, the emulator's
# runtime (runtime.o first among its objects: the dynamic shared window must start the shared section),
# its PTX, the GPU model built for it, and the CPU library (gcc -fopenmp: libgomp).
EMU_OUT  := $(BUILD)/cuda_emu
EMU_OBJS := $(EMU_OUT)/emu/runtime.o $(EMU_OUT)/emu/ptx.o \
            $(patsubst %.cu,$(EMU_OUT)/prod/%.o,$(wildcard kernels/cuda/*.cu model/*.cu))
EMU_LINK ?= clang++
emu-objs:
	$(MAKE) -C test/cuda_emu model-objs
train-emu infer-emu parity-emu: %-emu: %.c $(LIB) emu-objs
	$(CC) $(CFLAGS) -DWITH_CUDA -c $< -o $(BUILD)/$*-emu.o
	$(EMU_LINK) -rdynamic $(EMU_OBJS) $(BUILD)/$*-emu.o $(LIB) $(CJSON_LIBS) -lgomp -ldl -lm -o $@
# the training pipeline through the emulator: ./train-emu --device cuda vs --device cpu, reloaded on the CPU
test-train-emu: train-emu infer-emu
	test/cuda_emu/run_train_emu.sh
# the GPU model against transformers tensor by tensor: ./parity-emu --device cuda on every fixture dump, in fp32
# and bf16 (doc/parity.md's tables); a few seconds
test-parity-emu: parity-emu
	@for d in test/fixtures/*-tiny*/dump*.safetensors; do for p in fp32 bf16; do \
	  OMP_NUM_THREADS=1 ./parity-emu --device cuda --precision $$p --model $$(dirname $$d) --dump $$d \
	    >$(BUILD)/parity-emu.log 2>&1 || { tail -5 $(BUILD)/parity-emu.log; echo "parity-emu FAILED: $$d $$p"; exit 1; }; \
	  echo "parity-emu $$d $$p: $$(tail -1 $(BUILD)/parity-emu.log)"; done; done

# ---------------------------------------------------------------------------------------------------
# Sanitizers: `make test-asan` builds the library, every suite and the programs with AddressSanitizer
# + UndefinedBehaviorSanitizer into build/asan (programs in build/asan/bin; suites that run programs
# take them from $$ENC_BIN_DIR) and runs every suite with leak checking. Any finding fails the run.
ASAN_BUILD := build/asan
ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1
ASAN_ENV   := OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-PASSIVE} ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1 \
              LSAN_OPTIONS=suppressions=$(CURDIR)/test/lsan.supp:print_suppressions=0 \
              UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 CK_TIMEOUT_MULTIPLIER=10 ENC_BIN_DIR=$(ASAN_BUILD)/bin
# gradcheck_model (double-precision finite differences over whole models) takes tens of minutes under
# ASan at -O1; its kernels run under ASan in gradcheck_ops and test_parity. `make test-asan ASAN_SKIP=` runs it too.
ASAN_SKIP ?= gradcheck_model
test-asan: $(PROGRAMS)
	$(MAKE) BUILD=$(ASAN_BUILD) SANFLAGS="$(ASAN_FLAGS)" asan-binaries
	@fail=0; for t in $(filter-out $(addprefix $(ASAN_BUILD)/,$(ASAN_SKIP)),$(patsubst $(BUILD)/%,$(ASAN_BUILD)/%,$(TESTS) $(GRADCHECKS))); do echo "== $$t (asan+ubsan)"; \
	  $(ASAN_ENV) ./$$t || fail=1; done; \
	if [ $$fail -ne 0 ]; then echo "SOME SUITES FAILED UNDER ASAN/UBSAN"; exit 1; fi; echo "all suites passed under asan+ubsan"
asan-binaries: $(TESTS) $(GRADCHECKS) $(patsubst %,$(BUILD)/bin/%,$(PROGRAMS))
$(BUILD)/bin/%: %.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(CJSON_LIBS) $(LDLIBS) -o $@

# ---------------------------------------------------------------------------------------------------
# Fuzzing (clang + libFuzzer): one harness per parser in test/fuzz/fuzz_*.c, built into build/fuzz
# with ASan + UBSan. cJSON is compiled from source when dev/fetch_cjson_src.sh has put the Debian
# source in build/cjson-src (coverage and ASan inside cJSON); otherwise the system libcjson is linked.
#   make fuzz          build the harnesses and the seed corpora (build/fuzz/seeds/<name>)
#   make fuzz-smoke    run each harness for FUZZ_SECONDS (default 20) from its seeds; fails on a finding.
#                      libFuzzer's random seed is FUZZ_SEED (default 1), so a CI finding replays the same
#                      way on a clean clone; dev/fuzz_long.sh explores with random seeds
# Long runs: doc/reliability.md.
FUZZ_CC      ?= clang
FUZZ_BUILD   := build/fuzz
FUZZ_SECONDS ?= 20
FUZZ_SEED    ?= 1
CJSON_SRC_DIR ?= build/cjson-src
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) -std=c11 -D_POSIX_C_SOURCE=200809L -I. \
                -Wall -Wno-unused-parameter -Wno-unknown-pragmas
ifneq ($(wildcard $(CJSON_SRC_DIR)/cJSON.c),)
  FUZZ_CJSON_INC  := -I$(CJSON_SRC_DIR)
  FUZZ_CJSON_OBJ  := $(FUZZ_BUILD)/obj/cJSON.o
  FUZZ_CJSON_LIBS :=
else
  FUZZ_CJSON_INC  := $(CJSON_CFLAGS)
  FUZZ_CJSON_OBJ  :=
  FUZZ_CJSON_LIBS := $(CJSON_LIBS)
endif
# the parsers and what they need (no kernels, no model, no programs' pipeline)
FUZZ_LIB_SRC := $(wildcard common/*.c tokenizer/*.c data/*.c) model/safetensors.c model/config.c
FUZZ_LIB_OBJ := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(FUZZ_LIB_SRC)) $(FUZZ_CJSON_OBJ)
FUZZ_NAMES   := $(patsubst test/fuzz/fuzz_%.c,%,$(wildcard test/fuzz/fuzz_*.c))
FUZZERS      := $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_NAMES))

$(FUZZ_BUILD)/obj/cJSON.o: $(CJSON_SRC_DIR)/cJSON.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@
$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_CJSON_INC) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
$(FUZZ_BUILD)/libfuzzlib.a: $(FUZZ_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^
$(FUZZ_BUILD)/fuzz_%: test/fuzz/fuzz_%.c test/fuzz/fuzz_common.h $(FUZZ_BUILD)/libfuzzlib.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_CJSON_INC) -fsanitize=fuzzer $< $(FUZZ_BUILD)/libfuzzlib.a $(FUZZ_CJSON_LIBS) -lm -o $@
$(FUZZ_BUILD)/make_seeds: test/fuzz/make_seeds.c $(FUZZ_BUILD)/libfuzzlib.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_CJSON_INC) $< $(FUZZ_BUILD)/libfuzzlib.a $(FUZZ_CJSON_LIBS) -lm -o $@

fuzz: $(FUZZERS) $(FUZZ_BUILD)/make_seeds
	rm -rf $(FUZZ_BUILD)/seeds && ./$(FUZZ_BUILD)/make_seeds $(FUZZ_BUILD)/seeds
fuzz-smoke: fuzz
	@fail=0; for n in $(FUZZ_NAMES); do mkdir -p $(FUZZ_BUILD)/corpus/$$n $(FUZZ_BUILD)/artifacts; \
	  echo "== fuzz_$$n ($(FUZZ_SECONDS) s)"; \
	  ./$(FUZZ_BUILD)/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -seed=$(FUZZ_SEED) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -dict=test/fuzz/fuzz.dict -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$n- \
	    $(FUZZ_BUILD)/corpus/$$n $(FUZZ_BUILD)/seeds/$$n >$(FUZZ_BUILD)/$$n.log 2>&1 || { fail=1; tail -40 $(FUZZ_BUILD)/$$n.log; }; \
	  grep -E '^#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss' $(FUZZ_BUILD)/$$n.log | tr '\n' ' '; echo; done; \
	if [ $$fail -ne 0 ]; then echo "FUZZ SMOKE FOUND A CRASH (see $(FUZZ_BUILD)/artifacts)"; exit 1; fi; echo "fuzz smoke: no findings"

clean:
	rm -rf $(BUILD) $(PROGRAMS) train-emu infer-emu parity-emu

-include $(LIB_OBJ:.o=.d) $(LIB_OBJ_F64:.o=.d) $(wildcard $(FUZZ_BUILD)/obj/*/*.d)

# The CUDA labs run on the CPU through our emulator (test/cuda_emu, doc/cuda.md "The emulator"): its
# self-tests, the negative controls it must catch, then every lab version's validation at small sizes.
# Needs clang (as the fuzzers); no GPU, no CUDA toolkit.
# Then the training pipeline on the emulated GPU (test-train-emu) and ./parity on it (test-parity-emu).
test-cuda-emu:
	$(MAKE) -C test/cuda_emu test
	$(MAKE) test-train-emu
	$(MAKE) test-parity-emu
# the same under AddressSanitizer + UndefinedBehaviorSanitizer, each launch under one schedule (the
# plain run compares three; memory errors need only one, and it is 3x faster)
test-cuda-emu-asan:
	EMU_SCHEDULES=1 $(MAKE) -C test/cuda_emu test SAN=1
