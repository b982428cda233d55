#!/bin/sh
# Repack a single-manifest OCI image archive (from make-oci-image.sh) as a
# docker-archive (the `docker save` layout), for `docker load` (docker 20.10
# loads only this format) and buildah's docker-archive: transport.
#
#   tests/clients/make-docker-archive.sh OCI.tar OUT.tar NAME
#
# The layer and config blobs are reused as they are: the docker-archive
# holds the config as <hex>.json, each layer as <hex>/layer.tar (with the
# legacy VERSION file) and a manifest.json naming NAME as its RepoTag.
set -eu
oci=${1:?usage: make-docker-archive.sh OCI.tar OUT.tar NAME}
out=${2:?usage: make-docker-archive.sh OCI.tar OUT.tar NAME}
name=${3:?usage: make-docker-archive.sh OCI.tar OUT.tar NAME}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/oci" "$work/out"
tar -C "$work/oci" -xf "$oci"

# blob DIGEST: the path of a blob of the OCI layout.
blob() { echo "$work/oci/blobs/${1%%:*}/${1#*:}"; }

manifest=$(blob "$(jq -r '.manifests | if length == 1 then .[0].digest else error("expected one manifest") end' "$work/oci/index.json")")
config=$(jq -r .config.digest "$manifest")
cp "$(blob "$config")" "$work/out/${config#*:}.json"
layers=""
for l in $(jq -r '.layers[].digest' "$manifest"); do
	h=${l#*:}
	mkdir "$work/out/$h"
	cp "$(blob "$l")" "$work/out/$h/layer.tar"
	echo 1.0 >"$work/out/$h/VERSION"
	layers="$layers $h/layer.tar"
done
# shellcheck disable=SC2086
jq -cn --arg c "${config#*:}.json" --arg n "$name" '[{Config: $c, RepoTags: [$n], Layers: $ARGS.positional}]' \
	--args $layers >"$work/out/manifest.json"

# Member names without a "./" prefix, as `docker save` writes them.
(cd "$work/out" && tar --numeric-owner --sort=name -cf - -- *) >"$out.tmp"
mv "$out.tmp" "$out"
