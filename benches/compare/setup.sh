#!/usr/bin/env bash
# Installs what benches/compare needs beyond the Rust toolchain, skipping what
# is already there: Debian's GStreamer 1.22 (the pipeline compared against)
# and a Python virtual environment at benches/compare/.venv with the original
# programs' libraries (OpenCV, NumPy, protobuf), and matplotlib for
# scripts/link-bench.sh's plots. Not part of CI: only the
# comparison needs these. Debian/Ubuntu; run as root or with sudo available.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good python3-venv)
PIP_PACKAGES=(opencv-python-headless numpy protobuf matplotlib)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "compare setup: installing system packages: ${missing[*]}"
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "compare setup: creating benches/compare/.venv"
  "$python" -m venv .venv
fi
if ! .venv/bin/python -c "import cv2, numpy, google.protobuf, matplotlib" 2>/dev/null; then
  echo "compare setup: installing Python packages: ${PIP_PACKAGES[*]}"
  .venv/bin/pip install -q --disable-pip-version-check "${PIP_PACKAGES[@]}"
fi
