#!/usr/bin/env bats
# What can fail before the container's program runs fails `create` (and
# `run`, `exec`), not a started container that exits 127: the program (with
# runc's wording, which clients parse: docker maps "permission denied" to
# 126 and "executable file not found" / "no such file or directory" to 127),
# the user, the capabilities. A failed create leaves nothing behind. Also
# the access strings of linux.resources.devices. Container IDs start with cc-.

load helpers

setup() {
	setup_bundle
	ID=cc-$BATS_TEST_NUMBER-$$
}

# no_cgroup_named ID: no cgroup directory of that name in any hierarchy.
no_cgroup_named() {
	[ -z "$(find /sys/fs/cgroup -maxdepth 8 -type d -name "$1" 2>/dev/null)" ]
}

# create_fails PATTERN...: `create $ID` exits 1, its output matches every
# glob PATTERN, and nothing is left: no state, no process, no cgroup.
create_fails() {
	run_berth create "$ID"
	[ "$status" -eq 1 ] || fail "create exited $status"
	local p
	for p in "$@"; do
		# shellcheck disable=SC2053
		[[ "$output" == $p ]] || fail "create's message does not match $p"
	done
	[ -z "$(root_entries)" ] || fail "state left: $(root_entries)"
	no_cgroup_named "$ID" || fail "cgroup left: $(find /sys/fs/cgroup -maxdepth 8 -type d -name "$ID")"
	retry 3 0.05 no_rootfs_pids "$BUNDLE/rootfs"
}

# A script only root may execute.
root_only_program() {
	printf '#!/bin/sh\necho ran\n' >"$BUNDLE/rootfs/root-only"
	chmod 0700 "$BUNDLE/rootfs/root-only"
}

# --- the program ------------------------------------------------------------------

@test "a program missing from PATH fails create and run: executable file not found in \$PATH" {
	set_args cc-nosuch
	create_fails '*cc-nosuch*' '*executable file not found in $PATH*'
	run_berth run "$ID"
	[ "$status" -ne 0 ]
	[[ "$output" == *'executable file not found in $PATH'* ]]
	[ -z "$(root_entries)" ]
}

@test "an absolute program path that does not exist: stat PATH: no such file or directory" {
	set_args /cc-nosuch
	create_fails '*stat /cc-nosuch: no such file or directory*'
}

@test "a file without execute permission: permission denied, lower case, at create" {
	set_args /etc/passwd
	create_fails '*/etc/passwd*' '*permission denied*'
	set_args /etc
	create_fails '*/etc*' '*permission denied*'
	set_args /etc/passwd
	run_berth run "$ID"
	[ "$status" -ne 0 ]
	[[ "$output" == *"permission denied"* ]]
}

@test "a program only root may execute fails create for another user" {
	root_only_program
	set_args /root-only
	update_config '.process.user = {"uid": 1000, "gid": 1000}'
	create_fails '*/root-only*' '*permission denied*'
}

@test "exec: a missing, absent or non-executable program fails with runc's words (exit 255)" {
	root_only_program
	set_args sleep 100
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	run_berth exec "$ID" cc-nosuch
	[ "$status" -eq 255 ]
	[[ "$output" == *'executable file not found in $PATH'* ]]
	run_berth exec "$ID" /cc-nosuch
	[ "$status" -eq 255 ]
	[[ "$output" == *"no such file or directory"* ]]
	run_berth exec "$ID" /etc/passwd
	[ "$status" -eq 255 ]
	[[ "$output" == *"permission denied"* ]]
	run_berth exec --user 1000:1000 "$ID" /root-only
	[ "$status" -eq 255 ]
	[[ "$output" == *"permission denied"* ]]
	# As root it runs.
	run_berth exec "$ID" /root-only
	[ "$status" -eq 0 ]
	[ "$output" = ran ]
}

# --- user and capabilities ------------------------------------------------------------

@test "capabilities the kernel refuses to set fail create, not the started container" {
	set_args sleep 100
	# Effective must be within permitted.
	update_config '.process.capabilities.effective += ["CAP_SYS_ADMIN"]
		| .process.capabilities.permitted -= ["CAP_SYS_ADMIN"]'
	create_fails '*[Cc]ap*'
	# Inheritable must be within the bounding set.
	update_config '.process.capabilities.effective -= ["CAP_SYS_ADMIN"]
		| .process.capabilities.bounding = ["CAP_KILL"] | .process.capabilities.effective = ["CAP_KILL"]
		| .process.capabilities.permitted = ["CAP_KILL"] | .process.capabilities.inheritable = ["CAP_SYS_ADMIN"]'
	create_fails '*[Cc]ap*'
}

@test "a user the user namespace does not map fails create" {
	chown -R 100000:100000 "$BUNDLE/rootfs"
	local d=$BUNDLE
	while [ "$d" != / ]; do
		chmod o+x "$d"
		d=$(dirname "$d")
	done
	ns_add user
	update_config '.linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 1000}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 1000}]'
	set_args sleep 100
	update_config '.process.user = {"uid": 5000, "gid": 0}'
	create_fails
	update_config '.process.user = {"uid": 0, "gid": 0, "additionalGids": [5000]}'
	create_fails
	# Mapped ids are fine.
	update_config '.process.user = {"uid": 999, "gid": 999}'
	run_berth create "$ID"
	[ "$status" -eq 0 ]
}

@test "startContainer hooks run with the process's user, as in runc" {
	update_config '.root.readonly = false'
	update_config '.process.user = {"uid": 1000, "gid": 1000}'
	update_config '.hooks.startContainer = [{"path": "/bin/sh", "args": ["sh", "-c", "id -u >/tmp/cc-hook-uid"]}]'
	set_args true
	run_berth run "$ID"
	[ "$status" -eq 0 ]
	[ "$(cat "$BUNDLE/rootfs/tmp/cc-hook-uid")" = 1000 ]
}

# --- linux.resources.devices access ---------------------------------------------------

# /dev/fuse (10:229), not in the runtime's default allow list, made by the
# container itself (a node listed in linux.devices would be allowed rwm).
FUSE_OPEN='mknod /tmp/cc-fuse c 10 229 || exit 1
if (exec 3<>/tmp/cc-fuse) 2>/dev/null; then echo opened; else echo denied; fi'

@test "device access: r, w and m in any order, repeats allowed, as runc reads them" {
	[ -c /dev/fuse ] || skip "the host has no /dev/fuse"
	update_config '.root.readonly = false
		| .process.capabilities |= with_entries(if .key == "inheritable" or .key == "ambient" then . else .value += ["CAP_MKNOD"] end)'
	set_args sh -c "$FUSE_OPEN"
	update_config '.linux.resources.devices += [{"allow": true, "type": "c", "major": 10, "minor": 229, "access": "wrwr"}]'
	run_berth run "$ID"
	[ "$status" -eq 0 ]
	[ "$output" = opened ]
	update_config '.linux.resources.devices[-1].access = "mrw"'
	rm -f "$BUNDLE/rootfs/tmp/cc-fuse"
	run_berth run "$ID"
	[ "$status" -eq 0 ]
	[ "$output" = opened ]
	# Read (and mknod) alone do not open it for writing.
	update_config '.linux.resources.devices[-1].access = "rmr"'
	rm -f "$BUNDLE/rootfs/tmp/cc-fuse"
	run_berth run "$ID"
	[ "$status" -eq 0 ]
	[ "$output" = denied ]
}

@test "device access: an empty string fails create" {
	update_config '.linux.resources.devices += [{"allow": true, "type": "c", "major": 1, "minor": 3, "access": ""}]'
	set_args true
	create_fails
}

@test "device access: a letter other than r, w, m fails create" {
	requires_berth "runc 1.1 drops unknown letters ('rwa' is 'rw') and fails only on 'a' alone, at start"
	update_config '.linux.resources.devices += [{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwa"}]'
	set_args true
	create_fails '*devices\[*\].access*' '*"rwa"*'
}

@test "update -r: device rules take the same access spellings" {
	set_args sleep 100
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	echo '{"devices": [{"allow": false, "type": "c", "major": 1, "minor": 11, "access": "wmrwm"}]}' >"$BATS_TEST_TMPDIR/res.json"
	run_berth update -r "$BATS_TEST_TMPDIR/res.json" "$ID"
	[ "$status" -eq 0 ]
	# What an update's rules do: cgroups_resources.bats ("devices: update ...").
}
