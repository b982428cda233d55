#!/usr/bin/env bats
# `run`: exit statuses (0, N, 128+signal), stdio pass-through, signal forwarding
# from the runtime process to the container, --detach, --pid-file, and removal
# of the container once it has exited.

load helpers

@test "run exits 0 when the container process exits 0" {
	set_args true
	run_berth run c1
	[ "$status" -eq 0 ]
}

@test "run exits with the container's exit status (42)" {
	run_sh 'exit 42'
	[ "$status" -eq 42 ]
}

@test "run passes the container's stdout and stderr through" {
	set_args sh -c 'echo to-stdout; echo to-stderr >&2'
	run_berth run c1
	[ "$status" -eq 0 ]
	[[ "$output" == *to-stdout* ]]
	[[ "$output" == *to-stderr* ]]
	# And separately: stderr really is stderr.
	local out err
	out=$(timeout 20 "$BERTH" --root "$ROOT" run c2 2>"$BATS_TEST_TMPDIR/err" </dev/null 3>&-)
	err=$(cat "$BATS_TEST_TMPDIR/err")
	[ "$out" = to-stdout ]
	[ "$err" = to-stderr ]
}

@test "run passes stdin through" {
	set_args sh -c 'read line; echo "got:$line"'
	local out
	out=$(echo hello | timeout 20 "$BERTH" --root "$ROOT" run c1 2>&1 3>&-)
	echo "$out"
	[ "$out" = got:hello ]
}

@test "run exits 137 when the container is killed with SIGKILL" {
	set_args sleep 100
	bg_run c1 "$BATS_TEST_TMPDIR/out"
	wait_for_status c1 running
	run_berth kill c1 KILL
	[ "$status" -eq 0 ]
	wait_bg
	cat "$BATS_TEST_TMPDIR/out"
	[ "$status" -eq 137 ]
}

@test "SIGTERM is ignored by a handler-less PID 1 of a pid namespace; SIGKILL is not" {
	# The kernel drops signals without a handler sent to a pid namespace's init,
	# even from the parent namespace, except SIGKILL and SIGSTOP.
	set_args sleep 100
	bg_run c1 "$BATS_TEST_TMPDIR/out"
	wait_for_status c1 running
	run_berth kill c1 TERM
	[ "$status" -eq 0 ]
	sleep 0.3
	[ "$(container_status c1)" = running ]
	kill -0 "$BG_PID"

	run_berth kill c1 KILL
	[ "$status" -eq 0 ]
	wait_bg
	[ "$status" -eq 137 ]
}

@test "run exits 143 when a process without a pid namespace gets SIGTERM" {
	ns_remove pid
	set_args sleep 100
	bg_run c1 "$BATS_TEST_TMPDIR/out"
	wait_for_status c1 running
	run_berth kill c1 TERM
	[ "$status" -eq 0 ]
	wait_bg
	cat "$BATS_TEST_TMPDIR/out"
	[ "$status" -eq 143 ]
}

@test "run exits 128+9 when the container process kills itself (no pid namespace)" {
	ns_remove pid
	# Wait until the container runs: a process that dies during start races
	# with the runtime's own setup (runc 1.1 then fails with "read init-p").
	set_args sh -c "$WAIT_FOR_GO; kill -KILL \$\$; echo survived"
	bg_run c1 "$BATS_TEST_TMPDIR/out"
	wait_for_status c1 running
	release_container
	wait_bg
	cat "$BATS_TEST_TMPDIR/out"
	[ "$status" -eq 137 ]
	refute grep -q survived "$BATS_TEST_TMPDIR/out"
}

@test "SIGUSR1 sent to the run process reaches the container" {
	set_args sh -c 'trap "echo got-usr1; exit 7" USR1; echo ready; while :; do sleep 0.05; done'
	bg_run c1 "$BATS_TEST_TMPDIR/out"
	wait_for_file_line "$BATS_TEST_TMPDIR/out" ready
	kill -USR1 "$BG_PID"
	wait_bg
	cat "$BATS_TEST_TMPDIR/out"
	[ "$status" -eq 7 ]
	grep -qx got-usr1 "$BATS_TEST_TMPDIR/out"
}

@test "SIGTERM sent to the run process reaches the container" {
	set_args sh -c 'trap "echo got-term; exit 8" TERM; echo ready; while :; do sleep 0.05; done'
	bg_run c1 "$BATS_TEST_TMPDIR/out"
	wait_for_file_line "$BATS_TEST_TMPDIR/out" ready
	kill -TERM "$BG_PID"
	wait_bg
	cat "$BATS_TEST_TMPDIR/out"
	[ "$status" -eq 8 ]
	grep -qx got-term "$BATS_TEST_TMPDIR/out"
}

@test "a forwarded SIGTERM kills a process without a handler (no pid namespace): 143" {
	ns_remove pid
	set_args sh -c 'echo ready; exec sleep 100'
	bg_run c1 "$BATS_TEST_TMPDIR/out"
	wait_for_file_line "$BATS_TEST_TMPDIR/out" ready
	wait_for_status c1 running
	kill -TERM "$BG_PID"
	wait_bg
	[ "$status" -eq 143 ]
}

@test "run --detach returns at once and leaves the container running" {
	set_args sleep 100
	local start=$SECONDS
	run_berth run --detach c1
	[ "$status" -eq 0 ]
	[ $((SECONDS - start)) -lt 10 ]
	[ "$(container_status c1)" = running ]
	local pid
	pid=$(container_pid c1)
	[ "$(rootfs_pids "$BUNDLE/rootfs")" = "$pid" ]
	grep -q '^State:.*S (sleeping)' "/proc/$pid/status"
	# It is the rootfs's busybox that runs, not a runtime helper.
	[ "$(stat -L -c %d:%i "/proc/$pid/exe")" = "$(stat -c %d:%i "$BUNDLE/rootfs/bin/busybox")" ]
}

@test "run --pid-file writes the container's pid while it runs" {
	set_args sh -c "$WAIT_FOR_GO"
	bg_run c1 "$BATS_TEST_TMPDIR/out" --pid-file "$BATS_TEST_TMPDIR/pid"
	wait_for_status c1 running
	local pid
	pid=$(cat "$BATS_TEST_TMPDIR/pid")
	[ "$pid" = "$(container_pid c1)" ]
	rootfs_pids "$BUNDLE/rootfs" | grep -qx "$pid"
	release_container
	wait_bg
	[ "$status" -eq 0 ]
}

@test "run removes the container after it exits" {
	run_sh 'exit 3'
	[ "$status" -eq 3 ]
	run_berth list -q
	[ -z "$output" ]
	[ -z "$(root_entries)" ]
	run_berth state ctr
	[ "$status" -ne 0 ]
}

@test "run of a missing executable fails with exit 1 and leaves nothing" {
	set_args /nope
	run_berth run c1
	[ "$status" -eq 1 ]
	[[ "$output" == */nope* ]]
	[ -z "$(root_entries)" ]
	no_rootfs_pids "$BUNDLE/rootfs"
}

@test "the same ID can be reused after run finished" {
	run_sh 'exit 0'
	[ "$status" -eq 0 ]
	run_sh 'exit 5'
	[ "$status" -eq 5 ]
}

# --- a caller that kills run ---------------------------------------------------
# A caller reading run's output through a pipe (as slurmstepd does) waits for
# EOF, i.e. for every writer to close it. run relays the container's output
# through pipes of its own, so the caller's pipe closes when run goes; and
# in the foreground the container dies with run, even when run is SIGKILLed.

# piped_run SIGNAL: start `run $ID` with stdout+stderr into a pipe whose
# reader records the lines and then "EOF" in $READ_OUT; once the container
# printed "started", send SIGNAL to the run process. Sets RUN_PID and READER;
# run's exit status goes to $RUN_STATUS_FILE (its shell exits with it).
piped_run() {
	READ_OUT=$BATS_TEST_TMPDIR/read.out
	RUN_STATUS_FILE=$BATS_TEST_TMPDIR/run.status
	local pidfile=$BATS_TEST_TMPDIR/run.pid
	# shellcheck disable=SC2016
	sh -c 'p=$1 s=$2; shift 2; "$@" </dev/null 2>&1 3>&- & echo $! >"$p"; wait $!; echo $? >"$s"' \
		sh "$pidfile" "$RUN_STATUS_FILE" "$BERTH" --root "$ROOT" run "$ID" |
		{
			cat
			echo EOF
		} >"$READ_OUT" &
	READER=$!
	BG_PIDS+=("$READER")
	wait_for_file_line "$READ_OUT" started || fail "the container did not start: $(cat "$READ_OUT")"
	retry 3 0.02 test -s "$pidfile"
	RUN_PID=$(cat "$pidfile")
	kill "-$1" "$RUN_PID"
}

# assert_prompt_eof: the reader saw EOF within 3 s of the kill.
assert_prompt_eof() {
	retry 3 0.02 grep -qx EOF "$READ_OUT" || fail "the caller's pipe is still open 3 s after the kill"
}

@test "run killed by SIGKILL: the caller's pipe reaches EOF at once, the container dies with run" {
	requires_berth "runc leaves the container of a killed 'run' running"
	ID=pk-$$
	set_args sh -c 'echo started; sleep 1000'
	piped_run KILL
	assert_prompt_eof
	retry 3 0.05 no_rootfs_pids "$BUNDLE/rootfs" || fail "container processes left: $(rootfs_pids "$BUNDLE/rootfs")"
	# The state stays (nothing was left to remove it): stopped, deleted
	# without --force.
	[ "$(container_status "$ID")" = stopped ]
	run_berth delete "$ID"
	[ "$status" -eq 0 ]
	[ -z "$(root_entries)" ]
}

@test "run killed by SIGKILL, no pid namespace: the caller's pipe reaches EOF though a child lives on" {
	ID=pk-$$
	ns_remove pid
	# The child keeps the container's stdout open after the init is gone.
	set_args sh -c 'sleep 1000 & echo started; wait'
	piped_run KILL
	assert_prompt_eof
	# delete --force kills what the init left in the container's cgroup.
	run_berth delete --force "$ID"
	[ "$status" -eq 0 ]
	retry 3 0.05 no_rootfs_pids "$BUNDLE/rootfs" || fail "container processes left: $(rootfs_pids "$BUNDLE/rootfs")"
	[ -z "$(root_entries)" ]
}

@test "run sent SIGTERM: forwarded, the container exits 143, run removes it and the pipe closes" {
	ID=pt-$$
	set_args sh -c 'trap "echo got-term; exit 143" TERM; echo started; sleep 1000 & wait'
	piped_run TERM
	assert_prompt_eof
	grep -qx got-term "$READ_OUT" || fail "the container did not see SIGTERM: $(cat "$READ_OUT")"
	retry 3 0.02 test -s "$RUN_STATUS_FILE"
	[ "$(cat "$RUN_STATUS_FILE")" = 143 ] || fail "run exited $(cat "$RUN_STATUS_FILE"), wanted 143"
	retry 3 0.05 no_rootfs_pids "$BUNDLE/rootfs" || fail "container processes left: $(rootfs_pids "$BUNDLE/rootfs")"
	[ -z "$(root_entries)" ] || fail "left in \$ROOT: $(root_entries)"
}
