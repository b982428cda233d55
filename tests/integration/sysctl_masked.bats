#!/usr/bin/env bats
# linux.sysctl applied inside the container's namespaces (and not on the host),
# linux.maskedPaths (files read empty, directories look empty, missing paths
# ignored) and linux.readonlyPaths (writes fail; /proc/sys by default).

load helpers

@test "sysctl net.ipv4.ip_forward is set in the container's network namespace only" {
	local host
	host=$(cat /proc/sys/net/ipv4/ip_forward)
	update_config '.linux.sysctl = {"net.ipv4.ip_forward": "1", "net.core.somaxconn": "123"}'
	run_sh 'cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/core/somaxconn'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1 ]
	[ "${lines[1]}" = 123 ]
	[ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$host" ]
	[ "$(cat /proc/sys/net/core/somaxconn)" != 123 ]
}

@test "sysctl kernel.shmmax is set in the container's ipc namespace only" {
	local host
	host=$(cat /proc/sys/kernel/shmmax)
	update_config '.linux.sysctl = {"kernel.shmmax": "68719476736", "kernel.msgmax": "9000"}'
	run_sh 'cat /proc/sys/kernel/shmmax /proc/sys/kernel/msgmax'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 68719476736 ]
	[ "${lines[1]}" = 9000 ]
	[ "$(cat /proc/sys/kernel/shmmax)" = "$host" ]
}

@test "sysctl is applied even though /proc/sys is read-only for the process" {
	jq -e '.linux.readonlyPaths | index("/proc/sys")' "$BUNDLE/config.json"
	update_config '.linux.sysctl = {"net.ipv4.ip_forward": "1"}'
	run_sh 'cat /proc/sys/net/ipv4/ip_forward; echo 0 >/proc/sys/net/ipv4/ip_forward || echo write-refused'
	[ "${lines[0]}" = 1 ]
	[[ "$output" == *write-refused* ]]
}

@test "a masked file reads empty, a masked directory looks empty" {
	mkdir -p "$BUNDLE/rootfs/opt/secretdir"
	echo secret >"$BUNDLE/rootfs/opt/secretdir/inner"
	echo secret >"$BUNDLE/rootfs/opt/secretfile"
	echo public >"$BUNDLE/rootfs/opt/public"
	update_config '.linux.maskedPaths += ["/opt/secretfile", "/opt/secretdir"]'
	run_sh 'echo "file:[$(cat /opt/secretfile)]"; echo "dir:[$(ls -A /opt/secretdir)]"; cat /opt/public'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "file:[]" ]
	[ "${lines[1]}" = "dir:[]" ]
	[ "${lines[2]}" = public ]
	# The host's files are untouched.
	[ "$(cat "$BUNDLE/rootfs/opt/secretfile")" = secret ]
}

@test "a masked file cannot be written, a masked directory cannot be filled" {
	update_config '.root.readonly = false'
	mkdir -p "$BUNDLE/rootfs/opt/secretdir"
	echo secret >"$BUNDLE/rootfs/opt/secretfile"
	update_config '.linux.maskedPaths += ["/opt/secretfile", "/opt/secretdir"]'
	run_sh 'echo x >/opt/secretdir/new || echo dir-refused; echo x >/opt/secretfile; echo "file:[$(cat /opt/secretfile)]"'
	[[ "$output" == *dir-refused* ]]
	[ "${lines[-1]}" = "file:[]" ]
	[ ! -e "$BUNDLE/rootfs/opt/secretdir/new" ]
	[ "$(cat "$BUNDLE/rootfs/opt/secretfile")" = secret ]
}

@test "the spec's default masked /proc files read empty" {
	jq -e '.linux.maskedPaths | index("/proc/timer_list")' "$BUNDLE/config.json"
	[ "$(wc -c </proc/timer_list)" -gt 0 ]
	run_sh 'wc -c </proc/timer_list'
	[ "$status" -eq 0 ]
	[ "$output" = 0 ]
}

@test "a masked path missing from the rootfs is ignored" {
	update_config '.linux.maskedPaths += ["/no/such/path"]'
	run_sh 'echo ran'
	[ "$status" -eq 0 ]
	[ "$output" = ran ]
}

@test "/proc/sys is read-only by default and writable when not listed" {
	run_sh 'echo 1 >/proc/sys/net/ipv4/ip_forward || echo write-refused'
	[[ "$output" == *write-refused* ]]
	[[ "$output" == *"Read-only file system"* ]]

	# Control: the same write works once /proc/sys is not read-only
	# (it only changes the container's own network namespace).
	local host
	host=$(cat /proc/sys/net/ipv4/ip_forward)
	update_config '.linux.readonlyPaths -= ["/proc/sys"] | .process.capabilities.bounding += ["CAP_NET_ADMIN"]
		| .process.capabilities.effective += ["CAP_NET_ADMIN"] | .process.capabilities.permitted += ["CAP_NET_ADMIN"]'
	run_sh 'echo 1 >/proc/sys/net/ipv4/ip_forward && cat /proc/sys/net/ipv4/ip_forward'
	[ "$status" -eq 0 ]
	[ "$output" = 1 ]
	[ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$host" ]
}

@test "readonlyPaths make a directory of a writable rootfs read-only" {
	update_config '.root.readonly = false | .linux.readonlyPaths += ["/opt/ro"]'
	mkdir -p "$BUNDLE/rootfs/opt/ro" "$BUNDLE/rootfs/opt/rw"
	echo readable >"$BUNDLE/rootfs/opt/ro/f"
	run_sh 'cat /opt/ro/f; touch /opt/ro/new || echo ro-refused; touch /opt/rw/new && echo rw-ok'
	[ "${lines[0]}" = readable ]
	[[ "$output" == *ro-refused* ]]
	[[ "$output" == *rw-ok* ]]
	[ ! -e "$BUNDLE/rootfs/opt/ro/new" ]
	[ -e "$BUNDLE/rootfs/opt/rw/new" ]
}
