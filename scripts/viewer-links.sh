#!/usr/bin/env bash
# Measures what HTTP viewers on slow links get (docs/performance.md, "Viewers
# on slow links"). Needs root: it runs inside a private network namespace
# (`unshare --net`), so the shaping touches nothing else on the machine.
#
#   scripts/viewer-links.sh links [QUERY] [SECONDS]
#       framecast recv --display none --http, one sender of the test pattern
#       (400x400, JPEG q95, about 50 KB a frame) at 30 fps, and viewers of
#       /streams/1.mjpg?QUERY (QUERY "" for the original bytes, default
#       "quality=auto"):
#         - a LAN viewer (the original bytes, unshaped),
#         - a viewer whose path is shaped to 2 Mbit/s, and one to 4 Mbit/s,
#           each with a 50 ms router queue (htb + tbf, filtered on the HTTP
#           port and the viewer's address: 127.0.0.2 and 127.0.0.3),
#       measured by crates/http/examples/viewer_probe.rs (frames/s, the
#       age of each frame when it has arrived: p50/p99), then headless
#       Chromium on the 2 Mbit/s path showing the stream page (its own
#       figures, read from the page over the DevTools pipe by
#       crates/apps/tests/python/chromium_page.py) when the page reports them. Prints the
#       receiver's RSS, its CPU per frame received and the load average.
#       The sender's path (the frame port) is never shaped.
#   scripts/viewer-links.sh tiers VIEWERS [SECONDS]
#       VIEWERS viewers spread evenly over three tiers (quality 70 at the
#       full width, 60 at half, 50 at a quarter) on loopback, and in the
#       same run the RSS reference: 1,000 viewers of the original bytes.
#       Prints the receiver's CPU per frame and RSS for each, and with no
#       viewer at all.
#
# Builds the release binaries first. FRAMECAST=PATH runs another build of
# framecast as the sender and receiver (an older one, for a comparison in
# the same run); FRAMECAST_NO_BUILD=1 uses the binaries already built.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:?usage: $0 links [QUERY] [SECONDS] | tiers VIEWERS [SECONDS]}

if [ -z "${FRAMECAST_IN_NETNS:-}" ]; then
  [ -n "${FRAMECAST_NO_BUILD:-}" ] || cargo build -q --release -p framecast-apps
  [ -n "${FRAMECAST_NO_BUILD:-}" ] ||
    cargo build -q --release -p framecast-http --example viewer_probe \
      --example http_load
  exec unshare --net env FRAMECAST_IN_NETNS=1 "$0" "$@"
fi

bin=target/release
framecast=${FRAMECAST:-$bin/framecast}
ulimit -n 8192
work=$(mktemp -d)
children=()
cleanup() {
  for p in "${children[@]}"; do kill "$p" 2> /dev/null || true; done
  wait 2> /dev/null || true
  # FRAMECAST_KEEP_LOG=FILE keeps the receiver's log (with RUST_LOG=debug).
  if [ -n "${FRAMECAST_KEEP_LOG:-}" ]; then cp "$work/recv.err" "$FRAMECAST_KEEP_LOG" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A private loopback with an Ethernet-sized MTU: with 64 KiB packets a
# token bucket of a few kilobytes would drop every full-size packet.
ip link set lo up
ip link set lo mtu 1500

FRAME_PORT=5252
HTTP_PORT=8080

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# Frames the receiver has received, over both shapes of /stats.json (a list
# of streams, or an object with per_stream).
received() {
  python3 -c '
import json, sys, urllib.request
s = json.load(urllib.request.urlopen(sys.argv[1]))
streams = s["per_stream"] if isinstance(s, dict) else s
print(sum(x["received"] for x in streams))' "http://127.0.0.1:$HTTP_PORT/stats.json"
}

start() {
  "$framecast" recv --listen "127.0.0.1:$FRAME_PORT" --display none \
    --http "0.0.0.0:$HTTP_PORT" --allow-anonymous --max-viewers "$1" --quiet \
    2> "$work/recv.err" > /dev/null &
  recv=$!
  children+=("$recv")
  for _ in $(seq 100); do
    grep -q "HTTP viewer on" "$work/recv.err" 2> /dev/null && break
    sleep 0.1
  done
  "$framecast" send --to "127.0.0.1:$FRAME_PORT" --source pattern --fps 30 \
    --name pattern --quiet > /dev/null 2>&1 &
  send=$!
  children+=("$send")
  sleep 2
}

stop() {
  kill "$send" "$recv"
  wait "$send" "$recv" 2> /dev/null || true
}

# shape INDEX RATE: the HTTP port's answers to 127.0.0.(INDEX+2) go through
# a RATE class with a 50 ms queue; everything else through a fast class.
shape() {
  local i=$1 rate=$2 addr="127.0.0.$(($1 + 2))" class="1:$((20 + $1))"
  tc class add dev lo parent 1: classid "$class" htb rate "$rate" ceil "$rate" \
    burst 3000 cburst 3000 quantum 1514
  tc qdisc add dev lo parent "$class" tbf rate "$rate" burst 3000 latency 50ms
  tc filter add dev lo parent 1: protocol ip prio 1 u32 \
    match ip src "$addr/32" match ip sport "$HTTP_PORT" 0xffff flowid "$class"
  echo "$addr"
}

# window SECONDS: the receiver's CPU per received frame and RSS over the
# next SECONDS (run beside a load).
window() {
  local r0 f0 r1 f1
  r0=$(ticks "$recv")
  f0=$(received)
  sleep "$1"
  r1=$(ticks "$recv")
  f1=$(received)
  echo "receiver: $(((f1 - f0) / $1)) frames/s received, CPU $(((r1 - r0) * 10 / $1)) ms/s," \
    "$(python3 -c "print(f'{($r1 - $r0) * 10 / max($f1 - $f0, 1):.2f}')") ms per frame;" \
    "RSS $(rss "$recv") kB (peak $(awk '/VmHWM/ {print $2}' "/proc/$recv/status") kB);" \
    "load average $(loadavg)"
}

case "$mode" in
links)
  query=${2-quality=auto}
  secs=${3:-20}
  start 20
  tc qdisc add dev lo root handle 1: htb default 10
  tc class add dev lo parent 1: classid 1:10 htb rate 40gbit quantum 60000
  slow=$(shape 0 2mbit)
  medium=$(shape 1 4mbit)
  path="/streams/1.mjpg${query:+?$query}"
  echo "== viewers of $path (LAN: the original bytes), $secs s after 3 s of warm-up"
  (
    sleep 3.5
    window $((secs - 1))
  ) &
  monitor=$!
  "$bin/examples/viewer_probe" --seconds "$secs" \
    "lan=http://127.0.0.1:$HTTP_PORT/streams/1.mjpg" \
    "2mbit=http://$slow:$HTTP_PORT$path" \
    "4mbit=http://$medium:$HTTP_PORT$path"
  wait "$monitor"
  if command -v chromium > /dev/null; then
    echo "== headless Chromium, stream page on the 2 Mbit/s path, $secs s"
    python3 crates/apps/tests/python/chromium_page.py figures --seconds "$secs" \
      "http://$slow:$HTTP_PORT/streams/1" || echo "(the page reports no figures)"
  fi
  tc -s qdisc show dev lo | grep -A2 "tbf" | grep -E "tbf|Sent|backlog" || true
  ;;
tiers)
  n=${2:?viewers}
  secs=${3:-20}
  start $((1000 + n + 10))
  echo "== no viewer"
  window 5
  per=$((n / 3))
  echo "== $n viewers over 3 tiers, $secs s"
  (
    sleep 3.5
    window $((secs - 1))
  ) &
  monitor=$!
  u="http://127.0.0.1:$HTTP_PORT/streams/1.mjpg"
  "$bin/examples/viewer_probe" --seconds "$secs" \
    "q70*$per=$u?quality=70" \
    "q60w200*$per=$u?quality=60&width=200" \
    "q50w100*$((n - 2 * per))=$u?quality=50&width=100"
  wait "$monitor"
  stop
  start 1010
  echo "== 1,000 viewers of the original bytes (the RSS reference; a new receiver), $secs s"
  (
    sleep 3.5
    window $((secs - 1))
  ) &
  monitor=$!
  "$bin/examples/http_load" --http "127.0.0.1:$HTTP_PORT" --stream 1 --viewers 1000 \
    --seconds "$secs" --fps 30
  wait "$monitor"
  ;;
*)
  echo "unknown mode $mode (links or tiers)" >&2
  exit 2
  ;;
esac
