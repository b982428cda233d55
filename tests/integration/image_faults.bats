#!/usr/bin/env bats
# Images (issue #12): a pull that fails, or is killed, leaves nothing in the
# store. A failure (a layer that unpacks to another diff_id than the
# config's, a corrupt blob after good layers) rolls back what the pull
# added at once; a kill at each point of a pull (berth-image-test,
# BERTH_TEST_KILL_AT=pull:...) is rolled back by the next pull. In both
# cases the store then equals, file for file, one that never saw the bad
# pull; only a cut registry download's partial file is kept (for resume,
# tests/image/registry_test.sh).

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

# The store's files and cached layer trees (directories elsewhere are
# made on demand and stay, empty).
listing() {
	[ -d "$1" ] || return 0
	find "$1" -mindepth 1 \( ! -type d -o -path "*/layers/sha256/*" \) -printf '%P\n' | sort
}

# variant NAME MODE: an OCI layout $BATS_TEST_TMPDIR/NAME, tag "v", with the
# fixture's layers plus a new gzip layer holding /NAME; MODE "ok", "diffid"
# (the config names another diff_id for the new layer) or "corrupt" (a
# fourth layer whose blob does not match its digest). Prints the new
# layer's digest.
variant() {
	python3 - "$FX/oci" "$BATS_TEST_TMPDIR/$1" "$1" "$2" <<'PY'
import gzip, hashlib, io, json, os, shutil, sys, tarfile
src, out, name, mode = sys.argv[1:]
shutil.copytree(src, out)
blobs = out + "/blobs/sha256/"
def read(d):
    return open(blobs + d.split(":")[1], "rb").read()
def put(data, media):
    d = hashlib.sha256(data).hexdigest()
    open(blobs + d, "wb").write(data)
    return {"mediaType": media, "digest": "sha256:" + d, "size": len(data)}
def layer(text):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as t:
        ti = tarfile.TarInfo(name)
        ti.size, ti.mtime = len(text), 0
        t.addfile(ti, io.BytesIO(text))
    tar = raw.getvalue()
    return gzip.compress(tar, mtime=0), "sha256:" + hashlib.sha256(tar).hexdigest()
index = json.load(open(out + "/index.json"))
man = json.loads(read(index["manifests"][0]["digest"]))
cfg = json.loads(read(man["config"]["digest"]))
gz, diff = layer(b"variant " + name.encode() + b"\n")
new = put(gz, "application/vnd.oci.image.layer.v1.tar+gzip")
man["layers"].append(new)
cfg["rootfs"]["diff_ids"].append("sha256:" + "0" * 64 if mode == "diffid" else diff)
if mode == "corrupt":
    gz2, diff2 = layer(b"corrupt\n")
    bad = put(gz2, "application/vnd.oci.image.layer.v1.tar+gzip")
    open(blobs + bad["digest"].split(":")[1], "r+b").write(b"X")  # flipped: digest mismatch
    man["layers"].append(bad)
    cfg["rootfs"]["diff_ids"].append(diff2)
man["config"] = put(json.dumps(cfg).encode(), man["config"]["mediaType"])
m = put(json.dumps(man).encode(), man["mediaType"])
m["annotations"] = {"org.opencontainers.image.ref.name": "v"}
json.dump({"schemaVersion": 2, "manifests": [m]}, open(out + "/index.json", "w"))
print(new["digest"].split(":")[1])
PY
}

@test "a new layer that unpacks to another diff_id than the config's: refused, nothing of it in the store" {
	"${BI[@]}" pull -q "oci:$FX/oci"
	local before hex
	before=$(listing "$IMG")
	hex=$(variant bad-diff diffid)
	run "${BI[@]}" pull -q "oci:$BATS_TEST_TMPDIR/bad-diff:v"
	echo "$output"
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"layer sha256:$hex"*"unpacks to sha256:"*"the config says sha256:000"* ]]
	[ ! -e "$IMG/layers/sha256/$hex" ]
	[ ! -e "$IMG/blobs/sha256/$hex" ]
	diff <(echo "$before") <(listing "$IMG")
	# The image pulled before still makes a working container.
	"${BI[@]}" bundle create --copy --image "oci:$FX/oci" "$BATS_TEST_TMPDIR/b1" -- sh -c 'read -r l </etc/extra; echo "$l"'
	run "$BERTH" --root "$ROOT" run -b "$BATS_TEST_TMPDIR/b1" f1
	echo "$output"
	[ "$status" -eq 0 ] && [ "$output" = "second layer" ]
}

@test "a corrupt blob after good new layers: the good ones this pull cached go too" {
	"${BI[@]}" pull -q "oci:$FX/oci"
	local before hex
	before=$(listing "$IMG")
	hex=$(variant corrupt corrupt)
	run "${BI[@]}" pull -q "oci:$BATS_TEST_TMPDIR/corrupt:v"
	echo "$output"
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ] && [[ "$output" == *"digest mismatch"* ]]
	[ ! -e "$IMG/layers/sha256/$hex" ]
	diff <(echo "$before") <(listing "$IMG")
	# Once the image is right, it pulls.
	variant fixed ok >/dev/null
	"${BI[@]}" pull -q "oci:$BATS_TEST_TMPDIR/fixed:v"
}

# Each point of a pull where berth-image-test dies (SIGKILL): the source
# opened (an oci-archive unpacked into ROOT/tmp), the manifest stored, the
# first layer blob stored, a layer unpacked into its temporary directory,
# every layer cached but no record. The next pull (of the fixture) rolls the
# killed one back: its store then equals a fresh pull's, file for file.
@test "a pull killed at each point: the next pull leaves the store as a fresh pull does" {
	[ -x "$BERTH_SRC_DIR/berth-image-test" ] || skip "berth-image-test not built (make berth-image-test)"
	local ref_root=$BATS_TEST_TMPDIR/ref phase want hex
	"$BERTH" --image-root "$ref_root" pull -q "oci:$FX/oci"
	want=$(listing "$ref_root")
	hex=$(variant killed ok)
	tar -C "$BATS_TEST_TMPDIR/killed" -cf "$BATS_TEST_TMPDIR/killed.tar" .
	for phase in pull:source pull:manifest pull:fetched pull:unpacked pull:unpacked#3 pull:cached; do
		rm -rf "$IMG"
		run env BERTH_IMAGE="$BERTH_SRC_DIR/berth-image-test" BERTH_TEST_KILL_AT="$phase" \
			"${BI[@]}" pull -q "oci-archive:$BATS_TEST_TMPDIR/killed.tar:v"
		echo "$phase: status $status: $output"
		[ "$status" -eq 137 ]
		[ -n "$(listing "$IMG")" ] # the kill left something
		"${BI[@]}" pull -q "oci:$FX/oci"
		diff <(echo "$want") <(listing "$IMG")
		[ ! -e "$IMG/layers/sha256/$hex" ]
	done
}
