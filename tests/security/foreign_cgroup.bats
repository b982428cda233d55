#!/usr/bin/env bats
# A cgroupsPath naming a cgroup that already exists and holds a process that
# is none of the container's (here: a host `sleep`, standing for a service).
# The container may share the cgroup (with a warning, as runc), but kill
# --all and delete --force must only signal the container's own processes,
# and delete must not remove a cgroup the runtime did not create
# (issue #10, item 4: delete killed processes that never belonged to the
# container).
#
# The foreign cgroup is made by the test in every hierarchy the test shell is
# in, named after the test, at the top of each hierarchy (an absolute
# cgroupsPath), and removed by teardown.

load ../integration/helpers
load security_helpers

setup() {
	sec_setup
	ID=fcg-$BATS_TEST_NUMBER-$$
	FCG=berth-foreign-$BATS_TEST_NUMBER-$$
	FCG_DIRS=()
	HOST_PID=
}

teardown() {
	local rc=0 d
	sec_teardown || rc=1
	[ -z "$HOST_PID" ] || kill -9 "$HOST_PID" 2>/dev/null || true
	[ -z "$HOST_PID" ] || wait "$HOST_PID" 2>/dev/null || true
	for d in "${FCG_DIRS[@]}"; do
		[ -d "$d" ] || continue
		# Sub-cgroups a runtime may have made in it, then the group itself.
		find "$d" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null || true
		rmdir "$d" 2>/dev/null || { echo "teardown: cannot remove $d" >&2; rc=1; }
	done
	return $rc
}

# foreign_cgroup_with_host_process: make $FCG in every hierarchy and move a
# host process (HOST_PID, a sleep started here) into it.
foreign_cgroup_with_host_process() {
	local key mnt
	sleep 1000 &
	HOST_PID=$!
	for key in $(cgroup_hierarchies); do
		mnt=$(cgroup_mount "$key")
		[ -n "$mnt" ] || continue
		mkdir "$mnt/$FCG"
		FCG_DIRS+=("$mnt/$FCG")
		# v1 cpuset groups start with no CPUs and refuse tasks until given some.
		if [ -e "$mnt/$FCG/cpuset.cpus" ]; then
			cat "$mnt/cpuset.cpus" >"$mnt/$FCG/cpuset.cpus"
			cat "$mnt/cpuset.mems" >"$mnt/$FCG/cpuset.mems"
		fi
		echo "$HOST_PID" >"$mnt/$FCG/cgroup.procs"
	done
	update_config --arg p "/$FCG" '.linux.cgroupsPath = $p'
}

# gone_or_zombie PID: the process is dead (its parent may not have reaped it yet).
gone_or_zombie() {
	[ ! -e "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# assert_foreign_intact: the host process lives, still in its cgroups, and
# every directory of the foreign cgroup is still there.
assert_foreign_intact() {
	local d
	kill -0 "$HOST_PID" 2>/dev/null || fail "the host process $HOST_PID was killed"
	[ "$(awk '{print $3}' "/proc/$HOST_PID/stat")" != Z ] || fail "the host process $HOST_PID is a zombie"
	for d in "${FCG_DIRS[@]}"; do
		[ -d "$d" ] || fail "the pre-existing cgroup $d was removed"
		grep -qx "$HOST_PID" "$d/cgroup.procs" || fail "host process $HOST_PID is no longer in $d"
	done
}

@test "create in a cgroup that holds a host process warns; delete --force kills the container, not the host process" {
	requires root
	requires_berth "runc 1.1.5 kills every process in the cgroup, the host's too"
	foreign_cgroup_with_host_process
	set_args sh -c 'sleep 1000 & exec sleep 1000'
	run_berth run -d "$ID"
	[ "$status" -eq 0 ]
	[[ "$output" == *"warning: linux.cgroupsPath: cgroup "*"already holds 1 process"* ]] ||
		fail "no warning about the occupied cgroup"
	local init
	init=$(container_pid "$ID")
	retry 5 0.05 test "$(rootfs_pids "$BUNDLE/rootfs" | wc -l)" -eq 2

	run_berth delete --force "$ID"
	[ "$status" -eq 0 ]
	assert_foreign_intact
	retry 3 0.05 no_rootfs_pids "$BUNDLE/rootfs" || fail "container processes survived: $(rootfs_pids "$BUNDLE/rootfs")"
	retry 3 0.05 gone_or_zombie "$init" || fail "the container's init survived"
}

@test "kill --all KILL in a cgroup that holds a host process kills the container's processes only" {
	requires root
	requires_berth "runc 1.1.5 signals every process in the cgroup, the host's too"
	foreign_cgroup_with_host_process
	set_args sh -c 'sleep 1000 & exec sleep 1000'
	run_berth run -d "$ID"
	[ "$status" -eq 0 ]
	retry 5 0.05 test "$(rootfs_pids "$BUNDLE/rootfs" | wc -l)" -eq 2

	run_berth kill --all "$ID" KILL
	[ "$status" -eq 0 ]
	retry 3 0.05 no_rootfs_pids "$BUNDLE/rootfs" || fail "container processes survived: $(rootfs_pids "$BUNDLE/rootfs")"
	assert_foreign_intact
	run_berth delete "$ID"
	[ "$status" -eq 0 ]
	assert_foreign_intact
}

@test "an exec'd process in a shared cgroup is the container's: delete --force kills it, not the host process" {
	requires root
	requires_berth "runc 1.1.5 kills every process in the cgroup, the host's too"
	requires_berth_exec
	foreign_cgroup_with_host_process
	set_args sleep 1000
	run_berth run -d "$ID"
	[ "$status" -eq 0 ]
	"$BERTH" --root "$ROOT" exec -d "$ID" sleep 999 || fail "exec -d failed"
	retry 5 0.05 test "$(rootfs_pids "$BUNDLE/rootfs" | wc -l)" -eq 2

	run_berth delete --force "$ID"
	[ "$status" -eq 0 ]
	retry 3 0.05 no_rootfs_pids "$BUNDLE/rootfs" || fail "container processes survived: $(rootfs_pids "$BUNDLE/rootfs")"
	assert_foreign_intact
}

@test "delete of a container in an empty pre-existing cgroup leaves that cgroup in place" {
	requires root
	requires_berth "runc 1.1.5 removes the cgroup it was given"
	local key mnt d
	for key in $(cgroup_hierarchies); do
		mnt=$(cgroup_mount "$key")
		[ -n "$mnt" ] || continue
		mkdir "$mnt/$FCG"
		FCG_DIRS+=("$mnt/$FCG")
	done
	update_config --arg p "/$FCG" '.linux.cgroupsPath = $p'
	set_args sleep 1000
	run_berth run -d "$ID"
	[ "$status" -eq 0 ]
	[[ "$output" != *warning* ]] || fail "warned about an empty cgroup"
	run_berth delete --force "$ID"
	[ "$status" -eq 0 ]
	for d in "${FCG_DIRS[@]}"; do
		[ -d "$d" ] || fail "the pre-existing cgroup $d was removed"
	done
}
