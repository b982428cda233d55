#!/usr/bin/env bats
# Images (issue #12, user-facing part): `run/create --image REF ID [-- CMD]`
# (a bundle berth makes and removes with the container, whichever way it
# goes), and `image prune` (unused layers and blobs, partial downloads;
# never what a live bundle mounts; safe against a pull in progress).

load helpers
load image_helpers

setup() {
	requires_berth "images are berth's own verbs"
	requires root
	setup_bundle
	image_setup
	REF=oci:$FX/oci
}

teardown() {
	image_teardown
	teardown_bundle
}

# The berth with this test's state and image roots.
bim() {
	"$BERTH" --root "$ROOT" --image-root "$IMG" "$@"
}

# bundle_of ID: the bundle directory the container's state names.
bundle_of() {
	bim state "$1" | jq -r .bundle
}

# What run/create --image may leave: state dirs, bundle dirs, mounts under $IMG.
leftovers() {
	ls -A "$ROOT"
	ls -A "$IMG"/containers/* 2>/dev/null
	grep -F " $IMG/" /proc/self/mountinfo
	return 0
}

layer_dirs() {
	find "$IMG/layers/sha256" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort
}

@test "run --image: the command from the image prints, run exits with its status, nothing stays" {
	run bim run --image "$REF" c1 -- sh -c 'echo hello-from-image; echo data > /written; cat /written; exit 7'
	echo "$output"
	[ "$status" -eq 7 ]
	[ "${lines[0]}" = hello-from-image ]
	[ "${lines[1]}" = data ]
	[ -z "$(leftovers)" ]
	# The layers stay cached, without the container's write.
	[ "$(layer_dirs | wc -l)" -ge 2 ]
	! ls "$IMG"/layers/sha256/*/rootfs/written 2>/dev/null
	# The image's own Cmd when no CMD is given (the fixture's: sh -c 'echo ...').
	run bim run --image "$REF" c2
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$(leftovers)" ]
}

@test "two containers from one image (create, run -d): writes in one are not seen in the other; delete removes the upper dir, keeps the layers" {
	# One by create + start, one by run -d.
	bim create --image "$REF" c1 -- sh -c 'echo one > /mark; exec sleep 1000'
	bim run -d --image "$REF" c2 -- sh -c 'exec sleep 1000' >/dev/null 2>&1 </dev/null
	local b1 b2 before
	b1=$(bundle_of c1)
	b2=$(bundle_of c2)
	[ "$b1" != "$b2" ]
	bim start c1
	retry 5 0.05 test -f "$b1/upper/mark"
	[ "$(cat "$b1/rootfs/mark")" = one ]
	[ ! -e "$b2/rootfs/mark" ]
	[ ! -e "$b2/upper/mark" ]
	before=$(layer_dirs)
	# A plain delete of the stopped container: the runtime removes what its state names.
	bim kill c1 KILL
	wait_for_status c1 stopped
	bim delete c1
	[ ! -e "$b1" ]
	! grep -qF " $b1/" /proc/self/mountinfo
	[ "$(layer_dirs)" = "$before" ]
	# c2 still runs on the same layers.
	[ "$(container_status c2)" = running ]
	[ -x "$b2/rootfs/bin/busybox" ]
	bim delete --force c2
	[ -z "$(leftovers)" ]
}

@test "delete never crosses a mount: a host dir bound into the bundle keeps every file" {
	local host=$BATS_TEST_TMPDIR/hostdir b
	mkdir -p "$host/sub" && echo keep >"$host/precious" && echo keep2 >"$host/sub/more"
	bim create --image "$REF" c1 -- sh -c 'exec sleep 1000'
	b=$(bundle_of c1)
	# Inside the rootfs: goes with the rootfs's own unmount.
	mkdir -p "$b/rootfs/mnt/host"
	mount --bind "$host" "$b/rootfs/mnt/host"
	bim delete --force c1
	[ ! -e "$b" ]
	[ "$(cat "$host/precious")" = keep ] && [ "$(cat "$host/sub/more")" = keep2 ]
	! grep -qF " $b/" /proc/self/mountinfo
	# Beside the rootfs (in the upper dir): delete refuses, one line, and
	# keeps the container so that a later delete finishes the job.
	bim create --image "$REF" c2 -- sh -c 'exec sleep 1000'
	b=$(bundle_of c2)
	mkdir -p "$b/upper/hostbind"
	mount --bind "$host" "$b/upper/hostbind"
	run bim delete --force c2
	umount "$b/upper/hostbind"
	echo "$output"
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ] && [[ "$output" == *"mount point"* ]]
	[ "$(cat "$host/precious")" = keep ] && [ "$(cat "$host/sub/more")" = keep2 ]
	bim delete --force c2
	[ ! -e "$b" ]
	[ -z "$(leftovers)" ]
}

@test "bad references and bad flags: one line, exit 1, no state, no bundle, no mount" {
	local ref
	for ref in "oci:$BATS_TEST_TMPDIR/nothing" 'Not/A/Valid:Ref:x' "oci:$FX/oci:nosuchtag" "docker-archive:$FX/oci"; do
		run bim run --image "$ref" c1 -- true
		echo "$ref: $output"
		[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ]
		[ -z "$(leftovers)" ]
		run bim create --image "$ref" c1
		[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ]
		[ -z "$(leftovers)" ]
		[ ! -e "$IMG/containers" ] # not even the directories made for the bundle
	done
	run bim run --image "$REF" -b "$BUNDLE" c1
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ] && [[ "$output" == *exclude* ]]
	run bim run --image "$REF" 'bad/id'
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ] && [[ "$output" == *"invalid container ID"* ]]
	[ -z "$(leftovers)" ]
}

@test "an ID in use: run --image refuses, and the existing container's bundle stays" {
	bim create --image "$REF" c1 -- sh -c 'exec sleep 1000'
	local b
	b=$(bundle_of c1)
	run bim run --image "$REF" c1 -- true
	echo "$output"
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ] && [[ "$output" == *"already exists"* ]]
	[ -x "$b/rootfs/bin/busybox" ] && [ "$(container_status c1)" = created ]
	bim delete c1
	[ -z "$(leftovers)" ]
}

@test "a create that fails after the bundle was made removes the bundle" {
	run bim create --image "$REF" --pid-file "$BATS_TEST_TMPDIR/no/such/dir/pid" c1 -- true
	echo "$output"
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ]
	[ -z "$(leftovers)" ]
}

@test "SIGKILL of run --image: a later delete --force removes the bundle" {
	# Killed while the container runs: the state names the bundle.
	"$BERTH" --root "$ROOT" --image-root "$IMG" run --image "$REF" c1 -- sh -c 'exec sleep 1000' >/dev/null 2>&1 </dev/null &
	local pid=$! b
	BG_PIDS+=("$pid")
	wait_for_status c1 running
	b=$(bundle_of c1)
	kill -KILL "$pid"
	wait "$pid" || true
	[ -d "$b/upper" ]
	bim delete --force c1
	[ ! -e "$b" ]
	[ -z "$(leftovers)" ]
	# Killed right after the bundle was made, before any state: delete
	# --force finds it by its name. By berth-image (an image not cached)...
	cat >"$BATS_TEST_TMPDIR/berth-image" <<-EOS
		#!/bin/sh
		"$BERTH_SRC_DIR/berth-image" "\$@" && kill -KILL \$PPID
	EOS
	chmod +x "$BATS_TEST_TMPDIR/berth-image"
	bim image rm "$REF" && bim image prune >/dev/null
	BERTH_IMAGE=$BATS_TEST_TMPDIR/berth-image bim run --image "$REF" c2 -- true || true
	killed_bundle_remains c2
	# ... or by berth itself (cached: no berth-image; berth-test dies there).
	[ -x "$BERTH_SRC_DIR/berth-test" ] || skip "berth-test not built"
	BERTH_TEST_KILL_AT=image:bundle "$BERTH_SRC_DIR/berth-test" --root "$ROOT" --image-root "$IMG" \
		run --image "$REF" c3 -- true || true
	killed_bundle_remains c3
}

# killed_bundle_remains ID: run --image was killed once ID's bundle was
# made; run refuses ID and says how to clean up, delete --force does.
killed_bundle_remains() {
	[ -n "$(ls -A "$IMG"/containers/*/)" ] && [ ! -e "$ROOT/$1" ]
	run bim run --image "$REF" "$1" -- true
	echo "$output"
	[ "$status" -eq 1 ] && [[ "$output" == *"delete --force $1"* ]]
	bim delete --force "$1"
	[ -z "$(leftovers)" ]
	run bim run --image "$REF" "$1" -- sh -c true
	[ "$status" -eq 0 ]
}

@test "image prune after image rm removes the layers and blobs: the space comes back" {
	"${BI[@]}" pull -q "$REF"
	local before after
	before=$(du -sk "$IMG" | cut -f1)
	run "${BI[@]}" image prune
	echo "$output"
	[ "$status" -eq 0 ] && [[ "$output" == "removed 0 layers, 0 blobs"* ]]
	"${BI[@]}" image rm "$REF"
	[ "$(layer_dirs | wc -l)" -ge 2 ]
	run "${BI[@]}" image prune
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^removed\ ([0-9]+)\ layers,\ ([0-9]+)\ blobs.*:\ ([0-9]+)\ bytes$ ]]
	[ "${BASH_REMATCH[1]}" -ge 2 ] && [ "${BASH_REMATCH[2]}" -ge 4 ] && [ "${BASH_REMATCH[3]}" -gt 1000000 ]
	[ -z "$(layer_dirs)" ]
	[ -z "$(ls -A "$IMG/blobs/sha256")" ]
	after=$(du -sk "$IMG" | cut -f1)
	echo "du: $before KiB -> $after KiB"
	[ "$after" -lt $((before - 900)) ]
}

@test "image prune keeps what a live container mounts: it still reads its files; once deleted, they go" {
	bim create --image "$REF" c1 -- sh -c 'until [ -e /go ]; do sleep 0.05; done; md5sum /bin/busybox > /sum'
	local b layers
	b=$(bundle_of c1)
	bim start c1
	layers=$(layer_dirs)
	"${BI[@]}" image rm "$REF"
	run "${BI[@]}" image prune
	echo "$output"
	[ "$status" -eq 0 ] && [[ "$output" == "removed 0 layers"* ]]
	[ "$(layer_dirs)" = "$layers" ]
	touch "$b/rootfs/go"
	retry 5 0.05 test -s "$b/upper/sum"
	[ "$(cut -d' ' -f1 "$b/upper/sum")" = "$(md5sum /bin/busybox | cut -d' ' -f1)" ]
	bim delete --force c1
	run "${BI[@]}" image prune
	echo "$output"
	[[ "$output" =~ ^removed\ ([0-9]+)\ layers ]] && [ "${BASH_REMATCH[1]}" -ge 2 ]
	[[ "$output" == *"1 stale bundle records"* ]]
	[ -z "$(layer_dirs)" ]
}

@test "image prune removes partial downloads and a killed unpack's directory, and says so" {
	"${BI[@]}" pull -q "$REF"
	local hex=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
	head -c 300000 /dev/urandom >"$IMG/blobs/partial/$hex"
	mkdir -p "$IMG/layers/sha256/$hex.tmp.12345/rootfs/etc" && echo x >"$IMG/layers/sha256/$hex.tmp.12345/rootfs/etc/f"
	mkdir -p "$IMG/tmp/archive-XXXX" && echo x >"$IMG/tmp/archive-XXXX/blob"
	run "${BI[@]}" image prune
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == "removed 0 layers, 0 blobs, 3 partial downloads"* ]]
	[ ! -e "$IMG/blobs/partial/$hex" ] && [ ! -e "$IMG/layers/sha256/$hex.tmp.12345" ] && [ ! -e "$IMG/tmp/archive-XXXX" ]
	# The image itself is whole: a container runs from it.
	run bim run --image "$REF" c1 -- sh -c 'echo still-here'
	echo "$output"
	[ "$status" -eq 0 ] && [ "$output" = still-here ]
}

@test "image prune while a pull runs waits for it: the pull completes and keeps its layers" {
	registry_with_fixture
	local p
	p=$(free_port)
	slow_proxy_start "$p" "${REG#*:}" 400000
	"${BI[@]}" pull -q "127.0.0.1:$p/test/busybox:1" >"$BATS_TEST_TMPDIR/pull.out" 2>&1 &
	local pull=$!
	BG_PIDS+=("$pull")
	# The layer is downloading: its partial file grows.
	retry 10 0.02 sh -c "[ -n \"\$(find '$IMG/blobs/partial' -type f -size +1k 2>/dev/null)\" ]"
	run "${BI[@]}" image prune
	echo "$output"
	[ "$status" -eq 0 ] && [[ "$output" == "removed 0 layers, 0 blobs, 0 partial downloads"* ]]
	# prune returned only once the pull had finished.
	! kill -0 "$pull" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$pull/stat")" = Z ]
	wait "$pull"
	cat "$BATS_TEST_TMPDIR/pull.out"
	run bim run --image "127.0.0.1:$p/test/busybox:1" c1 -- sh -c 'echo pulled-whole'
	echo "$output"
	[ "$status" -eq 0 ] && [ "$output" = pulled-whole ]
}
