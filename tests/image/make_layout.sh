#!/bin/bash
# An OCI image layout from layer blobs, built with sha256sum and jq only.
#
#   tests/image/make_layout.sh LAYOUT TAG BLOB...
#
# Each BLOB (a tar, or a gzip'd tar when its name ends in .gz) becomes a
# layer of TAG's manifest, in the order given; the config is minimal and its
# diff_ids are computed with gzip -dc | sha256sum. Blobs are hardlinked into
# LAYOUT/blobs/sha256 when they can be, copied otherwise.
set -euo pipefail
layout=${1:?usage: make_layout.sh LAYOUT TAG BLOB...}
tag=${2:?usage: make_layout.sh LAYOUT TAG BLOB...}
shift 2
mkdir -p "$layout/blobs/sha256"
[ -f "$layout/oci-layout" ] || echo '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"

put() { # FILE -> "sha256:HEX SIZE"
	local d
	d=$(sha256sum <"$1" | cut -d' ' -f1)
	ln -f "$1" "$layout/blobs/sha256/$d" 2>/dev/null || cp "$1" "$layout/blobs/sha256/$d"
	echo "sha256:$d $(stat -c %s "$1")"
}

layers='[]' diff_ids='[]'
for blob in "$@"; do
	case $blob in
	*.gz) mt=application/vnd.oci.image.layer.v1.tar+gzip diff=$(gzip -dc "$blob" | sha256sum) ;;
	*) mt=application/vnd.oci.image.layer.v1.tar diff=$(sha256sum <"$blob") ;;
	esac
	read -r digest size <<<"$(put "$blob")"
	layers=$(jq -c --arg mt "$mt" --arg d "$digest" --argjson s "$size" \
		'. + [{mediaType: $mt, digest: $d, size: $s}]' <<<"$layers")
	diff_ids=$(jq -c --arg d "sha256:${diff%% *}" '. + [$d]' <<<"$diff_ids")
done

put_json() { # stdin -> "sha256:HEX SIZE"
	local tmp
	tmp=$(mktemp)
	cat >"$tmp"
	put "$tmp"
	rm -f "$tmp"
}

read -r cdigest csize <<<"$(jq -n --argjson ids "$diff_ids" '{architecture: "amd64", os: "linux",
	config: {Cmd: ["/bin/sh"]}, rootfs: {type: "layers", diff_ids: $ids}}' | put_json)"
read -r mdigest msize <<<"$(jq -n --arg c "$cdigest" --argjson cs "$csize" --argjson l "$layers" \
	'{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
	  config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
	  layers: $l}' | put_json)"
[ -f "$layout/index.json" ] || echo '{"schemaVersion": 2, "manifests": []}' >"$layout/index.json"
index=$(jq --arg m "$mdigest" --argjson ms "$msize" --arg t "$tag" \
	'.manifests = [.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] != $t)]
	 + [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m, size: $ms,
	     annotations: {"org.opencontainers.image.ref.name": $t}}]' "$layout/index.json")
echo "$index" >"$layout/index.json"
