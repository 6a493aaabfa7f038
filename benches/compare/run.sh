#!/usr/bin/env bash
# One command for the side-by-side comparison: installs what it needs
# (setup.sh), builds framecast in release mode, then runs compare.py, which
# prints each pipeline's frames/s, latency and CPU per frame per side with
# ratios to framecast. Arguments go to compare.py (--rounds, --frames,
# --paced, --json FILE, ...; see `run.sh --help`).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
"$here/setup.sh"
(cd "$root" && cargo build --release -p framecast-apps --bin framecast)
exec "$here/.venv/bin/python" "$here/compare.py" --framecast "$root/target/release/framecast" "$@"
