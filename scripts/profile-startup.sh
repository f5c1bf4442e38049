#!/usr/bin/env bash
# Where sandlet's start-up goes, per phase and per syscall, from kernel tracepoints
# (perf record of raw_syscalls and sched events: no instrumentation in sandlet).
#
#   scripts/profile-startup.sh [N]      (N runs, default 200; needs perf, root)
#
# Runs `sandlet run -r DIR -- nop` N times (nop: a static C `return 0`) and prints the
# median of each phase: sandlet's exec to its fork of the command (parent set-up), the
# fork to the command's exec (child set-up: signals, capabilities, Landlock, seccomp),
# the command itself, and its exit to sandlet's; then, per phase, the median time spent
# in each syscall (kernel time, enter to exit) and in user code between syscalls (which
# includes page faults). Tracing inflates every syscall by about a microsecond; compare
# builds with the same script, not with scripts/bench.sh's figures.
#
# The binary is the static build from scripts/build-static.sh unless SANDLET=path is
# given.
set -euo pipefail

runs="${1:-200}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v perf >/dev/null || { echo "profile-startup: perf is not installed" >&2; exit 1; }
if [[ -n "${SANDLET:-}" ]]; then
    sandlet=$(realpath -- "$SANDLET")
else
    sandlet=$(scripts/build-static.sh)
fi
work=$(mktemp -d /tmp/sandlet-profile.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
cp "$sandlet" "$work/sandlet-under-profile"
printf 'int main(void) { return 0; }\n' >"$work/nop.c"
cc -O2 -static -o "$work/nop" "$work/nop.c" 2>/dev/null || cc -O2 -o "$work/nop" "$work/nop.c"
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true

perf record -q -o "$work/perf.data" \
    -e raw_syscalls:sys_enter -e raw_syscalls:sys_exit \
    -e sched:sched_process_fork -e sched:sched_process_exec -e sched:sched_process_exit \
    -- sh -c "for i in \$(seq $runs); do '$work/sandlet-under-profile' run -r '$work' -- '$work/nop'; done" \
    >/dev/null 2>&1
perf script -i "$work/perf.data" 2>/dev/null | python3 -c '
import collections, re, statistics, sys

names = {}
for header in ("/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "/usr/include/asm/unistd_64.h"):
    try:
        for l in open(header):
            m = re.match(r"#define __NR_(\w+) (\d+)", l)
            if m:
                names[int(m.group(2))] = m.group(1)
        break
    except OSError:
        pass

line = re.compile(r"\s*(\S+)\s+(\d+)\s+\[\d+\]\s+([\d.]+):\s+(\S+): (.*)")
runs, cur = [], None
for l in sys.stdin:
    m = line.match(l)
    if not m:
        continue
    comm, pid, t, kind, rest = m.groups()
    e = (float(t) * 1e6, int(pid), kind, rest)
    if kind == "sched:sched_process_exec" and "sandlet-under-profile" in rest:
        cur = {"pid": int(pid), "t0": e[0], "ev": []}
        runs.append(cur)
    if cur:
        cur["ev"].append(e)

phases = collections.defaultdict(list)
calls = {"parent": collections.defaultdict(list), "child": collections.defaultdict(list)}
for r in runs:
    P, evs = r["pid"], r["ev"]
    child = tfork = texec = tcmd_exit = tend = None
    for t, pid, kind, rest in evs:
        if kind == "sched:sched_process_fork" and pid == P and child is None:
            child, tfork = int(re.search(r"child_pid=(\d+)", rest).group(1)), t
        elif kind == "sched:sched_process_exec" and pid == child and texec is None:
            texec = t
        elif kind == "sched:sched_process_exit" and pid == child and tcmd_exit is None:
            tcmd_exit = t
        elif kind == "sched:sched_process_exit" and pid == P:
            tend = t
    if None in (tfork, texec, tcmd_exit, tend):
        continue
    phases["1 sandlet exec -> fork of the command (parent)"].append(tfork - r["t0"])
    phases["2 fork -> exec of the command (child set-up)"].append(texec - tfork)
    phases["3 the command (exec to exit)"].append(tcmd_exit - texec)
    phases["4 command exit -> sandlet exit"].append(tend - tcmd_exit)
    phases["total"].append(tend - r["t0"])
    for who, lo, hi, pid_of in (("parent", r["t0"], tfork, P), ("child", tfork, texec, child)):
        per, last, entered = collections.defaultdict(float), lo, None
        for t, pid, kind, rest in evs:
            if pid != pid_of or not lo <= t <= hi:
                continue
            if kind == "raw_syscalls:sys_enter":
                per["(user code)"] += t - last
                entered = (int(rest.split()[1]), t)
            elif kind == "raw_syscalls:sys_exit" and entered:
                nr, t_in = entered
                per[names.get(nr, str(nr))] += t - t_in
                last, entered = t, None
        for k, v in per.items():
            calls[who][k].append(v)

n = len(phases["total"])
print(f"{n} runs; medians in microseconds (traced)")
for k in sorted(phases):
    print(f"  {k:50s} {statistics.median(phases[k]):8.1f}")
for who, label in (("parent", "parent before the fork"), ("child", "child set-up")):
    print(f"{label}: time per syscall (kernel) and in user code")
    rows = sorted(((statistics.median(v + [0] * (n - len(v))), k) for k, v in calls[who].items()),
                  reverse=True)
    for m, k in rows[:12]:
        print(f"  {k:30s} {m:8.1f}")
'
