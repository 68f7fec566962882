#!/bin/sh
# rewrite.sh SRC DST: the copy of a .cu/.cuh/.h file that g++ compiles for the CUDA emulator.
# Two textual changes, the same that nvcc's front end makes before compiling host code:
#   k<<<grid, block, smem, stream>>>(args)  ->  k << emu::Launch(grid, block, smem, stream)(args)
#   extern __shared__ T name[];             ->  extern T name[] __asm__("emu_dynamic_shared");
# (the launch operator and the dynamic shared-memory window are in cuda_emu.h / runtime.cpp).
# `#pragma unroll` lines become comments: clang would otherwise unroll every loop of emulator calls
# (slow to compile, above all under the sanitizers, and hard to step through in gdb).
# Lines keep their numbers and a #line names the original file, so compiler messages and gdb
# point at the real source.
set -eu
src=$1
dst=$2
mkdir -p "$(dirname "$dst")"
{
    printf '#line 1 "%s"\n' "$(cd "$(dirname "$src")" && pwd)/$(basename "$src")"
    sed -e 's/<<</ << emu::Launch(/g' -e 's/>>>/)/g' \
        -e 's|^\([[:space:]]*\)#pragma unroll.*$|\1// #pragma unroll (dropped for the emulator)|' \
        -e 's/extern __shared__\(.*[^A-Za-z0-9_]\)\([A-Za-z_][A-Za-z0-9_]*\)\[\];/extern\1\2[] __asm__("emu_dynamic_shared");/' \
        "$src"
} > "$dst.tmp"
mv "$dst.tmp" "$dst"
