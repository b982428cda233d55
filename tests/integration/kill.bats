#!/usr/bin/env bats
# `kill`: signal given by name (KILL, SIGKILL), number (9, 15) or omitted (TERM),
# the signal the container really receives, invalid signals, killing created and
# stopped containers, and --all.

load helpers

# The container records the first of these signals it receives in /sig.
SIG_SCRIPT='for s in TERM USR1 HUP INT; do trap "echo $s >/sig; exit 0" $s; done
echo ready >/ready
while :; do sleep 0.05; done'

setup() {
	setup_bundle
	update_config '.root.readonly = false'
	set_args sh -c "$SIG_SCRIPT"
}

# signal_received SIGSPEC...: run a container, `kill` it with SIGSPEC (nothing
# for the default) and print the signal it recorded.
signal_received() {
	rm -f "$BUNDLE/rootfs/sig" "$BUNDLE/rootfs/ready"
	# run_berth's trace goes to stderr: stdout is the result.
	run_berth run --detach sig >&2
	[ "$status" -eq 0 ] || return 1
	retry 10 0.02 test -e "$BUNDLE/rootfs/ready" >&2 || return 1
	run_berth kill sig "$@" >&2
	[ "$status" -eq 0 ] || return 1
	wait_for_status sig stopped >&2 || return 1
	run_berth delete sig >&2
	cat "$BUNDLE/rootfs/sig"
}

@test "kill without a signal sends SIGTERM" {
	[ "$(signal_received)" = TERM ]
}

@test "kill accepts names with and without SIG and numbers" {
	local spec want
	for spec in TERM:TERM SIGTERM:TERM 15:TERM USR1:USR1 SIGUSR1:USR1 10:USR1 HUP:HUP SIGHUP:HUP 1:HUP INT:INT 2:INT; do
		want=${spec#*:}
		[ "$(signal_received "${spec%%:*}")" = "$want" ] ||
			fail "kill ${spec%%:*} did not deliver SIG$want"
	done
}

@test "kill KILL, SIGKILL and 9 stop the container" {
	set_args sleep 100
	local sig
	for sig in KILL SIGKILL 9; do
		run_berth run --detach "c-$sig"
		[ "$status" -eq 0 ]
		run_berth kill "c-$sig" "$sig"
		[ "$status" -eq 0 ] || fail "kill $sig failed"
		wait_for_status "c-$sig" stopped
		run_berth delete "c-$sig"
		[ "$status" -eq 0 ]
		retry 5 0.02 no_rootfs_pids "$BUNDLE/rootfs"
	done
}

@test "invalid signals exit 1 and leave the container running" {
	set_args sleep 100
	run_berth run --detach c1
	[ "$status" -eq 0 ]
	local sig
	for sig in FOO SIGFOO 99 -1 SIG 9x; do
		run_berth kill c1 "$sig"
		[ "$status" -eq 1 ] || fail "kill '$sig' exited $status"
	done
	[ "$(container_status c1)" = running ]
}

@test "kill of a stopped container fails" {
	set_args true
	run_berth run --detach c1
	[ "$status" -eq 0 ]
	wait_for_status c1 stopped
	run_berth kill c1 KILL
	[ "$status" -eq 1 ]
	# runc: "container not running"
	[[ "$output" == *"not running"* ]]
}

@test "kill of a created container works" {
	set_args sleep 100
	run_berth create c1
	[ "$status" -eq 0 ]
	run_berth kill c1 KILL
	[ "$status" -eq 0 ]
	wait_for_status c1 stopped
	retry 5 0.02 no_rootfs_pids "$BUNDLE/rootfs"
}

@test "kill signals only the init process; --all signals every process" {
	# Without a pid namespace, killing init does not take its children along.
	ns_remove pid
	set_args sh -c 'sleep 100 & sleep 100 & echo ready >/ready; wait'
	run_berth run --detach c1
	[ "$status" -eq 0 ]
	retry 10 0.02 test -e "$BUNDLE/rootfs/ready"
	local init
	init=$(container_pid c1)
	[ "$(rootfs_pids "$BUNDLE/rootfs" | wc -l)" -eq 3 ]

	run_berth kill c1 KILL
	[ "$status" -eq 0 ]
	retry 5 0.02 test ! -e "/proc/$init/root/bin"
	[ "$(rootfs_pids "$BUNDLE/rootfs" | wc -l)" -eq 2 ]

	# The children remain; --all reaches them even though init is gone.
	run_berth kill --all c1 KILL
	[ "$status" -eq 0 ]
	retry 5 0.02 no_rootfs_pids "$BUNDLE/rootfs"
}

@test "kill --all stops every process of a running container" {
	ns_remove pid
	set_args sh -c 'sleep 100 & sleep 100 & echo ready >/ready; wait'
	run_berth run --detach c1
	[ "$status" -eq 0 ]
	retry 10 0.02 test -e "$BUNDLE/rootfs/ready"
	[ "$(rootfs_pids "$BUNDLE/rootfs" | wc -l)" -eq 3 ]

	run_berth kill --all c1 KILL
	[ "$status" -eq 0 ]
	retry 5 0.02 no_rootfs_pids "$BUNDLE/rootfs"
	wait_for_status c1 stopped
}

# long_sleeps_left: are any of the container's `sleep 100` processes alive?
long_sleeps_left() {
	local p
	for p in $(rootfs_pids "$BUNDLE/rootfs"); do
		[ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" != "sleep 100 " ] || return 0
	done
	return 1
}

@test "kill --all TERM reaches processes other than init in a pid namespace" {
	# init has a TERM handler (which does nothing) and survives; its children
	# have the default action and die.
	set_args sh -c 'trap ":" TERM; sleep 100 & sleep 100 & echo ready >/ready; while :; do sleep 0.05; done'
	run_berth run --detach c1
	[ "$status" -eq 0 ]
	retry 10 0.02 test -e "$BUNDLE/rootfs/ready"
	local init
	init=$(container_pid c1)
	long_sleeps_left

	run_berth kill --all c1 TERM
	[ "$status" -eq 0 ]
	retry 5 0.02 eval '! long_sleeps_left'
	[ "$(container_status c1)" = running ]
	kill -0 "$init"
}
