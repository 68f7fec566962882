#!/usr/bin/env bash
# run_labs.sh [DIR [LAB...]]: run the dev/cuda kernel labs built for the CPU emulator (DIR, default
# build/cuda_emu, as `make -C test/cuda_emu labs` leaves them; LABs: a subset, default every lab
# and model_check) and summarise their validations.
#
# Under the emulator each lab validates every version on its small case list and skips its
# benchmark (dev/cuda/common.h, lab_emulated); lab_exit() prints one line per version,
#   VERSION op=<op> version=<n> status=<ok|FAIL> maxrel=<x> checks=<n>
# which this script turns into one line per lab and version. A version with status FAIL is one
# failure; a lab that crashes, times out, or exits non-zero without a failed VERSION line to show
# for it (the emulator aborts a launch on a race, an out-of-bounds access, a deadlock...) is one
# failure, printed with the tail of its log. The last line is exactly `N passed, N failed`; the exit
# status is non-zero when anything failed.
#
# Logs: DIR/<lab>.log (stdout and stderr). Environment: LAB_TIMEOUT seconds per lab (default 300),
# LAB_JOBS labs at a time (default 2), LAB_TAIL lines of log shown for a broken lab (default 25).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DIR=${1:-$ROOT/build/cuda_emu}
[ $# -gt 0 ] && shift
TIMEOUT=${LAB_TIMEOUT:-300}
JOBS=${LAB_JOBS:-2}
TAIL=${LAB_TAIL:-25}

if [ ! -d "$DIR" ]; then
    echo "run_labs.sh: no directory $DIR (build the labs first: make -C test/cuda_emu labs)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
DIR=$(cd "$DIR" && pwd)

# the labs: every dev/cuda/*.cu except the model drivers, or the ones named
if [ $# -gt 0 ]; then
    LABS="$*"
else
    LABS=$(cd "$ROOT/dev/cuda" && ls *.cu | sed 's/\.cu$//' | grep -vx -e bench_model)
fi

now_ms() { date +%s%3N; }

# one lab: DIR/<lab>.log, and DIR/<lab>.status = "<exit status> <milliseconds>"
run_one() {
    local lab=$1 t0 rc
    t0=$(now_ms)
    if [ -x "$DIR/$lab" ]; then
        (cd "$ROOT" && exec timeout -k 10 "$TIMEOUT" "$DIR/$lab") > "$DIR/$lab.log" 2>&1
        rc=$?
    else
        echo "run_labs.sh: $DIR/$lab not built" > "$DIR/$lab.log"
        rc=127
    fi
    echo "$rc $(( $(now_ms) - t0 ))" > "$DIR/$lab.status"
}

# the slowest labs of the previous run (DIR/<lab>.status) start first, so the queues end together
ORDER=$(for lab in $LABS; do
    ms=0
    [ -f "$DIR/$lab.status" ] && read -r _ ms < "$DIR/$lab.status"
    echo "${ms:-0} $lab"
done | sort -k1,1nr -k2,2 | cut -d' ' -f2)

T0=$(now_ms)
running=0
for lab in $ORDER; do
    rm -f "$DIR/$lab.status"
    if [ "$running" -ge "$JOBS" ]; then
        wait -n
        running=$((running - 1))
    fi
    run_one "$lab" &
    running=$((running + 1))
done
wait

passed=0
failed=0
timings=""
for lab in $LABS; do
    read -r rc ms < "$DIR/$lab.status" || { rc=255; ms=0; }
    secs=$(awk -v ms="$ms" 'BEGIN { printf "%.1f", ms / 1000 }')
    timings="$timings $lab ${secs}s,"
    lines=$(grep '^VERSION ' "$DIR/$lab.log")
    # model_check prints one RESULT line per check (maxrel = worst error / tolerance, version 1 =
    # fp32, 2 = bf16) and no VERSION lines: fold them into one line per version
    [ -z "$lines" ] && lines=$(awk '/^RESULT op=/ {
            for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
            v = f["version"]; n[v]++
            if (f["status"] != "ok") bad[v] = 1
            if (!(v in worst) || f["maxrel"] + 0 > worst[v]) worst[v] = f["maxrel"] + 0
        }
        END { for (v in n) printf "VERSION op=%s version=%s status=%s maxrel=%.3g checks=%d\n", "'"$lab"'", v,
                                   bad[v] ? "FAIL" : "ok", worst[v], n[v] }' "$DIR/$lab.log" | sort)
    nfail=0
    while read -r _ op version status maxrel checks; do
        [ -n "${op:-}" ] || continue
        v=${version#version=}
        st=${status#status=}
        printf 'lab %-20s v%-2s %-4s  maxrel %-9s  checks %s\n' "$lab" "$v" "$st" "${maxrel#maxrel=}" "${checks#checks=}"
        if [ "$st" = ok ]; then passed=$((passed + 1)); else failed=$((failed + 1)); nfail=$((nfail + 1)); fi
    done <<< "$lines"
    # broken: no VERSION line at all, or a non-zero exit that no failed version accounts for
    why=""
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then why="timed out after ${TIMEOUT}s"
    elif [ -z "$lines" ]; then why="exit status $rc, no VERSION lines"
    elif [ "$rc" -ne 0 ] && [ "$nfail" -eq 0 ]; then why="exit status $rc after its validations"
    fi
    if [ -n "$why" ]; then
        failed=$((failed + 1))
        echo "lab $lab BROKEN: $why (${secs}s); last lines of $DIR/$lab.log:"
        tail -n "$TAIL" "$DIR/$lab.log" | sed 's/^/    | /'
    fi
done
total=$(awk -v ms="$(( $(now_ms) - T0 ))" 'BEGIN { printf "%.1f", ms / 1000 }')
echo "times:${timings%,} (${total}s in all, $JOBS at a time)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
