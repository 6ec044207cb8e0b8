#!/usr/bin/env bash
# CI step for the interop matrix (.ci/run calls it after `npm test` when this file is executable).
# From a clean clone, with nothing cached between CI runs:
#   1. toolchains: go (>= the `go` line of interop/go/go.mod) and cargo/rustc (>= 1.88, rust-libp2p
#      0.57) must be installed; a missing or too old toolchain is a FAILURE, never a skip
#   2. dependencies: Go modules from the Go module proxy (`go mod download`), crates from crates.io
#      (`cargo fetch --locked`); node_modules via `npm ci` if absent
#   3. build: the go and rust peers (interop/build.sh), the TypeScript project with the js peer
#      (`npm run build`)
#   4. the full matrix (dist/interop/run-matrix.js): switchyard x {go, rust, js, switchyard} both
#      ways plus the foreign baseline, over noise/tcp, tls/tcp, noise/ws and tls/ws
#   5. libp2p/test-plans transport-interop (dist/interop/transport-interop.js): every pair of
#      switchyard, go, rust and js through each one's `transport-interop` entry point, with a local
#      redis-server (Debian package redis-server; .ci/run installs it; missing = failure)
#   6. the benchmark harness smoke (dist/bench/e2e.bench.js --smoke): every e2e implementation,
#      go and rust included, through every workload and transport × security variant once at tiny
#      sizes; nothing is measured (the rust peer here is the interop build; figures need
#      bench/anchors.sh's release build)
# Prints the time of every step and exits non-zero on the first failure (or any failed cell).
# Env: MATRIX_ARGS adds arguments to run-matrix.js (e.g. "--keep-logs"), TRANSPORT_INTEROP_ARGS
#      to transport-interop.js.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

RUSTC_MIN=1.88
# Generous bounds: the whole CI run has 90 minutes on 2 cores (measured times: interop/README.md).
FETCH_TIMEOUT=15m
BUILD_TIMEOUT=45m
MATRIX_TIMEOUT=30m

started=$SECONDS
timings=()
log() { printf '[interop/ci] %s\n' "$*" >&2; }
fail() { log "FAIL $*"; summary; exit 1; }
summary() {
  log "step times: ${timings[*]:-none}; total $((SECONDS - started)) s"
}
# step <name> <command...>: runs a step, records its time, fails the script if it fails.
step() {
  local name=$1; shift
  local t=$SECONDS
  log "== $name"
  "$@"
  local rc=$?
  timings+=("$name=$((SECONDS - t))s")
  [ $rc -eq 0 ] || fail "$name (exit $rc)"
}

# version_ge <have> <want>: dotted versions, numerically.
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]; }

# ── 1. toolchains ──────────────────────────────────────────────────────────────────────────
# CI shells may not have the toolchains' usual homes on PATH.
for dir in /usr/local/go/bin "$HOME/go/bin" "$HOME/.cargo/bin"; do
  [ -d "$dir" ] && case ":$PATH:" in *":$dir:"*) ;; *) PATH="$PATH:$dir" ;; esac
done
export PATH

toolchains() {
  local ok=0
  if ! command -v go >/dev/null 2>&1; then
    log "go is not installed (not on PATH, /usr/local/go/bin or ~/go/bin): interop/go needs go-libp2p's toolchain"; ok=1
  else
    local want have
    want=$(awk '$1 == "go" { print $2; exit }' interop/go/go.mod)
    # Inside the module: with GOTOOLCHAIN=auto (the default) go fetches the toolchain go.mod asks
    # for from the Go module proxy when the installed one is older; this reports the one in use.
    have=$(cd interop/go && go env GOVERSION | sed 's/^go//')
    if [ -z "$have" ] || ! version_ge "$have" "$want"; then
      log "go ${have:-?} is older than go $want (interop/go/go.mod)"; ok=1
    else
      log "go $have ($(command -v go))"
    fi
  fi
  if ! command -v cargo >/dev/null 2>&1 || ! command -v rustc >/dev/null 2>&1; then
    log "cargo/rustc are not installed (not on PATH or ~/.cargo/bin): interop/rust needs rust >= $RUSTC_MIN"; ok=1
  else
    local rv
    rv=$(rustc --version | awk '{ print $2 }')
    if ! version_ge "$rv" "$RUSTC_MIN"; then
      log "rustc $rv is older than $RUSTC_MIN (rust-libp2p 0.57)"; ok=1
    else
      log "$(cargo --version), rustc $rv"
    fi
  fi
  if ! command -v node >/dev/null 2>&1 || ! version_ge "$(node --version | sed 's/^v//')" 20; then
    log "node >= 20 is required"; ok=1
  fi
  return $ok
}
step toolchains toolchains

# ── 2. dependencies ────────────────────────────────────────────────────────────────────────
step go-mod-download timeout "$FETCH_TIMEOUT" bash -c 'cd interop/go && go mod download'
# Only the host's crates (without --target cargo fetches every platform's, e.g. windows-*).
HOST=$(rustc -vV | sed -n 's/^host: //p')
step cargo-fetch timeout "$FETCH_TIMEOUT" cargo fetch --locked --target "$HOST" --manifest-path interop/rust/Cargo.toml
if [ ! -d node_modules ]; then
  step npm-ci timeout "$FETCH_TIMEOUT" npm ci --no-audit --no-fund
fi

# ── 3. build ───────────────────────────────────────────────────────────────────────────────
step build-go timeout "$BUILD_TIMEOUT" bash interop/build.sh go
step build-rust timeout "$BUILD_TIMEOUT" bash interop/build.sh rust
step build-ts timeout "$BUILD_TIMEOUT" npm run --silent build

# ── 4. the matrix ──────────────────────────────────────────────────────────────────────────
# shellcheck disable=SC2086 # MATRIX_ARGS is a word list on purpose
step matrix timeout "$MATRIX_TIMEOUT" node "$ROOT/dist/interop/run-matrix.js" --skip-build --require-switchyard tls,ws,preference,quic ${MATRIX_ARGS:-}

# ── 5. libp2p/test-plans transport-interop ─────────────────────────────────────────────────
redis_check() {
  command -v redis-server >/dev/null 2>&1 || { log "redis-server is not installed (apt-get install -y redis-server)"; return 1; }
}
step redis-server redis_check
# shellcheck disable=SC2086 # TRANSPORT_INTEROP_ARGS is a word list on purpose
step transport-interop timeout "$MATRIX_TIMEOUT" node "$ROOT/dist/interop/transport-interop.js" --require-switchyard ${TRANSPORT_INTEROP_ARGS:-}

# ── 6. benchmark harness smoke ─────────────────────────────────────────────────────────────
step bench-smoke timeout 10m env BENCH_RUST_PEER="$ROOT/interop/rust/target/interop/peer" \
  node "$ROOT/dist/bench/e2e.bench.js" --smoke

summary
exit 0
