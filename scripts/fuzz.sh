#!/usr/bin/env bash
# Runs every cargo-fuzz target briefly, with AddressSanitizer, from the seed
# corpus in fuzz/corpus (new inputs go to a temporary directory, so the
# seeds stay as they are). Any crash, leak or sanitizer report fails the
# script. Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] (default 30).
#
# The sanitizer needs nightly-only compiler flags; RUSTC_BOOTSTRAP=1 lets
# the stable toolchain accept them.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}

if ! command -v cargo-fuzz >/dev/null; then
  cargo install cargo-fuzz --locked --quiet
fi
export RUSTC_BOOTSTRAP=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

targets=$(sed -n 's/^name = "\(.*\)"/\1/p' fuzz/Cargo.toml | grep -v '^framecast-fuzz$')
(cd fuzz && cargo fuzz build --sanitizer address)
for t in $targets; do
  mkdir -p "$work/$t"
  echo "== fuzz $t (${seconds} s)"
  log="$work/$t.log"
  if ! (cd fuzz && cargo fuzz run --sanitizer address "$t" "$work/$t" "corpus/$t" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -artifact_prefix="$work/$t-" \
      -print_final_stats=1) >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: $t FAILED; the input is in the log above (base64 via -print_final_stats)"
    for a in "$work/$t"-*; do
      [ -e "$a" ] && { echo "crashing input ($a):"; base64 "$a"; }
    done
    exit 1
  fi
  grep -E "^stat::number_of_executed_units|^Done [0-9]+ runs" "$log" | tr '\n' ' '
  echo
done
