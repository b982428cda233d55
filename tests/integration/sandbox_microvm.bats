#!/usr/bin/env bats
# `berth sandbox --backend microvm`: the command runs in a microVM (its own
# kernel) on the host's root, read-only, with the sandbox's exit-status
# rules (CMD's status, 124 on --timeout, 128+N when berth got signal N and
# CMD had to be killed) and nothing left: no state, no VMM process, no
# scratch directory. Each test boots one TCG guest (~10-20 s here).

load helpers
load microvm_helpers

BERTH_TIMEOUT=120

setup_file() {
	microvm_requires
}

setup() {
	requires root berth
	ROOT=$BATS_TEST_TMPDIR/root
	SCRATCH=$BATS_TEST_TMPDIR/scratch
	mkdir -p "$ROOT" "$SCRATCH"
	export TMPDIR=$SCRATCH
	# The guest sees the host's root through virtio-fs, but not the
	# sandbox's private /tmp: a working directory there is refused.
	cd /
}

teardown() {
	teardown_bundle
}

# Host processes working in a state directory under $ROOT (the
# supervisor, QEMU and virtiofsd all do).
vm_procs() {
	local p
	for p in /proc/[0-9]*; do
		case $(readlink "$p/cwd" 2>/dev/null) in "$ROOT"/*) echo "${p#/proc/}" ;; esac
	done
	return 0
}

assert_nothing_left() {
	[ -z "$(ls -A "$ROOT")" ] || fail "state left: $(ls -A "$ROOT")"
	[ -z "$(ls -A "$SCRATCH")" ] || fail "scratch left: $(ls -A "$SCRATCH")"
	retry 5 0.1 eval '[ -z "$(vm_procs)" ]' >/dev/null || fail "VMM processes left: $(vm_procs)"
}

# sbx_bg OUT ARGS...: `berth sandbox ARGS` in the background under
# timeout(1) (which passes signals on), stdout to OUT; $bg is its pid.
sbx_bg() {
	local out=$1
	shift
	timeout -k 5 "$BERTH_TIMEOUT" "$BERTH" --root "$ROOT" sandbox "$@" </dev/null >"$out" 2>&1 3>&- &
	bg=$!
	BG_PIDS+=("$bg")
}

@test "sandbox --backend microvm: CMD's output and status come back from the guest's kernel" {
	run_berth sandbox --backend microvm -- sh -c 'uname -r; cat /etc/hostname; exit 42'
	[ "$status" -eq 42 ] || fail "exit $status"
	[ "${lines[0]}" != "$(uname -r)" ] && [[ ${lines[0]} == *-cloud-amd64 ]] ||
		fail "not the guest's kernel: '${lines[0]}'"
	assert_nothing_left
}

@test "sandbox --backend microvm --timeout: 124, nothing left" {
	run_berth sandbox --backend microvm --timeout 2s --stats "$BATS_TEST_TMPDIR/s.json" -- sleep 1000
	[ "$status" -eq 124 ] || fail "exit $status"
	[ "$(jq -r .timed_out "$BATS_TEST_TMPDIR/s.json")" = true ]
	assert_nothing_left
}

@test "sandbox --backend microvm: SIGTERM to berth, CMD ignores it (PID 1): killed after --grace, 143" {
	local bg rc=0
	sbx_bg "$BATS_TEST_TMPDIR/out" --backend microvm --grace 1s -- sh -c 'echo started; exec sleep 1000'
	retry 90 0.2 grep -qx started "$BATS_TEST_TMPDIR/out" || fail "never started: $(cat "$BATS_TEST_TMPDIR/out")"
	kill -TERM "$bg"
	wait "$bg" || rc=$?
	[ "$rc" -eq 143 ] || fail "exit status $rc, wanted 143: $(cat "$BATS_TEST_TMPDIR/out")"
	assert_nothing_left
}

@test "sandbox --backend microvm: what a microVM cannot do yet is one line, 125, nothing made" {
	local bad
	for bad in "--bind /etc:--bind" "--net host:--net host" "--overlay /etc:--overlay"; do
		# shellcheck disable=SC2086 # the flags split on purpose
		run_berth sandbox --backend microvm ${bad%%:*} -- true
		[ "$status" -eq 125 ] || fail "$bad: exit $status"
		[ "${#lines[@]}" -eq 1 ] && [[ $output == *"${bad#*:}"* ]] || fail "$bad: $output"
	done
	cd "$BATS_TEST_TMPDIR"
	run_berth sandbox --backend microvm -- true
	[ "$status" -eq 125 ] && [[ $output == *"below a private mount"* ]] || fail "$output"
	assert_nothing_left
}
