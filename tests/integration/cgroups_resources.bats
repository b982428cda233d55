#!/usr/bin/env bats
# linux.resources that only some hosts can give, and cgroups found rather
# than made: kernel memory limits (ignored with a warning), net_cls/net_prio,
# real-time CPU bandwidth, a deny-all device list that really denies,
# a frozen or non-empty pre-existing cgroupsPath, and v1 cpuset parents that
# berth creates for a pod-style cgroupsPath.
#
# Values are read back from the cgroup files; IDs and cgroup names carry the
# test number and the test's pid, since v1 hierarchies are shared by
# everything on the host.

load helpers

setup() {
	setup_bundle
	ID=cgr-$BATS_TEST_NUMBER-$$
	CGR_MADE=()
}

teardown() {
	local rc=0 name key mnt d
	teardown_bundle || rc=1
	teardown_cgroups || rc=1
	# Top-level cgroups the test made (premake_cgroup), in every hierarchy:
	# what is below them (a runtime's levels) first. Thawed first if frozen.
	for name in "${CGR_MADE[@]}"; do
		for key in $(cgroup_hierarchies); do
			mnt=$(cgroup_mount "$key")
			[ -n "$mnt" ] && [ -d "$mnt/$name" ] || continue
			[ "$(cat "$mnt/$name/freezer.state" 2>/dev/null)" != FROZEN ] ||
				echo THAWED >"$mnt/$name/freezer.state"
			[ "$(cat "$mnt/$name/cgroup.freeze" 2>/dev/null)" != 1 ] || echo 0 >"$mnt/$name/cgroup.freeze"
			for d in $(find "$mnt/$name" -depth -type d); do
				rmdir "$d" 2>/dev/null || { echo "teardown: cannot remove $d" >&2; rc=1; }
			done
		done
	done
	return $rc
}

# --- memory.kernel / kernelTCP ------------------------------------------------

@test "memory.kernel and kernelTCP are accepted and ignored, with a warning on stderr and in the log" {
	set_args true
	update_config '.linux.resources.memory = {"kernel": 1048576, "kernelTCP": 1048576}'
	run_berth --log "$BATS_TEST_TMPDIR/log.json" --log-format json run "$ID"
	[ "$status" -eq 0 ]
	grep '"level":"warning"' "$BATS_TEST_TMPDIR/log.json" | grep -qi 'kernel memory' ||
		fail "no warning in the json log: $(cat "$BATS_TEST_TMPDIR/log.json")"
	# runc writes its warning to the log only once --log is given.
	if is_berth; then
		[[ "$output" == *"warning: config.json: linux.resources.memory.kernel:"* ]]
		[[ "$output" == *"linux.resources.memory.kernelTCP:"* ]]
	fi
}

# --- pre-existing cgroups -------------------------------------------------------

# premake_cgroup CTRL NAME: make /NAME at the top of CTRL's hierarchy (set
# CGR_MADE+=(NAME) first, so teardown removes it from every hierarchy) and
# print its directory.
premake_cgroup() {
	local mnt
	mnt=$(cgroup_mount "$(cgroup_key "$1")")
	[ -n "$mnt" ] || return 1
	mkdir "$mnt/$2"
	echo "$mnt/$2"
}

@test "a frozen pre-existing cgroupsPath is refused at create, in one line, and nothing is left" {
	requires root
	requires_cgroup freezer
	local name=berth-frozen-$BATS_TEST_NUMBER-$$ fz before after
	CGR_MADE+=("$name")
	fz=$(premake_cgroup freezer "$name")
	if cgroup_is_v2; then echo 1 >"$fz/cgroup.freeze"; else echo FROZEN >"$fz/freezer.state"; fi
	[ "$(cg_frozen "$fz")" = 1 ]
	update_config --arg p "/$name" '.linux.cgroupsPath = $p'
	set_args true
	before=$(cgroup_tree)
	run_berth run -d "$ID"
	after=$(cgroup_tree)
	[ "$status" -eq 1 ] || fail "run -d exited $status, wanted 1 (and must not hang)"
	[[ "$output" == *"frozen"* ]]
	[ -z "$(root_entries)" ] || fail "left in \$ROOT: $(root_entries)"
	no_rootfs_pids "$BUNDLE/rootfs" || fail "container processes left: $(rootfs_pids "$BUNDLE/rootfs")"
	[ "$before" = "$after" ] || fail "cgroups changed: $(diff <(echo "$before") <(echo "$after"))"
	[ -d "$fz" ] || fail "the pre-existing cgroup was removed"
	if is_berth; then
		[ "${#lines[@]}" -eq 1 ]
		[[ "$output" == *"linux.cgroupsPath: the container's cgroup $fz is frozen"* ]]
	fi
}

@test "a pre-existing cgroupsPath that holds a process: warning on stderr and in the log" {
	requires root
	requires_berth "runc 1.1.5 says nothing about processes already in the cgroup"
	local name=berth-busy-$BATS_TEST_NUMBER-$$ d
	CGR_MADE+=("$name")
	d=$(premake_cgroup pids "$name")
	sleep 1000 &
	BG_PIDS+=($!)
	echo $! >"$d/cgroup.procs"
	update_config --arg p "/$name" '.linux.cgroupsPath = $p'
	set_args true
	run_berth --log "$BATS_TEST_TMPDIR/log.json" --log-format json run "$ID"
	[ "$status" -eq 0 ]
	[[ "$output" == *"warning: linux.cgroupsPath: cgroup $d already holds 1 process;"* ]]
	grep '"level":"warning"' "$BATS_TEST_TMPDIR/log.json" | grep -q "cgroup $d already holds 1 process" ||
		fail "no warning in the json log: $(cat "$BATS_TEST_TMPDIR/log.json")"
	# The host process is still there, in its cgroup.
	grep -qx "${BG_PIDS[-1]}" "$d/cgroup.procs"
}

# --- v1 cpuset parents ----------------------------------------------------------

@test "v1 cpuset: containers below a pod cgroup whose cpuset is empty can be created and updated" {
	requires root
	requires_cgroup cpuset
	cgroup_is_v2 && skip "v1 cpuset only: v2 cpuset files start out inheriting"
	local pod=berth-pod-$BATS_TEST_NUMBER-$$ pd c
	CGR_MADE+=("$pod")
	# A pod parent with empty cpuset.cpus/mems, as a v1 cpuset group starts out.
	pd=$(premake_cgroup cpuset "$pod")
	[ -z "$(cat "$pd/cpuset.cpus")" ]
	set_args sleep 1000
	for c in a b; do
		update_config --arg p "/$pod/$c" '.linux.cgroupsPath = $p'
		run_berth run -d "$ID-$c"
		[ "$status" -eq 0 ]
	done
	[ "$(cat "$pd/cpuset.cpus")" = "$(cat "$(cgroup_mount cpuset)/cpuset.cpus")" ]
	run_berth update --cpuset-cpus 0 "$ID-b"
	[ "$status" -eq 0 ]
	run_berth update --cpuset-mems 0 "$ID-a"
	[ "$status" -eq 0 ]
	[ "$(cat "$pd/b/cpuset.cpus")" = 0 ]
	[ "$(cat "$pd/a/cpuset.mems")" = 0 ]
	grep -q '^Cpus_allowed_list:[[:space:]]*0$' "/proc/$(container_pid "$ID-b")/status"
}

# --- devices: deny-all means denied ------------------------------------------------

# A container script: write a line to the device node $1 and report how it went.
# (Without a device node there, `echo >` would create a plain file and succeed.)
KMSG_WRITE='[ -c "$1" ] || { echo "no device at $1"; exit 2; }
echo "<6>berth-test: device cgroup check" >"$1" && echo write-ok'

# with_mknod: give the container CAP_MKNOD in every set.
with_mknod() {
	update_config '.process.capabilities |= with_entries(.value += ["CAP_MKNOD"])'
	update_config '.root.readonly = false'
}

@test "devices: deny-all with a mknod'ed /dev/kmsg: mknod works, the write fails with EPERM" {
	requires root
	with_mknod
	update_config '.linux.resources.devices = [{"allow": false, "access": "rwm"}]'
	set_args sh -c "mknod /dev/k c 1 11 || exit 3; sh -c '$KMSG_WRITE' - /dev/k 2>&1"
	run_berth run "$ID"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Operation not permitted"* ]]
	[[ "$output" != *write-ok* ]]
}

@test "devices: deny-all with /dev/kmsg in linux.devices: the node exists, the write fails with EPERM" {
	requires root
	update_config '.linux.resources.devices = [{"allow": false, "access": "rwm"}]
		| .linux.devices = [{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 438}]'
	set_args sh -c "$KMSG_WRITE" - /dev/kmsg
	run_berth run "$ID"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Operation not permitted"* ]]
	[[ "$output" != *write-ok* ]]
}

@test "devices: deny-all with the host's /dev/kmsg bind-mounted: the write fails with EPERM" {
	requires root
	update_config '.linux.resources.devices = [{"allow": false, "access": "rwm"}]'
	add_mount '{"destination": "/dev/kmsg", "type": "bind", "source": "/dev/kmsg", "options": ["bind", "rw"]}'
	set_args sh -c "$KMSG_WRITE" - /dev/kmsg
	run_berth run "$ID"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Operation not permitted"* ]]
	[[ "$output" != *write-ok* ]]
}

@test "devices: control: an explicit allow rule for c 1:11 w makes the same write succeed" {
	requires root
	update_config '.linux.resources.devices = [{"allow": false, "access": "rwm"},
		{"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}]
		| .linux.devices = [{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 438}]'
	set_args sh -c "$KMSG_WRITE" - /dev/kmsg
	run_berth run "$ID"
	[ "$status" -eq 0 ]
	[ "$output" = write-ok ]
}

# update_devices RULES_JSON: berth update -r with {"devices": RULES_JSON}.
update_devices() {
	jq -n --argjson d "$1" '{devices: $d}' >"$BATS_TEST_TMPDIR/res.json"
	run_berth update -r "$BATS_TEST_TMPDIR/res.json" "$ID"
	[ "$status" -eq 0 ]
}

@test "devices: update with containerd's deny-all list keeps the default devices; an update's allow rule applies" {
	requires root
	update_config '.linux.resources.devices = [{"allow": false, "access": "rwm"}]
		| .linux.devices = [{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 438}]'
	set_args sleep 100
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	# containerd's CRI UpdateContainerResources passes the whole linux.resources,
	# devices included: a deny-all list must not take /dev/null away.
	update_devices '[{"allow": false, "access": "rwm"}]'
	run_berth exec "$ID" sh -c 'echo x >/dev/null && echo null-ok'
	[ "$output" = null-ok ]
	# runc 1.1 accepts device rules in update but does not apply them.
	is_berth || return 0
	update_devices '[{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "wmrwm"}]'
	run_berth exec "$ID" sh -c "$KMSG_WRITE" - /dev/kmsg
	[ "$output" = write-ok ]
	run_berth exec "$ID" sh -c 'echo x >/dev/null && echo null-ok'
	[ "$output" = null-ok ]
	update_devices '[{"allow": false, "access": "rwm"}]'
	run_berth exec "$ID" sh -c "$KMSG_WRITE" - /dev/kmsg
	[[ "$output" == *"Operation not permitted"* ]]
}

# --- real-time CPU bandwidth (v1) ---------------------------------------------------

@test "cpu.realtimePeriod/realtimeRuntime reach cpu.rt_period_us/cpu.rt_runtime_us, and update changes them" {
	requires root
	cgroup_is_v2 && skip "real-time bandwidth is a v1 cpu controller feature"
	[ -e "$(cgroup_mount cpu)/cpu.rt_runtime_us" ] || skip "kernel without RT group scheduling"
	update_config '.linux.resources.cpu = {"realtimePeriod": 500000, "realtimeRuntime": 10000}'
	set_args sleep 1000
	run_berth run -d "$ID"
	[ "$status" -eq 0 ]
	save_cgroup_dirs "$ID"
	[ "$(cat "${CG_DIR[cpu]}/cpu.rt_period_us")" = 500000 ]
	[ "$(cat "${CG_DIR[cpu]}/cpu.rt_runtime_us")" = 10000 ]
	is_berth || return 0 # runc 1.1.5 writes the shorter period first: EINVAL
	# A shorter period than the current runtime needs the runtime lowered first.
	run_berth update --cpu-rt-period 8000 --cpu-rt-runtime 100 "$ID"
	[ "$status" -eq 0 ]
	[ "$(cat "${CG_DIR[cpu]}/cpu.rt_period_us")" = 8000 ]
	[ "$(cat "${CG_DIR[cpu]}/cpu.rt_runtime_us")" = 100 ]
}

@test "cpu.realtimeRuntime beyond the host's real-time budget is refused in one line, nothing left" {
	requires root
	cgroup_is_v2 && skip "real-time bandwidth is a v1 cpu controller feature"
	[ -e "$(cgroup_mount cpu)/cpu.rt_runtime_us" ] || skip "kernel without RT group scheduling"
	local root_rt before after
	root_rt=$(cat "$(cgroup_mount cpu)/cpu.rt_runtime_us")
	[ "$root_rt" != -1 ] || skip "the host's RT runtime is unlimited"
	update_config --argjson r $((root_rt + 1)) \
		'.linux.resources.cpu = {"realtimePeriod": 1000000, "realtimeRuntime": $r}'
	set_args true
	before=$(cgroup_tree)
	run_berth run "$ID"
	after=$(cgroup_tree)
	[ "$status" -eq 1 ]
	[ -z "$(root_entries)" ] || fail "left in \$ROOT: $(root_entries)"
	diff <(echo "$before" | grep -F -- "$ID") <(echo "$after" | grep -F -- "$ID") ||
		fail "cgroups of $ID left behind"
	if is_berth; then
		[ "${#lines[@]}" -eq 1 ]
		[[ "$output" == *"linux.resources.cpu.realtimeRuntime: no real-time budget left"*"raise it there"* ]]
	fi
}

@test "cpu.realtimeRuntime on cgroup v2 is refused in one line naming the field" {
	cgroup_is_v2 || skip "v2 only"
	update_config '.linux.resources.cpu = {"realtimeRuntime": 1000}'
	set_args true
	run_berth run "$ID"
	[ "$status" -eq 1 ]
	[ -z "$(root_entries)" ]
	if is_berth; then
		[ "${#lines[@]}" -eq 1 ]
		[[ "$output" == *"linux.resources.cpu.realtimeRuntime: cgroup v2 has no"* ]]
	fi
}

# --- network: net_cls / net_prio (v1) ------------------------------------------------

@test "network on a host without a net_cls/net_prio mount is refused in one line, nothing left" {
	[ -z "$(cgroup_mount net_cls)" ] || skip "this host mounts net_cls"
	update_config '.linux.resources.network = {"classID": 1048577}'
	set_args true
	run_berth run "$ID"
	[ "$status" -eq 1 ]
	[ -z "$(root_entries)" ] || fail "left in \$ROOT: $(root_entries)"
	no_rootfs_pids "$BUNDLE/rootfs"
	if is_berth; then
		[ "${#lines[@]}" -eq 1 ]
		if cgroup_is_v2; then
			[[ "$output" == *"linux.resources.network.classID: cgroup v2 has no net_cls"* ]]
		else
			[[ "$output" == *"linux.resources.network.classID: this host does not mount the v1 net_cls"* ]]
		fi
	fi
}

# in_net_cls_ns SCRIPT: run SCRIPT with bash in a private mount namespace where
# /sys/fs/cgroup is a new tmpfs holding the host's hierarchies (bind mounts)
# plus a v1 net_cls,net_prio hierarchy. (The old /sys/fs/cgroup is detached
# there, not covered: runtimes read every cgroup mount from mountinfo.) The host's mount table is untouched;
# SCRIPT must remove every cgroup it makes in that hierarchy.
in_net_cls_ns() {
	local save=$BATS_TEST_TMPDIR/cgsave
	mkdir -p "$save"
	unshare -m --propagation private bash -c '
		set -e
		save=$1; shift
		mount --rbind /sys/fs/cgroup "$save"
		umount -l /sys/fs/cgroup
		mount -t tmpfs -o mode=755 berth-test-cg /sys/fs/cgroup
		for d in "$save"/*; do
			mountpoint -q "$d" || continue
			mkdir "/sys/fs/cgroup/${d##*/}"
			mount --bind "$d" "/sys/fs/cgroup/${d##*/}"
		done
		mkdir /sys/fs/cgroup/net_cls,net_prio
		mount -t cgroup -o net_cls,net_prio cgroup /sys/fs/cgroup/net_cls,net_prio
		bash -c "$1"' - "$save" "$1"
}

@test "network.classID and priorities reach net_cls.classid and net_prio.ifpriomap (v1 hierarchy)" {
	requires root
	cgroup_is_v2 && skip "net_cls/net_prio are v1 controllers"
	command -v unshare >/dev/null || skip "needs unshare(1)"
	[ -z "$(cgroup_mount net_cls)" ] || skip "this host already mounts net_cls (the test mounts its own)"
	# Mounting a new v1 hierarchy, even in a private mount namespace, leaves
	# it in the kernel for as long as the machine runs (its root holds every
	# process): only where it already exists, or when asked to.
	grep -q ':net_cls' /proc/self/cgroup || [ -n "${BERTH_TEST_NEW_HIERARCHY:-}" ] ||
		skip "no net_cls hierarchy on this machine; BERTH_TEST_NEW_HIERARCHY=1 makes one (it stays until reboot)"
	update_config '.linux.resources.network = {"classID": 1048577, "priorities": [{"name": "lo", "priority": 7}]}'
	set_args sleep 1000
	run in_net_cls_ns "
		timeout 20 \"$BERTH\" --root \"$ROOT\" run -d \"$ID\" </dev/null >/dev/null 2>\"$BATS_TEST_TMPDIR/err\" || { cat \"$BATS_TEST_TMPDIR/err\"; exit 1; }
		pid=\$(\"$BERTH\" --root \"$ROOT\" state \"$ID\" | jq -r .pid)
		d=/sys/fs/cgroup/net_cls,net_prio\$(awk -F: '\$2 == \"net_cls,net_prio\" { print \$3 }' /proc/\$pid/cgroup)
		echo dir=\$d
		echo classid=\$(cat \$d/net_cls.classid)
		grep '^lo ' \$d/net_prio.ifpriomap
		\"$BERTH\" --root \"$ROOT\" delete --force \"$ID\"
		[ ! -d \$d ] || { echo left=\$d; rmdir \$d; }
		# The levels above it (berth's own \"berth\" group): the hierarchy
		# lives on after the namespace only while it has groups.
		p=\${d%/*}
		while [ \"\$p\" != /sys/fs/cgroup/net_cls,net_prio ]; do rmdir \$p; p=\${p%/*}; done"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"classid=1048577"* ]]
	[[ "$output" == *"lo 7"* ]]
	[[ "$output" != *"left="* ]]
	[[ "$output" == *"dir=/sys/fs/cgroup/net_cls,net_prio/"?* ]]
}
