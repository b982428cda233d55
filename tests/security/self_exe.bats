#!/usr/bin/env bats
# CVE-2019-5736: whoever gets hold of /proc/PID/exe of a berth process that
# is setting up or joining a container must not be able to reopen it for
# writing later (when ETXTBSY no longer protects it) and so replace the
# host's berth binary. berth re-executes itself from a read-only bind of its
# binary (or a sealed memfd) before create, run and exec.

load ../integration/helpers
load security_helpers

setup() {
	requires_berth "runc 1.1.5 uses a memfd clone; this checks berth's own switch"
	sec_setup
	BIN_SUM=$(sha256sum "$BERTH" | cut -d' ' -f1)
	set_args sleep 2
}

teardown() {
	[ "$(sha256sum "$BERTH" | cut -d' ' -f1)" = "$BIN_SUM" ] || echo "FAIL: berth binary changed" >&2
	sec_teardown
}

# grab_exe_then_reopen: start `run` in the background, take an fd on its
# /proc/PID/exe while it runs, then after it exits try to reopen that fd
# for writing. Prints the outcome.
grab_exe_then_reopen() {
	local pid fd
	"$BERTH" --root "$ROOT" run selfexe </dev/null >/dev/null 2>&1 &
	pid=$!
	retry 5 0.02 test -e "/proc/$pid/exe"
	sleep 0.3
	exec {fd}<"/proc/$pid/exe"
	wait "$pid"
	if (exec 2>/dev/null; : >>"/proc/self/fd/$fd"); then
		echo writable
	else
		echo refused
	fi
	exec {fd}<&-
}

@test "the exe of a berth process cannot be reopened for writing once it exits (CVE-2019-5736)" {
	run grab_exe_then_reopen
	[ "$output" = refused ]
	[ "$(sha256sum "$BERTH" | cut -d' ' -f1)" = "$BIN_SUM" ]
}

@test "control: with the self re-exec turned off, the same fd reaches the writable binary" {
	# Proves the test above can fail. Nothing is written: `: >>` only opens.
	export BERTH_UNSAFE_NO_SELF_CLONE=1
	run grab_exe_then_reopen
	[ "$output" = writable ]
	[ "$(sha256sum "$BERTH" | cut -d' ' -f1)" = "$BIN_SUM" ]
}
