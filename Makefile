# Makefile: CPU build by default (gcc, C11). Libraries cJSON and check come from pkg-config.
#   make            build the programs
#   make test       build and run every test suite (test/test_*.c and test/gradcheck_*.c)
#   make tokenize   the tokenizer command-line tool
# Sources are picked up by directory, so a new file in kernels/, model/, tokenizer/ or data/ needs no edit here.

CC      ?= gcc
CFLAGS  ?= -O2 -march=x86-64-v2
CFLAGS  += -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wshadow -Wno-unused-parameter -I.
LDLIBS  += -lm

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
LIB_SRC := $(wildcard common/*.c kernels/*.c model/*.c tokenizer/*.c data/*.c)
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
$(BUILD)/f32/model/optimizer.o $(BUILD)/f64/model/optimizer.o: CFLAGS += $(KERNEL_ARCH)

PROGRAMS := $(patsubst %.c,%,$(wildcard train.c infer.c compare.c tokenize.c))
TESTS    := $(patsubst test/%.c,$(BUILD)/%,$(wildcard test/test_*.c))
GRADCHECKS := $(patsubst test/%.c,$(BUILD)/%,$(wildcard test/gradcheck_*.c))

.PHONY: all test clean cuda
all: $(PROGRAMS)

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

%: %.c $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(CJSON_LIBS) $(LDLIBS) -o $@

tokenize: tokenize.c $(LIB)

$(BUILD)/test_%: test/test_%.c $(LIB) $(wildcard test/*.h)
	$(CC) $(CFLAGS) $(CHECK_CFLAGS) $(LDFLAGS) $< $(LIB) $(CHECK_LIBS) $(CJSON_LIBS) $(LDLIBS) -o $@
$(BUILD)/gradcheck_%: test/gradcheck_%.c $(LIB_F64) $(wildcard test/*.h)
	$(CC) $(CFLAGS) -DREAL_DOUBLE $(CHECK_CFLAGS) $(LDFLAGS) $< $(LIB_F64) $(CHECK_LIBS) $(CJSON_LIBS) $(LDLIBS) -o $@

# each suite runs from the repo root; a failing suite fails `make test` but the others still run
test: $(TESTS) $(GRADCHECKS) $(PROGRAMS)
	@fail=0; for t in $(TESTS) $(GRADCHECKS); do echo "== $$t"; ./$$t || fail=1; done; \
	if [ $$fail -ne 0 ]; then echo "SOME TEST SUITES FAILED"; exit 1; fi; echo "all test suites passed"

# CUDA kernel labs (dev/cuda/*.cu, built by dev/cuda/Makefile into build/cuda/): only with nvcc;
# compiling and linking needs no GPU. The CPU build never needs nvcc.
NVCC ?= nvcc
cuda:
	@if command -v $(NVCC) >/dev/null 2>&1; then $(MAKE) -C dev/cuda NVCC=$(NVCC); \
	else echo "nvcc not found: skipping the CUDA build"; fi

clean:
	rm -rf $(BUILD) $(PROGRAMS)

-include $(LIB_OBJ:.o=.d) $(LIB_OBJ_F64:.o=.d)
