#!/usr/bin/env bash
# The whole test suite, as run by CI (.ci/run): formatting, lints, unit and integration
# tests, then `sandlet check` for information. Stops at the first failing stage.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

stage() { printf '\n==> %s\n' "$*"; }

# The end-to-end stages drive daemons and terminals (and read no stdin themselves):
# each gets a hard time limit, so a hang fails its stage instead of outliving CI's clock.
bounded() { timeout -k 30 1200 "$@"; }

stage "cargo fmt --check"
cargo fmt --check

stage "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

stage "cargo test (all unit and integration tests)"
# Checks that cannot run on this machine are recorded here (tests/util: skip()).
skips=target/tmp/skipped.log
mkdir -p target/tmp
rm -f "$skips"
cargo test --no-fail-fast

stage "skipped checks"
if [[ -s $skips ]]; then
    sort "$skips"
    echo "$(wc -l < "$skips") check(s) skipped on this machine"
else
    echo "none"
fi

stage "inside Docker's default seccomp profile (skips where no engine runs)"
bounded scripts/docker-e2e.sh

stage "as containerd's OCI runtime, against runc (skips where containerd cannot start)"
bounded scripts/containerd-e2e.sh

stage "sandlet check (informational)"
if ! cargo run --quiet -- check; then
    echo "(this kernel lacks a protection a default run needs; the tests above still ran)"
fi

stage "all stages passed"
