#!/usr/bin/env bash
# Builds a statically linked release binary of sandlet.
#
# Uses the musl target ($(uname -m)-unknown-linux-musl) when rustup has it installed,
# otherwise the host's gnu target with glibc linked statically (+crt-static). The target
# is always passed explicitly, so RUSTFLAGS reaches only the target crates, never build
# scripts or proc macros.
#
# Progress and details go to stderr; the binary's path is the only line on stdout:
#     bin=$(scripts/build-static.sh)
# Override the target with SANDLET_TARGET=<triple>.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '%s\n' "$*" >&2; }
die() { say "build-static: error: $*"; exit 1; }

arch=$(uname -m)
musl="${arch}-unknown-linux-musl"
gnu="${arch}-unknown-linux-gnu"

installed=""
if command -v rustup >/dev/null 2>&1; then
    installed=$(rustup target list --installed 2>/dev/null || true)
fi

if [[ -n "${SANDLET_TARGET:-}" ]]; then
    target="$SANDLET_TARGET"
elif grep -qx "$musl" <<<"$installed"; then
    target="$musl"
else
    target="$gnu"
    say "build-static: $musl is not installed; linking glibc statically ($gnu, +crt-static)"
fi

export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-C target-feature=+crt-static"
say "build-static: RUSTFLAGS='$RUSTFLAGS' cargo build --release --target $target"
cargo build --release --target "$target" >&2

bin="target/$target/release/sandlet"
[[ -x "$bin" ]] || die "$bin was not produced"

# Verify the result is static: `file` first, `ldd` when `file` is missing.
if command -v file >/dev/null 2>&1; then
    info=$(file -L "$bin")
    say "file: ${info#"$bin": }"
    grep -Eq 'statically linked|static-pie linked' <<<"$info" \
        || die "$bin is not statically linked (file: $info)"
elif command -v ldd >/dev/null 2>&1; then
    # ldd exits non-zero for a non-dynamic executable; only its message matters.
    info=$(ldd "$bin" 2>&1 || true)
    say "ldd: $info"
    grep -Eq 'not a dynamic executable|statically linked' <<<"$info" \
        || die "$bin is dynamically linked (ldd: $info)"
else
    die "neither 'file' nor 'ldd' is installed; cannot verify that $bin is static"
fi

bytes=$(stat -c %s "$bin")
say "size: $bytes bytes ($(( (bytes + 1023) / 1024 )) KiB)"
say "static binary: $bin"
printf '%s\n' "$PWD/$bin"
