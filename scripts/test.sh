#!/usr/bin/env bash
# The whole test suite, as run by CI (.ci/run): formatting, lints, unit and integration
# tests, then `sandlet check` for information. Stops at the first failing stage.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

stage() { printf '\n==> %s\n' "$*"; }

stage "cargo fmt --check"
cargo fmt --check

stage "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

stage "cargo test (all unit and integration tests)"
cargo test --no-fail-fast

stage "sandlet check (informational)"
if ! cargo run --quiet -- check; then
    echo "(this kernel lacks a protection a default run needs; the tests above still ran)"
fi

stage "all stages passed"
