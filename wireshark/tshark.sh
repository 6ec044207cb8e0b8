#!/usr/bin/env bash
# wireshark/tshark.sh <capture> [--keylog <file>] [tshark options…]
#
# Runs Debian's tshark on a capture with the libp2p plugin loaded (built first by build.sh when the
# source changed), the key log set for Noise (libp2p.keylog_file) and for TLS (tls.keylog_file: the
# same file may hold NSS key log lines), TCP heuristics tried first (libp2p has no fixed port) and two
# passes (-2: a Noise handshake message is drawn with what later messages revealed). Every other
# option goes to tshark as it is (-V, -T fields -e …, -Y, -O …).
#
# tshark runs with a private, empty profile (HOME points at a temporary folder holding the plugin),
# so the output does not depend on the user's own preferences.
#
# As root: Wireshark loads no personal plugins (and no Lua) when started with special privileges, and
# root is one. Rather than installing into the system's plugin folder, this script copies the capture,
# the key log and the plugin into a temporary folder owned by an unprivileged user
# (SWITCHYARD_TSHARK_USER, default nobody) and runs tshark as that user with setpriv. Output goes to
# stdout/stderr as usual; options that write files (-w) must then name a place that user can write.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  echo "usage: wireshark/tshark.sh <capture> [--keylog <file>] [tshark options…]" >&2
  exit 2
fi
capture="$1"; shift
keylog=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --keylog) [ $# -ge 2 ] || { echo "tshark.sh: --keylog needs a file" >&2; exit 2; }; keylog="$2"; shift 2 ;;
    --keylog=*) keylog="${1#--keylog=}"; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
command -v tshark >/dev/null || { echo "tshark.sh: tshark is not installed (apt-get install -y tshark)" >&2; exit 1; }
[ -r "$capture" ] || { echo "tshark.sh: cannot read capture $capture" >&2; exit 1; }
[ -z "$keylog" ] || [ -r "$keylog" ] || { echo "tshark.sh: cannot read key log $keylog" >&2; exit 1; }

so="$("$here/build.sh")"
ver="$(basename "$(dirname "$(dirname "$so")")")"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/home/.local/lib/wireshark/plugins/$ver/epan"
cp "$so" "$tmp/home/.local/lib/wireshark/plugins/$ver/epan/"

run=()
if [ "$(id -u)" = 0 ]; then
  user="${SWITCHYARD_TSHARK_USER:-nobody}"
  group="$(id -gn "$user")"
  cp "$capture" "$tmp/capture"; capture="$tmp/capture"
  if [ -n "$keylog" ]; then cp "$keylog" "$tmp/keylog"; keylog="$tmp/keylog"; fi
  chown -R "$user:$group" "$tmp"
  chmod 700 "$tmp"
  run=(setpriv "--reuid=$user" "--regid=$group" --clear-groups)
fi

opts=(-o tcp.try_heuristic_first:TRUE -2)
if [ -n "$keylog" ]; then
  opts+=(-o "libp2p.keylog_file:$keylog" -o "tls.keylog_file:$keylog")
fi
# Not exec: the trap removes the temporary folder afterwards.
set +e
"${run[@]}" env HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/.config" tshark -r "$capture" "${opts[@]}" "${args[@]}"
rc=$?
exit $rc
