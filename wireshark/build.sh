#!/usr/bin/env bash
# Builds the libp2p dissector plugin against the installed libwireshark-dev (and libgcrypt) into
# wireshark/build/plugins/<major.minor>/epan/libp2p.so. Rebuilds only when the source is newer.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
for pc in wireshark libgcrypt glib-2.0; do
  pkg-config --exists "$pc" || { echo "wireshark/build.sh: pkg-config cannot find $pc: apt-get install -y libwireshark-dev libgcrypt20-dev libglib2.0-dev pkg-config gcc" >&2; exit 1; }
done
ver="$(pkg-config --modversion wireshark | cut -d. -f1,2)"
out="$here/build/home/.local/lib/wireshark/plugins/$ver/epan"
so="$out/libp2p.so"
mkdir -p "$out"
if [ ! -f "$so" ] || [ "$here/packet-libp2p.c" -nt "$so" ] || [ "$0" -nt "$so" ]; then
  ${CC:-gcc} -shared -fPIC -O2 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
    -DVERSION='"0.1.0"' $(pkg-config --cflags wireshark libgcrypt glib-2.0) \
    -o "$so.$$.tmp" "$here/packet-libp2p.c" $(pkg-config --libs wireshark libgcrypt glib-2.0)
  mv "$so.$$.tmp" "$so"  # atomic: concurrent tshark.sh runs may build at once
fi
echo "$so"
