#!/usr/bin/env bash
# What a NATS hop adds to a frame's latency, end to end through framecast:
# one `framecast send` (the test pattern, 640x480 scaled to 400x400, JPEG q95,
# 30 fps) into a receiver that shows its frames and publishes them to a
# throwaway nats-server (`recv --publish`), and a second receiver that takes
# them from NATS (`recv --from`). Both receivers measure each frame from its
# capture time to when it was decoded and scaled. Then, one after the other,
# a sender straight into a receiver over TCP, and a sender publishing
# straight to NATS into a receiver taking from NATS: the same two processes,
# with and without the NATS hop.
#
#   scripts/nats-latency.sh [FRAMES]        (default 300; needs a release build)
set -euo pipefail
cd "$(dirname "$0")/.."

frames=${1:-300}
bin=${FRAMECAST:-target/release/framecast}
nats=${FRAMECAST_NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$nats" -a 127.0.0.1 -p "$port" >"$dir/nats.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -qs "Server is ready" "$dir/nats.log" && break; sleep 0.05; done
url="nats://127.0.0.1:$port"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $frames frames at 30 fps"

p50() { python3 -c "import json,sys; l=json.load(open(sys.argv[1]))['latency_ms']; print(f\"p50 {l['p50']:.2f} ms, p99 {l['p99']:.2f} ms\")" "$1"; }

# 1. TCP sender → receiver (shows, publishes) → NATS → receiver.
"$bin" -q recv --display none --from "$url" --count "$frames" --stats-json "$dir/viewer.json" \
  >/dev/null 2>"$dir/viewer.err" &
viewer=$!
pids+=($viewer)
"$bin" -q recv --display none --listen 127.0.0.1:0 --publish "$url" --count "$frames" \
  --stats-json "$dir/camera.json" >/dev/null 2>"$dir/camera.err" &
camera=$!
pids+=($camera)
for _ in $(seq 200); do grep -qs "publishing to NATS" "$dir/camera.err" && break; sleep 0.05; done
addr=$(grep -o 'listening on [0-9.:]*' "$dir/camera.err" | cut -d' ' -f3)
"$bin" -q send --to "$addr" --name cam --count "$frames" >/dev/null
wait "$camera" || true
# The viewer ends at its count, unless NATS lost frames: then it is stopped.
sleep 2
kill -INT "$viewer" 2>/dev/null || true
wait "$viewer" || true
echo "receiver beside the sender (TCP):      $(p50 "$dir/camera.json")"
echo "receiver behind NATS (one server):     $(p50 "$dir/viewer.json")"

# 2. A sender straight into a receiver, over TCP.
"$bin" -q recv --display none --listen 127.0.0.1:0 --count "$frames" --stats-json "$dir/tcp.json" \
  >/dev/null 2>"$dir/tcp.err" &
tcp=$!
pids+=($tcp)
for _ in $(seq 200); do grep -qs "listening on" "$dir/tcp.err" && break; sleep 0.05; done
addr=$(grep -o 'listening on [0-9.:]*' "$dir/tcp.err" | cut -d' ' -f3)
"$bin" -q send --to "$addr" --name cam --count "$frames" >/dev/null
wait "$tcp" || true
echo "send → recv over TCP:                  $(p50 "$dir/tcp.json")"

# 3. A sender publishing straight to NATS → a receiver taking from NATS.
"$bin" -q recv --display none --from "$url" --count "$frames" --stats-json "$dir/direct.json" \
  >/dev/null 2>"$dir/direct.err" &
direct=$!
pids+=($direct)
for _ in $(seq 200); do grep -qs "receiving from NATS" "$dir/direct.err" && break; sleep 0.05; done
"$bin" -q send --to "$url/framecast.cam" --count "$frames" >/dev/null
sleep 2
kill -INT "$direct" 2>/dev/null || true
wait "$direct" || true
echo "send --to nats:// → recv --from:       $(p50 "$dir/direct.json")"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
