#!/usr/bin/env bats
# Terminals (process.terminal): the pty is made inside the container, from its
# own devpts, and becomes the process's stdio and controlling terminal. With
# --console-socket the master goes to a receiver over a unix socket (runc's
# protocol, received by tests/fixtures/recvtty.c); `run` and `exec -t` in the
# foreground relay the caller's terminal (which `script` provides here).
# consoleSize, SIGWINCH, and the refusals (no holder for the terminal, a bad
# console socket) that must leave nothing behind.

load helpers

setup_file() {
	RECVTTY=$BATS_RUN_TMPDIR/recvtty
	export RECVTTY
	if [ ! -x "$RECVTTY" ]; then
		gcc -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -o "$RECVTTY.tmp.$$" \
			"$BATS_TEST_DIRNAME/../fixtures/recvtty.c" && mv "$RECVTTY.tmp.$$" "$RECVTTY"
	fi
}

setup() {
	setup_bundle
	ID=tty-$BATS_TEST_NUMBER-$$
	SOCK=$BATS_TEST_TMPDIR/console.sock
	PTY_OUT=$BATS_TEST_TMPDIR/pty.out
	RECV_LOG=$BATS_TEST_TMPDIR/recvtty.log
	update_config '.process.terminal = true'
}

# in_script ARGS...: run the runtime with ARGS... (with this test's --root)
# under `script`, which gives it a terminal of unknown size (0x0) as stdio.
# Sets $status (the runtime's, through script -e) and $output/$lines with
# carriage returns, NULs and echoed NULs ("^@": script writes one to the
# terminal when its own stdin ends) removed.
in_script() {
	local cmd
	cmd=$(printf '%q ' "$BERTH" --root "$ROOT" "$@")
	in_script_sh "$cmd"
}

# in_script_sh SHELL-COMMAND: as in_script, for any command line.
in_script_sh() {
	local out=$BATS_TEST_TMPDIR/script.out
	status=0
	SHELL=/bin/bash timeout -k 5 "$BERTH_TIMEOUT" script -qec "$1" /dev/null </dev/null >"$out" 2>&1 3>&- || status=$?
	output=$(tr -d '\r\0' <"$out" | sed 's/\^@//g')
	lines=()
	[ -z "$output" ] || mapfile -t lines <<<"$output"
	echo "# script -qec '$1' => status $status"
	[ -z "$output" ] || printf '%s\n' "$output"
}

# start_recvtty [INPUT]: start the console-socket receiver on $SOCK, writing
# what it reads from the pty to $PTY_OUT (after writing INPUT to it); wait
# until the socket exists. BG_PID is the receiver's.
start_recvtty() {
	"$RECVTTY" "$SOCK" "$PTY_OUT" "$@" >"$RECV_LOG" 2>&1 </dev/null 3>&- &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
	retry 10 0.01 test -S "$SOCK"
}

# wait_recvtty: wait for the receiver to finish (every slave fd closed) and
# check that it received a pty master the way runc sends it.
wait_recvtty() {
	wait_bg "${1:-$BERTH_TIMEOUT}" || return 1
	cat "$RECV_LOG"
	[ "$status" -eq 0 ] || fail "recvtty exited $status"
	grep -qx 'payload=/dev/ptmx' "$RECV_LOG" || fail "payload is not /dev/ptmx"
	grep -q '^pty=[0-9]*$' "$RECV_LOG" || fail "no pty number"
}

# pty_output: what the receiver read from the pty, without carriage returns.
pty_output() {
	tr -d '\r' <"$PTY_OUT"
}

# assert_nothing_left: no state, no container process, no pid (after a refusal).
assert_nothing_left() {
	[ -z "$(root_entries)" ] || fail "left in \$ROOT: $(root_entries)"
	no_rootfs_pids "$BUNDLE/rootfs" || fail "container processes left: $(rootfs_pids "$BUNDLE/rootfs")"
	run_berth state "$ID"
	[ "$status" -ne 0 ] || fail "state of the refused container succeeds"
}

# --- run in the foreground: the caller's terminal relayed -------------------------

@test "run with a terminal: the process's stdio is a pty, its exit status passes through" {
	set_args sh -c 'tty; echo "out is $(readlink /proc/$$/fd/1)"; exit 7'
	in_script run "$ID"
	[ "$status" -eq 7 ]
	[ "${lines[0]}" = /dev/pts/0 ]
	[ "${lines[1]}" = "out is /dev/pts/0" ]
	[ -z "$(root_entries)" ]
}

# The caller's terminal must not become the container's: a process that has
# it as controlling terminal can write to it through /dev/tty, get its
# signals, and (where TIOCSTI is allowed) type into the caller's shell.
NO_CTTY_SCRIPT='read -r p c s pp pg sid ttynr rest </proc/$$/stat
echo "tty_nr=$ttynr"
{ echo via-dev-tty >/dev/tty; } 2>/dev/null && echo "/dev/tty opened" || echo "no /dev/tty"'

@test "without a terminal, run's process has no controlling terminal, not even the caller's" {
	update_config '.process.terminal = false'
	set_args sh -c "$NO_CTTY_SCRIPT"
	local cmd
	# stdio away from the terminal: only a controlling terminal can reach it.
	cmd=$(printf '%q ' "$BERTH" --root "$ROOT" run "$ID")
	in_script_sh "$cmd </dev/null >$BATS_TEST_TMPDIR/ctr.out 2>&1"
	cat "$BATS_TEST_TMPDIR/ctr.out"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$(sed -n 1p "$BATS_TEST_TMPDIR/ctr.out")" = tty_nr=0 ]
	[ "$(sed -n 2p "$BATS_TEST_TMPDIR/ctr.out")" = "no /dev/tty" ]
}

@test "without -t, exec's process has no controlling terminal, not even the caller's" {
	update_config '.process.terminal = false'
	set_args sleep 1000
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	local cmd
	cmd=$(printf '%q ' "$BERTH" --root "$ROOT" exec "$ID" sh -c "$NO_CTTY_SCRIPT")
	in_script_sh "$cmd </dev/null >$BATS_TEST_TMPDIR/ctr.out 2>&1"
	cat "$BATS_TEST_TMPDIR/ctr.out"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$(sed -n 1p "$BATS_TEST_TMPDIR/ctr.out")" = tty_nr=0 ]
	[ "$(sed -n 2p "$BATS_TEST_TMPDIR/ctr.out")" = "no /dev/tty" ]
	# With stdio on the terminal, the process sees a terminal it cannot name.
	in_script exec "$ID" tty
	[ "$status" -ne 0 ]
	[ "$output" = "not a tty" ]
}

@test "the pty slave is from the container's devpts and is the controlling terminal" {
	set_args sh -c 'ls -l /proc/self/fd/0
		read -r p c s pp pg sid ttynr tpgid rest </proc/$$/stat
		echo "tty_nr=$ttynr sid=$sid pid=$$ pgrp=$pg tpgid=$tpgid"
		echo "slave_dev=$(stat -L -c %d /proc/$$/fd/0) devpts_dev=$(stat -c %d /dev/pts/ptmx)"'
	in_script run "$ID"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *"/proc/self/fd/0 -> /dev/pts/0" ]]
	local ttynr sid pid pgrp tpgid
	read -r ttynr sid pid pgrp tpgid <<<"$(sed -E 's/[a-z_]+=//g' <<<"${lines[1]}")"
	# tty_nr is the pts device (major 136..143), not 0.
	[ "$ttynr" -ne 0 ]
	[ $(((ttynr >> 8) & 0xfff)) -ge 136 ] && [ $(((ttynr >> 8) & 0xfff)) -le 143 ]
	# Session leader, in the terminal's foreground process group.
	[ "$sid" = "$pid" ]
	[ "$tpgid" = "$pgrp" ]
	# The slave's filesystem is the container's devpts instance, not the host's.
	local slave_dev devpts_dev
	slave_dev=$(sed -E 's/.*slave_dev=([0-9]+).*/\1/' <<<"${lines[2]}")
	devpts_dev=$(sed -E 's/.*devpts_dev=([0-9]+).*/\1/' <<<"${lines[2]}")
	[ "$slave_dev" = "$devpts_dev" ]
	[ "$slave_dev" != "$(stat -c %d /dev/pts/ptmx)" ]
}

@test "consoleSize sets the initial size when the caller's terminal has none" {
	requires_berth "runc 1.1 copies the caller's terminal size over consoleSize even when it is 0x0"
	update_config '.process.consoleSize = {"height": 30, "width": 100}'
	set_args stty size
	in_script run "$ID"
	[ "$status" -eq 0 ]
	[ "$output" = "30 100" ]
}

@test "a window size change of the caller's terminal reaches the container (SIGWINCH)" {
	set_args sh -c 'i=0
		while [ "$(stty size 2>/dev/null)" != "40 120" ]; do
			i=$((i + 1)); [ $i -lt 200 ] || exit 9; sleep 0.05
		done
		echo resized; exit 3'
	local cmd
	cmd=$(printf '%q ' "$BERTH" --root "$ROOT" run "$ID")
	# The runtime in the background, still on the terminal (stdin from
	# /dev/tty: sh would give a background job /dev/null), then a resize.
	in_script_sh "sh -c '$cmd </dev/tty & p=\$!; sleep 1; stty rows 40 cols 120; wait \$p'"
	[ "$status" -eq 3 ]
	[[ "$output" == *resized* ]]
}

# --- --console-socket ---------------------------------------------------------------

@test "create --console-socket: the pty master is received; output and input go through it" {
	set_args sh -c 'echo hello; tty; read x; echo "got $x"; exit 5'
	start_recvtty $'some input\n'
	run_berth create --console-socket "$SOCK" "$ID"
	[ "$status" -eq 0 ]
	[ "$(container_status "$ID")" = created ]
	run_berth start "$ID"
	[ "$status" -eq 0 ]
	# The receiver ends when the process exits: nothing else holds the slave.
	wait_recvtty
	pty_output
	pty_output | grep -qx hello
	pty_output | grep -qx /dev/pts/0
	pty_output | grep -qx 'got some input'
	grep -qx pty=0 "$RECV_LOG"
	wait_for_status "$ID" stopped
}

@test "create --console-socket with consoleSize: the pty has that size" {
	update_config '.process.consoleSize = {"height": 30, "width": 100}'
	set_args stty size
	start_recvtty
	run_berth create --console-socket "$SOCK" "$ID"
	[ "$status" -eq 0 ]
	run_berth start "$ID"
	[ "$status" -eq 0 ]
	wait_recvtty
	[ "$(pty_output)" = "30 100" ]
}

@test "delete of a created container with a terminal closes the pty" {
	set_args sh -c 'echo never'
	start_recvtty
	run_berth create --console-socket "$SOCK" "$ID"
	[ "$status" -eq 0 ]
	retry 10 0.02 grep -q '^pty=' "$RECV_LOG"
	run_berth delete "$ID"
	[ "$status" -eq 0 ]
	wait_recvtty 10
	[ -z "$(pty_output)" ]
	assert_nothing_left
}

@test "run --detach --console-socket: the container runs on the received pty" {
	set_args sh -c 'tty; read x; echo "got $x"'
	start_recvtty $'abc\n'
	run_berth run --detach --console-socket "$SOCK" "$ID"
	[ "$status" -eq 0 ]
	wait_recvtty
	pty_output | grep -qx /dev/pts/0
	pty_output | grep -qx 'got abc'
}

@test "run --console-socket in the foreground: the exit status passes through" {
	requires_berth "runc 1.1 refuses --console-socket without --detach"
	set_args sh -c 'tty; exit 6'
	start_recvtty
	run_berth run --console-socket "$SOCK" "$ID"
	[ "$status" -eq 6 ]
	wait_recvtty
	[ "$(pty_output)" = /dev/pts/0 ]
	[ -z "$(root_entries)" ]
}

# --- exec -t --------------------------------------------------------------------------

@test "exec -t in the foreground: a pty of its own, controlling tty, exit status" {
	update_config '.process.terminal = false'
	set_args sleep 1000
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	in_script exec -t "$ID" sh -c 'tty; read -r p c s pp pg sid ttynr rest </proc/$$/stat; echo "tty_nr=$ttynr"; exit 4'
	[ "$status" -eq 4 ]
	[ "${lines[0]}" = /dev/pts/0 ]
	[ "${lines[1]}" != tty_nr=0 ]
	[[ "${lines[1]}" == tty_nr=* ]]
}

@test "exec -t into a container whose init has a terminal gets another pty" {
	set_args sh -c 'tty >/dev/null; exec sleep 1000'
	start_recvtty
	run_berth run --detach --console-socket "$SOCK" "$ID"
	[ "$status" -eq 0 ]
	retry 10 0.02 grep -q '^pty=0$' "$RECV_LOG"
	in_script exec -t "$ID" tty
	[ "$status" -eq 0 ]
	[ "$output" = /dev/pts/1 ]
}

@test "exec --detach -t --console-socket: the exec'd process runs on the received pty" {
	update_config '.process.terminal = false'
	set_args sleep 1000
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	start_recvtty $'xyz\n'
	run_berth exec --detach -t --console-socket "$SOCK" "$ID" sh -c 'tty; read x; echo "got $x"'
	[ "$status" -eq 0 ]
	wait_recvtty
	pty_output | grep -qx /dev/pts/0
	pty_output | grep -qx 'got xyz'
	grep -qx pty=0 "$RECV_LOG"
}

@test "exec -t --console-socket in the foreground: the exit status passes through" {
	requires_berth "runc 1.1 refuses --console-socket without --detach"
	update_config '.process.terminal = false'
	set_args sleep 1000
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	start_recvtty $'xyz\n'
	run_berth exec -t --console-socket "$SOCK" "$ID" sh -c 'read x; echo "got $x"; exit 4'
	[ "$status" -eq 4 ]
	wait_recvtty
	pty_output | grep -qx 'got xyz'
}

# --- refusals ---------------------------------------------------------------------------

@test "create with a terminal and no --console-socket is refused and leaves nothing" {
	set_args true
	run_berth create "$ID"
	[ "$status" -eq 1 ]
	! is_berth || [ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *console* ]]
	assert_nothing_left
}

@test "run --detach with a terminal and no --console-socket is refused and leaves nothing" {
	set_args sleep 1000
	run_berth run --detach "$ID"
	[ "$status" -eq 1 ]
	! is_berth || [ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *console* ]]
	assert_nothing_left
}

@test "exec --detach -t without --console-socket is refused (255) and starts nothing" {
	update_config '.process.terminal = false'
	set_args sleep 1000
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	run_berth exec --detach -t "$ID" sh -c 'sleep 1000'
	[ "$status" -eq 255 ]
	! is_berth || [ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *console* ]]
	[ "$(rootfs_pids "$BUNDLE/rootfs")" = "$(container_pid "$ID")" ]
}

@test "create --console-socket to a missing path is refused and leaves nothing" {
	set_args true
	run_berth create --console-socket /nonexistent/console.sock "$ID"
	[ "$status" -eq 1 ]
	! is_berth || [ "${#lines[@]}" -eq 1 ]
	[[ "$output" == */nonexistent/console.sock* ]]
	assert_nothing_left
}

@test "create --console-socket to a regular file or a dead socket is refused and leaves nothing" {
	set_args true
	: >"$BATS_TEST_TMPDIR/plain"
	run_berth create --console-socket "$BATS_TEST_TMPDIR/plain" "$ID"
	[ "$status" -eq 1 ]
	! is_berth || [ "${#lines[@]}" -eq 1 ]
	assert_nothing_left

	# A socket file nobody listens on any more.
	start_recvtty
	kill -9 "$BG_PID"
	wait_bg || true
	[ -S "$SOCK" ]
	run_berth create --console-socket "$SOCK" "$ID"
	[ "$status" -eq 1 ]
	! is_berth || [ "${#lines[@]}" -eq 1 ]
	assert_nothing_left
}

@test "exec -t --console-socket to a missing path exits 255 and starts nothing" {
	update_config '.process.terminal = false'
	set_args sleep 1000
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	run_berth exec --detach -t --console-socket /nonexistent/console.sock "$ID" sleep 1001
	[ "$status" -eq 255 ]
	[[ "$output" == */nonexistent/console.sock* ]]
	[ "$(rootfs_pids "$BUNDLE/rootfs")" = "$(container_pid "$ID")" ]
}

@test "the pty belongs to process.user's uid (group: devpts's tty group), for run and exec -t" {
	update_config '.process.user = {"uid": 1000, "gid": 1000}'
	set_args sh -c 'stat -c %u:%g $(tty); id -u'
	in_script run "$ID"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1000:5 ]
	[ "${lines[1]}" = 1000 ]
	update_config '.process.terminal = false'
	set_args sleep 100
	run_berth run -d "$ID"
	[ "$status" -eq 0 ]
	in_script exec -t --user 1001:1001 "$ID" sh -c 'stat -c %u:%g $(tty)'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1001:5 ]
}
