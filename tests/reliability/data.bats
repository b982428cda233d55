#!/usr/bin/env bats
# Data: delete, delete --force, a failed create and kills at any point of
# them, for a container with bind mounts of host directories, a volume and
# an overlay rootfs, never remove or change a host file outside the
# container's own state (a tree of marker files and their hashes).

load ../integration/helpers
load rel_helpers

setup() {
	rel_setup
	OVL=
}

teardown() {
	for id in $("$BERTH" --root "$ROOT" list -q 2>/dev/null); do "$BERTH" --root "$ROOT" delete --force "$id"; done
	[ -z "$OVL" ] || umount "$OVL" 2>/dev/null || true
	teardown_bundle
}

# markers DIR: a tree of files, nested directories, a symlink, a hard link,
# a FIFO and an empty directory.
markers() {
	mkdir -p "$1/sub/deeper" "$1/empty"
	local i
	for i in 1 2 3; do
		head -c $((i * 1000)) /dev/urandom >"$1/file$i"
		echo "marker $i" >"$1/sub/deeper/m$i"
	done
	ln -s file1 "$1/link"
	ln "$1/file2" "$1/sub/hard"
	mkfifo "$1/fifo"
	chmod 0640 "$1/file3"
}

# tree_hash DIR: names, types, modes, sizes, link targets and content hashes.
tree_hash() {
	(cd "$1" && find . -printf '%y %m %s %n %P -> %l\n' | sort && find . -type f -exec sha256sum {} + | sort)
}

# with_data_mounts: the rootfs becomes an overlay (lower: $LOWER, a marker
# tree plus the busybox files), plus a rw bind of $HOSTDIR, a volume
# ($VOLUME, rbind, rprivate), a tmpfs with tmpcopyup over a lower directory
# and a bind onto a destination that does not exist in the image.
with_data_mounts() {
	LOWER=$BATS_TEST_TMPDIR/lower HOSTDIR=$BATS_TEST_TMPDIR/hostdir VOLUME=$BATS_TEST_TMPDIR/volume
	mkdir -p "$LOWER" "$HOSTDIR" "$VOLUME" "$BATS_TEST_TMPDIR/upper" "$BATS_TEST_TMPDIR/work"
	cp -a "$BUNDLE/rootfs/." "$LOWER/"
	markers "$LOWER/markers"
	markers "$HOSTDIR"
	markers "$VOLUME"
	OVL=$BATS_TEST_TMPDIR/merged
	mkdir -p "$OVL"
	mount -t overlay overlay -o "lowerdir=$LOWER,upperdir=$BATS_TEST_TMPDIR/upper,workdir=$BATS_TEST_TMPDIR/work" "$OVL"
	update_config --arg r "$OVL" '.root.path = $r'
	add_mount "{\"destination\": \"/data\", \"type\": \"bind\", \"source\": \"$HOSTDIR\", \"options\": [\"bind\", \"rw\"]}"
	add_mount "{\"destination\": \"/vol\", \"type\": \"bind\", \"source\": \"$VOLUME\", \"options\": [\"rbind\", \"rw\", \"rprivate\"]}"
	add_mount '{"destination": "/markers", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]}'
	add_mount "{\"destination\": \"/not/in/image\", \"type\": \"bind\", \"source\": \"$HOSTDIR/sub\", \"options\": [\"bind\", \"ro\"]}"
}

# hashes: the three host trees (the lower layer, the bind source, the volume).
hashes() {
	tree_hash "$LOWER"
	tree_hash "$HOSTDIR"
	tree_hash "$VOLUME"
}

@test "delete, delete --force and a failed create of a container with binds, a volume and an overlay rootfs leave host files alone" {
	with_data_mounts
	set_args sh -c 'ls /data /vol /markers /not/in/image >/dev/null && sleep 100'
	local h before
	h=$(hashes)
	before=$(rel_snapshot)
	b run -d "$PREFIX" || fail "run -d"
	[ "$(b exec "$PREFIX" cat /vol/sub/deeper/m2)" = "marker 2" ] || fail "the volume is not there"
	b delete --force "$PREFIX" || fail "delete --force"
	[ "$(hashes)" = "$h" ] || fail "delete --force changed host files"
	b run -d "$PREFIX" || fail "run -d"
	b kill "$PREFIX" KILL
	wait_for_status "$PREFIX" stopped
	b delete "$PREFIX" || fail "delete"
	[ "$(hashes)" = "$h" ] || fail "delete changed host files"
	set_args /does/not/exist
	refute b create "$PREFIX" 2>/dev/null
	[ "$(hashes)" = "$h" ] || fail "a failed create changed host files"
	# A hook failing after every mount is made.
	set_args sleep 100
	update_config '.hooks.createRuntime = [{"path": "/bin/false"}]'
	refute b create "$PREFIX" 2>/dev/null
	[ "$(hashes)" = "$h" ] || fail "a create failing in a hook changed host files"
	assert_snapshot "$before"
}

@test "kills at every phase of create and delete of that container leave host files alone" {
	requires_hooks
	with_data_mounts
	set_args sleep 100
	update_config '.hooks.createRuntime = [{"path": "/bin/true"}]'
	local h before phase
	h=$(hashes)
	before=$(rel_snapshot)
	for phase in create:cgroup create:cloned child:mounts create:hooks-run create:state-written; do
		kill_at "$phase" create "$PREFIX"
		b delete --force "$PREFIX" || fail "delete --force after $phase"
		[ "$(hashes)" = "$h" ] || fail "create killed at $phase: host files changed"
	done
	for phase in delete:destroyed delete:net-released; do
		b run -d "$PREFIX" || fail "run -d"
		kill_at "$phase" delete --force "$PREFIX"
		b delete --force "$PREFIX" || fail "delete --force after $phase"
		[ "$(hashes)" = "$h" ] || fail "delete killed at $phase: host files changed"
	done
	assert_snapshot "$before"
}
