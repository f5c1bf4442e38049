#!/usr/bin/env bash
# Start-up overhead of sandlet: median wall time of `sandlet run -- /bin/true` against a
# bare `/bin/true`, over RUNS runs of each (default 200), interleaved bare, sandlet,
# bare, sandlet... so drift (CPU frequency, other load) hits both sides alike.
#
# The binary is the static build from scripts/build-static.sh unless SANDLET=path is
# given. Each run is a posix_spawn + waitpid from one python3 process, timed with
# perf_counter_ns; the launcher's own cost is in both columns, so the difference is
# sandlet's overhead.
set -euo pipefail

runs="${RUNS:-200}"
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
command -v python3 >/dev/null 2>&1 || { echo "bench: error: python3 is required" >&2; exit 1; }

# A failing sandbox would make the numbers meaningless: check one run first.
if ! "$sandlet" run -- "$target_cmd"; then
    echo "bench: error: '$sandlet run -- $target_cmd' failed; see above" >&2
    exit 1
fi

python3 - "$sandlet" "$target_cmd" "$runs" <<'EOF'
import os
import statistics
import sys
import time

sandlet, cmd, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
bare_argv = [cmd]
sandlet_argv = [sandlet, "run", "--", cmd]
quiet = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]


def once(argv):
    start = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=quiet)
    _, status = os.waitpid(pid, 0)
    elapsed = time.perf_counter_ns() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: error: {' '.join(argv)} exited with status {status:#x}")
    return elapsed


for _ in range(10):  # warm up caches and the page cache
    once(bare_argv)
    once(sandlet_argv)

bare, boxed = [], []
for _ in range(runs):
    bare.append(once(bare_argv))
    boxed.append(once(sandlet_argv))


def us(ns):
    return ns / 1000.0


def row(name, xs):
    xs = sorted(xs)
    p10, p90 = xs[len(xs) // 10], xs[(len(xs) * 9) // 10]
    print(f"  {name:<28} median {us(statistics.median(xs)):9.1f} µs"
          f"   (min {us(xs[0]):.1f}, p10 {us(p10):.1f}, p90 {us(p90):.1f})")


mb, ms = statistics.median(bare), statistics.median(boxed)
print(f"sandlet start-up overhead: {runs} interleaved runs each, kernel {os.uname().release}")
print(f"  binary: {sandlet} ({os.path.getsize(sandlet)} bytes)")
row(cmd, bare)
row(f"sandlet run -- {cmd}", boxed)
print(f"  ratio (median)               {ms / mb:9.2f} x")
print(f"  overhead (median difference) {us(ms - mb):9.1f} µs")
EOF
