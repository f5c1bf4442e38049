#!/usr/bin/env bash
# End to end inside a container with Docker's default seccomp profile and default
# capabilities (no --cap-add): every feature works there, or refuses at start with a
# reason, and `sandlet check` tells the truth (issue 18).
#
# Builds an image with `docker import` holding a static sandlet, busybox (static) and the
# static test probe, then runs the table below as root and as uid 65534. Starts dockerd
# when none answers; skips (exit 0, saying why) when no engine can run here.
#
#     scripts/docker-e2e.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# No check reads stdin; a terminal there would stop a background job with SIGTTIN.
exec </dev/null

say() { printf 'docker-e2e: %s\n' "$*"; }
skip() {
    say "SKIP: $*"
    exit 0
}

root="" dockerd_pid=""
cleanup() {
    [[ -z $root ]] || rm -rf "$root"
    if [[ -n $dockerd_pid ]]; then
        kill "$dockerd_pid" 2>/dev/null || true
        wait "$dockerd_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT

command -v docker >/dev/null 2>&1 || skip "no docker client (apt-get install docker.io)"
if ! docker info >/dev/null 2>&1; then
    command -v dockerd >/dev/null 2>&1 || skip "no Docker engine and no dockerd to start"
    say "starting dockerd (log: target/tmp/dockerd.log; stopped at the end)"
    mkdir -p target/tmp
    dockerd >target/tmp/dockerd.log 2>&1 &
    dockerd_pid=$!
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && break
        sleep 0.5
    done
    docker info >/dev/null 2>&1 ||
        skip "dockerd does not start here: $(tail -n 1 target/tmp/dockerd.log)"
fi
static() {
    if command -v file >/dev/null 2>&1; then
        file -L "$1" | grep -q 'statically linked'
    else
        ! ldd "$1" >/dev/null 2>&1
    fi
}
busybox=$(command -v busybox || true)
[[ -n $busybox ]] && static "$busybox" ||
    skip "no static busybox (apt-get install busybox-static)"

bin=$(scripts/build-static.sh)
root=$(mktemp -d)
mkdir -p "$root"/{bin,etc,tmp,probe}
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for tool in sh cat date uname true echo httpd; do
    ln -s busybox "$root/bin/$tool"
done
cp "$bin" "$root/bin/sandlet"
gcc -O1 -static -o "$root/probe/probe" tests/probes/probe.c
printf 'root:x:0:0::/:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n' >"$root/etc/passwd"
echo box-host >"$root/etc/hostname"
image=sandlet-e2e:latest
tar -C "$root" -c . | docker import - "$image" >/dev/null
say "image $image built ($(docker --version))"

# The seeded bytes outside any container: the container must give the same.
seeded=$("$bin" run -r "$root/probe" --random-seed 1 -- "$root/probe/probe" getrandom 16)
stream='bb=$0; $bb head -c 16 /dev/urandom | $bb od -An -tx1'
urandom=$("$bin" run -r "$root/bin" --random-seed 1 -- "$root/bin/busybox" sh -c "$stream" \
    "$root/bin/busybox")

failed=0
# expect NAME USER WANT_EXIT WANT_OUT CMD...: run CMD in a fresh container as USER with
# a web server listening on 127.0.0.1:8080 (busybox httpd, which binds before it goes to
# the background); compares the exit code and the first line of stdout (WANT_OUT "*"
# matches anything, "~TEXT" means stdout or stderr contains TEXT).
expect() {
    local name=$1 user=$2 want_code=$3 want_out=$4
    shift 4
    local out err code=0
    out=$(docker run --rm --user "$user" --network none "$image" \
        /bin/sh -c 'httpd -p 127.0.0.1:8080 -h /tmp && exec "$@"' sh "$@" \
        2>"$root/stderr") || code=$?
    err=$(cat "$root/stderr")
    local first=${out%%$'\n'*}
    local ok=1
    [[ $code == "$want_code" ]] || ok=0
    case $want_out in
    '*') ;;
    '~'*) [[ "$out$err" == *"${want_out#\~}"* ]] || ok=0 ;;
    *) [[ $first == "$want_out" ]] || ok=0 ;;
    esac
    if ((ok)); then
        say "PASS $name ($user)"
    else
        say "FAIL $name ($user): exit $code, want $want_code; stdout: $out; stderr: $err"
        failed=1
    fi
}

sys=(-r /bin -r /etc -r /probe -w /dev/null)
for user in 0:0 65534:65534; do
    # What the profile takes away, as check reports it.
    expect "check: pidfd_getfd refused" "$user" 0 "~pidfd_getfd is refused here" \
        sandlet check
    expect "default run" "$user" 0 hello sandlet run "${sys[@]}" -- echo hello
    expect "landlock holds" "$user" 1 "*" sandlet run -r /bin -- cat /etc/passwd
    expect "tcp:// rule with an address" "$user" 0 "ok bound EOPNOTSUPP" \
        sandlet run "${sys[@]}" --net-allow tcp://127.0.0.1:8080 --net-allow-bind 0 \
        -- /probe/probe tcp_twin 127.0.0.1 8080
    expect "tcp:// rule refuses another port" "$user" 0 "err ECONNREFUSED" \
        sandlet run "${sys[@]}" --net-allow tcp://127.0.0.1:8081 \
        -- /probe/probe tcp_connect 127.0.0.1 8080
    expect "scheme-less rule (UDP) refuses at start" "$user" 125 "~SYS_PTRACE" \
        sandlet run "${sys[@]}" --net-allow 127.0.0.1:8080 -- true
    expect "--random-seed" "$user" 0 "$seeded" \
        sandlet run "${sys[@]}" --random-seed 1 -- /probe/probe getrandom 16
    expect "--random-seed: /dev/urandom" "$user" 0 "$urandom" \
        sandlet run "${sys[@]}" --random-seed 1 -- /bin/busybox sh -c "$stream" /bin/busybox
    expect "--time-start" "$user" 0 2000 \
        sandlet run "${sys[@]}" --time-start 2000-01-01T00:00:00Z -- date -u +%Y
    expect "--name" "$user" 0 box sandlet run "${sys[@]}" --name box -- uname -n
    expect "--name serves /etc/hostname" "$user" 0 box \
        sandlet run "${sys[@]}" --name box -- cat /etc/hostname
    expect "--policy-exec refuses at start" "$user" 125 "~SYS_PTRACE" \
        sandlet run "${sys[@]}" --policy-exec /bin/true -- true
    expect "--deny-exec" "$user" 126 "*" \
        sandlet run "${sys[@]}" --deny-exec /bin/busybox -- /bin/sh -c 'exec /bin/true'
    expect "-m and -P" "$user" 0 ok \
        sandlet run "${sys[@]}" -m 64M -P 4 -- echo ok
    # Docker's profile refuses unshare(CLONE_NEWUSER) and mount: the view fails closed.
    expect "--workdir refuses at start" "$user" 125 "~namespace" \
        sandlet run "${sys[@]}" --workdir /probe -- true
    expect "--chroot refuses at start" "$user" 125 "~namespace" \
        sandlet run --chroot /probe -- /probe getrandom 1
done

# The same image from `docker save`, run by sandlet on this host with --image.
docker save "$image" -o "$root/saved.tar"
saved=$(XDG_CACHE_HOME="$root/cache" "$bin" run --image "$root/saved.tar:latest" \
    -- /bin/cat /etc/hostname 2>&1) || true
if [[ $saved == box-host ]]; then
    say "PASS --image of a docker save archive"
else
    say "FAIL --image of a docker save archive: $saved"
    failed=1
fi

if ((failed)); then
    say "some checks failed"
    exit 1
fi
say "all checks passed"
