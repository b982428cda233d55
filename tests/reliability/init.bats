#!/usr/bin/env bats
# The container's init and berth as its parent: orphans reaped by `run` as
# subreaper, an init OOM-killed during setup reported as such, and 128+N
# for a process killed by signal N, from run, exec and run -t alike.

load ../integration/helpers
load rel_helpers

setup() {
	rel_setup
}

teardown() {
	teardown_bundle
}

# zombies_of PID: children of PID that are zombies.
zombies_of() {
	local p
	for p in $(cat "/proc/$1/task/"*/children 2>/dev/null); do
		[ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] || echo "$p"
	done
}

@test "run as subreaper reaps the orphans a container leaves (no pid namespace)" {
	ns_remove pid
	# Orphans (their parent subshell exits at once) re-parent to berth run,
	# the nearest subreaper, then exit: berth must collect them.
	set_args sh -c 'for i in 1 2 3 4 5; do (sleep 0.1 &) ; done; sleep 2; echo done'
	"$BERTH" --root "$ROOT" run "$PREFIX" </dev/null >"$BATS_TEST_TMPDIR/out" 2>&1 3>&- &
	local pid=$! seen=0
	BG_PIDS+=("$pid")
	sleep 1
	# By now every orphan has exited for about 0.9 s.
	[ -z "$(zombies_of "$pid")" ] || fail "zombies of berth run: $(zombies_of "$pid")"
	local rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ] || fail "run: $rc $(cat "$BATS_TEST_TMPDIR/out")"
	grep -q done "$BATS_TEST_TMPDIR/out"
}

@test "an init OOM-killed during setup is reported as such, and nothing is left" {
	requires_cgroup memory
	set_args true
	update_config '.linux.resources.memory = {"limit": 100000, "swap": 100000}'
	local before i rc
	before=$(rel_snapshot)
	for i in 1 2 3; do
		rc=0
		b run "$PREFIX" >/dev/null 2>"$BATS_TEST_TMPDIR/err" || rc=$?
		[ "$rc" -eq 1 ] || fail "exit $rc: $(cat "$BATS_TEST_TMPDIR/err")"
		[ "$(wc -l <"$BATS_TEST_TMPDIR/err")" -eq 1 ] || fail "$(cat "$BATS_TEST_TMPDIR/err")"
		grep -q "OOM-killed during setup" "$BATS_TEST_TMPDIR/err" || fail "said: $(cat "$BATS_TEST_TMPDIR/err")"
		assert_snapshot "$before" "OOM during setup"
	done
}

@test "a process killed by signal N exits 128+N from run, run -t, exec and run -d + kill" {
	local sig n
	# Not pid 1 of a namespace, which no signal it has no handler for reaches.
	ns_remove pid
	for sig in TERM KILL INT USR1; do
		n=$(kill -l "$sig")
		set_args sh -c "kill -$sig \$\$; sleep 5"
		run_berth run "$PREFIX"
		[ "$status" -eq $((128 + n)) ] || fail "run, $sig: $status"
		# With a terminal relayed by berth (script(1) gives it one).
		update_config '.process.terminal = true'
		status=0
		script -qec "$BERTH --root $ROOT run $PREFIX" /dev/null </dev/null >/dev/null 2>&1 || status=$?
		update_config '.process.terminal = false'
		[ "$status" -eq $((128 + n)) ] || fail "run -t, $sig: $status"
		b delete --force "$PREFIX" 2>/dev/null || true
	done
	set_args sleep 100
	b run -d "$PREFIX" || fail "run -d"
	for sig in TERM KILL HUP; do
		n=$(kill -l "$sig")
		run_berth exec "$PREFIX" sh -c "kill -$sig \$\$; sleep 5"
		[ "$status" -eq $((128 + n)) ] || fail "exec, $sig: $status"
	done
	# Killed from outside while berth run waits in the foreground.
	b delete --force "$PREFIX"
	"$BERTH" --root "$ROOT" run "$PREFIX" </dev/null >/dev/null 2>&1 3>&- &
	local pid=$! rc=0
	retry 10 0.05 eval '[ "$(b state "$PREFIX" 2>/dev/null | jq -r .status)" = running ]'
	b kill "$PREFIX" KILL
	wait "$pid" || rc=$?
	[ "$rc" -eq 137 ] || fail "run, killed by berth kill KILL: $rc"
}
