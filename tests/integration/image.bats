#!/usr/bin/env bats
# Images (issue #12, first part): pull from an OCI layout, an oci-archive and
# a docker-archive (fixtures built at test time from busybox-static by
# tests/image/make-fixtures.sh), bundle create (overlay of the cached layers
# with a private upper, or --copy) and a container run from it, bundle rm
# that never crosses into a mount, image ls/inspect/rm, bad references.

load helpers
load image_helpers

setup() {
	requires_berth "images are berth's own verbs"
	requires root
	setup_bundle
	image_setup
}

teardown() {
	image_teardown
	teardown_bundle
}

# Every pulled layer's diff_id is the one the fixture's config lists.
@test "pull from an OCI layout, an oci-archive and a docker-archive records the image" {
	local ref
	for ref in "oci:$FX/oci" "oci-archive:$FX/oci.tar" "docker-archive:$FX/docker.tar"; do
		run "${BI[@]}" pull -q "$ref"
		echo "$ref: $output"
		[ "$status" -eq 0 ]
	done
	run "${BI[@]}" image ls
	[ "$(grep -c -e oci: -e oci-archive: -e docker-archive: <<<"$output")" -eq 3 ]
	local diff1
	diff1=$(sed -n 's/^diff1=//p' "$FX/facts")
	[ "$(cat "$IMG"/layers/sha256/*/diff_id | grep -c "$diff1")" -ge 1 ]
	run "${BI[@]}" image inspect "oci:$FX/oci"
	[ "$status" -eq 0 ]
	[ "$(jq -r .manifest <<<"$output")" = "$(sed -n 's/^manifest=//p' "$FX/facts")" ]
}

@test "bundle create (overlay): a container runs the image; two bundles do not see each other's writes" {
	"${BI[@]}" bundle create --image "oci:$FX/oci" "$BATS_TEST_TMPDIR/b1" -- sh -c 'echo one > /mark; cat /mark'
	"${BI[@]}" bundle create --image "oci:$FX/oci" "$BATS_TEST_TMPDIR/b2" -- sh -c 'cat /mark 2>/dev/null || echo none'
	for b in b1 b2; do
		jq '.root.readonly=false' "$BATS_TEST_TMPDIR/$b/config.json" >"$BATS_TEST_TMPDIR/c" &&
			mv "$BATS_TEST_TMPDIR/c" "$BATS_TEST_TMPDIR/$b/config.json"
	done
	run "$BERTH" --root "$ROOT" run -b "$BATS_TEST_TMPDIR/b1" i1
	[ "$status" -eq 0 ]
	[ "$output" = one ]
	[ -f "$BATS_TEST_TMPDIR/b1/upper/mark" ]
	run "$BERTH" --root "$ROOT" run -b "$BATS_TEST_TMPDIR/b2" i2
	[ "$status" -eq 0 ]
	[[ "$output" == *none* ]]
	# The cached layers are untouched by the write.
	! ls "$IMG"/layers/sha256/*/rootfs/mark 2>/dev/null
}

@test "bundle create --copy: config from the image, Cmd replaced by the arguments" {
	"${BI[@]}" bundle create --copy --image "docker-archive:$FX/docker.tar" "$BATS_TEST_TMPDIR/b3" -- sh -c 'echo from-copy'
	[ "$(jq -c .process.args "$BATS_TEST_TMPDIR/b3/config.json")" = '["sh","-c","echo from-copy"]' ]
	run "$BERTH" --root "$ROOT" run -b "$BATS_TEST_TMPDIR/b3" i3
	[ "$status" -eq 0 ]
	[ "$output" = from-copy ]
	! findmnt "$BATS_TEST_TMPDIR/b3/rootfs" >/dev/null
}

@test "bundle rm never follows a bind mount out of the rootfs: the host files stay" {
	local host=$BATS_TEST_TMPDIR/hostdir
	mkdir -p "$host" && echo keep >"$host/precious"
	"${BI[@]}" bundle create --copy --image "oci:$FX/oci" "$BATS_TEST_TMPDIR/b4"
	mkdir -p "$BATS_TEST_TMPDIR/b4/rootfs/mnt/host"
	mount --bind "$host" "$BATS_TEST_TMPDIR/b4/rootfs/mnt/host"
	run "$BERTH" bundle rm "$BATS_TEST_TMPDIR/b4"
	umount "$BATS_TEST_TMPDIR/b4/rootfs/mnt/host" 2>/dev/null || true
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"mount point"* ]]
	[ "$(cat "$host/precious")" = keep ]
	"$BERTH" bundle rm "$BATS_TEST_TMPDIR/b4"
	[ ! -e "$BATS_TEST_TMPDIR/b4" ]
}

@test "bad references, a missing tag and a corrupt layer: one line, exit 1, nothing cached" {
	run "${BI[@]}" pull 'oci:'
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ]
	run "${BI[@]}" pull 'Not/A/Valid:Ref:x'
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ]
	run "${BI[@]}" pull "oci:$FX/oci:nosuchtag"
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ]
	# A layer blob flipped in a copy of the layout: its digest no longer matches.
	cp -a "$FX/oci" "$BATS_TEST_TMPDIR/bad"
	local gz1
	gz1=$(sed -n 's/^gz1=sha256://p' "$FX/facts")
	printf 'X' | dd of="$BATS_TEST_TMPDIR/bad/blobs/sha256/$gz1" bs=1 seek=100 conv=notrunc 2>/dev/null
	run "${BI[@]}" pull -q "oci:$BATS_TEST_TMPDIR/bad"
	echo "$output"
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ]
	[ ! -e "$IMG/blobs/sha256/$gz1" ]
	[ ! -e "$IMG/layers/sha256/$gz1" ]
	run "${BI[@]}" image ls
	[ "${#lines[@]}" -eq 1 ] # the header only
}

@test "bundle create into a directory that exists: one line, exit 1, nothing pulled, the directory untouched" {
	mkdir -p "$BATS_TEST_TMPDIR/b7" && echo mine >"$BATS_TEST_TMPDIR/b7/file"
	run "${BI[@]}" bundle create --image "oci:$FX/oci" "$BATS_TEST_TMPDIR/b7"
	echo "$output"
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ] && [[ "$output" == *"File exists"* ]]
	[ "$(ls -A "$BATS_TEST_TMPDIR/b7")" = file ] && [ "$(cat "$BATS_TEST_TMPDIR/b7/file")" = mine ]
	[ ! -e "$IMG/blobs" ]
	rm -r "$BATS_TEST_TMPDIR/b7"
}

@test "image rm forgets the name; bundle create of it pulls again" {
	"${BI[@]}" pull -q "oci:$FX/oci"
	"${BI[@]}" image rm "oci:$FX/oci"
	run "${BI[@]}" image inspect "oci:$FX/oci"
	[ "$status" -eq 1 ]
	"${BI[@]}" bundle create --copy --image "oci:$FX/oci" "$BATS_TEST_TMPDIR/b5" -- true
	[ -f "$BATS_TEST_TMPDIR/b5/config.json" ]
}

# A docker-registry on 127.0.0.1 (plain http; one with htpasswd Basic auth)
# holding the fixture, pushed with skopeo: what `berth pull` sees from a
# real registry, by tag and by digest, then a container from it.
@test "pull from a real registry by tag and by digest; wrong password and missing tag: one line" {
	command -v docker-registry >/dev/null || skip "docker-registry missing"
	local p1=$((20000 + RANDOM % 20000)) p2
	p2=$((p1 + 1))
	registry_start plain "$p1"
	registry_start auth "$p2" htpasswd
	export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
	skopeo copy -q --dest-tls-verify=false "oci:$FX/oci" "docker://127.0.0.1:$p1/test/busybox:1"
	run "${BI[@]}" pull -q "127.0.0.1:$p1/test/busybox:1"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "$(sed -n 's/^manifest=//p' "$FX/facts")" ]
	run "${BI[@]}" pull -q "127.0.0.1:$p1/test/busybox@$output"
	[ "$status" -eq 0 ]
	run "${BI[@]}" pull -q "127.0.0.1:$p1/test/busybox:nope"
	echo "$output"
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ] && [[ "$output" == *"manifest unknown"* ]]
	run "${BI[@]}" pull -q --creds alice:wrong "127.0.0.1:$p2/test/busybox:1"
	echo "$output"
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ] && [[ "$output" == *"authentication failed"* ]]
	run "${BI[@]}" pull -q --creds alice:secret "127.0.0.1:$p2/test/busybox:1"
	[ "$status" -eq 0 ]
	"${BI[@]}" bundle create --copy --image "127.0.0.1:$p1/test/busybox:1" "$BATS_TEST_TMPDIR/b6" -- sh -c 'echo from-registry'
	run "$BERTH" --root "$ROOT" run -b "$BATS_TEST_TMPDIR/b6" i6
	[ "$status" -eq 0 ] && [ "$output" = from-registry ]
}

# $1 with its carriage returns shown as <CR> (bats prints it readably).
show_cr() {
	printf '%s\n' "${1//$'\r'/<CR>}"
}

@test "pull progress on a terminal: per layer bytes, layers and rate redrawn in place, a summary; none on a file, none with -q" {
	command -v script >/dev/null || skip "script (bsdutils) missing"
	registry_with_fixture
	local p ref out
	p=$(free_port)
	slow_proxy_start "$p" "${REG#*:}" 1500000
	ref=127.0.0.1:$p/test/busybox:1
	# stderr a terminal (script's pty): redraws while the ~1 MB layer trickles in.
	out=$(script -qec "'$BERTH' --image-root '$BATS_TEST_TMPDIR/i1' pull '$ref'" /dev/null)
	show_cr "$out"
	[[ "$out" == *$'\r'"layer "[12]"/2: "*" / "*"iB  layers done "[01]"/2  "*"/s"* ]]
	[ "$(grep -o $'\r''layer [12]/2: ' <<<"$out" | wc -l)" -ge 3 ]
	[[ "$out" == *"pulled 2 layers: "*" fetched in "*" s ("*"/s)"* ]]
	[[ "$out" == *"$(sed -n 's/^manifest=//p' "$FX/facts")"* ]]
	# stderr a file: not a byte of progress there.
	out=$(script -qec "'$BERTH' --image-root '$BATS_TEST_TMPDIR/i2' pull '$ref' 2>'$BATS_TEST_TMPDIR/err'" /dev/null)
	show_cr "$out"
	[ ! -s "$BATS_TEST_TMPDIR/err" ]
	[ "${out%$'\r'}" = "$(sed -n 's/^manifest=//p' "$FX/facts")" ]
	# -q on a terminal: the digest alone.
	out=$(script -qec "'$BERTH' --image-root '$BATS_TEST_TMPDIR/i3' pull -q '$ref'" /dev/null)
	show_cr "$out"
	[ "${out%$'\r'}" = "$(sed -n 's/^manifest=//p' "$FX/facts")" ]
}

# An auth file with KEY: base64 of USER:PASS.
authfile_write() { # FILE KEY USER:PASS
	mkdir -p "$(dirname "$1")"
	jq -n --arg k "$2" --arg a "$(printf '%s' "$3" | base64 -w0)" '{auths:{($k):{auth:$a}}}' >"$1"
}

@test "no --creds or --authfile: the default auth files, in skopeo's order" {
	command -v docker-registry >/dev/null || skip "docker-registry missing"
	local p home=$BATS_TEST_TMPDIR/home xdg=$BATS_TEST_TMPDIR/xdg n=0
	p=$(free_port)
	registry_start auth "$p" htpasswd
	export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
	skopeo copy -q --dest-creds alice:secret --dest-tls-verify=false "oci:$FX/oci" "docker://127.0.0.1:$p/test/busybox:1"
	local reg=127.0.0.1:$p
	pull_env() { # [VAR=VALUE...]: a pull into a fresh root with only these in the environment
		n=$((n + 1))
		run env -i PATH="$PATH" HOME="$home" NO_PROXY=127.0.0.1 "$@" \
			"$BERTH" --image-root "$BATS_TEST_TMPDIR/a$n" pull -q "$reg/test/busybox:1"
		echo "$n $*: $output"
	}
	pull_env
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ] && [[ "$output" == *"no credentials given"* ]]
	# docker's own file, its key with a scheme, as `docker login` writes it.
	authfile_write "$home/.docker/config.json" "http://$reg" alice:secret
	pull_env
	[ "$status" -eq 0 ]
	# ~/.config/containers/auth.json comes first: its wrong password fails.
	authfile_write "$home/.config/containers/auth.json" "$reg" alice:wrong
	pull_env
	[ "$status" -eq 1 ] && [[ "$output" == *"authentication failed"* ]]
	# ...unless $XDG_CONFIG_HOME moves it away.
	pull_env XDG_CONFIG_HOME="$BATS_TEST_TMPDIR/elsewhere"
	[ "$status" -eq 0 ]
	# $XDG_RUNTIME_DIR/containers/auth.json before that, with a key naming the repository's namespace.
	authfile_write "$xdg/containers/auth.json" "$reg/test" alice:secret
	pull_env XDG_RUNTIME_DIR="$xdg"
	[ "$status" -eq 0 ]
	# $REGISTRY_AUTH_FILE before all of them.
	authfile_write "$BATS_TEST_TMPDIR/override.json" "$reg" alice:wrong
	pull_env XDG_RUNTIME_DIR="$xdg" REGISTRY_AUTH_FILE="$BATS_TEST_TMPDIR/override.json"
	[ "$status" -eq 1 ] && [[ "$output" == *"authentication failed"* ]]
	# A file naming the registry without "auth" (a credsStore's entry) is passed over.
	jq -n --arg k "$reg" '{auths:{($k):{}}, credsStore:"desktop"}' >"$BATS_TEST_TMPDIR/override.json"
	pull_env XDG_RUNTIME_DIR="$xdg" REGISTRY_AUTH_FILE="$BATS_TEST_TMPDIR/override.json"
	[ "$status" -eq 0 ]
	# A file that is not JSON: one line naming it.
	echo '{garbage' >"$xdg/containers/auth.json"
	pull_env XDG_RUNTIME_DIR="$xdg"
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ] && [[ "$output" == *"$xdg/containers/auth.json"* ]]
}

# A layer of 2 GiB of zeros in ~2 MB of gzip (2048 gzip members of 1 MiB of
# zeros after a tar header): the pull stops near 1 GiB with one line; the
# layer cache has no entry and no temporary directory for it, no image is
# recorded, and the blobs it fetched (their digests are right) go with it.
@test "a gzip bomb layer: refused with one line, nothing in the layer cache" {
	local d=$BATS_TEST_TMPDIR/bomb
	mkdir -p "$d"
	# The layout written directly: its config's diff_id is never reached.
	python3 - "$d/layout" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
out = sys.argv[1]
os.makedirs(out + "/blobs/sha256")
def put(data, media):
    digest = hashlib.sha256(data).hexdigest()
    with open("%s/blobs/sha256/%s" % (out, digest), "wb") as f:
        f.write(data)
    return {"mediaType": media, "digest": "sha256:" + digest, "size": len(data)}
header = tarfile.TarInfo("zeros")
header.size = 2 << 30
member = gzip.compress(bytes(1 << 20), mtime=0)
layer = io.BytesIO()
layer.write(gzip.compress(header.tobuf(tarfile.USTAR_FORMAT), mtime=0))
layer.write(member * 2048)
layer.write(gzip.compress(bytes(1024), mtime=0))
l = put(layer.getvalue(), "application/vnd.oci.image.layer.v1.tar+gzip")
c = put(json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers",
        "diff_ids": ["sha256:" + "0" * 64]}}).encode(), "application/vnd.oci.image.config.v1+json")
m = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": c, "layers": [l]}).encode(), "application/vnd.oci.image.manifest.v1+json")
m["annotations"] = {"org.opencontainers.image.ref.name": "bomb"}
with open(out + "/index.json", "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [m]}, f)
with open(out + "/oci-layout", "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
PY
	run "${BI[@]}" pull -q "oci:$d/layout:bomb"
	echo "$output"
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"decompression bomb"* && "$output" == *'"zeros"'* ]]
	[ -z "$(find "$IMG/layers" -mindepth 2 -maxdepth 2 -type d 2>/dev/null)" ]
	[ -z "$(ls -A "$IMG/blobs/sha256")" ]
	run "${BI[@]}" image ls
	[ "${#lines[@]}" -eq 1 ] # the header only
}
