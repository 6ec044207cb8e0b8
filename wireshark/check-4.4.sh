#!/usr/bin/env bash
# wireshark/check-4.4.sh — compile the plugin against Wireshark 4.4's headers and check that every
# Wireshark symbol it uses is exported by 4.4's libraries, on a Debian 12 machine that cannot install
# 4.4 (bookworm and bookworm-backports carry 4.0.17 only). It downloads Debian 13 (trixie)'s
# libwireshark-dev, libwsutil-dev, libwiretap-dev, libwireshark18 and libwsutil16 into a temporary
# folder with a private apt state (the system's apt configuration is not touched) and unpacks them
# there; nothing is installed. Not loaded into a 4.4 tshark: that needs the 4.4 binaries.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/root"
echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main' > "$tmp/sources.list"
apt=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o Dir::Etc::SourceParts=/nonexistent -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o APT::Sandbox::User=root)
apt-get "${apt[@]}" -qq update
(cd "$tmp" && apt-get "${apt[@]}" -qq download libwireshark-dev libwsutil-dev libwiretap-dev libwireshark18 libwsutil16)
for d in "$tmp"/*.deb; do dpkg-deb -x "$d" "$tmp/root"; done
inc="$tmp/root/usr/include/wireshark"
grep -h 'define WIRESHARK_VERSION_M' "$inc/ws_version.h"
gcc -c -fPIC -O2 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -DVERSION='"0.1.0"' \
  -I"$inc" $(pkg-config --cflags libgcrypt glib-2.0) -o "$tmp/libp2p.o" "$here/packet-libp2p.c"
lib="$tmp/root/usr/lib/x86_64-linux-gnu"
nm -D --defined-only "$lib"/libwireshark.so.* "$lib"/libwsutil.so.* 2>/dev/null | awk '{print $3}' | sort -u > "$tmp/have"
# what the plugin needs from Wireshark: every undefined symbol except glib's, libgcrypt's and libc's
nm -u "$tmp/libp2p.o" | awk '{print $2}' | grep -Ev '^(g_|gcry_|_GLOBAL_OFFSET_TABLE_$|mem|str|stat$)' | sort -u > "$tmp/need"
missing="$(comm -23 "$tmp/need" "$tmp/have")"
if [ -n "$missing" ]; then echo "wireshark/check-4.4.sh: not exported by Wireshark 4.4: $missing" >&2; exit 1; fi
echo "wireshark/check-4.4.sh: compiled against 4.4 with -Werror; all $(wc -l < "$tmp/need") Wireshark symbols exported by 4.4"
