#!/usr/bin/env bash
# Decoding shared by cost: a good 30 fps 400x400 stream beside one and then
# two authenticated 3840x2160 senders (JPEG q92, random noise: about 6 MB a
# frame) at 15 fps, into one receiver pinned to one core (`taskset`), so
# that its decode workers share that core. Prints the frame rate the good
# stream was shown at, and what the 4K streams got.
#
#   scripts/fair-decode.sh [SECONDS] [CPU]   (default 20 s on CPU 1; needs a
#                                            release build and taskset)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-20}
cpu=${2:-1}
bin=${FRAMECAST:-target/release/framecast}
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

head -c 40 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/token"
echo >>"$dir/token"

# One 4K frame of noise, encoded by framecast itself at q92, recorded as it
# arrived: the 4K senders forward it unchanged (pass-through), so sending
# costs them nothing but the socket.
head -c $((3840 * 2160 * 3)) /dev/urandom >"$dir/noise.rgb"
"$bin" -q recv --display none --listen 127.0.0.1:0 --count 1 --max-frame-len 16000000 \
  --record "$dir/4k.mjpeg" --token-file "$dir/token" >/dev/null 2>"$dir/make.err" &
maker=$!
for _ in $(seq 200); do grep -qs "listening on" "$dir/make.err" && break; sleep 0.05; done
addr=$(grep -o 'listening on [0-9.:]*' "$dir/make.err" | cut -d' ' -f3)
"$bin" -q send --to "$addr" --source "raw:$dir/noise.rgb" --input-size 3840x2160 \
  --size 3840x2160 --quality 92 --count 1 --token-file "$dir/token" >/dev/null
wait "$maker"
echo "4K frame: $(stat -c %s "$dir/4k.mjpeg") bytes; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

run() {
  local heavy=$1
  taskset -c "$cpu" "$bin" -q recv --display none --listen 127.0.0.1:0 --max-frame-len 16000000 \
    --token-file "$dir/token" --stats-json "$dir/recv-$heavy.json" >/dev/null 2>"$dir/recv-$heavy.err" &
  local recv=$!
  pids+=($recv)
  for _ in $(seq 200); do grep -qs "listening on" "$dir/recv-$heavy.err" && break; sleep 0.05; done
  local addr
  addr=$(grep -o 'listening on [0-9.:]*' "$dir/recv-$heavy.err" | cut -d' ' -f3)
  local senders=()
  "$bin" -q send --to "$addr" --name good --size 400x400 --fps 30 --count $((seconds * 30)) \
    --token-file "$dir/token" >/dev/null 2>&1 &
  local good=$!
  senders+=($good)
  for i in $(seq "$heavy"); do
    "$bin" -q send --to "$addr" --name "4k-$i" --source "mjpeg:$dir/4k.mjpeg" --loop \
      --size 3840x2160 --fps 15 --token-file "$dir/token" >/dev/null 2>&1 &
    senders+=($!)
  done
  pids+=("${senders[@]}")
  wait "$good" || true
  for p in "${senders[@]:1}"; do kill -INT "$p" 2>/dev/null || true; done
  sleep 1
  kill -INT "$recv"
  wait "$recv" || true
  python3 - "$dir/recv-$heavy.json" "$heavy" <<'EOF'
import json, sys
stats = json.load(open(sys.argv[1]))
streams = {s["name"]: s for s in stats["per_stream"]}
g = streams["good"]
line = f"{sys.argv[2]} 4K sender(s): good {g['fps']:.1f} fps shown ({g['frames']} of {g['received']} received, dropped {g['dropped']})"
for name in sorted(n for n in streams if n.startswith("4k")):
    s = streams[name]
    line += f"; {name} {s['fps']:.1f} fps shown of {s['received'] / max(s['seconds'], 1e-9):.1f} received"
print(line)
EOF
}

for heavy in 0 1 2; do run "$heavy"; done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
