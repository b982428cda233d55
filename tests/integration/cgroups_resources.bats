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
