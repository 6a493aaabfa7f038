#!/usr/bin/env bash
# Installs what framecast's full test suite needs beyond the Rust toolchain,
# skipping whatever is already there:
#   - system packages: libclang (the camera feature's V4L bindings are generated
#     at build time), Xvfb + xdotool + xwd + ImageMagick (real-window tests),
#     ffmpeg (MJPEG interop fixtures), PostgreSQL (the catalog's shared store;
#     the tests start throwaway servers of their own), nats-server (frames
#     over NATS; the tests start throwaway servers and a cluster of their
#     own), Chromium (the HTTP viewer's browser test), curl (the README's
#     tour), GStreamer 1.22's command-line tools and base and good plugins
#     (the pipeline benches/compare measures against; CI runs it as a smoke
#     test), systemd (`systemd-analyze verify` checks contrib/systemd's units);
#   - a Python virtual environment at .venv with the stock peers the interop
#     tests run against (protobuf, OpenCV, gRPC tools), which are also the
#     original programs' libraries that benches/compare runs.
# Debian/Ubuntu; run as root or with sudo available.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(libclang-dev clang xvfb xdotool x11-apps imagemagick ffmpeg python3-venv systemd
  libxkbcommon-x11-0 libx11-xcb1 libxcursor1 libxrandr2 libxi6 postgresql nats-server chromium curl
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good)
PIP_PACKAGES=(protobuf opencv-python-headless numpy grpcio grpcio-tools grpcio-health-checking grpcio-reflection)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing system packages: ${missing[*]}"
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$python" -m venv .venv
fi
if ! .venv/bin/python -c "import google.protobuf, cv2, numpy, grpc, grpc_tools, grpc_health, grpc_reflection" 2>/dev/null; then
  echo "setup: installing Python packages: ${PIP_PACKAGES[*]}"
  .venv/bin/pip install -q --disable-pip-version-check "${PIP_PACKAGES[@]}"
fi
