#!/usr/bin/env bash
# Pack a root filesystem directory into a single-layer docker-archive (the
# format of `docker save`) for `docker load`, which in Docker 20.10 does not
# read OCI layouts. No registry, no builder.
#
#   tests/corpus/make-docker-archive.sh ROOTFS OUT.tar NAME:TAG
set -euo pipefail
rootfs=${1:?usage: make-docker-archive.sh ROOTFS OUT.tar NAME:TAG}
out=${2:?usage: make-docker-archive.sh ROOTFS OUT.tar NAME:TAG}
name=${3:?usage: make-docker-archive.sh ROOTFS OUT.tar NAME:TAG}

arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
case $arch in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

tar -C "$rootfs" --numeric-owner --sort=name -cf "$work/layer.tar" .
diff_id=sha256:$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
layer_dir=${diff_id#sha256:}
mkdir "$work/$layer_dir"
mv "$work/layer.tar" "$work/$layer_dir/layer.tar"
echo 1.0 >"$work/$layer_dir/VERSION"

jq -cn --arg a "$arch" --arg l "$diff_id" '{
	architecture: $a, os: "linux", created: "1970-01-01T00:00:00Z",
	config: {Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
	         Cmd: ["sh"], WorkingDir: "/"},
	rootfs: {type: "layers", diff_ids: [$l]},
	history: [{created: "1970-01-01T00:00:00Z", created_by: "tests/corpus/make-docker-archive.sh"}]
}' >"$work/config.json"
config_id=$(sha256sum "$work/config.json" | cut -d' ' -f1)
mv "$work/config.json" "$work/$config_id.json"

jq -cn --arg c "$config_id.json" --arg n "$name" --arg l "$layer_dir/layer.tar" \
	'[{Config: $c, RepoTags: [$n], Layers: [$l]}]' >"$work/manifest.json"

tar -C "$work" --numeric-owner --sort=name -cf "$out.tmp" manifest.json "$config_id.json" "$layer_dir"
mv "$out.tmp" "$out"
