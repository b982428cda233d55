#!/bin/sh
# Puts a static libmnl (libmnl.a) at $1 for the static-pie build of berth.
# Debian 12's libmnl-dev ships only the shared library, and berth links
# statically (a dynamic berth costs ~4 ms per `run` here: it executes twice
# and each dynamic start relocates libc and every library). Debian 13's
# libmnl-dev (same API, 1.0.5) ships libmnl.a; it is fetched from Debian's
# archive, checked against a pinned sha256 and only its libmnl.a extracted.
# With a system libmnl.a (e.g. a later Debian), that one is used.
set -eu
out="$1"
mkdir -p "$(dirname "$out")"
for sys in /usr/lib/x86_64-linux-gnu/libmnl.a /usr/lib/libmnl.a; do
  if [ -f "$sys" ]; then cp "$sys" "$out"; exit 0; fi
done
deb=libmnl-dev_1.0.5-3_amd64.deb
sum=7f9a7c3f470ec400171981816df189ec86b11083c3f8d391d0800ed09a87bfc3
url="http://deb.debian.org/debian/pool/main/libm/libmnl/$deb"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! command -v curl >/dev/null 2>&1; then
  echo "static-libmnl.sh: curl is missing (scripts/deps.sh build installs it)" >&2
  exit 1
fi
if ! curl -fsSL --retry 3 -o "$tmp/$deb" "$url"; then
  echo "static-libmnl.sh: cannot fetch $url; build with STATIC_DEPS=0 for a dynamic berth" >&2
  exit 1
fi
echo "$sum  $tmp/$deb" | sha256sum -c --quiet - >/dev/null || {
  echo "static-libmnl.sh: $deb does not match its pinned sha256" >&2
  exit 1
}
dpkg-deb -x "$tmp/$deb" "$tmp/x"
cp "$tmp/x/usr/lib/x86_64-linux-gnu/libmnl.a" "$out.tmp"
mv "$out.tmp" "$out"
