#!/usr/bin/env bats
# Mounts: read-only and writable rootfs, bind mounts (rw, ro, single file,
# relative source), nosuid/nodev/noexec with their real effect, tmpfs options,
# creation of missing destinations, mount order, symlinked destinations that
# must stay inside the rootfs, the standard kernel filesystems, bind propagation
# (rshared/rslave/rprivate), rootfsPropagation, --no-pivot, and a host mount
# table left exactly as it was.

load helpers

setup() {
	setup_bundle
	HOSTDIR=$BATS_TEST_TMPDIR/hostdir
	mkdir -p "$HOSTDIR"
	HOST_MOUNTS=()
}

teardown() {
	# Delete containers first: their mount namespaces may hold our mounts.
	local id m i
	for id in $(berth list -q 2>/dev/null); do
		berth delete --force "$id" >/dev/null 2>&1 || true
	done
	for ((i = ${#HOST_MOUNTS[@]} - 1; i >= 0; i--)); do
		m=${HOST_MOUNTS[$i]}
		umount -R "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	teardown_bundle
}

# host_mount ARGS... TARGET: mount on the host; teardown unmounts it.
host_mount() {
	mount "$@" || return 1
	HOST_MOUNTS+=("${!#}")
}

# bind JSON fields: add a bind mount of SRC on DST with OPTIONS (JSON array).
bind_mount() {
	add_mount "{\"destination\": \"$2\", \"type\": \"bind\", \"source\": \"$1\", \"options\": ${3:-[\"rbind\"]}}"
}

@test "root.readonly=true: the rootfs cannot be written" {
	update_config '.root.readonly = true'
	run_sh 'touch /x'
	[ "$status" -ne 0 ]
	[[ "$output" == *"Read-only file system"* ]]
	[ ! -e "$BUNDLE/rootfs/x" ]
}

@test "root.readonly=false: the rootfs is written through to the bundle" {
	update_config '.root.readonly = false'
	run_sh 'echo inside >/x'
	[ "$status" -eq 0 ]
	[ "$(cat "$BUNDLE/rootfs/x")" = inside ]
}

@test "a rw bind mount shares files with the host both ways" {
	echo from-host >"$HOSTDIR/in"
	bind_mount "$HOSTDIR" /mnt/data '["rbind", "rw"]'
	run_sh 'cat /mnt/data/in; echo from-container >/mnt/data/out'
	[ "$status" -eq 0 ]
	[ "$output" = from-host ]
	[ "$(cat "$HOSTDIR/out")" = from-container ]
}

@test "a ro bind mount can be read but not written" {
	echo from-host >"$HOSTDIR/in"
	bind_mount "$HOSTDIR" /mnt/data '["rbind", "ro"]'
	run_sh 'cat /mnt/data/in; echo x >/mnt/data/out'
	[ "$status" -ne 0 ]
	[ "${lines[0]}" = from-host ]
	[[ "$output" == *"Read-only file system"* ]]
	[ ! -e "$HOSTDIR/out" ]
	# The host's view stays writable.
	touch "$HOSTDIR/still-writable"
}

@test "a relative bind source is relative to the bundle" {
	mkdir "$BUNDLE/data"
	echo in-bundle >"$BUNDLE/data/f"
	bind_mount data /mnt/data
	set_args cat /mnt/data/f
	cd /
	run_berth run --bundle "$BUNDLE" c1
	[ "$status" -eq 0 ]
	[ "$output" = in-bundle ]
}

@test "nosuid, nodev and noexec show in mountinfo and take effect" {
	printf '#!/bin/sh\necho script-ran\n' >"$HOSTDIR/script"
	chmod 755 "$HOSTDIR/script"
	mknod "$HOSTDIR/null" c 1 3
	chmod 666 "$HOSTDIR/null"
	mkdir "$HOSTDIR/plain"
	cp -a "$HOSTDIR/script" "$HOSTDIR/null" "$HOSTDIR/plain/"
	bind_mount "$HOSTDIR/plain" /mnt/plain '["rbind"]'
	bind_mount "$HOSTDIR" /mnt/locked '["rbind", "nosuid", "nodev", "noexec"]'
	run_sh '
		grep " /mnt/locked " /proc/self/mountinfo | cut -d" " -f6
		/mnt/plain/script
		echo x >/mnt/plain/null && echo dev-ok
		/mnt/locked/script || echo exec-refused
		echo x >/mnt/locked/null || echo dev-refused'
	[ "$status" -eq 0 ]
	local opts=${lines[0]}
	[[ ",$opts," == *,nosuid,* ]]
	[[ ",$opts," == *,nodev,* ]]
	[[ ",$opts," == *,noexec,* ]]
	# Control: the same files work on a plain bind.
	[ "${lines[1]}" = script-ran ]
	[ "${lines[2]}" = dev-ok ]
	[[ "$output" == *exec-refused* ]]
	[[ "$output" == *dev-refused* ]]
	[ "$(grep -c script-ran <<<"$output")" -eq 1 ]
}

@test "tmpfs size and mode options are applied" {
	add_mount '{"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs", "options": ["size=2m", "mode=0710", "nosuid"]}'
	run_sh 'stat -c %a /mnt/t; df -k /mnt/t | tail -n 1 | tr -s " " | cut -d" " -f2; grep " /mnt/t " /proc/self/mountinfo'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 710 ]
	[ "${lines[1]}" = 2048 ]
	[[ "${lines[2]}" == *" - tmpfs "* ]]
	[[ "${lines[2]}" == *nosuid* ]]
}

@test "a mount destination missing from the rootfs is created" {
	[ ! -e "$BUNDLE/rootfs/does/not/exist" ]
	add_mount '{"destination": "/does/not/exist", "type": "tmpfs", "source": "tmpfs"}'
	run_sh 'grep " /does/not/exist " /proc/self/mountinfo && touch /does/not/exist/f && echo writable'
	[ "$status" -eq 0 ]
	[[ "$output" == *writable* ]]
	# The file went to the tmpfs, not to the rootfs.
	[ ! -e "$BUNDLE/rootfs/does/not/exist/f" ]
}

@test "a single file can be bind-mounted, also onto a path that does not exist" {
	echo file-content >"$HOSTDIR/file"
	bind_mount "$HOSTDIR/file" /etc/berth-file
	bind_mount "$HOSTDIR/file" /etc/passwd '["rbind", "ro"]'
	run_sh 'cat /etc/berth-file; echo appended >>/etc/berth-file; cat /etc/passwd; [ -f /etc/berth-file ] && echo is-file'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = file-content ]
	[ "${lines[1]}" = file-content ]
	[ "${lines[2]}" = appended ]
	[ "${lines[3]}" = is-file ]
	[ "$(tail -n 1 "$HOSTDIR/file")" = appended ]
}

@test "mounts are applied in order: a bind inside an earlier tmpfs" {
	echo bound >"$HOSTDIR/f"
	add_mount '{"destination": "/mnt/a", "type": "tmpfs", "source": "tmpfs"}'
	bind_mount "$HOSTDIR" /mnt/a/b
	run_sh 'cat /mnt/a/b/f'
	[ "$status" -eq 0 ]
	[ "$output" = bound ]
	# /mnt/a/b was created inside the tmpfs, not in the rootfs.
	[ ! -e "$BUNDLE/rootfs/mnt/a/b" ]
}

@test "mounts are applied in order: a later tmpfs hides an earlier bind" {
	echo bound >"$HOSTDIR/f"
	bind_mount "$HOSTDIR" /mnt/a/b
	add_mount '{"destination": "/mnt/a", "type": "tmpfs", "source": "tmpfs"}'
	run_sh 'ls -A /mnt/a; cat /mnt/a/b/f 2>/dev/null || echo hidden'
	[ "$status" -eq 0 ]
	[ "$output" = hidden ]
}

@test "symlinked mount destinations are resolved inside the rootfs" {
	# Both an absolute and a ../ symlink name a real host directory. Followed
	# inside the rootfs they mean $target under the container's root; followed
	# on the host they would mount over the host's $target (in the container's
	# mount namespace, where it then vanishes with the old root).
	local target=$BATS_TEST_TMPDIR/host-target
	mkdir -p "$target" "$BUNDLE/rootfs/mnt"
	ln -s "$target" "$BUNDLE/rootfs/mnt/abs"
	ln -s "../../../../../../../../../..$target" "$BUNDLE/rootfs/mnt/rel"
	add_mount '{"destination": "/mnt/abs", "type": "tmpfs", "source": "berth-escape-abs"}'
	add_mount '{"destination": "/mnt/rel", "type": "tmpfs", "source": "berth-escape-rel"}'
	local before
	before=$(host_mountinfo)
	run_sh 'grep berth-escape /proc/self/mountinfo | sed -E "s/^([^ ]+ ){4}([^ ]+) .* - [^ ]+ ([^ ]+) .*/\2 \3/"
		echo x >/mnt/abs/f && echo wrote'
	# Refusing the config is safe too; if it ran, the mounts must be inside.
	if [ "$status" -eq 0 ]; then
		[ "${lines[0]}" = "$target berth-escape-abs" ]
		[ "${lines[1]}" = "$target berth-escape-rel" ]
		[ "${lines[2]}" = wrote ]
	fi
	assert_mountinfo_unchanged "$before"
	[ -z "$(ls -A "$target")" ]
}

@test "proc, sysfs, devpts, mqueue, shm and cgroup are mounted" {
	run_sh 'cat /proc/mounts'
	[ "$status" -eq 0 ]
	echo "$output" | grep -E '^[^ ]+ /proc proc '
	echo "$output" | grep -E '^[^ ]+ /sys sysfs '
	echo "$output" | grep -E '^[^ ]+ /dev tmpfs '
	echo "$output" | grep -E '^[^ ]+ /dev/pts devpts '
	echo "$output" | grep -E '^[^ ]+ /dev/shm tmpfs '
	echo "$output" | grep -E '^[^ ]+ /dev/mqueue mqueue '
	echo "$output" | grep -E '^[^ ]+ /sys/fs/cgroup(/[^ ]*)? (cgroup|cgroup2) '
	# /sys is read-only as the spec says.
	echo "$output" | grep -E '^[^ ]+ /sys sysfs ro[, ]'
}

@test "the container's /proc is its own and /sys is read-only" {
	run_sh 'ls /proc | grep -c "^[0-9]"; echo 1 >/sys/kernel/uevent_helper || echo sys-ro'
	[ "${lines[0]}" -lt 6 ]
	[[ "$output" == *sys-ro* ]]
}

# prop_test OPTION: bind a shared host tmpfs into a container with OPTION, mount
# something under it on the host while the container runs; PROP_OUT is then
# what the container saw: its mountinfo lines below /mnt/s.
prop_test() {
	host_mount -t tmpfs berth-src "$HOSTDIR"
	mount --make-shared "$HOSTDIR"
	mkdir "$HOSTDIR/sub"
	bind_mount "$HOSTDIR" /mnt/s "[\"rbind\", \"$1\"]"
	set_args sh -c "$WAIT_FOR_GO; grep ' /mnt/s' /proc/self/mountinfo"
	run_berth run --detach c1
	[ "$status" -eq 0 ] || return 1
	local out=$BERTH_OUT
	mount -t tmpfs berth-late "$HOSTDIR/sub"
	release_container
	wait_for_status c1 stopped
	umount "$HOSTDIR/sub"
	PROP_OUT=$(cat "$out")
	echo "container saw: $PROP_OUT"
}

@test "propagation rslave: host mounts made later show up inside" {
	prop_test rslave
	local out=$PROP_OUT
	[[ "$(grep ' /mnt/s ' <<<"$out")" == *master:* ]]
	grep -q ' /mnt/s/sub .*berth-late' <<<"$out"
}

@test "propagation rprivate: host mounts made later stay outside" {
	prop_test rprivate
	local out=$PROP_OUT
	grep ' /mnt/s ' <<<"$out"
	[[ "$(grep ' /mnt/s ' <<<"$out")" != *master:* ]]
	[[ "$(grep ' /mnt/s ' <<<"$out")" != *shared:* ]]
	refute grep -q berth-late <<<"$out"
}

@test "propagation rshared: the bind mount is shared inside" {
	prop_test rshared
	local out=$PROP_OUT
	[[ "$(grep ' /mnt/s ' <<<"$out")" == *shared:* ]]
	grep -q ' /mnt/s/sub .*berth-late' <<<"$out"
}

# rootfs_prop_test [PROPAGATION]: put the rootfs on a shared host tmpfs, mount
# something under it on the host while the container runs; PROP_OUT is then
# whether the container saw it ("seen" or "unseen").
rootfs_prop_test() {
	local copy=$BATS_TEST_TMPDIR/rootfs-copy
	mv "$BUNDLE/rootfs" "$copy"
	mkdir "$BUNDLE/rootfs"
	host_mount -t tmpfs berth-rootfs "$BUNDLE/rootfs"
	mount --make-shared "$BUNDLE/rootfs"
	cp -a "$copy/." "$BUNDLE/rootfs/"
	mkdir -p "$BUNDLE/rootfs/mnt/late"
	[ -z "${1:-}" ] || update_config --arg p "$1" '.linux.rootfsPropagation = $p'
	set_args sh -c "$WAIT_FOR_GO; grep -q berth-late /proc/self/mountinfo && echo seen || echo unseen"
	run_berth run --detach c1
	[ "$status" -eq 0 ] || return 1
	local out=$BERTH_OUT
	mount -t tmpfs berth-late "$BUNDLE/rootfs/mnt/late"
	release_container
	wait_for_status c1 stopped
	umount "$BUNDLE/rootfs/mnt/late"
	PROP_OUT=$(cat "$out")
	echo "container saw: $PROP_OUT"
}

@test "rootfsPropagation private: the container does not receive host mounts" {
	rootfs_prop_test private
	[ "$PROP_OUT" = unseen ]
}

@test "rootfsPropagation rprivate: the container does not receive host mounts" {
	rootfs_prop_test rprivate
	[ "$PROP_OUT" = unseen ]
}

@test "rootfsPropagation rslave: the container receives host mounts" {
	rootfs_prop_test rslave
	[ "$PROP_OUT" = seen ]
}

@test "default rootfs propagation is rslave, like runc" {
	rootfs_prop_test
	[ "$PROP_OUT" = seen ]
}

@test "--no-pivot runs the container in its rootfs" {
	echo marker >"$BUNDLE/rootfs/marker"
	set_args sh -c 'cat /marker; ls /bin/busybox; echo $$'
	run_berth run --no-pivot c1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = marker ]
	[ "${lines[1]}" = /bin/busybox ]
	[ "${lines[2]}" = 1 ]
}

@test "the host mount table is identical after a container with many mounts" {
	echo f >"$HOSTDIR/file"
	bind_mount "$HOSTDIR" /mnt/rw '["rbind", "rw"]'
	bind_mount "$HOSTDIR" /mnt/ro '["rbind", "ro", "nosuid", "nodev", "noexec"]'
	bind_mount "$HOSTDIR/file" /etc/file
	add_mount '{"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}'
	add_mount '{"destination": "/mnt/t/inner", "type": "tmpfs", "source": "tmpfs"}'
	local before
	before=$(host_mountinfo)
	run_sh 'grep -c . /proc/self/mountinfo'
	[ "$status" -eq 0 ]
	[ "$output" -gt 10 ]
	assert_mountinfo_unchanged "$before"

	set_args sleep 100
	run_berth run --detach c2
	[ "$status" -eq 0 ]
	assert_mountinfo_unchanged "$before"
	run_berth delete --force c2
	[ "$status" -eq 0 ]
	assert_mountinfo_unchanged "$before"
}

@test "issue9: root.path: every legal spelling names the same rootfs (relative, ./x, x/, absolute, //)" {
	echo marker >"$BUNDLE/rootfs/marker"
	set_args cat /marker
	local p i=0
	for p in rootfs ./rootfs rootfs/ ./rootfs// "$BUNDLE/rootfs" "$BUNDLE//rootfs/" "$BUNDLE/./rootfs/."; do
		update_config --arg p "$p" '.root.path = $p'
		run_berth run "c$i"
		[ "$status" -eq 0 ] || fail "root.path '$p': status $status"
		[ "$output" = marker ] || fail "root.path '$p': output '$output'"
		i=$((i + 1))
	done
}

@test "issue9: root.path \".\": the bundle directory itself is the rootfs" {
	cp -a "$BUNDLE/rootfs/." "$BUNDLE/"
	rm -rf "$BUNDLE/rootfs"
	echo marker >"$BUNDLE/marker"
	update_config '.root.path = "." | .root.readonly = false'
	set_args sh -c 'cat /marker; ls /config.json; echo new >/written'
	run_berth run c1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = marker ]
	[ "${lines[1]}" = /config.json ]
	[ "$(cat "$BUNDLE/written")" = new ]
	update_config '.root.path = "./"'
	run_berth run c2
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = marker ]
}

# tmpcopyup_image: a directory /data in the image with a file, a subdirectory,
# a symlink, owners, modes and times to be copied up.
tmpcopyup_image() {
	local d=$BUNDLE/rootfs/data
	mkdir -p "$d/sub"
	echo image-file >"$d/f"
	echo deep >"$d/sub/g"
	ln -s f "$d/link"
	ln -s /etc/passwd "$d/abs-link"
	chown 1000:1001 "$d/f"
	chmod 0604 "$d/f"
	chmod 0751 "$d/sub"
	chown 1002:1003 "$d/sub"
	chmod 0711 "$d"
	touch -h -d '2001-02-03 04:05:06' "$d/f" "$d/link"
}

@test "issue9: tmpfs with tmpcopyup: the image's directory is copied into the tmpfs (files, dirs, symlinks, owners, modes, times); writes stay in the tmpfs" {
	tmpcopyup_image
	update_config '.root.readonly = true'
	add_mount '{"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "tmpcopyup"]}'
	run_sh 'cd /data
		stat -c "%n %a %u:%g" . f sub sub/g
		cat f sub/g; readlink link; readlink abs-link
		stat -c %y f | cut -c1-19; stat -c %Y link
		grep " /data " /proc/self/mountinfo | cut -d" " -f9
		echo new >new && echo written'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = ". 711 0:0" ]
	[ "${lines[1]}" = "f 604 1000:1001" ]
	[ "${lines[2]}" = "sub 751 1002:1003" ]
	[ "${lines[3]}" = "sub/g 644 0:0" ]
	[ "${lines[4]}" = image-file ]
	[ "${lines[5]}" = deep ]
	[ "${lines[6]}" = f ]
	[ "${lines[7]}" = /etc/passwd ]
	# runc 1.1 does not keep times; berth does.
	if is_berth; then
		[ "${lines[8]}" = "2001-02-03 04:05:06" ]
		[ "${lines[9]}" = "$(stat -c %Y "$BUNDLE/rootfs/data/link")" ]
	fi
	[ "${lines[10]}" = tmpfs ]
	[ "${lines[11]}" = written ]
	# The image is untouched.
	[ ! -e "$BUNDLE/rootfs/data/new" ]
	[ "$(cat "$BUNDLE/rootfs/data/f")" = image-file ]
}

@test "issue9: tmpfs with tmpcopyup and ro: copied, then read-only" {
	tmpcopyup_image
	add_mount '{"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "tmpcopyup"]}'
	run_sh 'cat /data/f; touch /data/x || echo refused'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = image-file ]
	[[ "$output" == *"Read-only file system"* ]]
	[ "${lines[-1]}" = refused ]
}

@test "issue9: rro: a bind mount and every mount below it are read-only (ro alone leaves submounts writable)" {
	mkdir -p "$HOSTDIR/sub"
	host_mount -t tmpfs tmpfs "$HOSTDIR/sub"
	bind_mount "$HOSTDIR" /mnt/rro '["rbind", "rro"]'
	bind_mount "$HOSTDIR" /mnt/ro '["rbind", "ro"]'
	run_sh 'touch /mnt/ro/sub/a && echo ro-sub-writable
		touch /mnt/rro/x || echo rro-top-refused
		touch /mnt/rro/sub/x || echo rro-sub-refused'
	[ "$status" -eq 0 ]
	[[ "$output" == *ro-sub-writable* ]]
	[[ "$output" == *rro-top-refused* ]]
	[[ "$output" == *rro-sub-refused* ]]
	[ ! -e "$HOSTDIR/x" ]
	[ ! -e "$HOSTDIR/sub/x" ]
	# The host's mounts stay writable.
	touch "$HOSTDIR/sub/host-still-writable"
}

@test "issue9: rnosuid, rnodev, rnoexec, rnoatime reach submounts; rrw undoes an ro" {
	mkdir -p "$HOSTDIR/sub"
	host_mount -t tmpfs tmpfs "$HOSTDIR/sub"
	bind_mount "$HOSTDIR" /mnt/r '["rbind", "ro", "rnosuid", "rnodev", "rnoexec", "rnoatime", "rrw"]'
	run_sh 'grep -E " /mnt/r(/sub)? " /proc/self/mountinfo | cut -d" " -f5,6'
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	local l
	for l in "${lines[@]}"; do
		[[ ",${l#* }," == *,rw,* ]] || fail "not rw: $l"
		[[ ",${l#* }," == *,nosuid,* ]] || fail "no nosuid: $l"
		[[ ",${l#* }," == *,nodev,* ]] || fail "no nodev: $l"
		[[ ",${l#* }," == *,noexec,* ]] || fail "no noexec: $l"
		[[ ",${l#* }," == *,noatime,* ]] || fail "no noatime: $l"
	done
}

@test "issue9: a read-only tmpfs /dev: the runtime's nodes and /dev/pts are made first, then /dev is read-only" {
	update_config '(.mounts[] | select(.destination == "/dev") | .options) += ["ro"]'
	run_sh 'ls /dev/null /dev/pts/ptmx >/dev/null && echo nodes
		echo x >/dev/null && echo null-works
		touch /dev/new || echo dev-refused
		touch /dev/shm/x && echo shm-writable'
	[ "$status" -eq 0 ]
	[[ "$output" == *nodes* ]]
	[[ "$output" == *null-works* ]]
	[[ "$output" == *"Read-only file system"* ]]
	[[ "$output" == *dev-refused* ]]
	[[ "$output" == *shm-writable* ]]
}

@test "issue9: --no-pivot: a nested user, mount and pid namespace can be made inside (unshare -Umpf)" {
	# (berth's default profile refuses unshare with namespace flags, as Docker's.)
	update_config 'del(.linux.seccomp)'
	set_args sh -c 'unshare -Umpf sh -c "echo inner \$\$"; echo rc=$?'
	run_berth run --no-pivot c1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "inner 1" ]
	[ "${lines[1]}" = rc=0 ]
}
