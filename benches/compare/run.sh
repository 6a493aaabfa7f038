#!/usr/bin/env bash
# One command for the side-by-side comparison: installs what it needs with
# the project's own scripts/setup.sh (Debian's GStreamer and the .venv with
# OpenCV, NumPy and protobuf are part of it), builds framecast in release
# mode, then runs compare.py, which prints each pipeline's frames/s, latency
# and CPU per frame per side with ratios to framecast. Arguments go to
# compare.py (--rounds, --frames, --paced, --json FILE, ...; see
# `run.sh --help`).
#
# `run.sh --smoke` is CI's run: a few hundred frames, one round, no release
# build (it uses the debug binary the test suite built, building it if it is
# missing), no figures checked, only that every pipeline moved its frames.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
"$root/scripts/setup.sh"
binary="$root/target/release/framecast"
for arg in "$@"; do
  if [ "$arg" = "--smoke" ]; then
    binary="$root/target/debug/framecast"
  fi
done
if [ "$binary" = "$root/target/release/framecast" ]; then
  (cd "$root" && cargo build --release -p framecast-apps --bin framecast)
elif [ ! -x "$binary" ]; then
  (cd "$root" && cargo build -p framecast-apps --bin framecast)
fi
exec "$root/.venv/bin/python" "$here/compare.py" --framecast "$binary" "$@"
