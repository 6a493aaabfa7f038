#!/usr/bin/env bash
# framecast on a real, shaped link: a sender and a receiver in a private
# network namespace (loopback, MTU 1500) with a `tc` shaper on the path
# from sender to receiver (rate, router queue depth, and a schedule of rate
# changes), printing per second the frames shown, the JPEG quality and size
# in use, the bytes and the latency p50/p99/max, then the totals; and the
# original Python programs (benches/compare) over the same link for the
# side-by-side row. Needs root (for the namespace and tc) and a release
# build of framecast (built here unless FRAMECAST points at one).
#
#   scripts/link-bench.sh --rate 10mbit --queue 50ms --seconds 60
#   scripts/link-bench.sh --schedule "20mbit@0 4mbit@10 20mbit@20" --plot steps.png
#   scripts/link-bench.sh --rate 4mbit --original --runs 3 --json out.json
#   scripts/link-bench.sh --rate 4mbit -- --adapt off      (arguments after -- go to `framecast send`)
#   scripts/link-bench.sh --rate none --adapt-off-too --original   (unshaped: the LAN case, CPU per frame)
#
# `scripts/link-bench.sh --help` lists every option. The method is in
# scripts/link_bench.py's header; measured tables are in docs/performance.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

if [ "$(id -u)" -ne 0 ]; then
  echo "link-bench: needs root, for a private network namespace and its tc shaper" >&2
  exit 2
fi
for tool in unshare tc ip python3; do
  if ! command -v "$tool" >/dev/null; then
    echo "link-bench: $tool is missing (Debian: util-linux, iproute2, python3)" >&2
    exit 2
  fi
done
if [ -z "${FRAMECAST:-}" ]; then
  (cd "$root" && cargo build --release -q -p framecast-apps --bin framecast)
  export FRAMECAST="$root/target/release/framecast"
fi
# The original programs need OpenCV, NumPy and protobuf: the project's
# .venv (scripts/setup.sh makes it); a plot needs matplotlib too, added to
# it on first use (CI does not need it).
python=python3
if [[ " $* " == *" --original "* || " $* " == *" --plot "* ]]; then
  if ! "$root/.venv/bin/python" -c "import cv2, numpy, google.protobuf" 2>/dev/null; then
    "$root/scripts/setup.sh"
  fi
  python="$root/.venv/bin/python"
  if [[ " $* " == *" --plot "* ]] && ! "$python" -c "import matplotlib" 2>/dev/null; then
    echo "link-bench: installing matplotlib into .venv for --plot"
    "$root/.venv/bin/pip" install -q --disable-pip-version-check matplotlib
  fi
fi
# Everything below runs in a network namespace of its own: its loopback is
# shaped, nothing else on the machine is, and it vanishes with the run.
exec unshare --net -- "$python" "$root/scripts/link_bench.py" "$@"
