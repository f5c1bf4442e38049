#!/usr/bin/env bash
# sandlet as containerd's OCI runtime: a private containerd (own root, state and socket,
# CRI plugin off) started here, a busybox rootfs built here, and `ctr run --runc-binary
# sandlet-runc` (the static sandlet under that name). Every check runs against runc
# first (the control: the checks hold there, or are marked sandlet-only) and then
# against sandlet-runc; the time per container start is reported for both.
# Skips (exit 0, saying why) only when containerd, ctr or runc is missing or
# containerd cannot start. Usage: scripts/containerd-e2e.sh [SANDLET_BINARY]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# No check reads stdin; a terminal there would stop `ctr run` (it copies stdin into the
# container) and script(1) with SIGTTIN whenever this script is a background job.
exec </dev/null

say() { printf 'containerd-e2e: %s\n' "$*"; }
skip() {
    say "SKIP: $*"
    exit 0
}
for tool in containerd ctr runc containerd-shim-runc-v2 python3 script gcc; do
    command -v "$tool" >/dev/null 2>&1 || skip "no $tool (apt-get install containerd runc)"
done
[[ -x /bin/busybox ]] || skip "no static busybox (apt-get install busybox-static)"

work=$(mktemp -d /tmp/sandlet-ctd.XXXXXX)
ctd_pid="" server_pid=""
cleanup() {
    [[ -z $server_pid ]] || kill "$server_pid" 2>/dev/null || true
    if [[ -n $ctd_pid ]]; then
        kill "$ctd_pid" 2>/dev/null || true
        wait "$ctd_pid" 2>/dev/null || true
    fi
    [[ -z ${ns_server:-} ]] || kill "$ns_server" 2>/dev/null || true
    ip netns delete "sandlet-e2e-$$" 2>/dev/null || true
    umount -R "$work/ctd" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

bin=${1:-}
[[ -n $bin ]] || bin=$(scripts/build-static.sh)
cp "$bin" "$work/sandlet-runc"

# A private containerd.
mkdir -p "$work/ctd"
cat >"$work/ctd/config.toml" <<EOF
version = 2
root = "$work/ctd/root"
state = "$work/ctd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$work/ctd/sock"
EOF
containerd --config "$work/ctd/config.toml" >"$work/ctd/log" 2>&1 &
ctd_pid=$!
ctr=(ctr --address "$work/ctd/sock" --namespace sandlet-e2e)
for _ in $(seq 1 100); do
    "${ctr[@]}" version >/dev/null 2>&1 && break
    sleep 0.1
done
"${ctr[@]}" version >/dev/null 2>&1 || skip "containerd does not start: $(tail -n 2 "$work/ctd/log")"
say "containerd $(containerd --version | awk '{print $3}') running privately"

# The rootfs: busybox with relative applet links, mount points made in advance (so a
# run that adds anything to the rootfs shows up), a file only the host has.
rootfs="$work/rootfs"
mkdir -p "$rootfs"/{bin,etc,proc,dev,tmp,sys,data,run}
cp /bin/busybox "$rootfs/bin/busybox"
for applet in sh cat echo ls test tty sleep true touch; do
    ln -s busybox "$rootfs/bin/$applet"
done
echo inside >"$rootfs/etc/marker"
gcc -O1 -static -o "$rootfs/bin/probe" tests/probes/probe.c
echo "host secret" >"$work/host-only"
mkdir "$work/shared" && echo original >"$work/shared/f"
listing() { (cd "$rootfs" && find . | sort); }
before=$(listing)

# A loopback server on the host.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir "$work/www" && echo served >"$work/www/index.html"
python3 -m http.server --bind 127.0.0.1 --directory "$work/www" "$port" >/dev/null 2>&1 &
server_pid=$!
for _ in $(seq 1 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null && break
    sleep 0.1
done

failed=0
# check RUNTIME NAME WANT_EXIT("!0": any failure) WANT_OUT(first line, "*" any,
# "~TEXT" contains) ARGS...
check() {
    local runtime=$1 name=$2 want_code=$3 want_out=$4
    shift 4
    local out code=0 ok=1
    out=$("$@" 2>&1) || code=$?
    local first=${out%%$'\n'*}
    case $want_code in
    '!0') [[ $code != 0 ]] || ok=0 ;;
    *) [[ $code == "$want_code" ]] || ok=0 ;;
    esac
    case $want_out in
    '*') ;;
    '~'*) [[ $out == *"${want_out#\~}"* ]] || ok=0 ;;
    *) [[ $first == "$want_out" ]] || ok=0 ;;
    esac
    if ((ok)); then
        say "PASS [$runtime] $name"
    else
        say "FAIL [$runtime] $name: exit $code, want $want_code; output: $out"
        failed=1
    fi
}

# One container run with RUNTIME, --rm, the rootfs; extra ctr flags before --.
run() {
    local runtime=$1
    shift
    local flags=()
    while [[ $1 != -- ]]; do
        flags+=("$1")
        shift
    done
    shift
    # check() runs this in a subshell, so n does not count here: a random name.
    timeout -k 5 60 "${ctr[@]}" run --runc-binary "$runtime" --rm "${flags[@]}" \
        --rootfs "$rootfs" "c$$-$RANDOM$RANDOM" "$@"
}

# Runs the shell command line CMD on a fresh terminal: script(1) in a session of its
# own (its stdin is this script's /dev/null), under a hard time limit. Inside CMD,
# `timeout --foreground`: without SHELL (as in CI) script(1) runs CMD with dash, whose
# child timeout(1) would put ctr in a process group of its own, in the background of
# the new terminal, where ctr -t setting raw mode is stopped by SIGTTOU.
on_tty() {
    timeout -k 5 90 setsid -w script -qec "$1" /dev/null
}

# tty_check RUNTIME NAME WANT_EXIT CMD: CMD (a ctr command line with -t) on a fresh
# terminal must exit WANT_EXIT and print a /dev/pts name. runc goes first: where
# runc's control fails it, `ctr -t` does not work on this machine, so both runtimes
# say SKIP, with what the terminal looked like, instead of passing or failing on
# nothing.
declare -A tty_broken=()
tty_check() {
    local runtime=$1 name=$2 want_code=$3 cmd=$4 out code=0
    out=$(on_tty "$cmd" 2>&1) || code=$?
    if [[ $code == "$want_code" && $out == *"/dev/pts/"* ]]; then
        say "PASS [$runtime] $name"
    elif [[ $runtime == runc ]]; then
        tty_broken[$name]=1
        say "SKIP [runc] $name: ctr -t fails here with runc too (exit $code, output: $out;" \
            "script(1) alone: $(on_tty tty 2>&1 | tr -d '\r'), SHELL=${SHELL:-unset})"
    elif [[ -n ${tty_broken[$name]:-} ]]; then
        say "SKIP [$runtime] $name: runc's control failed it (exit $code here)"
    else
        say "FAIL [$runtime] $name: exit $code, want $want_code; output: $out"
        failed=1
    fi
}

# Removes task and container ID if a check left them (a check that timed out).
remove() {
    timeout -k 5 30 "${ctr[@]}" task kill -s SIGKILL --all "$1" >/dev/null 2>&1 || true
    timeout -k 5 30 "${ctr[@]}" task delete --force "$1" >/dev/null 2>&1 || true
    timeout -k 5 30 "${ctr[@]}" container delete "$1" >/dev/null 2>&1 || true
}

# Waits until task ID has status STATUS (RUNNING, STOPPED).
until_status() {
    for _ in $(seq 1 100); do
        "${ctr[@]}" task ls 2>/dev/null | grep -q "^$1 .*$2" && return 0
        sleep 0.1
    done
    return 1
}

suite() {
    local rt=$1 tag=$2
    check "$tag" "exit code and stdout pass through" 5 "hello inside" \
        run "$rt" -- /bin/sh -c 'echo hello $(cat /etc/marker); exit 5'
    check "$tag" "host paths are invisible" 1 "*" run "$rt" -- /bin/cat "$work/host-only"
    check "$tag" "a read-only bind mount cannot be written" 1 "~original" \
        run "$rt" --mount "type=bind,src=$work/shared,dst=/data,options=rbind:ro" \
        -- /bin/sh -c 'cat /data/f; echo changed > /data/f'
    [[ $(cat "$work/shared/f") == original ]] || {
        say "FAIL [$tag] the read-only bind's source changed"
        failed=1
    }
    check "$tag" "a file bound beneath /dev (as /dev/termination-log)" 0 "original" \
        run "$rt" --mount "type=bind,src=$work/shared/f,dst=/dev/termination-log,options=rbind:ro" \
        -- /bin/cat /dev/termination-log
    check "$tag" "a read-write bind mount writes the host" 0 "*" \
        run "$rt" --mount "type=bind,src=$work/shared,dst=/data,options=rbind:rw" \
        -- /bin/sh -c "echo rw-$tag > /data/g"
    [[ $(cat "$work/shared/g" 2>/dev/null) == "rw-$tag" ]] || {
        say "FAIL [$tag] the read-write bind did not reach the host"
        failed=1
    }
    check "$tag" "/dev/shm and /run are tmpfs, /sys is read-only" 0 "ok" \
        run "$rt" -- /bin/sh -c 'echo x > /dev/shm/a && echo y > /run/b &&
            ! (echo z > /sys/kernel/x) 2>/dev/null && echo ok'
    check "$tag" "/dev/null is a character device" 0 "yes" \
        run "$rt" -- /bin/sh -c 'test -c /dev/null && echo yes && echo x > /dev/null'
    check "$tag" "a host loopback server is unreachable by default" 0 "~err E" \
        run "$rt" -- /bin/probe tcp_connect 127.0.0.1 "$port"
    # Detached, exec, TERM caught (seen in delete's report), delete.
    local id="d$tag$$"
    timeout -k 5 30 "${ctr[@]}" run --runc-binary "$rt" -d --rootfs "$rootfs" "$id" \
        /bin/sh -c 'trap "exit 3" TERM; while :; do sleep 0.1; done' >/dev/null
    until_status "$id" RUNNING
    check "$tag" "task exec (exit 5)" 5 "exec-out" \
        timeout -k 5 30 "${ctr[@]}" task exec --exec-id e1 "$id" /bin/sh -c 'echo exec-out; exit 5'
    tty_check "$tag" "task exec -t: a /dev/pts terminal, exit 6" 6 \
        "timeout --foreground -k 5 30 ${ctr[*]} task exec -t --exec-id e2 $id /bin/sh -c 'tty; exit 6'"
    check "$tag" "task pause" 0 "*" timeout -k 5 30 "${ctr[@]}" task pause "$id"
    check "$tag" "paused" 0 "*" until_status "$id" PAUSED
    check "$tag" "task resume" 0 "*" timeout -k 5 30 "${ctr[@]}" task resume "$id"
    check "$tag" "running again" 0 "*" until_status "$id" RUNNING
    timeout -k 5 30 "${ctr[@]}" task kill "$id"
    until_status "$id" STOPPED
    check "$tag" "task kill: TERM caught, exit 3; task delete" 0 "~exit code 3" \
        timeout -k 5 30 "${ctr[@]}" task delete "$id"
    remove "$id"
    # SIGKILL -> 137, with and without --all: the status `ctr run` ends with.
    local waiter
    waiter=$(mktemp "$work/wait.XXXXXX")
    for all in "" "--all"; do
        id="k$tag${all:+all}$$"
        (
            code=0
            timeout -k 5 60 "${ctr[@]}" run --runc-binary "$rt" --rm --rootfs "$rootfs" "$id" \
                /bin/sh -c 'while :; do sleep 0.1; done' </dev/null >/dev/null 2>&1 || code=$?
            echo "status $code" >"$waiter"
        ) &
        local wpid=$!
        until_status "$id" RUNNING
        timeout -k 5 30 "${ctr[@]}" task kill -s SIGKILL $all "$id"
        wait "$wpid" || true
        check "$tag" "SIGKILL ${all:-without --all} -> 137" 0 "status 137" cat "$waiter"
    done
    # A terminal: `tty; exit 4` under script(1).
    id="t$tag$$"
    tty_check "$tag" "run -t: a /dev/pts terminal, exit 4" 4 \
        "timeout --foreground -k 5 60 ${ctr[*]} run -t --runc-binary $rt --rm --rootfs $rootfs $id /bin/sh -c 'tty; exit 4'"
    remove "$id"
}

# Start-up: mean time of `ctr run --rm ... /bin/true` over 10 runs.
timing() {
    local rt=$1 start end
    start=$(date +%s%N)
    for _ in $(seq 1 10); do
        run "$rt" -- /bin/true >/dev/null
    done
    end=$(date +%s%N)
    echo $(((end - start) / 10000000))
}

suite runc runc
suite "$work/sandlet-runc" sandlet
check sandlet "the loopback server is reachable with io.sandlet.net-allow" 0 "ok" \
    run "$work/sandlet-runc" --annotation "io.sandlet.net-allow=tcp://127.0.0.1:$port" \
    -- /bin/probe tcp_connect 127.0.0.1 "$port"
check sandlet "a bad io.sandlet annotation is refused" 1 "~io.sandlet.nope" \
    run "$work/sandlet-runc" --annotation "io.sandlet.nope=1" -- /bin/true

# linux.namespaces network with a path: the container joins it (a pod's network). A
# server listens on 127.0.0.1 inside a fresh namespace only; the host's port is free.
ns="sandlet-e2e-$$"
if ip netns add "$ns" 2>/dev/null; then
    ip netns exec "$ns" ip link set lo up
    nsport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    ip netns exec "$ns" python3 -m http.server --bind 127.0.0.1 --directory "$work/www" \
        "$nsport" >/dev/null 2>&1 &
    ns_server=$!
    for _ in $(seq 1 50); do
        ip netns exec "$ns" python3 -c "import socket; socket.create_connection(('127.0.0.1',$nsport),1)" \
            2>/dev/null && break
        sleep 0.1
    done
    for rt in runc "$work/sandlet-runc"; do
        tag=$([[ $rt == runc ]] && echo runc || echo sandlet)
        check "$tag" "a network namespace path is joined" 0 "ok" \
            run "$rt" --with-ns "network:/var/run/netns/$ns" \
            --annotation "io.sandlet.net-allow=tcp://127.0.0.1:$nsport" \
            -- /bin/probe tcp_connect 127.0.0.1 "$nsport"
    done
    check sandlet "control: without it, that port is closed on the host" 0 "err ECONNREFUSED" \
        run "$work/sandlet-runc" --annotation "io.sandlet.net-allow=tcp://127.0.0.1:$nsport" \
        -- /bin/probe tcp_connect 127.0.0.1 "$nsport"
    kill "$ns_server" 2>/dev/null || true
    ip netns delete "$ns"
else
    say "SKIP network namespace join: ip netns add failed"
fi

# Nothing left behind.
[[ $(listing) == "$before" ]] || {
    say "FAIL the rootfs on the host changed: $(diff <(echo "$before") <(listing) | head -5)"
    failed=1
}
tasks=$("${ctr[@]}" task ls -q)
[[ -z $tasks ]] || {
    say "FAIL tasks left: $tasks"
    failed=1
}
left=$(find "$work/ctd/state" -name state.json 2>/dev/null | head -3)
[[ -z $left ]] || {
    say "FAIL runtime state left: $left"
    failed=1
}
for p in /proc/[0-9]*; do
    if [[ $(readlink "$p/root" 2>/dev/null) == "$rootfs"* ]]; then
        say "FAIL process ${p#/proc/} is still rooted in the bundle"
        failed=1
    fi
done

say "start-up (ctr run --rm /bin/true, mean of 10): runc $(timing runc) ms, sandlet-runc $(timing "$work/sandlet-runc") ms"
if ((failed)); then
    say "some checks failed"
    exit 1
fi
say "all checks passed"
