#!/usr/bin/env bash
# Cost of exec decisions: scripts/bench/exec_loop.c forks a child that execs /bin/true,
# N times (default 300), and prints microseconds per fork+exec+wait. It runs bare, under
# `sandlet run` (forks trapped, execs not), and under `sandlet run --deny-exec
# no-such-program` (every exec trapped: the caller's address space frozen with ptrace,
# argv read, a rule checked, the exec watched until the kernel took argv). The exec'ing
# process has 1, 10 or 50 threads (the threads a freeze must stop), and the sandbox has
# 1, 10 or 50 processes (each compared with kcmp). Medians of REPS rounds (default 5).
# SANDLET=path overrides the binary (default: scripts/build-static.sh).
set -euo pipefail
n="${N:-300}"
reps="${REPS:-5}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
sandlet="${SANDLET:-$(scripts/build-static.sh)}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gcc -O2 -pthread -o "$work/exec_loop" scripts/bench/exec_loop.c
chmod 755 "$work" "$work/exec_loop"
ro=(-r "$work" -r /bin -r /usr -r /lib)
[[ -d /lib64 ]] && ro+=(-r /lib64)

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() { # label args...
    shift # the label only names the row in the caller
    local runs=()
    for _ in $(seq "$reps"); do runs+=("$("$@")"); done
    printf '%s\n' "${runs[@]}" | median
}

echo "| threads | processes | bare µs | sandlet µs | --deny-exec µs | exec decision cost |"
echo "|---|---|---|---|---|---|"
for shape in "1 1" "10 1" "50 1" "1 10" "1 50"; do
    read -r threads procs <<<"$shape"
    args=("$work/exec_loop" "$n" "$threads" "$procs")
    bare=$(measure bare "${args[@]}")
    plain=$(measure sandlet "$sandlet" run -P 200 "${ro[@]}" -- "${args[@]}")
    deny=$(measure deny "$sandlet" run -P 200 --deny-exec no-such-program "${ro[@]}" -- "${args[@]}")
    cost=$(awk -v a="$deny" -v b="$plain" 'BEGIN {printf "+%.0f µs (%.2fx)", a - b, a / b}')
    echo "| $threads | $procs | $bare | $plain | $deny | $cost |"
done
