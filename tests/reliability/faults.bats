#!/usr/bin/env bats
# The runtime SIGKILLed (not a graceful error) at every phase of create,
# start, exec, delete and run, deterministically through the fault-injection
# build (berth-test: BERTH_TEST_KILL_AT, common/testhook.h), and at random
# moments. After each kill, `state` gives a consistent status or one line,
# and `delete --force` leaves mounts, cgroups, processes, the state root
# (and, with a network, links, rules and leases) as they were before.

load ../integration/helpers
load ../integration/net_helpers
load rel_helpers

setup() {
	rel_setup
}

teardown() {
	if [ -n "${HOST_NS:-}" ]; then net_teardown; else teardown_bundle; fi
}

# Phases of create in the order the recipe reaches them (runtime/linux.c,
# runtime/child.c); write:F#N is the Nth atomic write of F, between the
# temp file's fsync and its rename.
CREATE_PHASES="create:state-dir write:cgroup.json#1 write:state.json#1 create:cgroup-recorded
create:cgroup create:state-preliminary create:net-prepared
create:cloned child:cgroup child:mounts create:hooks-run create:child-ready write:state.json#2
create:state-written write:config.json"

@test "create killed at each phase: state is sane, delete --force removes everything" {
	requires_hooks
	set_args sleep 100
	# A createRuntime hook, so that phase is reached too.
	update_config '.hooks.createRuntime = [{"path": "/bin/true"}]'
	local before phase n=0
	before=$(rel_snapshot)
	for phase in $CREATE_PHASES; do
		kill_at "$phase" create "$PREFIX"
		recover "$PREFIX" "$before" "create killed at $phase"
		n=$((n + 1))
	done
	echo "# $n phases"
}

@test "create --net bridge killed at each phase (throwaway netns): no veth, lease or rule left" {
	requires_hooks
	net_setup
	# Long enough for the "keep" container to outlive the test (ASan is slow).
	set_args sleep 100000
	annotate dev.berth.net bridge
	annotate dev.berth.net.publish 8080:80
	update_config '.hooks.createRuntime = [{"path": "/bin/true"}]'
	local before phase
	# A first container makes the bridge, the table and the masquerade rule
	# (which stay while a lease of the subnet does): the snapshot includes them.
	run_net run -d "$PREFIX-keep"
	net_ok
	before=$(rel_snapshot)
	for phase in $CREATE_PHASES write:net.json#1 write:net.json#2 create:net-wired; do
		kill_at "$phase" create "$PREFIX"
		recover "$PREFIX" "$before" "create --net bridge killed at $phase"
	done
}

@test "start killed at each phase: state is sane, delete --force removes everything" {
	requires_hooks
	set_args sleep 100
	local before phase
	before=$(rel_snapshot)
	for phase in start:fifo-written start:started; do
		b create "$PREFIX" || fail "create"
		kill_at "$phase" start "$PREFIX"
		recover "$PREFIX" "$before" "start killed at $phase"
	done
}

# exec:helper-* are phases of exec's helper, exec:child-go of the process
# it makes (inside the container: found by name), the others berth's own.
EXEC_PHASES="exec:helper-cgroup exec:helper-joined exec:spawned exec:child-go exec:ready"

@test "exec killed at each phase and while waiting: the container runs on, the next exec works, nothing left" {
	requires_hooks
	set_args sleep 100
	local before phase
	before=$(rel_snapshot)
	for phase in $EXEC_PHASES wait; do
		b run -d "$PREFIX" || fail "run -d"
		if [ "$phase" = wait ]; then
			# In the foreground, killed while its process runs.
			"$BERTH" --root "$ROOT" exec "$PREFIX" sleep 50 </dev/null >/dev/null 2>&1 3>&- &
			local pid=$!
			retry 10 0.05 eval '[ "$(b ps "$PREFIX" | grep -c "sleep 50")" -eq 1 ]'
			kill -9 "$pid"
			wait "$pid" || true
		else
			kill_at "$phase" exec "$PREFIX" sleep 50
		fi
		[ "$(b state "$PREFIX" | jq -r .status)" = running ] || fail "exec killed at $phase: container not running"
		# No helper of the killed exec holds the state lock.
		b exec "$PREFIX" true || fail "exec killed at $phase: the next exec fails"
		recover "$PREFIX" "$before" "exec killed at $phase"
	done
}

@test "delete killed at each phase: state is sane, delete --force removes everything" {
	requires_hooks
	set_args sleep 100
	local before phase args
	before=$(rel_snapshot)
	for phase in delete:opened delete:destroyed delete:net-released delete:state-removed; do
		for args in "delete --force" delete; do
			b run -d "$PREFIX" || fail "run -d"
			if [ "$args" = delete ]; then
				b kill "$PREFIX" KILL || fail "kill"
				wait_for_status "$PREFIX" stopped 10 || fail "never stopped"
			fi
			kill_at "$phase" $args "$PREFIX"
			recover "$PREFIX" "$before" "$args killed at $phase"
		done
	done
}

@test "kill and kill --all killed at each phase: the signal went or not, delete --force removes everything" {
	requires_hooks
	set_args sleep 100
	local before phase args
	before=$(rel_snapshot)
	for phase in kill:opened kill:signalled; do
		for args in kill "kill --all"; do
			b run -d "$PREFIX" || fail "run -d"
			kill_at "$phase" $args "$PREFIX" KILL
			if [ "$phase" = kill:opened ]; then
				[ "$(b state "$PREFIX" | jq -r .status)" = running ] || fail "$args killed before the signal: not running"
			else
				wait_for_status "$PREFIX" stopped 10 || fail "$args killed after the signal: not stopped"
			fi
			recover "$PREFIX" "$before" "$args killed at $phase"
		done
	done
}

# run in the foreground killed at PHASE; with KILLED_INIT, its container
# must die with it (the init is the foreground run's: PR_SET_PDEATHSIG).
@test "run (foreground) killed at each phase: its container dies with it, delete --force removes everything" {
	requires_hooks
	set_args sleep 100
	update_config '.hooks.createRuntime = [{"path": "/bin/true"}]'
	local before phase
	before=$(rel_snapshot)
	for phase in $CREATE_PHASES start:fifo-written start:started run:started; do
		kill_at "$phase" run "$PREFIX"
		# Whatever was started dies with berth: no process stays on the rootfs.
		retry 5 0.05 eval '[ -z "$(rootfs_pids "$BUNDLE/rootfs")" ]' ||
			fail "run killed at $phase: the container outlived it: $(rootfs_pids "$BUNDLE/rootfs")"
		recover "$PREFIX" "$before" "run killed at $phase"
	done
	# After the container's exit: while run removes it.
	set_args true
	for phase in run:exited delete:opened delete:destroyed delete:net-released delete:state-removed; do
		kill_at "$phase" run "$PREFIX"
		recover "$PREFIX" "$before" "run killed at $phase"
	done
	# run -d: killed as it writes the started state.
	set_args sleep 100
	kill_at write:state.json#2 run -d "$PREFIX"
	recover "$PREFIX" "$before" "run -d killed at write:state.json#2"
	# Killed while waiting for its container.
	"$BERTH" --root "$ROOT" run "$PREFIX" </dev/null >/dev/null 2>&1 3>&- &
	local pid=$!
	retry 10 0.05 eval '[ "$(b state "$PREFIX" 2>/dev/null | jq -r .status)" = running ]'
	kill -9 "$pid"
	wait "$pid" || true
	retry 5 0.05 eval '[ -z "$(rootfs_pids "$BUNDLE/rootfs")" ]' || fail "the container outlived berth run"
	recover "$PREFIX" "$before" "run killed while waiting"
}

# random_kills VERB...: REL_RANDOM_ITER times, the verb killed after a random
# delay, then checked and cleaned up.
random_kills() {
	local before i d killed=0
	before=$(rel_snapshot)
	for ((i = 0; i < REL_RANDOM_ITER; i++)); do
		d=$(random_delay)
		kill_after "$d" "$@" "$PREFIX"
		[ "$KILL_RC" -ne 137 ] || killed=$((killed + 1))
		recover "$PREFIX" "$before" "$* killed after ${d}s (iteration $i)"
	done
	echo "# $* : $killed of $REL_RANDOM_ITER runs killed before they finished"
}

@test "create and run -d killed at random moments ($REL_RANDOM_ITER times each)" {
	set_args sleep 100
	random_kills create
	random_kills run -d
}

@test "delete --force killed at random moments ($REL_RANDOM_ITER times)" {
	set_args sleep 100
	local before i d
	before=$(rel_snapshot)
	for ((i = 0; i < REL_RANDOM_ITER; i++)); do
		b run -d "$PREFIX" || fail "run -d"
		d=$(random_delay)
		kill_after "$d" delete --force "$PREFIX"
		recover "$PREFIX" "$before" "delete --force killed after ${d}s (iteration $i)"
	done
}

@test "start, exec, kill and run (foreground) killed at random moments ($REL_RANDOM_ITER times each)" {
	set_args sleep 100
	local before i d
	before=$(rel_snapshot)
	for ((i = 0; i < REL_RANDOM_ITER; i++)); do
		d=$(random_delay)
		b create "$PREFIX" || fail "create"
		kill_after "$d" start "$PREFIX"
		recover "$PREFIX" "$before" "start killed after ${d}s (iteration $i)"
	done
	b run -d "$PREFIX" || fail "run -d"
	for ((i = 0; i < REL_RANDOM_ITER; i++)); do
		d=$(random_delay)
		kill_after "$d" exec "$PREFIX" true
		[ "$(b state "$PREFIX" | jq -r .status)" = running ] || fail "exec killed after ${d}s: container not running"
		b exec "$PREFIX" true || fail "exec killed after ${d}s (iteration $i): the next exec fails"
	done
	recover "$PREFIX" "$before" "exec killed at random moments"
	for ((i = 0; i < REL_RANDOM_ITER; i++)); do
		d=$(random_delay)
		b run -d "$PREFIX" || fail "run -d"
		kill_after "$d" kill "$PREFIX" KILL
		recover "$PREFIX" "$before" "kill killed after ${d}s (iteration $i)"
	done
	# A foreground run of a short program: killed while creating, starting,
	# waiting or deleting; its container never outlives it.
	set_args true
	for ((i = 0; i < REL_RANDOM_ITER; i++)); do
		d=$(random_delay)
		kill_after "$d" run "$PREFIX"
		recover "$PREFIX" "$before" "run killed after ${d}s (iteration $i)"
	done
}

@test "create --net bridge killed at random moments (throwaway netns)" {
	net_setup
	# Long enough for the "keep" container to outlive the test (ASan is slow).
	set_args sleep 100000
	annotate dev.berth.net bridge
	annotate dev.berth.net.publish 8081:80
	run_net run -d "$PREFIX-keep"
	net_ok
	random_kills create
}
