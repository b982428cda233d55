#!/usr/bin/env bats
# Load: sequential lifecycles and rounds of parallel ones leak nothing: no
# fd of berth's reaches a container, a long-running `berth run` keeps its
# fd count, and no mount, cgroup, process or state entry is left (with a
# network: no veth, lease or rule). Sizes: REL_LOAD_SEQ, REL_LOAD_PAR x
# REL_LOAD_ROUNDS (`make soak`: 1000 and 100 x 10). Timings are for
# bench/reliability.sh, never asserted here.

load ../integration/helpers
load ../integration/net_helpers
load rel_helpers

setup() {
	rel_setup
}

teardown() {
	if [ -n "${HOST_NS:-}" ]; then net_teardown; else teardown_bundle; fi
}

# fds_of PID: its open fds, "N -> target" per line, sorted.
fds_of() {
	local f
	for f in /proc/"$1"/fd/*; do echo "${f##*/} -> $(readlink "$f")"; done | sort -n
}

@test "$REL_LOAD_SEQ sequential lifecycles (and run in the foreground meanwhile): nothing leaked" {
	local before i id observer obs_fds init_fds shell_fds
	# An observer: berth run in the foreground, waiting as subreaper.
	set_args sleep 100000
	"$BERTH" --root "$ROOT" run "$PREFIX-observer" </dev/null >/dev/null 2>&1 3>&- &
	observer=$!
	BG_PIDS+=("$observer")
	retry 10 0.05 eval '[ "$(b state "$PREFIX-observer" 2>/dev/null | jq -r .status)" = running ]'
	before=$(rel_snapshot)
	obs_fds=$(fds_of "$observer")
	shell_fds=$(fd_count $$)
	set_args sleep 100
	for ((i = 0; i < REL_LOAD_SEQ; i++)); do
		id=$PREFIX-$i
		b create "$id" >/dev/null || fail "create $i"
		b start "$id" || fail "start $i"
		if [ "$i" -eq 0 ] || [ "$i" -eq $((REL_LOAD_SEQ - 1)) ]; then
			# The program holds its stdio and nothing of berth's.
			init_fds=$(fds_of "$(b state "$id" | jq -r .pid)" | awk '$1 > 2')
			[ -z "$init_fds" ] || fail "lifecycle $i: the container's process holds: $init_fds"
			init_fds=$(b exec "$id" ls /proc/self/fd | xargs)
			[ "$init_fds" = "0 1 2 3" ] || fail "lifecycle $i: an exec'd process holds fds $init_fds (ls's own is 3)"
		fi
		b exec "$id" true || fail "exec $i"
		b kill "$id" KILL || fail "kill $i"
		wait_for_status "$id" stopped 10 >/dev/null || fail "lifecycle $i never stopped"
		b delete "$id" || fail "delete $i"
	done
	assert_snapshot "$before" "$REL_LOAD_SEQ lifecycles"
	[ "$(fds_of "$observer")" = "$obs_fds" ] || fail "berth run's fds changed: $(fds_of "$observer")"
	[ "$(fd_count $$)" -eq "$shell_fds" ] || fail "the test shell's fds: $shell_fds, now $(fd_count $$)"
	b kill "$PREFIX-observer" KILL
	wait "$observer" || true
}

@test "$REL_LOAD_PAR parallel lifecycles x $REL_LOAD_ROUNDS rounds: all succeed, nothing leaked" {
	set_args true
	local before r i pids failed=0
	before=$(rel_snapshot)
	for ((r = 0; r < REL_LOAD_ROUNDS; r++)); do
		pids=()
		for ((i = 0; i < REL_LOAD_PAR; i++)); do
			"$BERTH" --root "$ROOT" run "$PREFIX-$r-$i" </dev/null >/dev/null 2>>"$BATS_TEST_TMPDIR/err" 3>&- &
			pids+=($!)
		done
		for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
	done
	[ "$failed" -eq 0 ] || fail "$failed runs failed: $(sort "$BATS_TEST_TMPDIR/err" | uniq -c | head)"
	assert_snapshot "$before" "parallel rounds"
}

@test "parallel lifecycles with --net bridge (throwaway netns): no veth, lease or rule left" {
	net_setup
	set_args true
	annotate dev.berth.net bridge
	run_net run -d "$PREFIX-keep"
	net_ok
	local before r i pids failed=0 n=$(((REL_LOAD_PAR + 2) / 3))
	before=$(rel_snapshot)
	for ((r = 0; r < REL_LOAD_ROUNDS; r++)); do
		pids=()
		for ((i = 0; i < n; i++)); do
			nsenter --net="$HOST_NSPATH" "$BERTH" --root "$ROOT" run "$PREFIX-$r-$i" </dev/null >/dev/null 2>>"$BATS_TEST_TMPDIR/err" 3>&- &
			pids+=($!)
		done
		for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
	done
	[ "$failed" -eq 0 ] || fail "$failed runs failed: $(sort "$BATS_TEST_TMPDIR/err" | uniq -c | head)"
	assert_snapshot "$before" "parallel rounds with a network"
}
