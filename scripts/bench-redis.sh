#!/usr/bin/env bash
# Redis throughput under sandlet, ending with a summary table in Markdown.
#
# Each round starts redis-server twice on a free loopback port (python3 binds port 0 to
# find one; a fresh port per start), once bare and once as
#     sandlet run --net-allow-bind PORT -r / -w DIR -- redis-server ...
# with persistence off (--save '' --appendonly no) and --dir DIR a private temporary
# directory, the only path the sandbox may write. Once `redis-cli ping` answers,
# `redis-benchmark -t set,get -n N -q --csv` (default N=100000, 50 clients) measures
# requests per second from outside the sandbox; then the server is shut down
# (`redis-cli shutdown nosave`) and must exit with status 0. The benchmark client is the
# same in both cases, so the difference is the cost of the sandbox on the server side:
# Landlock, the seccomp filter, and sandlet's supervisor (which traps the server's
# bind and memory calls, not its reads and writes).
#
# REPS rounds (default 5), bare and sandlet interleaved in each round so drift (CPU
# frequency, other load) hits both sides alike, after one unmeasured warm-up round. The
# table shows the median rps of each side and sandlet as a percentage of bare (target
# >= 98%). On a machine with few CPUs the client and the server compete for them, so
# expect a few percent of noise between rounds; the per-round numbers are printed too.
#
# The binary is the static build from scripts/build-static.sh unless SANDLET=path is
# given; a private copy of it is run, so a concurrent cargo build cannot swap it mid-run.
# N=requests overrides the request count. Servers still running are killed on exit.
set -euo pipefail

reps="${REPS:-5}"
requests="${N:-100000}"

say() { printf '%s\n' "$*" >&2; }
die() { say "bench-redis: error: $*"; exit 1; }

# Resolve SANDLET before changing directory (it may be relative or a name on PATH).
sandlet=""
if [[ -n "${SANDLET:-}" ]]; then
    if [[ "$SANDLET" == */* ]]; then
        sandlet=$(realpath -- "$SANDLET")
    else
        sandlet=$(command -v -- "$SANDLET") || die "$SANDLET not found"
    fi
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ "$reps" =~ ^[1-9][0-9]*$ && "$requests" =~ ^[1-9][0-9]*$ ]] \
    || die "REPS and N must be positive integers"
for tool in python3 redis-server redis-cli redis-benchmark; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required (apt-get install redis-server redis-tools)"
done
if [[ -z "$sandlet" ]]; then
    sandlet=$(scripts/build-static.sh)
fi
[[ -x "$sandlet" ]] || die "$sandlet is not executable"
redis_server=$(command -v redis-server)

work=$(mktemp -d "${TMPDIR:-/tmp}/sandlet-bench-redis.XXXXXX")
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        sleep 0.5
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf -- "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Run a private copy: a concurrent cargo build may replace the binary mid-run.
cp -- "$sandlet" "$work/sandlet"
origin="$sandlet"
sandlet="$work/sandlet"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start MODE PORT DIR LOG: starts redis-server (bare or under sandlet) in the background,
# sets server_pid, and waits until it answers PING.
start() {
    local mode=$1 port=$2 dir=$3 log=$4 i
    local args=(--port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no
                --dir "$dir")
    if [[ "$mode" == bare ]]; then
        "$redis_server" "${args[@]}" >"$log" 2>&1 &
    else
        "$sandlet" run --net-allow-bind "$port" -r / -w "$dir" -- \
            "$redis_server" "${args[@]}" >"$log" 2>&1 &
    fi
    server_pid=$!
    for ((i = 0; i < 200; i++)); do  # up to ~10 s
        if [[ "$(redis-cli -p "$port" ping 2>/dev/null)" == PONG ]]; then
            return 0
        fi
        if ! kill -0 "$server_pid" 2>/dev/null; then
            local rc=0
            wait "$server_pid" || rc=$?
            server_pid=""
            say "--- $log:"; cat -- "$log" >&2
            die "$mode redis-server exited with status $rc before answering PING"
        fi
        sleep 0.05
    done
    say "--- $log:"; cat -- "$log" >&2
    die "$mode redis-server did not answer PING on port $port within 10 s"
}

# stop MODE PORT LOG: shuts the server down and checks its exit status.
stop() {
    local mode=$1 port=$2 log=$3 rc=0
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    wait "$server_pid" || rc=$?
    server_pid=""
    if [[ $rc -ne 0 ]]; then
        say "--- $log:"; cat -- "$log" >&2
        die "$mode redis-server exited with status $rc after shutdown"
    fi
}

# measure MODE ROUND: one server start, benchmark, stop; appends "MODE ROUND TEST RPS"
# lines to $work/results.
measure() {
    local mode=$1 round=$2 port dir log out
    port=$(free_port)
    dir=$(mktemp -d "$work/data.XXXXXX")
    log="$work/$mode-$round.log"
    start "$mode" "$port" "$dir" "$log"
    out=$(redis-benchmark -p "$port" -t set,get -n "$requests" -q --csv) \
        || { stop "$mode" "$port" "$log"; die "redis-benchmark failed ($mode, round $round)"; }
    stop "$mode" "$port" "$log"
    # CSV: "test","rps",... with a header line.
    awk -F, -v mode="$mode" -v round="$round" '
        NR > 1 { gsub(/"/, ""); print mode, round, $1, $2 }' <<<"$out" >>"$work/results"
}

say "bench-redis: $(redis-server --version)"
say "bench-redis: binary $origin (a copy is run); $reps rounds of $requests requests per test"
load_before=$(cut -d' ' -f1 /proc/loadavg)
started=$SECONDS
measure bare warmup
measure sandlet warmup
: >"$work/results"
for ((round = 1; round <= reps; round++)); do
    for mode in bare sandlet; do
        measure "$mode" "$round"
        say "round $round $mode: $(awk -v m="$mode" -v r="$round" \
            '$1 == m && $2 == r { printf "%s %s rps  ", $3, $4 }' "$work/results")"
    done
done
load_after=$(cut -d' ' -f1 /proc/loadavg)

python3 - "$work/results" "$reps" "$requests" "$(uname -r)" "$(nproc)" \
    "$load_before" "$load_after" "$((SECONDS - started))" <<'EOF'
import statistics
import sys

path, reps, requests, kernel, cpus, load_before, load_after, secs = sys.argv[1:]
rps = {}
for line in open(path):
    mode, _, test, value = line.split()
    rps.setdefault((mode, test), []).append(float(value))
print(f"\n## Redis throughput\n\nkernel {kernel}, {cpus} CPUs; median of {reps} rounds, "
      f"redis-benchmark -n {requests} (50 clients); load average {load_before} -> "
      f"{load_after}; {secs} s\n")
print("| test | bare rps | sandlet rps | sandlet / bare | target | |")
print("|---|---|---|---|---|---|")
for test in ("SET", "GET"):
    bare = statistics.median(rps[("bare", test)])
    boxed = statistics.median(rps[("sandlet", test)])
    pct = 100.0 * boxed / bare
    ok = "ok" if pct >= 98.0 else "**missed**"
    print(f"| {test} | {bare:.0f} | {boxed:.0f} | {pct:.1f}% | ≥ 98% | {ok} |")
EOF
