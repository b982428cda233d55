#!/bin/bash
# Parity of layer_unpack with umoci: builds a three-layer OCI image by hand
# (tar + make_layout.sh: sha256sum + jq): a busybox-static rootfs, then a layer of
# whiteouts, an opaque directory, symlinks, hardlinks, xattrs, a fifo,
# devices, setuid/setgid files and type changes, then a plain-tar layer with
# a second opaque marker. Unpacks it with `umoci unpack` and with
# tests/image/unpack_layers (layer_unpack, each layer of the manifest in
# order), checks the diff_ids against the config, and compares listings of
# both trees: path, type, mode, owner, size, sha256, link target, device
# numbers, link count, xattrs, and mtimes of everything but directories.
#
#   tests/image/umoci_parity.sh [KEEPDIR]
#
# Needs root, umoci, getfattr (attr), jq, busybox-static, gcc. Ends with
# "N passed, N failed".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
driver=$top/tests/image/unpack_layers
for tool in umoci getfattr setfattr jq sha256sum "$driver"; do
	command -v "$tool" >/dev/null || { echo "umoci_parity.sh: $tool missing (apt-get install umoci attr jq)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "umoci_parity.sh: needs root" >&2; exit 1; }

work=${1:-$(mktemp -d /tmp/umoci-parity-XXXXXX)}
mkdir -p "$work"
[ -n "${1:-}" ] || trap 'rm -rf "$work"' EXIT
cd "$work"
passed=0 failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "not ok: $*"; }
expect() { # DESC PATTERN [ABSENT]: berth.list has a line matching PATTERN, none matching ABSENT
	if grep -q -- "$2" berth.list && { [ -z "${3:-}" ] || ! grep -q -- "$3" berth.list; }; then
		ok
	else
		fail "$1"
	fi
}

# ---- layer trees ----
layer1() {
	"$top/tests/fixtures/busybox-rootfs.sh" l1 >/dev/null
	mkdir -p l1/data/olddir/sub l1/opq/lower l1/becomes-file/inner l1/keepdir
	echo old >l1/data/changed
	echo gone >l1/data/olddir/sub/f
	echo gone >l1/file-to-remove
	ln -s bin/busybox l1/link-to-remove
	echo lower >l1/opq/lower/f
	echo lower >l1/opq/top
	echo x >l1/becomes-file/inner/x
	echo dir-soon >l1/becomes-dir
	echo kept >l1/keepdir/kept
	setfattr -n user.layer -v one l1/data/changed
	touch -d @1500000000 l1/data/changed
	chmod 0711 l1/keepdir
}

layer2() {
	mkdir -p l2/data l2/opq/new l2/becomes-dir l2/keepdir l2/dev l2/links
	: >l2/.wh.file-to-remove
	: >l2/.wh.link-to-remove
	: >l2/data/.wh.olddir
	: >l2/opq/.wh..wh..opq
	echo new >l2/opq/new/f
	echo new >l2/data/changed
	setfattr -n user.layer -v two l2/data/changed
	setfattr -n trusted.berth -v t l2/data/changed
	echo becomes-file >l2/becomes-file
	echo inside >l2/becomes-dir/inside
	echo more >l2/keepdir/more
	chmod 0750 l2/keepdir
	cp /bin/busybox l2/links/suid && chmod 4755 l2/links/suid
	echo g >l2/links/sgid && chown 1000:1002 l2/links/sgid && chmod 2755 l2/links/sgid
	echo u >l2/links/suid-user && chown 1000:1000 l2/links/suid-user && chmod 4750 l2/links/suid-user
	echo x >l2/links/xattrs
	setfattr -n user.one -v 1 l2/links/xattrs
	setfattr -n user.two -v 0x00ff l2/links/xattrs
	setfattr -n trusted.berth -v t l2/links/xattrs
	mkdir l2/links/xdir && setfattr -n user.dir -v d l2/links/xdir
	echo h >l2/links/hard1 && ln l2/links/hard1 l2/links/hard2 && ln l2/links/hard1 l2/hard3
	ln -s /bin/busybox l2/links/abs
	ln -s ../../bin/../bin/sh l2/links/rel
	ln -s nowhere l2/links/dangling
	mkfifo -m 0640 l2/links/fifo
	mknod -m 0666 l2/dev/null c 1 3
	mknod -m 0660 l2/dev/loop7 b 7 7
	echo cap >l2/links/ping
	setfattr -n security.capability -v 0x0100000200200000000000000000000000000000 l2/links/ping
	mkdir -m 1777 l2/sticky
	chown -h 1000:1000 l2/links/rel
	touch -h -d @1400000000 l2/links/abs
	touch -d @1300000000 l2/links/hard1
}

layer3() {
	mkdir -p l3/data l3/links
	echo late >l3/data/late
	: >l3/data/.wh..wh..opq
	: >l3/.wh.hard3
	echo replaced >l3/becomes-file
	ln -s data l3/keepdir # a symlink replaces a directory tree
	chmod 0700 l3/links
}

# A hardlink to a file of an earlier layer: GNU tar only links within one
# archive, so this entry is appended by hand.
layer3_crosslink() {
	python3 - "$1" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1], "a", format=tarfile.PAX_FORMAT) as t:
    i = tarfile.TarInfo("./links/xlayer-link")
    i.type, i.linkname, i.mtime = tarfile.LNKTYPE, "./links/hard2", 1300000000
    t.addfile(i)
PY
}

# DIR -> DIR.tar (pax, xattrs, numeric owners), gzip'd unless "none"
layer_tar() {
	tar --xattrs --xattrs-include='*' --numeric-owner --format=pax --sort=name \
		-C "$1" -cf "$1.tar" .
	[ "$1" != l3 ] || layer3_crosslink "$1.tar"
	[ "$2" = none ] || gzip -n "$1.tar"
}

# The manifest of layout:test, its layers' blob paths and the config's diff_ids.
manifest() {
	local m
	m=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "test")
		| .digest' layout/index.json)
	jq -r '.layers[].digest' "layout/blobs/sha256/${m#sha256:}" | sed 's|^sha256:|layout/blobs/sha256/|' >layer_blobs
	jq -r '.config.digest' "layout/blobs/sha256/${m#sha256:}" | sed 's|^sha256:|layout/blobs/sha256/|' |
		xargs jq -r '.rootfs.diff_ids[]' >diff_ids
}

build_layout() {
	layer_tar l1 gzip
	layer_tar l2 gzip
	layer_tar l3 none
	"$here/make_layout.sh" layout test l1.tar.gz l2.tar.gz l3.tar
	manifest
}

# One line per path: type, mode, owner, link count, size, sha256, link
# target, device numbers, xattrs (all namespaces), mtime (with ns).
list_tree() {
	(cd "$1" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort | while IFS= read -r p; do
		local t m o n s h="" l="" d="" x mt
		read -r t m o n s mt <<<"$(stat -c '%F|%a|%u:%g|%h|%s|%.9Y' -- "$p" | tr ' |' '_ ')"
		case $t in
		regular*) h=$(sha256sum <"$p" | cut -c1-16) ;;
		symbolic*) l=$(readlink -- "$p") ;;
		*special*) d=$(stat -c '%t:%T' -- "$p") ;;
		esac
		[ "$t" = directory ] && { n=-; s=-; } # size: how the fs grew it
		x=$(getfattr -h -d -m - -e hex -- "$p" 2>/dev/null | { grep -v '^#' || true; } | { grep . || true; } |
			LC_ALL=C sort | tr '\n' ' ')
		printf '%s %s %s %s %s %s %s %s %s [%s] %s\n' "$p" "$t" "$m" "$o" "$n" "$s" "$h" "$l" "$d" "$x" "$mt"
	done)
}

main() {
	layer1
	layer2
	layer3
	build_layout

	umoci unpack --image layout:test umoci-bundle >umoci.log 2>&1 || { cat umoci.log; fail "umoci unpack"; }
	mkdir berth-root
	local blobs=()
	mapfile -t blobs <layer_blobs
	if "$driver" berth-root "${blobs[@]}" >berth.log 2>&1; then ok; else cat berth.log; fail "unpack_layers"; fi
	if diff <(cut -d' ' -f1 berth.log) diff_ids >/dev/null; then ok; else fail "diff_ids differ from the config's"; fi

	list_tree umoci-bundle/rootfs >umoci.list
	list_tree berth-root >berth.list
	local n
	n=$(wc -l <berth.list)
	if diff -u umoci.list berth.list >list.diff; then
		ok
		echo "# parity: $n paths identical (type, mode, owner, nlink, size, sha256, link, dev, xattrs, mtime in ns)"
	else
		fail "listings differ:"
		head -40 list.diff
	fi
	# Spot checks that the image exercised what it should.
	expect "setuid kept" '^links/suid regular_file 4755 '
	expect "opaque dir drops lower entries" '^opq/new/f ' '^opq/lower'
	expect "security.capability kept" 'security.capability=0x01'
	expect "opaque marker after entries (layer 3)" '^data/late ' '^data/changed '
	expect "xattrs kept" '^links/xattrs .*trusted.berth=0x74 user.one=0x31 user.two=0x00ff'
	expect "cross-layer hardlink" '^links/xlayer-link regular_file 644 0:0 3 '
	expect "a symlink replaces a directory tree" '^keepdir symbolic_link' '^keepdir/'
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
}

main
