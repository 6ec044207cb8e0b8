#!/usr/bin/env bash
# Baseline of the foreign test peers against each other on loopback, before switchyard enters
# the matrix: go->go, rust->rust, go->rust, rust->go (dialer->listener). For each pair a fresh
# `<listener> listen` is started and the dialer runs every client command of the shared contract
# (stream, ping --count 3, identify, perf 16 MiB up + 16 MiB down, streams --count 50) against it;
# then the listener must exit 0 on SIGTERM ("listen" cell).
# Prints one line per cell, "PASS|FAIL <dialer>-><listener> <command> (details)", a summary line,
# and exits 1 if any cell failed (2 on bad usage). Builds the peers first (interop/build.sh
# skips fresh binaries).
#
# Usage: bash interop/baseline.sh [pair...]    pair = <dialer>-<listener>, default:
#        go-go rust-rust go-rust rust-go
# Any other peer name N can take part when PEER_N holds its command line (word-split, so no
# spaces inside paths), e.g. PEER_ts="node dist/cli.js" bash interop/baseline.sh ts-go go-ts
# Env:   GO_PEER, RUST_PEER override the two foreign binaries; SKIP_BUILD=1 skips
#        interop/build.sh; KEEP_LOGS=1 keeps the log folder (always kept on failure).
set -uo pipefail
cd "$(dirname "$0")"
INTEROP_DIR=$(pwd)

GO_PEER=${GO_PEER:-$INTEROP_DIR/go/bin/peer}
RUST_PEER=${RUST_PEER:-$INTEROP_DIR/rust/target/interop/peer}
PERF_BYTES=$((16 * 1024 * 1024))
STREAMS=50
PING_COUNT=3
CMD_TIMEOUT=120     # seconds, per client command
START_TIMEOUT=20    # seconds for a listener to print its LISTEN line

# peer_cmd <name>: the command line of a peer.
peer_cmd() {
  case "$1" in
    go) echo "$GO_PEER" ;;
    rust) echo "$RUST_PEER" ;;
    *) local var="PEER_$1"; echo "${!var:-}" ;;
  esac
}

pairs=("$@")
[ ${#pairs[@]} -eq 0 ] && pairs=(go-go rust-rust go-rust rust-go)
for p in "${pairs[@]}"; do
  if ! [[ "$p" =~ ^[A-Za-z0-9_]+-[A-Za-z0-9_]+$ ]]; then
    echo "usage: baseline.sh [<dialer>-<listener>]...  (e.g. go-rust)" >&2; exit 2
  fi
  for name in "${p%-*}" "${p#*-}"; do
    if [ -z "$(peer_cmd "$name")" ]; then
      echo "baseline.sh: no command for peer '$name' (set PEER_$name)" >&2; exit 2
    fi
  done
done

if [ -z "${SKIP_BUILD:-}" ]; then
  bash "$INTEROP_DIR/build.sh" || { echo "FAIL build (interop/build.sh)"; exit 1; }
fi

LOGS=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-baseline.XXXXXX")
passed=0
failed=0
started=$SECONDS
listener_pid=""

cleanup() {
  if [ -n "$listener_pid" ] && kill -0 "$listener_pid" 2>/dev/null; then
    kill -KILL "$listener_pid" 2>/dev/null
    wait "$listener_pid" 2>/dev/null
  fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

# first_err <file>: the last non-empty line of a command's stderr, for FAIL lines.
first_err() { grep -v '^\s*$' "$1" 2>/dev/null | tail -1 | cut -c1-300; }

# run_client <name> <dialer-bin> <args...>: runs one client command with a timeout; output in
# $LOGS/<name>.out and .err; returns its exit status.
run_client() {
  local name=$1; shift
  timeout -k 5 "$CMD_TIMEOUT" "$@" >"$LOGS/$name.out" 2>"$LOGS/$name.err"
}

check_stream() {
  local cell=$1 out=$2 listener_err=$3 before=$4
  local expected i
  expected=$(for i in $(seq 0 10); do echo "[client] received from server: Part $i"; done)
  if [ "$(cat "$out")" != "$expected" ]; then
    echo "client output is not the 11 tutorial lines"; return 1
  fi
  local after
  after=$(grep -c '^\[server\] received from client: please send data$' "$listener_err")
  if [ "$after" -le "$before" ]; then
    echo "listener did not log '[server] received from client: please send data'"; return 1
  fi
  echo "Part 0 … Part 10, then EOF"
}

check_ping() {
  local out=$1
  if [ "$(grep -cE '^RTT [0-9]+\.[0-9]{3} ms$' "$out")" != "$PING_COUNT" ] ||
     [ "$(wc -l <"$out")" != "$PING_COUNT" ]; then
    echo "expected $PING_COUNT lines 'RTT <ms> ms', got: $(tr '\n' '|' <"$out")"; return 1
  fi
  echo "$(awk '{print $2}' "$out" | paste -sd' ') ms"
}

# check_identify <out> <listener multiaddr with /p2p> <listener impl>
check_identify() {
  node -e 'try {
    const fs = require("fs");
    const [out, full, impl] = process.argv.slice(1);
    const lines = fs.readFileSync(out, "utf8").split("\n").filter(Boolean);
    if (lines.length !== 1) throw new Error(`expected one JSON line, got ${lines.length}`);
    const info = JSON.parse(lines[0]);
    const i = full.lastIndexOf("/p2p/");
    const addr = full.slice(0, i), peerId = full.slice(i + 5);
    const keys = ["peerId", "protocolVersion", "agentVersion", "listenAddrs", "protocols", "observedAddr"];
    for (const k of keys) if (!(k in info)) throw new Error(`missing key ${k}`);
    if (info.peerId !== peerId) throw new Error(`peerId ${info.peerId} != ${peerId}`);
    if ((impl === "go" || impl === "rust") && !String(info.agentVersion).startsWith(`switchyard-interop-${impl}/`))
      throw new Error(`agentVersion ${info.agentVersion}`);
    if (!info.listenAddrs.includes(addr)) throw new Error(`listenAddrs ${info.listenAddrs} lack ${addr}`);
    for (const p of ["/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", "/perf/1.0.0", "/switchyard/echo/1.0.0", "/test/stream-proto/1.0.0"])
      if (!info.protocols.includes(p)) throw new Error(`protocols lack ${p}`);
    if (!/^\/ip4\/127\.0\.0\.1\/tcp\/\d+$/.test(info.observedAddr ?? ""))
      throw new Error(`observedAddr ${info.observedAddr}`);
    console.log(`agent ${info.agentVersion}, ${info.protocols.length} protocols`);
  } catch (e) { console.log(e.message); process.exit(1); }' "$1" "$2" "$3"
}

check_perf() {
  node -e 'try {
    const fs = require("fs");
    const [out, n] = [process.argv[1], Number(process.argv[2])];
    const lines = fs.readFileSync(out, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const final = lines.at(-1);
    if (!final || final.type !== "final") throw new Error("last line is not type final");
    if (final.uploadBytes !== n || final.downloadBytes !== n)
      throw new Error(`byte counts up ${final.uploadBytes} down ${final.downloadBytes}, expected ${n}`);
    const mib = (final.uploadBytes + final.downloadBytes) / 2 ** 20;
    console.log(`16 MiB up + 16 MiB down in ${final.timeSeconds.toFixed(3)} s = ${(mib / final.timeSeconds).toFixed(1)} MiB/s`);
  } catch (e) { console.log(e.message); process.exit(1); }' "$1" "$PERF_BYTES"
}

# run_pair <dialer> <listener>
run_pair() {
  local dialer=$1 listener=$2
  local pair="$dialer->$listener" dbin lbin
  # Word-split on purpose: a peer may be a command line such as "node dist/cli.js".
  read -r -a dbin <<<"$(peer_cmd "$dialer")"
  read -r -a lbin <<<"$(peer_cmd "$listener")"
  local tag="$dialer-$listener"
  local lout="$LOGS/$tag.listen.out" lerr="$LOGS/$tag.listen.err"

  "${lbin[@]}" listen >"$lout" 2>"$lerr" &
  listener_pid=$!
  local waited=0
  while [ ! -s "$lout" ] && kill -0 "$listener_pid" 2>/dev/null && [ $waited -lt $((START_TIMEOUT * 10)) ]; do
    sleep 0.1; waited=$((waited + 1))
  done
  local line addr
  line=$(head -1 "$lout")
  if ! [[ "$line" =~ ^LISTEN\ (/ip4/127\.0\.0\.1/tcp/[0-9]+/p2p/[1-9A-HJ-NP-Za-km-z]+)$ ]]; then
    fail "$pair listen (no 'LISTEN <multiaddr>/p2p/<peerId>' line: '$line'; $(first_err "$lerr"))"
    cleanup; listener_pid=""
    for cmd in stream ping identify perf streams; do fail "$pair $cmd (listener did not start)"; done
    return
  fi
  addr=${BASH_REMATCH[1]}

  local cmd detail before
  for cmd in stream ping identify perf streams; do
    local name="$tag.$cmd"
    before=$(grep -c '^\[server\] received from client: please send data$' "$lerr")
    case "$cmd" in
      stream) run_client "$name" "${dbin[@]}" stream "$addr" ;;
      ping) run_client "$name" "${dbin[@]}" ping "$addr" --count "$PING_COUNT" ;;
      identify) run_client "$name" "${dbin[@]}" identify "$addr" ;;
      perf) run_client "$name" "${dbin[@]}" perf "$addr" --upload-bytes "$PERF_BYTES" --download-bytes "$PERF_BYTES" ;;
      streams) run_client "$name" "${dbin[@]}" streams "$addr" --count "$STREAMS" ;;
    esac
    local rc=$?
    if [ $rc -ne 0 ]; then
      fail "$pair $cmd (exit $rc: $(first_err "$LOGS/$name.err"))"
      continue
    fi
    case "$cmd" in
      stream) detail=$(check_stream "$pair" "$LOGS/$name.out" "$lerr" "$before") ;;
      ping) detail=$(check_ping "$LOGS/$name.out") ;;
      identify) detail=$(check_identify "$LOGS/$name.out" "$addr" "$listener") ;;
      perf) detail=$(check_perf "$LOGS/$name.out") ;;
      streams) if [ "$(cat "$LOGS/$name.out")" = "OK $STREAMS" ]; then detail="OK $STREAMS"; else
                 detail="expected 'OK $STREAMS', got '$(head -c 200 "$LOGS/$name.out")'"; false; fi ;;
    esac
    if [ $? -eq 0 ]; then pass "$pair $cmd ($detail)"; else fail "$pair $cmd ($detail)"; fi
  done

  # The listener must have survived every command and must exit 0 on SIGTERM.
  if ! kill -0 "$listener_pid" 2>/dev/null; then
    wait "$listener_pid"; local lrc=$?
    fail "$pair listen (listener died during the run, exit $lrc: $(first_err "$lerr"))"
  else
    kill -TERM "$listener_pid"
    local n=0
    while kill -0 "$listener_pid" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    if kill -0 "$listener_pid" 2>/dev/null; then
      fail "$pair listen (listener still running 10 s after SIGTERM)"
    else
      wait "$listener_pid"; local lrc=$?
      if [ $lrc -eq 0 ] && [ "$(wc -l <"$lout")" = 1 ]; then
        pass "$pair listen (one LISTEN line, exit 0 on SIGTERM)"
      else
        fail "$pair listen (exit $lrc on SIGTERM, $(wc -l <"$lout") stdout lines)"
      fi
    fi
  fi
  listener_pid=""
}

for p in "${pairs[@]}"; do
  run_pair "${p%-*}" "${p#*-}"
done

echo "baseline: $passed PASS, $failed FAIL in $((SECONDS - started)) s"
if [ "$failed" -ne 0 ] || [ -n "${KEEP_LOGS:-}" ]; then
  echo "logs kept in $LOGS"
else
  rm -rf "$LOGS"
fi
[ "$failed" -eq 0 ]
