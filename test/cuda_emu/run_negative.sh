#!/bin/sh
# run_negative.sh BINDIR: runs each negative control (a kernel with a planted bug, from
# test/cuda_emu/negative/<name>.cu) and requires that it fails with the message its `// EXPECT:`
# line names (an extended regex). `// ARGS:` gives its command-line arguments.
# Prints one line per control and a closing `N passed, N failed`; exits non-zero on any failure.
bindir=${1:-build/cuda_emu/negative}
srcdir=$(cd "$(dirname "$0")" && pwd)/negative
pass=0
fail=0
for src in "$srcdir"/*.cu; do
    name=$(basename "$src" .cu)
    bin=$bindir/$name
    expect=$(sed -n 's|^// EXPECT: ||p' "$src")
    args=$(sed -n 's|^// ARGS: ||p' "$src")
    if [ ! -x "$bin" ]; then
        echo "negative $name  NOT BUILT"
        fail=$((fail + 1))
        continue
    fi
    out=$(EMU_SCHEDULES=3 timeout 300 "$bin" $args 2>&1)   # the races need the schedules compared
    rc=$?
    hit=$(printf '%s\n' "$out" | grep -E -m1 "$expect" | cut -c1-200)
    if [ $rc -ne 0 ] && [ -n "$hit" ]; then
        echo "negative $name  caught (exit $rc): $hit"
        pass=$((pass + 1))
    else
        echo "negative $name  NOT CAUGHT (exit $rc, expected /$expect/); output tail:"
        printf '%s\n' "$out" | tail -5 | sed 's/^/    /'
        fail=$((fail + 1))
    fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
