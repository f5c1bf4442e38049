#!/usr/bin/env bash
# Benchmarks of sandlet, ending with a summary table in Markdown:
#
# 1. start-up: median wall time of `sandlet run -- /bin/true` against a bare `/bin/true`
#    (and with every virtualization flag: --random-seed, --time-start, --num-cpus,
#    --deterministic-dirs, --name),
#    RUNS runs of each (default 200). Each run is a posix_spawn + waitpid from one
#    python3 process, timed with perf_counter_ns; the launcher's own cost is in both
#    columns, so the difference is sandlet's overhead.
# 2. trapped syscall: scripts/bench/mmap_loop.c does N=100000 mmap(4096, RW, anon) +
#    munmap pairs, bare and under `sandlet run -m 1G` (which traps every such mmap, not
#    munmap): cost of one trapped call = (sandlet - bare) / N. In the same rounds,
#    scripts/bench/notify_floor.c measures the floor, the cost of one seccomp user
#    notification answered by a minimal blocking NOTIF_RECV loop, with and without
#    SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP.
# 3b. connect: scripts/bench/connect_loop.c does 10000 loopback connect+close, bare and
#    under `--net-allow 127.0.0.1` (each connect trapped and made on the caller's behalf).
# 3. fork: scripts/bench/fork_loop.c does 2000 fork + waitpid, bare and under
#    `sandlet run` (every fork trapped for the process limit, default -P 64).
# 3c. the /proc view: wall time of `find /usr/share -name '*.txt'` bare, under `-r /` (the
#    /proc view traps every open, stat and listing) and under narrower rules without /proc.
# 3e. the --workdir view: open loop, `find` over 2,000 files and an untar of /usr/include
#    in the workdir, bare, under a plain run (-w DIR) and under the view (--on-exit
#    abort); the view's target is no per-syscall cost (view / plain <= 1.05). Then
#    commit times (as sandlet logs them at debug level): 10k small files, and one
#    BIG_MB (default 1024) MiB file.
# 4. supervisor peak RSS: the VmHWM of the sandlet process itself (not of the command)
#    while it runs `sleep 1`, and while it answers an 8-thread mmap_loop. GNU time's %M
#    would not do: wait4's ru_maxrss covers the children sandlet reaps, i.e. the
#    command; scripts/bench/peak_rss.c reads VmHWM at sandlet's ptrace exit stop
#    instead. A check run (a 100 MiB python3 allocation under sandlet) shows the
#    difference.
#
# Benchmarks 2 and 3 repeat REPS rounds (default 5), bare and sandlet interleaved in
# each round so drift (CPU frequency, other load) hits both sides alike; the loops time
# themselves (CLOCK_MONOTONIC around the loop), so sandlet's start-up is not in them.
# The tables show medians. The C programs are compiled with gcc -O2 -static into a
# temporary directory, the only path the sandbox may read (if static linking is not
# possible they are linked dynamically and /usr, /lib, /lib64 are added).
#
# The binary is the static build from scripts/build-static.sh unless SANDLET=path is
# given; a private copy of it is run, so a concurrent cargo build cannot swap it mid-run.
# DIAG=1 adds diagnostic rows: start-up with --no-supervisor; the loops with
# every process pinned to one CPU (no cross-CPU wake-ups); and the floor with the
# listener waited for in epoll_wait before each NOTIF_RECV, as an event-loop supervisor
# does. BENCH_CMD replaces /bin/true in the start-up benchmark.
set -euo pipefail

runs="${RUNS:-200}"
reps="${REPS:-5}"
diag="${DIAG:-0}"
target_cmd="${BENCH_CMD:-/bin/true}"

# Resolve SANDLET before changing directory (it may be relative or a name on PATH).
sandlet=""
if [[ -n "${SANDLET:-}" ]]; then
    if [[ "$SANDLET" == */* ]]; then
        sandlet=$(realpath -- "$SANDLET")
    else
        sandlet=$(command -v -- "$SANDLET") || { echo "bench: error: $SANDLET not found" >&2; exit 1; }
    fi
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -z "$sandlet" ]]; then
    sandlet=$(scripts/build-static.sh)
fi
[[ -x "$sandlet" ]] || { echo "bench: error: $sandlet is not executable" >&2; exit 1; }
for tool in python3 gcc; do
    command -v "$tool" >/dev/null 2>&1 || { echo "bench: error: $tool is required" >&2; exit 1; }
done
[[ "$runs" =~ ^[1-9][0-9]*$ && "$reps" =~ ^[1-9][0-9]*$ ]] \
    || { echo "bench: error: RUNS and REPS must be positive integers" >&2; exit 1; }

# The workloads live in $work/bin, the only directory the sandbox gets; peak_rss runs
# outside the sandbox and stays in $work.
work=$(mktemp -d "${TMPDIR:-/tmp}/sandlet-bench.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
mkdir "$work/bin"
chmod 755 "$work" "$work/bin"
read_dirs=("$work/bin")
# Run a private copy: a concurrent cargo build may replace the binary mid-run.
cp -- "$sandlet" "$work/sandlet"
origin="$sandlet"
sandlet="$work/sandlet"
cc() { gcc -O2 -Wall -Wextra -pthread "$@"; }
if cc -static -o "$work/bin/fork_loop" scripts/bench/fork_loop.c 2>/dev/null; then
    link=(-static)
else
    echo "bench: static linking failed (libc.a missing?); linking dynamically" >&2
    link=()
    for d in /usr /lib /lib64; do
        [[ -d "$d" ]] && read_dirs+=("$d")
    done
fi
for prog in mmap_loop fork_loop notify_floor connect_loop open_loop; do
    cc "${link[@]}" -o "$work/bin/$prog" "scripts/bench/$prog.c"
done
cc -o "$work/peak_rss" scripts/bench/peak_rss.c
# The floor: shared/bench/floorbox.c beside the repository, when it is there.
floor=""
if [[ -f ../shared/bench/floorbox.c ]] && gcc -O2 -o "$work/floorbox" ../shared/bench/floorbox.c; then
    floor="$work/floorbox"
else
    echo "bench: no ../shared/bench/floorbox.c: the floor column is left out" >&2
fi

# A failing sandbox would make the numbers meaningless: check one run first.
if ! "$sandlet" run -- "$target_cmd"; then
    echo "bench: error: '$sandlet run -- $target_cmd' failed; see above" >&2
    exit 1
fi

python3 - "$sandlet" "$origin" "$target_cmd" "$runs" "$reps" "$diag" "$work" "$floor" "${read_dirs[@]}" <<'EOF'
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

sandlet, origin, cmd, runs, reps, diag, work, floorbox, *read_dirs = sys.argv[1:]
runs, reps, diag = int(runs), int(reps), diag == "1"
MMAP_N = 100000
FORK_N = 2000
STRESS_N, STRESS_THREADS = 20000, 8  # per thread: 160000 trapped mmaps in all
RSS_REPS = 3
RSS_TARGET_KIB = 2048

bindir = os.path.join(work, "bin")
mmap_loop, fork_loop, floor, connect_loop = (
    os.path.join(bindir, p) for p in ("mmap_loop", "fork_loop", "notify_floor", "connect_loop"))
CONNECT_N = 10000
peak_rss = os.path.join(work, "peak_rss")
confine = [a for d in read_dirs for a in ("-r", d)]
box = [sandlet, "run", *confine, "--"]
box_mem = [sandlet, "run", "-m", "1G", *confine, "--"]
load_before = os.getloadavg()
started = time.monotonic()


def fail(msg):
    sys.exit(f"bench: error: {msg}")


def run(argv, ok=(0,)):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode not in ok:
        fail(f"`{' '.join(argv)}` exited with {p.returncode}: {p.stderr.strip()}")
    return p


def field(text, key):
    m = re.search(rf"\b{key}=([0-9.]+)", text)
    if not m:
        fail(f"no {key}= in output: {text!r}")
    return float(m.group(1))


def loop_ns(argv):
    return field(run(argv).stdout, "ns")


def pinned(fn, *args):
    """Runs fn with this process (and so everything it starts) on CPU 0 only."""
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})
    try:
        return fn(*args)
    finally:
        os.sched_setaffinity(0, cpus)


def med(xs):
    return statistics.median(xs)


def us(ns):
    return ns / 1000.0


def row(name, xs, unit_ns=1.0, unit="µs", digits=3):
    xs = sorted(x / unit_ns for x in xs)
    p10, p90 = xs[len(xs) // 10], xs[(len(xs) * 9) // 10]
    print(f"  {name:<44} median {med(xs):10.{digits}f} {unit}   (min {xs[0]:.{digits}f}, "
          f"p10 {p10:.{digits}f}, p90 {p90:.{digits}f}, n={len(xs)})")


summary = []  # (benchmark, bare, sandlet, result, target, verdict)


def verdict(ok):
    return "ok" if ok else "**missed**"


print(f"sandlet benchmarks: kernel {os.uname().release}, {os.cpu_count()} CPUs, "
      f"load average {load_before[0]:.2f} at start")
print(f"  binary: {origin} ({os.path.getsize(sandlet)} bytes; a copy is run)")
print(f"  sandbox reads: {' '.join(read_dirs)}")

# 1. Start-up ------------------------------------------------------------------------
bare_argv = [cmd]
sandlet_argv = [sandlet, "run", "--", cmd]
nosup_argv = [sandlet, "run", "--no-supervisor", "--", cmd]
# Every virtualization flag at once (issue 5 asks what they cost at start-up).
VIRT_FLAGS = ["--random-seed", "1", "--time-start", "2000-01-01T00:00:00Z", "--num-cpus", "1",
              "--deterministic-dirs", "--name", "box"]
virt_argv = [sandlet, "run", *VIRT_FLAGS, "--", cmd]
# The floor with the same filesystem rules as sandlet's built-in default.
DEFAULT_DIRS = [d for d in ("/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc") if os.path.isdir(d)]
floor_argv = [floorbox, *[a for d in DEFAULT_DIRS for a in ("-r", d)], "--", cmd] if floorbox else None
quiet = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]


def once(argv):
    start = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=quiet)
    _, status = os.waitpid(pid, 0)
    elapsed = time.perf_counter_ns() - start
    if os.waitstatus_to_exitcode(status) != 0:
        fail(f"{' '.join(argv)} exited with status {status:#x}")
    return elapsed


for _ in range(10):  # warm up caches and the page cache
    once(bare_argv)
    once(sandlet_argv)
bare, boxed, nosup, virt, floored = [], [], [], [], []
for _ in range(runs):
    bare.append(once(bare_argv))
    boxed.append(once(sandlet_argv))
    virt.append(once(virt_argv))
    if floor_argv:
        floored.append(once(floor_argv))
    if diag:
        nosup.append(once(nosup_argv))
mb, ms = med(bare), med(boxed)
print(f"\n1. start-up: {runs} interleaved runs each (wall time per run)")
row(cmd, bare, 1000, digits=1)
row(f"sandlet run -- {cmd}", boxed, 1000, digits=1)
row(f"sandlet run {' '.join(VIRT_FLAGS)} -- {cmd}", virt, 1000, digits=1)
if floored:
    row(f"floorbox (same rules) -- {cmd}", floored, 1000, digits=1)
if diag:
    row(f"sandlet run --no-supervisor -- {cmd}", nosup, 1000, digits=1)
print(f"  ratio (median)               {ms / mb:9.2f} x")
print(f"  overhead (median difference) {us(ms - mb):9.1f} µs")
summary.append((f"start-up: `{cmd}`, {runs} runs", f"{us(mb):.0f} µs", f"{us(ms):.0f} µs",
                f"{us(ms - mb):+.0f} µs ({ms / mb:.2f}x)", "≤ +1500 µs",
                verdict(ms - mb <= 1.5e6)))
if floored:
    mf = med(floored)
    summary.append((f"start-up: floor (floorbox), `{cmd}`", f"{us(mb):.0f} µs", f"{us(mf):.0f} µs",
                    f"{us(mf - mb):+.0f} µs", "", ""))
    summary.append(("start-up: sandlet over the floor", f"{us(mf):.0f} µs", f"{us(ms):.0f} µs",
                    f"{us(ms - mf):+.0f} µs", "≤ +300 µs", verdict(ms - mf <= 3e5)))
mv = med(virt)
summary.append(("start-up with every virtualization flag", f"{us(mb):.0f} µs", f"{us(mv):.0f} µs",
                f"{us(mv - mb):+.0f} µs ({mv / mb:.2f}x)", "", ""))
if diag:
    mn = med(nosup)
    summary.append(("*diag:* start-up with `--no-supervisor`", f"{us(mb):.0f} µs", f"{us(mn):.0f} µs",
                    f"{us(mn - mb):+.0f} µs ({mn / mb:.2f}x)", "", ""))

# 2. Trapped syscall vs the notification floor ------------------------------------
mmap_argv = [mmap_loop, str(MMAP_N)]
floor_n = str(MMAP_N)
# Check every program once (also a warm-up); the floor exits 3 without SYNC_WAKE_UP.
run(mmap_argv)
run(box_mem + mmap_argv)
sync_ok = run([floor, "sync", floor_n], ok=(0, 3)).returncode == 0
if not sync_ok:
    print("  note: the kernel lacks SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux 6.6)")
run([floor, "nosync", floor_n])

m_bare, m_box, f_sync, f_nosync, f_epoll, f_bare = [], [], [], [], [], []
mp_bare, mp_box, fp_sync = [], [], []
for _ in range(reps):
    m_bare.append(loop_ns(mmap_argv))
    m_box.append(loop_ns(box_mem + mmap_argv))
    if sync_ok:
        out = run([floor, "sync", floor_n]).stdout
        f_sync.append(field(out, "us_per_call"))
        f_bare.append(field(out, "bare_ns") / MMAP_N)
    f_nosync.append(field(run([floor, "nosync", floor_n]).stdout, "us_per_call"))
    if diag:
        mp_bare.append(pinned(loop_ns, mmap_argv))
        mp_box.append(pinned(loop_ns, box_mem + mmap_argv))
        if sync_ok:
            fp_sync.append(field(pinned(run, [floor, "sync", floor_n]).stdout, "us_per_call"))
            f_epoll.append(field(run([floor, "sync", floor_n, "epoll"]).stdout, "us_per_call"))


def per_call_us(bare_ns, box_ns):
    return (med(box_ns) - med(bare_ns)) / MMAP_N / 1000.0


trapped = per_call_us(m_bare, m_box)
print(f"\n2. trapped mmap: {reps} interleaved rounds of {MMAP_N} mmap+munmap pairs "
      f"(loop time / {MMAP_N})")
row("mmap_loop (bare)", m_bare, 1000 * MMAP_N, "µs/pair")
row("sandlet run -m 1G -- mmap_loop", m_box, 1000 * MMAP_N, "µs/pair")
print(f"  => one trapped mmap costs {trapped:.3f} µs ((sandlet - bare) / {MMAP_N}, medians)")
if sync_ok:
    row("floor: getppid untrapped", f_bare, 1000, "µs/call")
    row("floor: notification, SYNC_WAKE_UP", f_sync, 1, "µs/call")
row("floor: notification, no SYNC_WAKE_UP", f_nosync, 1, "µs/call")
pair_bare, pair_box = us(med(m_bare)) / MMAP_N, us(med(m_box)) / MMAP_N
summary.append((f"mmap+munmap pair, -m 1G (N={MMAP_N})", f"{pair_bare:.2f} µs",
                f"{pair_box:.2f} µs", f"{trapped:.2f} µs per trapped mmap", "", ""))
summary.append(("notification floor, no SYNC_WAKE_UP", "", f"{med(f_nosync):.2f} µs", "", "", ""))
if sync_ok:
    fs = med(f_sync)
    ratio = trapped / fs
    print(f"  => trapped call / SYNC floor = {ratio:.2f}x; "
          f"no-SYNC floor / SYNC floor = {med(f_nosync) / fs:.2f}x")
    summary.append(("notification floor, SYNC_WAKE_UP", "", f"{fs:.2f} µs", "", "", ""))
    summary.append(("trapped mmap / SYNC floor", "", "", f"{ratio:.2f}x", "≤ 1.5x",
                    verdict(ratio <= 1.5)))
else:
    summary.append(("trapped mmap / SYNC floor", "", "", "n/a (no SYNC_WAKE_UP)", "≤ 1.5x", ""))
if diag:
    trapped_p = per_call_us(mp_bare, mp_box)
    print("  diagnostic: every process pinned to one CPU")
    row("mmap_loop (bare, pinned)", mp_bare, 1000 * MMAP_N, "µs/pair")
    row("sandlet run -m 1G -- mmap_loop (pinned)", mp_box, 1000 * MMAP_N, "µs/pair")
    print(f"  => one trapped mmap costs {trapped_p:.3f} µs when pinned")
    extra = f"{trapped_p:.2f} µs per trapped mmap"
    if sync_ok:
        row("floor: SYNC_WAKE_UP (pinned)", fp_sync, 1, "µs/call")
        row("floor: SYNC_WAKE_UP, epoll_wait before RECV", f_epoll, 1, "µs/call")
        extra += f" = {trapped_p / med(fp_sync):.2f}x its floor ({med(fp_sync):.2f} µs)"
        summary.append(("*diag:* floor, SYNC_WAKE_UP, epoll_wait before RECV", "",
                        f"{med(f_epoll):.2f} µs", "", "", ""))
    summary.append(("*diag:* mmap pair, all on CPU 0", f"{us(med(mp_bare)) / MMAP_N:.2f} µs",
                    f"{us(med(mp_box)) / MMAP_N:.2f} µs", extra, "", ""))

# 3. Fork ---------------------------------------------------------------------------
fork_argv = [fork_loop, str(FORK_N)]
run(fork_argv)
run(box + fork_argv)
k_bare, k_box, kp_bare, kp_box = [], [], [], []
for _ in range(reps):
    k_bare.append(loop_ns(fork_argv))
    k_box.append(loop_ns(box + fork_argv))
    if diag:
        kp_bare.append(pinned(loop_ns, fork_argv))
        kp_box.append(pinned(loop_ns, box + fork_argv))
kb, kx = med(k_bare), med(k_box)
print(f"\n3. fork: {reps} interleaved rounds of {FORK_N} fork+waitpid (loop time / {FORK_N})")
row("fork_loop (bare)", k_bare, 1000 * FORK_N, "µs/fork")
row("sandlet run -- fork_loop", k_box, 1000 * FORK_N, "µs/fork")
print(f"  => ratio {kx / kb:.2f}x, {us(kx - kb) / FORK_N:+.1f} µs per fork")
summary.append((f"fork+waitpid, -P 64 (N={FORK_N})", f"{us(kb) / FORK_N:.1f} µs",
                f"{us(kx) / FORK_N:.1f} µs", f"{kx / kb:.2f}x ({us(kx - kb) / FORK_N:+.1f} µs)",
                "≤ 1.3x", verdict(kx / kb <= 1.3)))
if diag:
    pb, px = med(kp_bare), med(kp_box)
    row("fork_loop (bare, pinned)", kp_bare, 1000 * FORK_N, "µs/fork")
    row("sandlet run -- fork_loop (pinned)", kp_box, 1000 * FORK_N, "µs/fork")
    print(f"  => pinned: ratio {px / pb:.2f}x, {us(px - pb) / FORK_N:+.1f} µs per fork")
    summary.append(("*diag:* fork+waitpid, all on CPU 0", f"{us(pb) / FORK_N:.1f} µs",
                    f"{us(px) / FORK_N:.1f} µs", f"{px / pb:.2f}x ({us(px - pb) / FORK_N:+.1f} µs)",
                    "", ""))

# 3b. Trapped connect ----------------------------------------------------------------
connect_argv = [connect_loop, str(CONNECT_N)]
box_net = [sandlet, "run", *confine, "--net-allow-bind", "*", "--net-allow", "127.0.0.1", "--"]
run(connect_argv)
run(box_net + connect_argv)
c_bare, c_box = [], []
for _ in range(reps):
    c_bare.append(loop_ns(connect_argv))
    c_box.append(loop_ns(box_net + connect_argv))
cb, cx = med(c_bare), med(c_box)
print(f"\n3b. connect: {reps} interleaved rounds of {CONNECT_N} loopback connect+close, "
      "each trapped and made on the caller's behalf (--net-allow 127.0.0.1)")
row("connect_loop (bare)", c_bare, 1000 * CONNECT_N, "µs/connect")
row("sandlet run --net-allow 127.0.0.1 -- connect_loop", c_box, 1000 * CONNECT_N, "µs/connect")
print(f"  => {us(cx - cb) / CONNECT_N:+.1f} µs per trapped connect")
summary.append((f"loopback connect, --net-allow 127.0.0.1 (N={CONNECT_N})",
                f"{us(cb) / CONNECT_N:.1f} µs", f"{us(cx) / CONNECT_N:.1f} µs",
                f"{us(cx - cb) / CONNECT_N:+.1f} µs per trapped connect", "", ""))

# 3d. Open loop: what a default run pays for opens -----------------------------------
open_loop = os.path.join(bindir, "open_loop")
OPEN_N = 8000
open_argv = [open_loop, str(OPEN_N), "/etc/passwd"]
box_open = [sandlet, "run", *confine, "-r", "/etc", "--"]
nosup_open = [sandlet, "run", "--no-supervisor", *confine, "-r", "/etc", "--"]
named_open = [sandlet, "run", "--name", "box", *confine, "-r", "/etc", "--"]
floor_open = ([floorbox, *[a for d in read_dirs for a in ("-r", d)], "-r", "/etc", "--"]
              if floorbox else None)
o = {k: [] for k in ("bare", "box", "nosup", "named", "floor")}
for _ in range(reps):
    o["bare"].append(loop_ns(open_argv))
    o["box"].append(loop_ns(box_open + open_argv))
    o["nosup"].append(loop_ns(nosup_open + open_argv))
    o["named"].append(loop_ns(named_open + open_argv))
    if floor_open:
        o["floor"].append(loop_ns(floor_open + open_argv))
print(f"\n3d. open loop: {reps} interleaved rounds of {OPEN_N} open+close of /etc/passwd")
row("open_loop (bare)", o["bare"], 1e6, "ms", 1)
row("sandlet run -- open_loop (default)", o["box"], 1e6, "ms", 1)
row("sandlet run --no-supervisor -- open_loop", o["nosup"], 1e6, "ms", 1)
row("sandlet run --name box -- open_loop", o["named"], 1e6, "ms", 1)
if o["floor"]:
    row("floorbox -- open_loop", o["floor"], 1e6, "ms", 1)
ob = med(o["bare"])
for key, name in (("box", "default run"), ("nosup", "--no-supervisor"), ("named", "--name"),
                  ("floor", "floor")):
    if o[key]:
        x = med(o[key])
        summary.append((f"{OPEN_N} x open+close, {name}", f"{ob / 1e6:.1f} ms",
                        f"{x / 1e6:.1f} ms", f"{x / ob:.2f}x", "", ""))

# 3c. The /proc view ------------------------------------------------------------------
find_bin = next((p for p in ("/usr/bin/find", "/bin/find") if os.access(p, os.X_OK)), None)
if find_bin and os.path.isdir("/usr/share"):
    find_argv = [find_bin, "/usr/share", "-name", "*.txt"]
    view = [sandlet, "run", "-r", "/", "--"]
    narrow = [sandlet, "run", "-r", "/usr", "-r", "/lib", "-r", "/lib64", "--"]

    def wall_ns(argv):
        t0 = time.monotonic_ns()
        run(argv, ok=(0, 1))  # find exits 1 on an unreadable directory
        return time.monotonic_ns() - t0

    for argv in (find_argv, view + find_argv, narrow + find_argv):
        wall_ns(argv)  # warm the caches
    f_bare, f_view, f_narrow = [], [], []
    for _ in range(reps):
        f_bare.append(wall_ns(find_argv))
        f_view.append(wall_ns(view + find_argv))
        f_narrow.append(wall_ns(narrow + find_argv))
    fb, fv, fn = med(f_bare), med(f_view), med(f_narrow)
    print(f"\n3c. /proc view: {reps} interleaved rounds of `find /usr/share -name '*.txt'` "
          "(wall time; every open, stat and listing is trapped under -r /)")
    row("find (bare)", f_bare, 1e6, "ms", 1)
    row("sandlet run -r / -- find (the /proc view)", f_view, 1e6, "ms", 1)
    row("sandlet run -r /usr -r /lib -r /lib64 -- find", f_narrow, 1e6, "ms", 1)
    summary.append(("`find /usr/share`, -r / (the /proc view)", f"{fb / 1e6:.0f} ms",
                    f"{fv / 1e6:.0f} ms", f"{fv / fb:.1f}x", "", ""))
    summary.append(("`find /usr/share`, -r /usr -r /lib -r /lib64", f"{fb / 1e6:.0f} ms",
                    f"{fn / 1e6:.0f} ms", f"{fn / fb:.1f}x", "", ""))
else:
    print("\n3c. /proc view: skipped (no find or /usr/share)")

# 3e. The --workdir view: what the view costs per syscall, and commits ----------------
def wall(argv, ok=(0,)):
    t0 = time.monotonic_ns()
    run(argv, ok=ok)
    return time.monotonic_ns() - t0


tar_bin = next((p for p in ("/usr/bin/tar", "/bin/tar") if os.access(p, os.X_OK)), None)
if find_bin and tar_bin and os.path.isdir("/usr/include"):
    wd = os.path.join(work, "workdir")
    storage = os.path.join(work, "layers")
    os.makedirs(storage, exist_ok=True)
    for d in range(20):
        os.makedirs(os.path.join(wd, f"d{d:02}"), exist_ok=True)
        for i in range(100):
            with open(os.path.join(wd, f"d{d:02}", f"f{i:03}"), "w") as f:
                f.write("x\n")
    src_tar = os.path.join(work, "include.tar")
    run([tar_bin, "-cf", src_tar, "-C", "/usr", "include"])
    small_tar = os.path.join(work, "small.tar")
    small = os.path.join(work, "small")
    os.makedirs(small, exist_ok=True)
    for i in range(10000):
        with open(os.path.join(small, f"s{i:05}"), "w") as f:
            f.write("small\n")
    run([tar_bin, "-cf", small_tar, "-C", work, "small"])
    sysdirs = [a for d in ("/usr", "/lib", "/lib64", "/bin") if os.path.isdir(d) for a in ("-r", d)]
    base = [sandlet, "run", *confine, *sysdirs, "-r", work, "-w", wd]
    plain = base + ["--"]
    viewed = base + ["--workdir", wd, "--fs-storage", storage, "--on-exit", "abort", "--"]
    committed = base + ["--workdir", wd, "--fs-storage", storage, "--"]
    o_argv = [open_loop, str(OPEN_N), os.path.join(wd, "d00", "f000")]
    f_argv = [find_bin, wd]
    untar_to = os.path.join(wd, "untar")

    def commit_ns(argv):
        """The commit's own time, as sandlet logs it at debug level."""
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "RUST_LOG": "sandlet=debug"})
        m = re.search(r"view: commit took (\d+) us", p.stderr)
        if p.returncode != 0 or not m:
            fail(f"`{' '.join(argv)}` exited with {p.returncode}: {p.stderr.strip()[-300:]}")
        return int(m.group(1)) * 1000

    def untar(prefix):
        os.makedirs(untar_to, exist_ok=True)
        ns = wall(prefix + [tar_bin, "-xf", src_tar, "-C", untar_to])
        shutil.rmtree(untar_to)
        return ns

    v = {k: [] for k in ("o_bare", "o_plain", "o_view", "f_bare", "f_plain", "f_view",
                         "t_bare", "t_plain", "t_view", "c_commit")}
    for _ in range(reps):
        v["o_bare"].append(loop_ns(o_argv))
        v["o_plain"].append(loop_ns(plain + o_argv))
        v["o_view"].append(loop_ns(viewed + o_argv))
        v["f_bare"].append(wall(f_argv))
        v["f_plain"].append(wall(plain + f_argv))
        v["f_view"].append(wall(viewed + f_argv))
        v["t_bare"].append(untar([]))
        v["t_plain"].append(untar(plain))
        v["t_view"].append(untar(viewed))
        tar_small = [tar_bin, "-xf", small_tar, "-C", wd]
        v["c_commit"].append(commit_ns(committed + tar_small))
        shutil.rmtree(os.path.join(wd, "small"))
    big_mb = int(os.environ.get("BIG_MB", "1024"))
    dd = [tar_bin.replace("tar", "dd"), "if=/dev/zero", f"of={wd}/big", "bs=1M",
          f"count={big_mb}", "status=none"]
    big_commit = commit_ns(committed + dd)
    os.remove(os.path.join(wd, "big"))
    print(f"\n3e. --workdir view: {reps} interleaved rounds (bare, plain run with -w, the view "
          "with --on-exit abort)")
    for key, name in (("o_bare", f"open_loop {OPEN_N} (bare)"),
                      ("o_plain", "open_loop, plain run"), ("o_view", "open_loop, --workdir"),
                      ("f_bare", "find (2,000 files, bare)"), ("f_plain", "find, plain run"),
                      ("f_view", "find, --workdir"), ("t_bare", "untar /usr/include (bare)"),
                      ("t_plain", "untar, plain run"), ("t_view", "untar, --workdir"),
                      ("c_commit", "commit of 10k small files")):
        row(name, v[key], 1e6, "ms", 1)
    print(f"  commit of one {big_mb} MiB file: {big_commit / 1e6:.0f} ms")
    for what, b, pl, vw in (("open+close", "o_bare", "o_plain", "o_view"),
                            ("find", "f_bare", "f_plain", "f_view"),
                            ("untar /usr/include", "t_bare", "t_plain", "t_view")):
        ratio = med(v[vw]) / med(v[pl])
        summary.append((f"--workdir {what} (bare / plain run / view)",
                        f"{med(v[b]) / 1e6:.1f} ms",
                        f"{med(v[pl]) / 1e6:.1f} / {med(v[vw]) / 1e6:.1f} ms",
                        f"view / plain {ratio:.2f}x", "≤ 1.05x", verdict(ratio <= 1.05)))
    summary.append(("--workdir commit of 10k small files", "",
                    f"{med(v['c_commit']) / 1e6:.0f} ms", "", "", ""))
    summary.append((f"--workdir commit of a {big_mb} MiB file", "",
                    f"{big_commit / 1e6:.0f} ms", "", "", ""))
else:
    print("\n3e. --workdir view: skipped (no find, tar or /usr/include)")

# 4. Supervisor peak RSS ------------------------------------------------------------


def sandlet_peak_kib(argv):
    p = run([peak_rss] + argv)
    found = re.findall(r"^peak_rss (\d+)$", p.stderr, re.M)
    if not found:
        fail(f"peak_rss printed no result for {' '.join(argv)}: {p.stderr.strip()}")
    return int(found[-1]), p.stdout


print(f"\n4. supervisor peak RSS (VmHWM of the sandlet process at exit), {RSS_REPS} runs each")
python = next((p for p in ("/usr/bin/python3", "/bin/python3") if os.access(p, os.X_OK)), None)
if python:
    alloc = [python, "-c", "b = bytearray(100 << 20)"]  # zero-filled, so resident
    peak, _ = sandlet_peak_kib([sandlet, "run", "--"] + alloc)
    gnu_time = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
    note = ""
    if gnu_time:
        p = run([gnu_time, "-f", "maxrss %M", sandlet, "run", "--"] + alloc)
        maxrss = re.findall(r"^maxrss (\d+)$", p.stderr, re.M)[-1]
        note = f"; GNU time %M on sandlet says {maxrss} KiB"
    print(f"  method check, command allocates 100 MiB: sandlet's VmHWM {peak} KiB{note}")
    if peak > 50 * 1024:
        fail("the RSS method counts the command's memory; the numbers below would be wrong")
else:
    print("  method check skipped: no python3 in /usr/bin or /bin")
idle = [sandlet_peak_kib([sandlet, "run", "--", "sleep", "1"])[0] for _ in range(RSS_REPS)]
stress = []
for _ in range(RSS_REPS):
    kib, out = sandlet_peak_kib(box_mem + [mmap_loop, str(STRESS_N), str(STRESS_THREADS)])
    stress.append(kib)
stress_ns = field(out, "ns")
row("sandlet run -- sleep 1", idle, 1, "KiB", 0)
row(f"sandlet run -m 1G -- mmap_loop, {STRESS_THREADS} threads", stress, 1, "KiB", 0)
print(f"  (stress: {STRESS_THREADS} x {STRESS_N} trapped mmaps in {stress_ns / 1e9:.2f} s)")
summary.append(("supervisor peak RSS, idle (`sleep 1`)", "", f"{med(idle):.0f} KiB",
                f"max {max(idle)} KiB", f"< {RSS_TARGET_KIB} KiB", verdict(max(idle) < RSS_TARGET_KIB)))
summary.append((f"supervisor peak RSS, {STRESS_THREADS}-thread mmap stress", "",
                f"{med(stress):.0f} KiB", f"max {max(stress)} KiB", f"< {RSS_TARGET_KIB} KiB",
                verdict(max(stress) < RSS_TARGET_KIB)))

# Summary -----------------------------------------------------------------------------
load_after = os.getloadavg()
print(f"\n## Summary\n\nkernel {os.uname().release}, {os.cpu_count()} CPUs, "
      f"{os.path.getsize(sandlet)}-byte binary; medians of {reps} rounds "
      f"(start-up: {runs} runs); load average {load_before[0]:.2f} -> {load_after[0]:.2f}; "
      f"{time.monotonic() - started:.0f} s of benchmarks\n")
summary.append(("binary size (the one measured)", "", f"{os.path.getsize(origin)} bytes", "",
                "≤ 1.8 MB static-pie, ≤ 0.9 MB dynamic", ""))
print("| benchmark | bare | sandlet | result | target | |")
print("|---|---|---|---|---|---|")
for r in summary:
    print("| " + " | ".join(r) + " |")
EOF
