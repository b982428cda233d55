#!/bin/sh
# Builds the image fixtures for tests/image/source_test from Debian's
# busybox-static, with tar, gzip, sha256sum and jq (plus coreutils):
#
#   DIR/oci/                   OCI layout, two gzip layers, tag "test"
#   DIR/oci.tar                oci-archive: the same layout as a tar
#   DIR/docker.tar             docker-archive, `docker save` <= 24 style
#                              (<id>/layer.tar, <hex>.json)
#   DIR/docker-blobs.tar       docker-archive, docker >= 25 style (blobs/sha256)
#   DIR/docker-dup.tar         a repeated layer stored as a symlink to the first
#   DIR/multi/                 layout: tag "multi" -> image index (host arch +
#                              the other of amd64/arm64 -> a fake manifest)
#   DIR/multi-flat/            layout: index.json itself lists both platforms
#   DIR/evil-link.tar          docker-archive whose layer is a symlink to /etc/passwd
#   DIR/evil-dotdot.tar        docker-archive whose layer path climbs out with ..
#   DIR/facts                  shell variables: digests and sizes to check against
#
# Layer 1: bin/busybox, bin/sh -> busybox, etc/motd, etc/passwd.
# Layer 2: etc/.wh.motd (whiteout of etc/motd) and etc/extra.
set -eu
out=${1:?usage: make-fixtures.sh DIR}
bb=${BUSYBOX:-/bin/busybox}
[ -x "$bb" ] || { echo "make-fixtures.sh: $bb missing (apt-get install busybox-static)" >&2; exit 1; }

arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
case $arch in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; esac
other=arm64
[ "$arch" != arm64 ] || other=amd64

rm -rf "$out"
mkdir -p "$out"
work=$out/work
mkdir -p "$work/l1/bin" "$work/l1/etc" "$work/l2/etc"

# A reproducible tar of directory $1 into $2.
mktar() {
	tar -C "$1" --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 -cf "$2" .
}
sha() { sha256sum "$1" | cut -d' ' -f1; }

cp "$bb" "$work/l1/bin/busybox"
ln -s busybox "$work/l1/bin/sh"
echo "welcome to berth" >"$work/l1/etc/motd"
echo "root:x:0:0:root:/root:/bin/sh" >"$work/l1/etc/passwd"
: >"$work/l2/etc/.wh.motd"
echo "second layer" >"$work/l2/etc/extra"
mktar "$work/l1" "$work/layer1.tar"
mktar "$work/l2" "$work/layer2.tar"
diff1=$(sha "$work/layer1.tar")
diff2=$(sha "$work/layer2.tar")
gzip -n -9 -c "$work/layer1.tar" >"$work/layer1.tgz"
gzip -n -9 -c "$work/layer2.tar" >"$work/layer2.tgz"

# blob LAYOUT FILE MEDIATYPE [JQ-EXTRA]: copy FILE into LAYOUT's blobs,
# print its descriptor.
blob() {
	mkdir -p "$1/blobs/sha256"
	d=$(sha "$2")
	cp "$2" "$1/blobs/sha256/$d"
	jq -cn --arg m "$3" --arg d "sha256:$d" --argjson s "$(stat -c %s "$2")" \
		"{mediaType: \$m, digest: \$d, size: \$s} ${4:-}"
}
layout_files() {
	echo '{"imageLayoutVersion":"1.0.0"}' >"$1/oci-layout"
}

# config ARCH: an image config for the two layers.
config() {
	jq -cn --arg a "$1" --arg d1 "sha256:$diff1" --arg d2 "sha256:$diff2" '{
		architecture: $a, os: "linux",
		config: {Env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["sh"]},
		rootfs: {type: "layers", diff_ids: [$d1, $d2]}
	}'
}
# manifest LAYOUT CONFIGFILE: blobs for config and layers, print the manifest.
manifest() {
	c=$(blob "$1" "$2" application/vnd.oci.image.config.v1+json)
	l1=$(blob "$1" "$work/layer1.tgz" application/vnd.oci.image.layer.v1.tar+gzip)
	l2=$(blob "$1" "$work/layer2.tgz" application/vnd.oci.image.layer.v1.tar+gzip)
	jq -cn --argjson c "$c" --argjson l1 "$l1" --argjson l2 "$l2" '{
		schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: $c, layers: [$l1, $l2]
	}'
}

# ---- oci: and oci-archive: ----
oci=$out/oci
mkdir -p "$oci"
config "$arch" >"$work/config.json"
config "$other" >"$work/config-other.json"
manifest "$oci" "$work/config.json" >"$work/manifest.json"
m=$(blob "$oci" "$work/manifest.json" application/vnd.oci.image.manifest.v1+json \
	'+ {annotations: {"org.opencontainers.image.ref.name": "test"}}')
jq -cn --argjson m "$m" '{schemaVersion: 2, manifests: [$m]}' >"$oci/index.json"
layout_files "$oci"
tar -C "$oci" --sort=name --numeric-owner -cf "$out/oci.tar" oci-layout index.json blobs

# ---- multi-platform layouts ----
plat() { jq -cn --arg a "$1" '{platform: {os: "linux", architecture: $a}}'; }
for lay in multi multi-flat; do
	mkdir -p "$out/$lay"
	manifest "$out/$lay" "$work/config.json" >"$work/m-real.json"
	manifest "$out/$lay" "$work/config-other.json" >"$work/m-fake.json"
	real=$(blob "$out/$lay" "$work/m-real.json" application/vnd.oci.image.manifest.v1+json \
		"+ $(plat "$arch")")
	fake=$(blob "$out/$lay" "$work/m-fake.json" application/vnd.oci.image.manifest.v1+json \
		"+ $(plat "$other")")
	jq -cn --argjson a "$real" --argjson b "$fake" \
		'{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
		  manifests: [$b, $a]}' >"$work/index-$lay.json"
	layout_files "$out/$lay"
done
cp "$work/index-multi-flat.json" "$out/multi-flat/index.json"
ix=$(blob "$out/multi" "$work/index-multi.json" application/vnd.oci.image.index.v1+json \
	'+ {annotations: {"org.opencontainers.image.ref.name": "multi"}}')
jq -cn --argjson i "$ix" '{schemaVersion: 2, manifests: [$i]}' >"$out/multi/index.json"

# ---- docker-archive: ----
cfg=$(sha "$work/config.json")
id1=$(echo "$diff1" | sha256sum | cut -d' ' -f1)
id2=$(echo "$diff1 $diff2" | sha256sum | cut -d' ' -f1)
d=$work/docker
mkdir -p "$d/$id1" "$d/$id2"
cp "$work/config.json" "$d/$cfg.json"
cp "$work/layer1.tar" "$d/$id1/layer.tar"
cp "$work/layer2.tar" "$d/$id2/layer.tar"
for i in $id1 $id2; do echo 1.0 >"$d/$i/VERSION"; echo "{\"id\":\"$i\"}" >"$d/$i/json"; done
# docker_archive DIR OUT LAYER-PATH...: manifest.json naming those layers.
docker_archive() {
	dir=$1 tarball=$2
	shift 2
	jq -cn --arg c "$cfgpath" '[{Config: $c, RepoTags: ["localhost/berth-test:test"],
		Layers: $ARGS.positional}]' --args "$@" >"$dir/manifest.json"
	tar -C "$dir" --sort=name --numeric-owner -cf "$tarball" .
}
cfgpath=$cfg.json
docker_archive "$d" "$out/docker.tar" "$id1/layer.tar" "$id2/layer.tar"
echo "{\"localhost/berth-test\":{\"test\":\"$id2\"}}" >"$d/repositories"

mkdir -p "$d-dup/$id1" "$d-dup/$id2"
cp "$d/$cfg.json" "$d-dup/"
cp "$d/$id1/layer.tar" "$d-dup/$id1/"
ln -s "../$id1/layer.tar" "$d-dup/$id2/layer.tar"
docker_archive "$d-dup" "$out/docker-dup.tar" "$id1/layer.tar" "$id2/layer.tar"

b=$work/docker-blobs
mkdir -p "$b/blobs/sha256"
cp "$work/config.json" "$b/blobs/sha256/$cfg"
cp "$work/layer1.tar" "$b/blobs/sha256/$diff1"
cp "$work/layer2.tar" "$b/blobs/sha256/$diff2"
cfgpath=blobs/sha256/$cfg
docker_archive "$b" "$out/docker-blobs.tar" "blobs/sha256/$diff1" "blobs/sha256/$diff2"

e=$work/evil
mkdir -p "$e/x"
cp "$work/config.json" "$e/c.json"
ln -s /etc/passwd "$e/x/layer.tar"
cfgpath=c.json
docker_archive "$e" "$out/evil-link.tar" x/layer.tar
rm "$e/x/layer.tar"
docker_archive "$e" "$out/evil-dotdot.tar" ../../../../../../etc/passwd

cat >"$out/facts" <<FACTS
arch=$arch
other=$other
config=sha256:$cfg
diff1=sha256:$diff1
diff2=sha256:$diff2
gz1=sha256:$(sha "$work/layer1.tgz")
gz2=sha256:$(sha "$work/layer2.tgz")
manifest=sha256:$(sha "$work/manifest.json")
FACTS
rm -rf "$work"
