#!/usr/bin/env bash
# Builds the foreign interop test peers (never part of src/):
#   interop/go/bin/peer               go-libp2p    (go build)
#   interop/rust/target/interop/peer  rust-libp2p  (cargo, profile "interop" = release with opt-level 1)
# A peer whose binary is newer than all of its sources is skipped.
# INTEROP_RUST_PROFILE (default interop) and CARGO_TARGET_DIR (default interop/rust/target) move the
# rust build: bench/anchors.sh builds the benchmark's release peer through this script with them.
# Exit status: 0 = both binaries present and up to date; 1 = a toolchain is missing or a build
# failed (a missing toolchain is a failure, never a skip).
# Usage: bash interop/build.sh [go|rust]...   (default: both)
set -uo pipefail
cd "$(dirname "$0")"
INTEROP_DIR=$(pwd)

GO_BIN="$INTEROP_DIR/go/bin/peer"
RUST_PROFILE=${INTEROP_RUST_PROFILE:-interop}
RUST_TARGET_DIR=${CARGO_TARGET_DIR:-$INTEROP_DIR/rust/target}
RUST_BIN="$RUST_TARGET_DIR/$RUST_PROFILE/peer"

log() { printf '[interop/build] %s\n' "$*" >&2; }

# up_to_date <binary> <source paths...>: the binary exists and no source file is newer.
up_to_date() {
  local bin=$1; shift
  [ -x "$bin" ] || return 1
  [ -z "$(find "$@" -type f -newer "$bin" -print -quit 2>/dev/null)" ]
}

build_go() {
  if ! command -v go >/dev/null 2>&1; then
    log "FAIL go: the go toolchain is not on PATH (go-libp2p needs go >= 1.26)"
    return 1
  fi
  if up_to_date "$GO_BIN" go/*.go go/go.mod go/go.sum; then
    log "go: $GO_BIN is up to date"
    return 0
  fi
  log "go: building with $(go version | cut -d' ' -f3-)"
  local start=$SECONDS
  # -mod=readonly: go.mod/go.sum are committed and must not change during a build.
  if ! (cd go && GOFLAGS=-buildvcs=false go build -mod=readonly -trimpath -o bin/peer .); then
    log "FAIL go: go build failed"
    return 1
  fi
  log "go: built $GO_BIN in $((SECONDS - start)) s"
}

build_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    log "FAIL rust: cargo is not on PATH (rust-libp2p 0.57 needs rustc >= 1.88)"
    return 1
  fi
  if up_to_date "$RUST_BIN" rust/src rust/Cargo.toml rust/Cargo.lock; then
    log "rust: $RUST_BIN is up to date"
    return 0
  fi
  log "rust: building with $(cargo --version) (profile $RUST_PROFILE) into $RUST_TARGET_DIR"
  local start=$SECONDS
  if ! CARGO_TARGET_DIR="$RUST_TARGET_DIR" cargo build --locked --profile "$RUST_PROFILE" --manifest-path rust/Cargo.toml
  then
    log "FAIL rust: cargo build failed"
    return 1
  fi
  # cargo keeps the old mtime when nothing needed relinking; make the skip check see it as fresh.
  touch "$RUST_BIN"
  log "rust: built $RUST_BIN in $((SECONDS - start)) s"
}

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(go rust)
status=0
for t in "${targets[@]}"; do
  case "$t" in
    go) build_go || status=1 ;;
    rust) build_rust || status=1 ;;
    *) log "usage: build.sh [go|rust]..."; exit 2 ;;
  esac
done
exit $status
