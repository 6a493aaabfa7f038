#!/usr/bin/env bash
# Measures the HTTP viewer (the figures in docs/performance.md, "HTTP viewer"):
#
#   scripts/http-viewers.sh ours VIEWERS FPS SECONDS [http_load options]
#       framecast recv --display none --http, one sender of the test pattern
#       (640x480 scaled to 400x400, JPEG q95, about 50 KB a frame) at FPS, and
#       the load generator (crates/http/examples/http_load.rs) with VIEWERS
#       MJPEG viewers; prints each viewer's share of the frames, the
#       receiver's RSS and CPU, and the load average.
#   scripts/http-viewers.sh ffmpeg N FPS SECONDS
#       the same 400x400 pattern frames (recorded once) served by N ffmpeg
#       processes (`-f mpjpeg -listen 1`: one viewer each), one viewer per
#       process; prints their RSS and CPU in all.
#
# Builds the release binaries first. Everything runs on this machine over
# loopback, so the load generator competes with the receiver for the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:?usage: $0 ours|ffmpeg VIEWERS FPS SECONDS}
n=${2:?viewers}
fps=${3:?fps}
secs=${4:?seconds}
shift 4

cargo build -q --release -p framecast-apps
cargo build -q --release -p framecast-http --example http_load
bin=target/release
# A viewer is a connection: make room for a thousand and more.
ulimit -n 8192
work=$(mktemp -d)
children=()
cleanup() {
  for p in "${children[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

start_recv() {
  "$bin/framecast" recv --listen 127.0.0.1:0 --display none --http 127.0.0.1:0 \
    --max-viewers "$1" --quiet 2> "$work/recv.err" > /dev/null &
  recv=$!
  children+=("$recv")
  for _ in $(seq 100); do
    grep -q "HTTP viewer on" "$work/recv.err" 2> /dev/null && break
    sleep 0.1
  done
  addr=$(grep -o "listening on [0-9.:]*" "$work/recv.err" | sed 's/listening on //')
  http=$(grep -o "http://[0-9.:]*" "$work/recv.err" | sed 's#http://##')
}

case "$mode" in
ours)
  start_recv $((n + 10))
  "$bin/framecast" send --to "$addr" --source pattern --fps "$fps" --name load --quiet \
    > /dev/null 2>&1 &
  send=$!
  children+=("$send")
  sleep 1
  before=$(rss "$recv")
  (
    # The load generator warms up for 3 s, then counts for SECONDS.
    sleep 3.5
    r0=$(ticks "$recv")
    s0=$(ticks "$send")
    sleep $((secs - 1))
    r1=$(ticks "$recv")
    s1=$(ticks "$send")
    echo "receiver: RSS $(rss "$recv") kB ($before kB before the viewers)," \
      "CPU $(((r1 - r0) * 10 / (secs - 1))) ms/s; sender CPU $(((s1 - s0) * 10 / (secs - 1))) ms/s;" \
      "load average $(loadavg)"
  ) &
  monitor=$!
  "$bin/examples/http_load" --http "$http" --viewers "$n" --seconds "$secs" --fps "$fps" "$@"
  wait "$monitor"
  echo "receiver: peak RSS $(awk '/VmHWM/ {print $2}' "/proc/$recv/status") kB"
  ;;
ffmpeg)
  # 150 frames of the pattern as the sender makes them, recorded unchanged.
  "$bin/framecast" recv --listen 127.0.0.1:0 --display none --record "$work/pattern.mjpeg" \
    --count 150 --quiet 2> "$work/rec.err" > /dev/null &
  rec=$!
  for _ in $(seq 100); do
    grep -q "listening on" "$work/rec.err" 2> /dev/null && break
    sleep 0.1
  done
  "$bin/framecast" send --to "$(grep -o "listening on [0-9.:]*" "$work/rec.err" | sed 's/listening on //')" \
    --source pattern --fps 0 --count 150 --quiet > /dev/null
  wait "$rec"
  servers=()
  ports=()
  for _ in $(seq "$n"); do
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    ffmpeg -hide_banner -loglevel fatal -re -stream_loop -1 -f mjpeg -framerate "$fps" \
      -i "$work/pattern.mjpeg" -c copy -f mpjpeg -listen 1 "http://127.0.0.1:$port/s.mjpg" &
    servers+=($!)
    children+=($!)
    ports+=("$port")
  done
  sleep 1
  loads=()
  for port in "${ports[@]}"; do
    "$bin/examples/http_load" --http "127.0.0.1:$port" --path /s.mjpg --viewers 1 \
      --seconds "$secs" --fps "$fps" > "$work/load.$port" 2>&1 &
    loads+=($!)
  done
  all_ticks() {
    local t=0
    for p in "${servers[@]}"; do t=$((t + $(ticks "$p"))); done
    echo "$t"
  }
  sleep 3.5
  c0=$(all_ticks)
  sleep $((secs - 1))
  c1=$(all_ticks)
  total=0
  for p in "${servers[@]}"; do total=$((total + $(rss "$p"))); done
  echo "ffmpeg x$n at $fps fps: RSS $total kB in all ($((total / n)) kB each)," \
    "CPU $(((c1 - c0) * 10 / (secs - 1))) ms/s in all; load average $(loadavg)"
  wait "${loads[@]}"
  cat "$work"/load.* | grep "share" | sort | uniq -c
  ;;
*)
  echo "unknown mode $mode (ours or ffmpeg)" >&2
  exit 2
  ;;
esac
