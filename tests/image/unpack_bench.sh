#!/bin/bash
# Times layers_unpack (tests/image/unpack_layers: the next layers
# decompressed ahead; and with UNPACK_TMPDIR=none, one after the other)
# against `tar -xzf` and `umoci unpack` on three gzip layers made from the
# host's /usr (bench/image.sh does the same on a synthetic image):
#   l1: usr/lib/gcc usr/include, l2: usr/share/{doc,man,locale,perl,vim},
#   l3: usr/lib/python3 usr/lib/python3.11
# (about 300 MB compressed, 55,000 entries here). Each run starts from an
# empty directory after sync and drop_caches, with the blobs read back into
# the page cache; the time excludes the final writeback (same for all).
#
#   tests/image/unpack_bench.sh [WORKDIR] [RUNS]     (root; default 3 runs)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
driver=$here/unpack_layers
work=${1:-/tmp/unpack-bench}
runs=${2:-3}
mkdir -p "$work"
cd "$work"

make_layer() { # NAME PATHS...
	local name=$1
	shift
	[ -f "$name.tar.gz" ] && return
	tar --numeric-owner --format=pax -C / -cf "$name.tar" "$@" 2>/dev/null || true
	gzip -6 "$name.tar"
}
make_layer l1 usr/lib/gcc usr/include &
make_layer l2 usr/share/doc usr/share/man usr/share/locale usr/share/perl usr/share/vim &
make_layer l3 usr/lib/python3 usr/lib/python3.11 &
wait
[ -d layout ] || "$here/make_layout.sh" layout bench l1.tar.gz l2.tar.gz l3.tar.gz
echo "# layers: $(du -ch l?.tar.gz | tail -1 | cut -f1) compressed," \
	"$(for l in l1 l2 l3; do tar -tzf $l.tar.gz; done | wc -l) entries"

fresh() {
	rm -rf out umoci-bundle
	mkdir out
	sync
	echo 3 >/proc/sys/vm/drop_caches
	cat l?.tar.gz layout/blobs/sha256/* >/dev/null
}

timed() { # LABEL CMD...
	local label=$1
	shift
	fresh
	/usr/bin/time -f "$label %e s wall, %U s user, %S s sys" "$@" >/dev/null
}

for _ in $(seq "$runs"); do
	# shellcheck disable=SC2016 # expanded by the inner sh
	timed "tar -xzf      " sh -c 'for l in l1 l2 l3; do tar -xzf $l.tar.gz -C out; done'
	timed "layers_unpack " "$driver" out l1.tar.gz l2.tar.gz l3.tar.gz
	timed "no prefetch   " env UNPACK_TMPDIR=none "$driver" out l1.tar.gz l2.tar.gz l3.tar.gz
	command -v umoci >/dev/null && timed "umoci unpack  " umoci unpack --image layout:bench umoci-bundle
done
rm -rf out umoci-bundle
