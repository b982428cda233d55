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

@test "start, exec, delete and run killed at each phase: state is sane, delete --force removes everything" {
	requires_hooks
	set_args sleep 100
	local before phase
	before=$(rel_snapshot)
	for phase in start:fifo-written start:started; do
		b create "$PREFIX" || fail "create"
		kill_at "$phase" start "$PREFIX"
		recover "$PREFIX" "$before" "start killed at $phase"
	done
	for phase in exec:helper-cgroup exec:spawned; do
		b run -d "$PREFIX" || fail "run -d"
		kill_at "$phase" exec "$PREFIX" sleep 50
		[ "$(b state "$PREFIX" | jq -r .status)" = running ] || fail "exec killed at $phase: container not running"
		recover "$PREFIX" "$before" "exec killed at $phase"
	done
	for phase in delete:destroyed delete:net-released write:state.json#2; do
		if [ "$phase" = write:state.json#2 ]; then
			kill_at "$phase" run -d "$PREFIX" # run = create + start
		else
			b run -d "$PREFIX" || fail "run -d"
			kill_at "$phase" delete --force "$PREFIX"
		fi
		recover "$PREFIX" "$before" "killed at $phase"
	done
	# berth run in the foreground, killed while the container runs.
	"$BERTH" --root "$ROOT" run "$PREFIX" </dev/null >/dev/null 2>&1 3>&- &
	local pid=$!
	retry 10 0.05 eval '[ "$(b state "$PREFIX" 2>/dev/null | jq -r .status)" = running ]'
	kill -9 "$pid"
	wait "$pid" || true
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
