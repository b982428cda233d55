#!/usr/bin/env bats
# Leaks over many lifecycles: 200 sequential create/start/wait/delete cycles,
# and 50 run --detach/kill/delete --force cycles, must leave no state entry, no
# host mount, no container process, no cgroup directory, and must not disturb a
# long-running observer container (still running, same open fds) nor change the
# test shell's fd count.

load helpers

setup() {
	setup_bundle
	PREFIX=berth-cleanup-$$
}

# cgroup_dirs: cgroup directories named after this test's containers (but the observer).
cgroup_dirs() {
	find /sys/fs/cgroup -maxdepth 8 -type d -name "*$PREFIX-*" ! -name "*-observer*" 2>/dev/null || true
}

# start_observer: a long-running container; sets OBS_PID and OBS_FDS.
start_observer() {
	set_args sh -c 'while :; do sleep 1; done'
	run_berth run --detach "$PREFIX-observer"
	[ "$status" -eq 0 ] || return 1
	OBS_PID=$(container_pid "$PREFIX-observer")
	OBS_FDS=$(fd_count "$OBS_PID")
}

# check_no_leaks MOUNTS-BEFORE SHELL-FDS-BEFORE
check_no_leaks() {
	[ "$(root_entries)" = "$PREFIX-observer" ] || fail "left in \$ROOT: $(root_entries | xargs)"
	assert_mountinfo_unchanged "$1"
	[ "$(fd_count $$)" -eq "$2" ] || fail "test shell fds: $2 before, $(fd_count $$) after"
	[ -z "$(cgroup_dirs)" ] || fail "cgroups left: $(cgroup_dirs | xargs)"

	# Only the observer's processes remain on the rootfs, and it is unharmed.
	[ "$(container_status "$PREFIX-observer")" = running ] || fail "observer not running"
	[ "$(container_pid "$PREFIX-observer")" = "$OBS_PID" ]
	[ "$(fd_count "$OBS_PID")" -eq "$OBS_FDS" ] || fail "observer fds: $OBS_FDS before, $(fd_count "$OBS_PID") after"
	local pid
	for pid in $(rootfs_pids "$BUNDLE/rootfs"); do
		[ -e "/proc/$pid" ] || continue # gone between the listing and this look
		[ "$pid" = "$OBS_PID" ] || grep -q "^PPid:[[:space:]]*$OBS_PID\$" "/proc/$pid/status" 2>/dev/null ||
			fail "leftover container process $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
	done
}

@test "200 create/start/delete cycles leave nothing behind" {
	start_observer
	set_args true
	local mounts fds i id
	mounts=$(host_mountinfo)
	fds=$(fd_count $$)

	for ((i = 0; i < 200; i++)); do
		id=$PREFIX-$i
		berth create "$id" </dev/null >/dev/null 2>"$BATS_TEST_TMPDIR/err" 3>&- ||
			fail "cycle $i: create failed: $(cat "$BATS_TEST_TMPDIR/err")"
		berth start "$id" || fail "cycle $i: start failed"
		wait_for_status "$id" stopped 10 || fail "cycle $i: never stopped"
		berth delete "$id" || fail "cycle $i: delete failed"
	done

	check_no_leaks "$mounts" "$fds"
}

@test "50 run --detach/kill/delete --force cycles leave nothing behind" {
	start_observer
	local mounts fds i id
	mounts=$(host_mountinfo)
	fds=$(fd_count $$)

	set_args sleep 100
	for ((i = 0; i < 50; i++)); do
		id=$PREFIX-$i
		berth run --detach "$id" </dev/null >/dev/null 2>"$BATS_TEST_TMPDIR/err" 3>&- ||
			fail "cycle $i: run failed: $(cat "$BATS_TEST_TMPDIR/err")"
		if ((i % 2)); then
			berth kill "$id" KILL || fail "cycle $i: kill failed"
			wait_for_status "$id" stopped 10 || fail "cycle $i: never stopped"
			berth delete "$id" || fail "cycle $i: delete failed"
		else
			berth delete --force "$id" || fail "cycle $i: delete --force failed"
		fi
	done

	check_no_leaks "$mounts" "$fds"
}

@test "failed creates leave nothing behind" {
	start_observer
	local mounts fds i
	mounts=$(host_mountinfo)
	fds=$(fd_count $$)

	set_args /does/not/exist
	for ((i = 0; i < 20; i++)); do
		! berth create "$PREFIX-$i" </dev/null >/dev/null 2>&1 3>&- || fail "create $i succeeded"
	done

	check_no_leaks "$mounts" "$fds"
}
