#!/usr/bin/env bash
# Soak test of the supervisor under a hostile command: what sandlet keeps per process,
# thread, descriptor or open stays bounded. Not part of the default test suite (it
# takes about a minute). Each scenario runs one probe (tests/probes/probe.c) under
# `sandlet run` while sandlet's own descriptors, threads and resident memory are
# sampled every 2 ms from /proc, with the number of live sandbox processes at the same
# moment:
#
#   processes  20,000 short-lived children, each with one trapped mmap (-m 4G)
#   random     2,000 opens and closes of /dev/urandom, then 200 held (--random-seed)
#   listings   500 descriptors of a 2,000-entry directory, each read for one batch and
#              closed (--deterministic-dirs)
#   connects   200 threads each blocked in a connect to a listener that never answers
#              (--net-allow 127.0.0.1:PORT), then a trapped brk (-m 1G)
#
# Prints a Markdown table of the maxima against the targets: descriptors <= 64 + live
# processes, threads <= workers (2) + 4, resident memory <= 8 MiB. Exits 1 when a target
# is missed or a probe failed.
#
# The binary is target/release/sandlet (built here) unless SANDLET=path is given.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -n "${SANDLET:-}" ]]; then
    sandlet=$(realpath -- "$SANDLET")
else
    cargo build --release >&2
    sandlet="$PWD/target/release/sandlet"
fi

work=$(mktemp -d /tmp/sandlet-soak.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin" "$work/dir"
link=(-static)
if ! cc -O2 -static -o "$work/bin/probe" tests/probes/probe.c -lpthread 2>/dev/null; then
    cc -O2 -o "$work/bin/probe" tests/probes/probe.c -lpthread
    link=()
fi
for i in $(seq 2000); do : >"$work/dir/entry-$i"; done

python3 - "$sandlet" "$work" "${#link[@]}" <<'EOF'
import os, socket, subprocess, sys, threading, time

sandlet, work, static = sys.argv[1], sys.argv[2], sys.argv[3] != "0"
probe = os.path.join(work, "bin", "probe")
reads = ["-r", os.path.join(work, "bin")]
if not static:
    reads += ["-r", "/usr", "-r", "/lib", "-r", "/lib64"]

def tree(pid):
    """Live processes under `pid` (not counting it)."""
    out, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                with open(f"/proc/{p}/task/{t}/children") as f:
                    kids = [int(k) for k in f.read().split()]
            except OSError:
                continue
            out += len(kids)
            stack.extend(kids)
    return out

def sample(pid):
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        threads = len(os.listdir(f"/proc/{pid}/task"))
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return None
    return fds, threads, rss, tree(pid)

def run(name, flags, args, wait_line=None):
    argv = [sandlet, "run", *flags, *reads, "--", probe, *args]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = {"fds": 0, "threads": 0, "rss": 0, "live": 0, "fd_excess": -10**9}
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(p.stdout), daemon=True)
    reader.start()
    start = time.monotonic()
    while p.poll() is None:
        s = sample(p.pid)
        if s:
            fds, threads, rss, live = s
            peak["fds"] = max(peak["fds"], fds)
            peak["threads"] = max(peak["threads"], threads)
            peak["rss"] = max(peak["rss"], rss)
            peak["live"] = max(peak["live"], live)
            peak["fd_excess"] = max(peak["fd_excess"], fds - live)
        if wait_line and any(l.startswith(wait_line) for l in lines):
            # A last sample with everything held, then end the run.
            time.sleep(0.2)
            s = sample(p.pid)
            if s:
                peak["fds"] = max(peak["fds"], s[0])
                peak["threads"] = max(peak["threads"], s[1])
                peak["rss"] = max(peak["rss"], s[2])
                peak["fd_excess"] = max(peak["fd_excess"], s[0] - s[3])
            p.terminate()
        time.sleep(0.002)
    reader.join(timeout=5)
    err = p.stderr.read()
    took = time.monotonic() - start
    out = " ".join(l.strip() for l in lines)
    ok = out.startswith("ok") and (wait_line is not None or p.returncode == 0)
    return name, peak, took, ok, out, err

results = []
results.append(run("processes", ["-m", "4G"], ["mmap_churn", "20000"], wait_line="ok ready"))
results.append(run("random (2,000 opens)", ["--random-seed", "1"],
                   ["open_loop", "/dev/urandom", "2000"]))
results.append(run("random (200 held)", ["--random-seed", "1"],
                   ["hold_opens", "/dev/urandom", "200", "wait"], wait_line="ok ready"))
listing_dir = os.path.join(work, "dir")
results.append(run("listings", ["--deterministic-dirs", "-r", listing_dir],
                   ["abandon_listings", listing_dir, "500"], wait_line="ok ready"))

# A listener that never answers: backlog 0, its queue filled.
lst = socket.socket()
lst.bind(("127.0.0.1", 0))
lst.listen(0)
port = lst.getsockname()[1]
held = []
for _ in range(4):
    c = socket.socket()
    c.settimeout(0.3)
    try:
        c.connect(("127.0.0.1", port))
        held.append(c)
    except OSError:
        c.close()
results.append(run("connects", ["-m", "1G", "--net-allow", f"127.0.0.1:{port}"],
                   ["stuck_connects", "200", "127.0.0.1", str(port)]))

failed = False
print("| scenario | time | max fds (minus live processes) | max live processes | max threads | max RSS | result |")
print("|---|---|---|---|---|---|---|")
for name, peak, took, ok, out, err in results:
    within = peak["fd_excess"] <= 64 and peak["threads"] <= 2 + 4 and peak["rss"] <= 8 * 1024
    verdict = "ok" if ok and within else ("PROBE FAILED: " + (out or err.strip())[:80] if not ok else "OVER TARGET")
    failed |= verdict != "ok"
    print(f"| {name} | {took:.1f} s | {peak['fds']} ({peak['fd_excess']}) | {peak['live']} | "
          f"{peak['threads']} | {peak['rss'] / 1024:.1f} MiB | {verdict} |")
print()
print("targets: fds - live processes <= 64; threads <= 6; RSS <= 8 MiB")
sys.exit(1 if failed else 0)
EOF
