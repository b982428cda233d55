#!/usr/bin/env bats
# microvm backend, second part: exec (through the guest init as agent), a
# terminal over --console-socket, several execs at once, ps, pause/resume,
# and the spec's capabilities, no_new_privs and seccomp applied in the
# guest as the linux backend applies them. Boots dominate under TCG, so
# most tests share one guest (started in setup_file, $SHARED, whose main
# process records its own /proc/self/status and counts in the rootfs);
# the tests that need a container of their own make one.
#
# BERTH_VM_ASSETS=DIR: see microvm_helpers.bash.

load helpers
load microvm_helpers

BERTH_TIMEOUT=90
STATUS_RE='^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):'

# vm_config: the bundle's config.json made a microVM container's, the
# root writable (the main process writes into it).
vm_config() {
	microvm_config
	update_config '.root.readonly = false'
}

setup_file() {
	microvm_requires
	RECVTTY=$BATS_FILE_TMPDIR/recvtty
	gcc -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -o "$RECVTTY" \
		"$BATS_TEST_DIRNAME/../fixtures/recvtty.c"

	# The shared guest.
	BATS_TEST_TMPDIR=$BATS_FILE_TMPDIR setup_bundle
	vm_config
	set_args sh -c "grep -E '$STATUS_RE' /proc/self/status >/main-status
		i=0; while :; do i=\$((i + 1)); echo \$i >/count; sleep 0.1; done"
	SHARED=shared-$$
	timeout -k 5 "$BERTH_TIMEOUT" "$BERTH" --root "$ROOT" run -d "$SHARED" </dev/null >"$BATS_FILE_TMPDIR/shared.out" 2>&1 3>&- ||
		fail "the shared guest did not start: $(cat "$BATS_FILE_TMPDIR/shared.out")"
	export RECVTTY BUNDLE ROOT SHARED
}

teardown_file() {
	[ -z "${SHARED:-}" ] || "$BERTH" --root "$ROOT" delete --force "$SHARED" >/dev/null 2>&1 || true
}

setup() {
	OWN=
	ID=$SHARED
	OUT=$BATS_TEST_TMPDIR/out
	ERR=$BATS_TEST_TMPDIR/err
}

teardown() {
	[ -z "$OWN" ] || teardown_bundle
}

# own_container: a bundle and state root of this test's own, microVM.
own_container() {
	OWN=1
	setup_bundle
	vm_config
	ID=vm-exec-$BATS_TEST_NUMBER-$$
}

# exec_split ARGS...: berth exec with stdout in $OUT and stderr in $ERR.
exec_split() {
	status=0
	timeout -k 5 "$BERTH_TIMEOUT" "$BERTH" --root "$ROOT" exec "$@" >"$OUT" 2>"$ERR" </dev/null 3>&- ||
		status=$?
	echo "# exec $* => $status; stdout: $(cat "$OUT"); stderr: $(cat "$ERR")"
}

count() {
	cat "$BUNDLE/rootfs/count"
}

@test "microvm exec: stdout, stderr and the exit status are the process's own" {
	exec_split "$ID" sh -c 'echo out; echo err >&2; exit 42'
	[ "$status" -eq 42 ]
	[ "$(cat "$OUT")" = out ]
	[ "$(cat "$ERR")" = err ]
	# Killed by a signal: 128+N, as with the linux backend.
	exec_split "$ID" sh -c 'kill -TERM $$; sleep 10'
	[ "$status" -eq 143 ]
	# stdin reaches it, EOF included.
	status=0
	printf 'line1\nline2\n' | "$BERTH" --root "$ROOT" exec "$ID" sh -c 'wc -l; echo end' >"$OUT" 2>&1 || status=$?
	[ "$status" -eq 0 ]
	[ "$(tr -d ' ' <"$OUT")" = "$(printf '2\nend')" ]
	# A program that is not there: one line, runc's status for a failed exec.
	exec_split "$ID" /bin/nonexistent
	[ "$status" -eq 255 ]
	[ "$(wc -l <"$ERR")" -eq 1 ]
	grep -q '/bin/nonexistent' "$ERR"
}

@test "microvm exec: --env, --cwd, --user and -p process.json are applied in the guest" {
	exec_split --env FOO=bar --cwd /tmp --user 1000:1001 "$ID" sh -c 'echo "$FOO $(pwd) $(id -u) $(id -g)"'
	[ "$status" -eq 0 ]
	[ "$(cat "$OUT")" = "bar /tmp 1000 1001" ]
	cat >"$BATS_TEST_TMPDIR/process.json" <<-'EOF'
		{"args": ["sh", "-c", "echo \"$X $(pwd) $(id -u)\"; exit 3"], "cwd": "/etc",
		 "env": ["PATH=/bin", "X=from-process-json"], "user": {"uid": 65534, "gid": 65534}}
	EOF
	exec_split -p "$BATS_TEST_TMPDIR/process.json" "$ID"
	[ "$status" -eq 3 ]
	[ "$(cat "$OUT")" = "from-process-json /etc 65534" ]
	# The process is in the container's pid namespace and cgroup.
	exec_split "$ID" sh -c 'cat /proc/1/cmdline | tr "\0" " "; echo; cat /proc/self/cgroup'
	[[ "$(head -n 1 "$OUT")" == "sh -c grep"* ]]
	[ "$(tail -n 1 "$OUT")" = "$(berth exec "$ID" sh -c 'cat /proc/1/cgroup')" ]
}

@test "microvm exec: two execs at once each get their own output and status" {
	local a=$BATS_TEST_TMPDIR/a b=$BATS_TEST_TMPDIR/b pa pb sa=0 sb=0
	"$BERTH" --root "$ROOT" exec "$ID" sh -c 'for i in 1 2 3 4 5 6 7 8; do echo A$i; sleep 0.1; done; exit 11' >"$a" 2>&1 &
	pa=$!
	"$BERTH" --root "$ROOT" exec "$ID" sh -c 'for i in 1 2 3 4 5 6 7 8; do echo B$i; echo b$i >&2; sleep 0.1; done; exit 12' >"$b" 2>&1 &
	pb=$!
	wait "$pa" || sa=$?
	wait "$pb" || sb=$?
	cat "$a" "$b"
	[ "$sa" -eq 11 ] && [ "$sb" -eq 12 ]
	[ "$(grep -c '^A[1-8]$' "$a")" -eq 8 ] && [ "$(wc -l <"$a")" -eq 8 ]
	[ "$(grep -c '^B[1-8]$' "$b")" -eq 8 ] && [ "$(grep -c '^b[1-8]$' "$b")" -eq 8 ]
	[ "$(wc -l <"$b")" -eq 16 ]
}

@test "microvm exec -t: a pty in the guest, handed over --console-socket, with its size" {
	local sock=$BATS_TEST_TMPDIR/console.sock pty_out=$BATS_TEST_TMPDIR/pty.out
	cat >"$BATS_TEST_TMPDIR/process.json" <<-'EOF'
		{"args": ["sh", "-c", "tty; stty size; read x; echo \"got $x\"; exit 3"], "cwd": "/",
		 "env": ["PATH=/bin"], "terminal": true, "consoleSize": {"height": 30, "width": 100}}
	EOF
	"$RECVTTY" "$sock" "$pty_out" $'some input\n' >"$BATS_TEST_TMPDIR/recvtty.log" 2>&1 </dev/null 3>&- &
	BG_PID=$!
	retry 10 0.01 test -S "$sock"
	run_berth exec --console-socket "$sock" -p "$BATS_TEST_TMPDIR/process.json" "$ID"
	[ "$status" -eq 3 ]
	wait "$BG_PID"
	cat "$BATS_TEST_TMPDIR/recvtty.log"
	tr -d '\r' <"$pty_out"
	grep -qx 'payload=/dev/ptmx' "$BATS_TEST_TMPDIR/recvtty.log"
	tr -d '\r' <"$pty_out" | grep -qx '/dev/pts/[0-9]*'
	tr -d '\r' <"$pty_out" | grep -qx '30 100'
	tr -d '\r' <"$pty_out" | grep -qx 'got some input'
}

@test "microvm exec -t in the foreground: the caller's terminal size, then a resize (SIGWINCH)" {
	local cmd out=$BATS_TEST_TMPDIR/script.out
	cat >"$BUNDLE/rootfs/resize.sh" <<-'EOF'
		stty size
		touch /resize.ready
		i=0
		while [ "$(stty size 2>/dev/null)" != "40 120" ]; do
			i=$((i + 1)); [ $i -lt 200 ] || exit 9; sleep 0.05
		done
		echo resized; exit 4
	EOF
	rm -f "$BUNDLE/rootfs/resize.ready"
	cmd=$(printf '%q ' "$BERTH" --root "$ROOT" exec -t "$ID" sh /resize.sh)
	status=0
	# The resize once the process has read the first size.
	SHELL=/bin/bash timeout -k 5 "$BERTH_TIMEOUT" script -qec \
		"stty rows 30 cols 90; sh -c '$cmd </dev/tty & p=\$!
			while [ ! -e $BUNDLE/rootfs/resize.ready ]; do sleep 0.1; done
			stty rows 40 cols 120; wait \$p'" \
		/dev/null </dev/null >"$out" 2>&1 3>&- || status=$?
	tr -d '\r\0' <"$out"
	[ "$status" -eq 4 ]
	tr -d '\r\0' <"$out" | sed 's/\^@//g' | grep -qx '30 90'
	tr -d '\r\0' <"$out" | grep -qx resized
}

@test "microvm: capabilities, no_new_privs and seccomp in the guest equal the linux backend's" {
	local linux_root=$BATS_TEST_TMPDIR/linux-root lid=linux-$$ st
	grep -E "$STATUS_RE" "$BUNDLE/rootfs/main-status" >"$BATS_TEST_TMPDIR/vm-main"
	grep -qx 'NoNewPrivs:	1' "$BATS_TEST_TMPDIR/vm-main"
	grep -qx 'Seccomp:	2' "$BATS_TEST_TMPDIR/vm-main"
	grep -qx 'CapEff:	0000000020000420' "$BATS_TEST_TMPDIR/vm-main"
	# The same config with the linux backend, from the same bundle.
	cp "$BUNDLE/config.json" "$BATS_TEST_TMPDIR/config.vm"
	update_config '.annotations["dev.berth.backend"] = "linux" | del(.annotations["dev.berth.vm.kernel"], .annotations["dev.berth.vm.initrd"])
		| .process.args = ["sh", "-c", "grep -E \"'"$STATUS_RE"'\" /proc/self/status; exec sleep 1000"]'
	"$BERTH" --root "$linux_root" run -d "$lid" >"$BATS_TEST_TMPDIR/linux-main" 2>&1 </dev/null 3>&-
	cp "$BATS_TEST_TMPDIR/config.vm" "$BUNDLE/config.json"
	retry 10 0.05 grep -q Seccomp "$BATS_TEST_TMPDIR/linux-main"
	diff "$BATS_TEST_TMPDIR/linux-main" "$BATS_TEST_TMPDIR/vm-main" || {
		"$BERTH" --root "$linux_root" delete --force "$lid"
		fail "main process differs"
	}
	# exec, as the config says and with --cap added.
	for args in "" "--cap CAP_NET_RAW"; do
		st=0
		# shellcheck disable=SC2086
		"$BERTH" --root "$linux_root" exec $args "$lid" grep -E "$STATUS_RE" /proc/self/status >"$BATS_TEST_TMPDIR/linux-exec" || st=$?
		# shellcheck disable=SC2086
		exec_split $args "$ID" grep -E "$STATUS_RE" /proc/self/status
		diff "$BATS_TEST_TMPDIR/linux-exec" "$OUT" || st=1
		[ "$st" -eq 0 ] || break
	done
	"$BERTH" --root "$linux_root" delete --force "$lid"
	[ "$st" -eq 0 ] || fail "exec $args differs"
	grep -qx 'CapEff:	0000000020002420' "$OUT"
	# The filter really holds: the default profile refuses what it lists.
	exec_split "$ID" sh -c 'unshare -r true && echo allowed || echo refused'
	[ "$(tail -n 1 "$OUT")" = refused ]
}

@test "microvm ps: the guest's processes of the container, exec'd ones too" {
	exec_split -d "$ID" sleep 4321
	[ "$status" -eq 0 ]
	run_berth ps "$ID"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *PID*PPID*COMMAND* ]]
	printf '%s\n' "${lines[@]}" | awk '$1 == 1' | grep -q 'sh -c grep'
	printf '%s\n' "${lines[@]}" | grep -q 'sleep 4321'
	run_berth ps --format json "$ID"
	[ "$status" -eq 0 ]
	[ "$(jq 'index(1) != null' <<<"$output")" = true ]
	[ "$(jq length <<<"$output")" -ge 3 ]
	# What the container itself sees, pid for pid.
	local pid
	pid=$(berth ps "$ID" | awk '/sleep 4321/ { print $1 }')
	[ "$(berth exec "$ID" sh -c "cat /proc/$pid/cmdline | tr '\0' ' '")" = "sleep 4321 " ]
	berth exec "$ID" kill "$pid"
}

@test "microvm pause/resume: the workload stops while paused and goes on after" {
	local c0 c1 c2
	# The counter really advances before the pause (the shared guest may
	# still be starting when this test runs first).
	retry 60 0.2 test -s "$BUNDLE/rootfs/count"
	c0=$(count)
	retry 20 0.2 sh -c "[ \"\$(cat '$BUNDLE/rootfs/count')\" -gt $c0 ]"
	run_berth pause "$ID"
	[ "$status" -eq 0 ]
	[ "$(container_status "$ID")" = paused ]
	sleep 0.5
	c0=$(count)
	sleep 2
	c1=$(count)
	[ "$c0" = "$c1" ] || fail "the counter went from $c0 to $c1 while paused"
	run_berth exec "$ID" true
	[ "$status" -ne 0 ]
	[[ "$output" == *"paused"* ]]
	run_berth ps "$ID"
	[ "$status" -eq 1 ]
	[[ "$output" == *"is paused"* ]]
	run_berth resume "$ID"
	[ "$status" -eq 0 ]
	[ "$(container_status "$ID")" = running ]
	retry 20 0.2 sh -c "[ \"\$(cat '$BUNDLE/rootfs/count')\" -gt $c1 ]"
	c2=$(count)
	[ "$c2" -gt "$c1" ]
}

@test "microvm exec into a stopped container is refused in one line" {
	own_container
	set_args true
	run_berth run -d "$ID"
	[ "$status" -eq 0 ]
	wait_for_status "$ID" stopped 30
	run_berth exec "$ID" echo hi
	[ "$status" -ne 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"cannot exec in a stopped container"* ]]
	run_berth delete "$ID"
	[ "$status" -eq 0 ]
}

@test "microvm create -t --console-socket: the main process's terminal, its size, status" {
	own_container
	local sock=$BATS_TEST_TMPDIR/console.sock pty_out=$BATS_TEST_TMPDIR/pty.out
	update_config '.process.terminal = true | .process.consoleSize = {"height": 25, "width": 70}'
	set_args sh -c 'tty; stty size; read x; echo "got $x"; exit 6'
	"$RECVTTY" "$sock" "$pty_out" $'typed\n' >"$BATS_TEST_TMPDIR/recvtty.log" 2>&1 </dev/null 3>&- &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
	retry 10 0.01 test -S "$sock"
	run_berth create --console-socket "$sock" "$ID"
	[ "$status" -eq 0 ]
	run_berth start "$ID"
	[ "$status" -eq 0 ]
	wait_bg 60
	cat "$BATS_TEST_TMPDIR/recvtty.log"
	tr -d '\r' <"$pty_out"
	[ "$status" -eq 0 ]
	grep -qx 'payload=/dev/ptmx' "$BATS_TEST_TMPDIR/recvtty.log"
	tr -d '\r' <"$pty_out" | grep -qx '/dev/pts/[0-9]*'
	tr -d '\r' <"$pty_out" | grep -qx '25 70'
	tr -d '\r' <"$pty_out" | grep -qx 'got typed'
	wait_for_status "$ID" stopped 30
	run_berth delete "$ID"
	[ "$status" -eq 0 ]
}

# Last: it ends the shared guest.
@test "microvm: delete --force during an exec leaves no QEMU, virtiofsd, socket, stand-in or state" {
	local procs standin
	"$BERTH" --root "$ROOT" exec --pid-file "$BATS_TEST_TMPDIR/exec.pid" "$ID" sleep 1000 >"$OUT" 2>&1 </dev/null &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
	retry 30 0.1 test -s "$BATS_TEST_TMPDIR/exec.pid"
	standin=$(cat "$BATS_TEST_TMPDIR/exec.pid")
	alive "$standin"
	[ -S "$ROOT/$ID/exec.sock" ]
	procs="$(vm_host_procs "$ID") $(rootfs_pids "$BUNDLE/rootfs")"
	[ "$(echo $procs | wc -w)" -ge 3 ] || fail "supervisor, qemu, virtiofsd expected: $procs"
	run_berth delete --force "$ID"
	[ "$status" -eq 0 ]
	wait_bg 30 || fail "exec outlived delete --force"
	[ "$status" -eq 137 ] || fail "exec ended with $status"
	for p in $procs $standin; do
		if alive "$p"; then fail "pid $p ($(cat /proc/$p/comm)) outlived delete --force"; fi
	done
	[ ! -e "$ROOT/$ID" ] || fail "state left: $(ls -A "$ROOT/$ID")"
	SHARED=
}
