#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need
# (scripts/setup.sh), then formatting, lints, docs and every test with every
# feature on, then the side-by-side comparison as a smoke test (a few hundred
# frames through each pipeline, nothing timed, so that it cannot rot). FRAMECAST_CI=1 makes tests that need an external tool (Xvfb,
# xdotool, ffmpeg, Chromium, nats-server, the Python peers) fail rather than skip when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

export FRAMECAST_CI=1
export FRAMECAST_PYTHON="$PWD/.venv/bin/python"
export CARGO_TERM_COLOR=never
# A one-off build gains nothing from incremental state but gigabytes of disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

echo "== cargo fmt"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --all-features -- -D warnings
echo "== cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps
echo "== cargo test"
cargo test --workspace --all-features --no-fail-fast
echo "== benches/compare (smoke)"
benches/compare/run.sh --smoke
