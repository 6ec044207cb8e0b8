#!/usr/bin/env bash
# Builds the foreign columns of the end-to-end benchmark (bench/e2e/impl-foreign.ts) in release
# mode, one after the other (never two heavy builds at once on a small machine):
#   go-libp2p    interop/go/bin/peer — `go build` optimises by default; the interop build is the
#                same binary (interop/build.sh go), so it is shared with the matrix.
#   rust-libp2p  $BENCH_ANCHORS_DIR/rust-target/release/peer — `cargo build --release` (opt-level 3,
#                not interop/build.sh's profile "interop" with opt-level 1, which is for building
#                quickly, not for measuring). Default BENCH_ANCHORS_DIR: .cache/bench-anchors
#                (git-ignored); point it at another checkout's cache to reuse a build there.
# A binary newer than all of its sources is not rebuilt. First rust build from clean: ~10 min on 2 cores.
# Exit status 1 if a toolchain is missing or a build fails.
# Usage: bash bench/anchors.sh [go|rust]...   (default: both)
set -uo pipefail
cd "$(dirname "$0")/.."
ANCHORS_DIR=${BENCH_ANCHORS_DIR:-$(pwd)/.cache/bench-anchors}
log() { printf '[bench/anchors] %s\n' "$*" >&2; }

# Both through interop/build.sh (one build procedure, and its skip when the binary is newer than
# every source); rust with the release profile into the anchors' own target directory.
build_go() {
  bash interop/build.sh go
}

build_rust() {
  mkdir -p "$ANCHORS_DIR"
  INTEROP_RUST_PROFILE=release CARGO_TARGET_DIR="$ANCHORS_DIR/rust-target" bash interop/build.sh rust
}

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(go rust)
status=0
for t in "${targets[@]}"; do
  case "$t" in
    go) build_go || status=1 ;;
    rust) build_rust || status=1 ;;
    *) log "usage: anchors.sh [go|rust]..."; exit 2 ;;
  esac
done
exit $status
