#!/usr/bin/env bats
# Namespaces as seen from inside: PID 1 and a private /proc, hostname and
# domainname, mount isolation, a network namespace with only lo, namespace
# identities differing from the host's, sharing the host's network namespace,
# joining existing namespaces by path (a throwaway netns, another container's
# uts/ipc), the cgroup namespace, and the time namespace with timeOffsets.

load helpers

@test "the container process is PID 1 of its own pid namespace" {
	run_sh 'echo $$; cut -d" " -f1 /proc/self/stat; ls /proc | grep -c "^[0-9]"'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1 ]
	# /proc/self is cut itself: a small pid in a fresh namespace.
	[ "${lines[1]}" -lt 10 ]
	# Only the handful of processes of this pipeline are visible.
	[ "${lines[2]}" -lt 6 ]
}

@test "hostname comes from the config and the host's is untouched" {
	local host
	host=$(hostname)
	update_config '.hostname = "berth-test-host"'
	run_sh 'hostname; cat /proc/sys/kernel/hostname'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = berth-test-host ]
	[ "${lines[1]}" = berth-test-host ]
	[ "$(hostname)" = "$host" ]
}

@test "domainname comes from the config" {
	if runc_older_than 1.2; then
		skip "runc < 1.2 ignores domainname"
	fi
	local host
	host=$(cat /proc/sys/kernel/domainname)
	update_config '.domainname = "berth.example"'
	run_sh 'cat /proc/sys/kernel/domainname'
	[ "$status" -eq 0 ]
	[ "$output" = berth.example ]
	[ "$(cat /proc/sys/kernel/domainname)" = "$host" ]
}

@test "a mount made for the container is invisible on the host" {
	add_mount '{"destination": "/mnt", "type": "tmpfs", "source": "berth-test-tmpfs", "options": ["size=1m"]}'
	set_args sh -c "grep berth-test-tmpfs /proc/self/mountinfo; $WAIT_FOR_GO"
	local before
	before=$(host_mountinfo)
	run_berth create c1
	[ "$status" -eq 0 ]
	# The container's stdout is create's output file.
	local out=$BERTH_OUT
	run_berth start c1
	[ "$status" -eq 0 ]
	wait_for_file_line "$out" berth-test-tmpfs
	grep -q ' /mnt .*berth-test-tmpfs' "$out"
	assert_mountinfo_unchanged "$before"
	refute grep -q berth-test-tmpfs /proc/self/mountinfo
	release_container
	wait_for_status c1 stopped
}

@test "a network namespace has only lo, and lo is up" {
	run_sh 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "; ip -o link show lo'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = lo ]
	[[ "${lines[1]}" == *"<LOOPBACK,UP"* ]]
	[ "${#lines[@]}" -eq 2 ]
}

@test "pid, net, ipc, uts and mnt namespaces differ from the host's" {
	run_sh 'for t in pid net ipc uts mnt; do readlink /proc/self/ns/$t; done'
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 5 ]
	local line
	for line in "${lines[@]}"; do
		[[ "$line" == *:\[*\] ]] || fail "unexpected namespace link '$line'"
		[ "$line" != "$(ns_id $$ "${line%%:*}")" ] || fail "${line%%:*} namespace is the host's"
	done
}

@test "without a network namespace the container shares the host's" {
	ns_remove network
	run_sh 'readlink /proc/self/ns/net; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | sort'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$(ns_id $$ net)" ]
	[ "$(printf '%s\n' "${lines[@]:1}")" = "$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort)" ]
}

@test "without an ipc or uts namespace the container shares the host's" {
	ns_remove ipc uts
	update_config 'del(.hostname)'
	run_sh 'readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts; hostname'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$(ns_id $$ ipc)" ]
	[ "${lines[1]}" = "$(ns_id $$ uts)" ]
	[ "${lines[2]}" = "$(hostname)" ]
}

@test "joins an existing network namespace by path" {
	requires netns
	make_netns
	ns_remove network
	ns_add network "$NETNS_PATH"
	run_sh 'readlink /proc/self/ns/net'
	[ "$status" -eq 0 ]
	[ "$output" = "net:[$(stat -L -c %i "$NETNS_PATH")]" ]
	[ "$output" != "$(ns_id $$ net)" ]
}

@test "joins another container's uts and ipc namespaces by path" {
	update_config '.hostname = "first"'
	set_args sleep 100
	run_berth run --detach first
	[ "$status" -eq 0 ]
	local pid
	pid=$(container_pid first)

	ns_remove uts ipc
	ns_add uts "/proc/$pid/ns/uts"
	ns_add ipc "/proc/$pid/ns/ipc"
	update_config 'del(.hostname)'
	run_sh 'hostname; readlink /proc/self/ns/ipc' second
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = first ]
	[ "${lines[1]}" = "$(ns_id "$pid" ipc)" ]
}

@test "a cgroup namespace hides the host's cgroup paths" {
	ns_add cgroup
	run_sh 'readlink /proc/self/ns/cgroup; cat /proc/self/cgroup'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" != "$(ns_id $$ cgroup)" ]
	# Every hierarchy's path is the namespace root.
	local line
	for line in "${lines[@]:1}"; do
		[ "${line##*:}" = / ] || fail "cgroup path not virtualised: $line"
	done
}

@test "without a cgroup namespace the container shares the host's" {
	ns_remove cgroup
	run_sh 'readlink /proc/self/ns/cgroup'
	[ "$status" -eq 0 ]
	[ "$output" = "$(ns_id $$ cgroup)" ]
}

@test "a time namespace applies linux.timeOffsets to the boot clock" {
	requires timens
	ns_add time
	update_config '.linux.timeOffsets = {"boottime": {"secs": 86400, "nanosecs": 0}, "monotonic": {"secs": 172800, "nanosecs": 0}}'
	run_sh 'readlink /proc/self/ns/time; cut -d. -f1 /proc/uptime'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" != "$(ns_id $$ time)" ]
	local host_uptime
	host_uptime=$(cut -d. -f1 /proc/uptime)
	# /proc/uptime follows the boot clock: about one day more than the host's.
	[ "${lines[1]}" -ge $((host_uptime + 86400 - 5)) ]
	[ "${lines[1]}" -le $((host_uptime + 86400 + 5)) ]
}
