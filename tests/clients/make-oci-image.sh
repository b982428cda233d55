#!/bin/sh
# Pack a root filesystem directory into a single-layer OCI image archive
# (an oci-layout tarball) without a registry or an image builder, for
# `podman load` and `ctr images import`.
#
#   tests/clients/make-oci-image.sh ROOTFS OUT.tar NAME [ENTRYPOINT_JSON]
#
# NAME (e.g. localhost/busybox:test) goes in the index as both the OCI
# ref.name annotation (podman) and io.containerd.image.name (containerd).
# ENTRYPOINT_JSON (e.g. '["/pause"]') makes the image run that program with
# no Cmd; without it the image runs sh.
set -eu
rootfs=${1:?usage: make-oci-image.sh ROOTFS OUT.tar NAME}
out=${2:?usage: make-oci-image.sh ROOTFS OUT.tar NAME}
name=${3:?usage: make-oci-image.sh ROOTFS OUT.tar NAME}
entrypoint=${4:-}

arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
case $arch in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/blobs/sha256"

# blob FILE MEDIATYPE: move FILE into blobs/, print its descriptor.
blob() {
	d=$(sha256sum "$1" | cut -d' ' -f1)
	s=$(stat -c %s "$1")
	mv "$1" "$work/blobs/sha256/$d"
	jq -cn --arg m "$2" --arg d "sha256:$d" --argjson s "$s" \
		'{mediaType: $m, digest: $d, size: $s}'
}

tar -C "$rootfs" --numeric-owner --sort=name -cf "$work/layer" .
diff_id=sha256:$(sha256sum "$work/layer" | cut -d' ' -f1)
layer=$(blob "$work/layer" application/vnd.oci.image.layer.v1.tar)

if [ -n "$entrypoint" ]; then
	run=$(jq -cn --argjson e "$entrypoint" '{Entrypoint: $e}')
else
	run='{"Cmd": ["sh"]}'
fi
jq -cn --arg a "$arch" --arg l "$diff_id" --argjson run "$run" '{
	architecture: $a, os: "linux",
	config: ({Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
	          WorkingDir: "/"} + $run),
	rootfs: {type: "layers", diff_ids: [$l]},
	history: [{created_by: "tests/clients/make-oci-image.sh"}]
}' >"$work/config"
config=$(blob "$work/config" application/vnd.oci.image.config.v1+json)

jq -cn --argjson c "$config" --argjson l "$layer" '{
	schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
	config: $c, layers: [$l]
}' >"$work/manifest"
manifest=$(blob "$work/manifest" application/vnd.oci.image.manifest.v1+json)

jq -cn --argjson m "$manifest" --arg n "$name" '{
	schemaVersion: 2,
	manifests: [$m + {annotations: {"org.opencontainers.image.ref.name": $n,
	                                "io.containerd.image.name": $n}}]
}' >"$work/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$work/oci-layout"

tar -C "$work" --numeric-owner --sort=name -cf "$out.tmp" oci-layout index.json blobs
mv "$out.tmp" "$out"
