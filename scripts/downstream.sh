#!/usr/bin/env bash
# The downstream promise: a crate outside the workspace that depends on
# framecast-wire and framecast-capture alone (examples/downstream) builds,
# runs, and pulls in no JPEG encoder or decoder, no resizer, no tonic and no
# protobuf compiler; and the engines (framecast-stream, with or without its
# features) pull in none of their adapters' stacks: no HTTP server, no
# metrics exporter, no NATS client. Run by .ci/run after scripts/test.sh.
#
# The example keeps its own Cargo.lock (a subset of the workspace's); after a
# dependency of wire or capture changes, refresh it with
# `cargo update --workspace` in examples/downstream and review what came in.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# One target directory for everything (its artefacts do not clash).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

echo "== framecast-stream: dependency tree (the adapters' stacks stay in their crates)"
# framecast-http and framecast-nats bring these; an engine user must not get
# them.
adapters='^(axum|axum-core|hyper|hyper-util|tower|async-nats|metrics|metrics-exporter-prometheus|tonic) '
for features in "" "--all-features"; do
  tree=$(cargo tree --locked -p framecast-stream -e normal --prefix none $features)
  if bad=$(grep -E "$adapters" <<<"$tree" | sort -u) && [ -n "$bad" ]; then
    echo "framecast-stream ${features:-(default features)}: the dependency tree holds an adapter's stack:"
    echo "$bad"
    exit 1
  fi
  echo "framecast-stream ${features:-(default features)}: $(wc -l <<<"$tree") lines, no HTTP server, metrics exporter or NATS client"
done

cd examples/downstream

echo "== downstream: dependency tree"
# Build dependencies too (-e normal,build): a protobuf compiler would come
# in as one.
tree=$(cargo tree --locked -e normal,build --prefix none)
forbidden='^(framecast-codec|framecast-proto|libjpeg-turbo-rs|zune-jpeg|zune-core|jpeg-encoder|fast_image_resize|tonic|tonic-[a-z-]+|prost-build|protox|protox-parse|prost-reflect|nokhwa) '
if bad=$(grep -E "$forbidden" <<<"$tree" | sort -u) && [ -n "$bad" ]; then
  echo "downstream: the dependency tree holds what a wire + capture user must not get:"
  echo "$bad"
  exit 1
fi
echo "$(cargo tree --locked -e normal | wc -l) lines (cargo tree -e normal), none of them a codec, resizer, tonic or protobuf compiler"

echo "== downstream: fmt, clippy, build and run"
cargo fmt --check
cargo clippy --locked --quiet -- -D warnings
cargo build --locked --quiet
bin="$CARGO_TARGET_DIR/debug/framecast-downstream"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" write "$work/frames.bin" 30
"$bin" check "$work/frames.bin" 30
"$bin" loopback 30
# The check can fail: a file cut short is refused.
head -c 100000 "$work/frames.bin" >"$work/cut.bin"
if "$bin" check "$work/cut.bin" 30 2>/dev/null; then
  echo "downstream: a file cut short passed the check"
  exit 1
fi
