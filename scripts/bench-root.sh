#!/usr/bin/env bash
# Benchmarks of the other-root views (issue 15), medians of interleaved runs:
# 1. start-up of `sandlet run -- /bin/true` (plain), `--chroot ROOT` and `--image LAYOUT`
#    with a warm cache, and `--image` with a cold cache (a fresh XDG_CACHE_HOME each
#    run, so the layer is verified and unpacked every time);
# 2. exec of a dynamic binary inside the root vs outside: scripts/bench/exec_loop.c
#    (itself dynamic) forks and execs /bin/true N times and prints the mean in µs; run under `sandlet run` on the
#    host and under `--chroot ROOT` (ROOT holds /bin/true and the libraries ldd names).
# RUNS (default 100) start-ups of each, REPS (default 5) exec loops of each.
# SANDLET=path picks the binary (default: target/release/sandlet, built if missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=${RUNS:-100}
reps=${REPS:-5}
sandlet=${SANDLET:-target/release/sandlet}
[[ -x "$sandlet" ]] || cargo build --release -q
work=$(mktemp -d "${TMPDIR:-/tmp}/sandlet-bench-root.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
cp -- "$sandlet" "$work/sandlet"
root="$work/root"
mkdir -p "$root"/{bin,proc,dev,tmp,etc}
cp /bin/true "$root/bin/true"
for lib in $(ldd /bin/true | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
gcc -O2 -pthread -o "$root/bin/exec_loop" scripts/bench/exec_loop.c
# An OCI layout holding that root as one gzip layer.
layout="$work/layout"
python3 - "$root" "$layout" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
root, layout = sys.argv[1:]
os.makedirs(f"{layout}/blobs/sha256")
def blob(b):
    d = hashlib.sha256(b).hexdigest()
    open(f"{layout}/blobs/sha256/{d}", "wb").write(b)
    return {"digest": "sha256:" + d, "size": len(b)}
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as t:
    t.add(root, arcname=".")
layer = blob(gzip.compress(buf.getvalue()))
config = blob(json.dumps({"config": {"Cmd": ["/bin/true"]}, "rootfs": {"diff_ids": []}}).encode())
manifest = blob(json.dumps({"schemaVersion": 2, "config": config,
                            "layers": [dict(layer, mediaType="application/vnd.oci.image.layer.v1.tar+gzip")]}).encode())
json.dump({"schemaVersion": 2, "manifests": [manifest]}, open(f"{layout}/index.json", "w"))
open(f"{layout}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
python3 - "$work" "$runs" "$reps" <<'PY'
import os, shutil, statistics, subprocess, sys, tempfile, time
work, runs, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sandlet, root, layout = f"{work}/sandlet", f"{work}/root", f"{work}/layout"
cache = f"{work}/cache"
quiet = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
def once(argv, env=None):
    start = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, env or dict(os.environ, XDG_CACHE_HOME=cache), file_actions=quiet)
    _, st = os.waitpid(pid, 0)
    t = time.perf_counter_ns() - start
    if os.waitstatus_to_exitcode(st) != 0:
        sys.exit(f"bench-root: {' '.join(argv)} failed ({st:#x})")
    return t
plain = [sandlet, "run", "--", "/bin/true"]
chroot = [sandlet, "run", "--chroot", root, "--", "/bin/true"]
image = [sandlet, "run", "--image", layout, "--", "/bin/true"]
for _ in range(5):
    once(plain); once(chroot); once(image)
t = {"plain": [], "chroot": [], "image (warm cache)": [], "image (cold cache)": []}
for i in range(runs):
    t["plain"].append(once(plain))
    t["chroot"].append(once(chroot))
    t["image (warm cache)"].append(once(image))
    if i < max(10, runs // 5):
        cold = tempfile.mkdtemp(dir=work)
        t["image (cold cache)"].append(once(image, dict(os.environ, XDG_CACHE_HOME=cold)))
        shutil.rmtree(cold)
base = statistics.median(t["plain"])
print(f"1. start-up of /bin/true (median of interleaved runs, wall time)")
print(f"| run | median | over plain |\n|---|---|---|")
for k, v in t.items():
    m = statistics.median(v)
    print(f"| {k} (n={len(v)}) | {m/1e3:.0f} µs | {(m-base)/1e3:+.0f} µs ({m/base:.2f}x) |")
N = 2000
def loop(argv):
    p = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ, XDG_CACHE_HOME=cache))
    if p.returncode != 0:
        sys.exit(f"bench-root: {' '.join(argv)}: {p.stderr}")
    return float(p.stdout) * 1e3
host = [a for d in ("/usr", "/lib", "/lib64", "/bin", "/etc") if os.path.isdir(d) for a in ("-r", d)]
outside = [sandlet, "run", *host, "-r", f"{root}/bin", "--", f"{root}/bin/exec_loop", str(N), "1", "1"]
inside = [sandlet, "run", "--chroot", root, "--", "/bin/exec_loop", str(N), "1", "1"]
o, i = [], []
for _ in range(reps):
    o.append(loop(outside))
    i.append(loop(inside))
mo, mi = statistics.median(o), statistics.median(i)
print(f"\n2. fork + exec of dynamic /bin/true, {N} per loop, {reps} loops each")
print(f"| where | per exec | ratio |\n|---|---|---|")
print(f"| host root (sandlet run) | {mo/1e3:.1f} µs | 1.00x |")
print(f"| --chroot root | {mi/1e3:.1f} µs | {mi/mo:.2f}x (target: same cost) |")
PY
