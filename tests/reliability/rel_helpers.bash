#!/usr/bin/env bash
# Helpers for tests/reliability (issue #16): kill the runtime at a named
# phase or at a random moment, then check that `state` stays sane and that
# `delete --force` leaves the host as it was.
#
# Sizes: `make check` runs these bounded (the defaults below); `make soak`
# sets the REL_* variables to the issue's full sizes.
REL_RANDOM_ITER=${REL_RANDOM_ITER:-10}   # random-time kills per case
REL_RACE_IDS=${REL_RACE_IDS:-20}         # IDs created twice at once
REL_LOAD_SEQ=${REL_LOAD_SEQ:-60}         # sequential lifecycles
REL_LOAD_PAR=${REL_LOAD_PAR:-15}         # parallel lifecycles per round
REL_LOAD_ROUNDS=${REL_LOAD_ROUNDS:-2}    # rounds of those

# The fault-injection build (common/testhook.h): berth-test, or berth-asan
# itself when the suite runs under `make asan` (also a test build).
if [[ $(basename "$BERTH") == berth-asan ]]; then
	BERTH_HOOKS=$BERTH
else
	BERTH_HOOKS=${BERTH_HOOKS:-$BERTH_SRC_DIR/berth-test}
fi

rel_setup() {
	requires root berth
	setup_bundle
	PREFIX=rel$$-$BATS_TEST_NUMBER
	REL_NS=()
}

requires_hooks() {
	[ -x "$BERTH_HOOKS" ] || skip "no fault-injection build ($BERTH_HOOKS): make berth-test"
}

# ns_cmd: the words that put a command in HOST_NS (nothing without a
# network test); nsenter execs, so the command keeps nsenter's pid.
ns_cmd() {
	NS_CMD=()
	[ -z "${HOST_NSPATH:-}" ] || NS_CMD=(nsenter --net="$HOST_NSPATH")
}

# b ARGS...: the runtime under test with this test's root (in HOST_NS if any).
b() {
	if [ -n "${HOST_NSPATH:-}" ]; then
		timeout -k 5 "$BERTH_TIMEOUT" nsenter --net="$HOST_NSPATH" "$BERTH" --root "$ROOT" "$@" </dev/null 3>&-
	else
		timeout -k 5 "$BERTH_TIMEOUT" "$BERTH" --root "$ROOT" "$@" </dev/null 3>&-
	fi
}

# --- what the runtime can leave behind ---------------------------------------

# rel_snapshot: everything a container of this test could leave on the host:
# mounts under the test's directories or the state root, cgroup directories
# named after this test's IDs (in every hierarchy), the state root's entries,
# processes on the bundle's rootfs, and with a network: HOST_NS's links,
# ruleset and this root's leases.
rel_snapshot() {
	echo "## mounts"
	awk -v d="$BATS_TEST_TMPDIR" -v r="$ROOT" 'index($5, d) == 1 || index($5, r) == 1 || $5 ~ /^\/run\/berth/ { print $5, $9 }' \
		/proc/self/mountinfo | sort
	echo "## cgroups"
	find /sys/fs/cgroup -maxdepth 9 -type d -name "$PREFIX*" 2>/dev/null | sort
	echo "## root"
	ls -A "$ROOT" 2>/dev/null
	echo "## processes"
	rootfs_pids "$BUNDLE/rootfs" | sort
	if [ -n "${HOST_NS:-}" ]; then
		echo "## links"
		host_links
		echo "## ruleset"
		host_ruleset | grep -v '^\s*$'
		echo "## leases"
		leases
	fi
}

# assert_snapshot BEFORE [WHAT]: the host is as BEFORE (retrying a moment:
# SIGKILLed processes and veths go asynchronously).
assert_snapshot() {
	local now i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		now=$(rel_snapshot)
		[ "$now" != "$1" ] || return 0
		sleep 0.1
	done
	echo "host changed${2:+ after $2}:"
	diff <(printf '%s\n' "$1") <(printf '%s\n' "$now") || true
	return 1
}

# --- killing the runtime -------------------------------------------------------

# phase_stopped MARK: a process cloned by the runtime stopped at its phase:
# MARK exists, or (past setns into the container, where MARK's path is not
# there) a process named test-point-stop has BERTH_TEST_MARK=MARK.
phase_stopped() {
	local c name
	[ ! -e "$1" ] || return 0
	for c in /proc/[0-9]*/comm; do
		name=
		{ read -r name <"$c"; } 2>/dev/null || true
		[ "$name" = test-point-stop ] || continue
		{ tr '\0' '\n' <"${c%/comm}/environ"; } 2>/dev/null | grep -qxF "BERTH_TEST_MARK=$1" && return 0
	done
	return 1
}

# kill_at PHASE ARGS...: run the fault-injection build with ARGS, dying at
# PHASE: in the runtime's own process it raises SIGKILL itself; at a
# phase of a process it cloned (child:*, exec:helper-*, exec:child-*) that
# process stops there (phase_stopped), and we SIGKILL the runtime. Fails
# unless the runtime died by SIGKILL at the phase (a phase never reached
# proves nothing).
kill_at() {
	local phase=$1 mark=$BATS_TEST_TMPDIR/mark pid rc=0 end=$((SECONDS + 20)) reached=
	shift
	rm -f "$mark"
	ns_cmd
	BERTH_TEST_KILL_AT=$phase BERTH_TEST_MARK=$mark "${NS_CMD[@]}" "$BERTH_HOOKS" --root "$ROOT" "$@" \
		</dev/null >"$BATS_TEST_TMPDIR/kill.out" 2>&1 3>&- &
	pid=$!
	while [ "$SECONDS" -lt "$end" ]; do
		if phase_stopped "$mark"; then
			reached=1
			kill -9 "$pid" 2>/dev/null || true
		fi
		kill -0 "$pid" 2>/dev/null || break
		[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] || break
		sleep 0.01
	done
	[ -n "$reached" ] || [ "$SECONDS" -lt "$end" ] || reached=never
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" || rc=$?
	[ "$reached" != never ] || fail "$* at $phase: phase never reached in 20 s"
	[ "$rc" -eq 137 ] || fail "$* at $phase: exit $rc, not killed: $(cat "$BATS_TEST_TMPDIR/kill.out")"
}

# kill_after SECONDS ARGS...: the runtime under test, SIGKILLed after SECONDS
# (if still running). Sets KILL_RC; fails if it died of another signal.
kill_after() {
	local t=$1
	shift
	KILL_RC=0
	ns_cmd
	timeout -s KILL "$t" "${NS_CMD[@]}" "$BERTH" --root "$ROOT" "$@" </dev/null >"$BATS_TEST_TMPDIR/kill.out" 2>&1 3>&- ||
		KILL_RC=$?
	# Killed by us (137), or an exit of its own; never a crash or a
	# sanitizer's abort.
	[ "$KILL_RC" -le 128 ] || [ "$KILL_RC" -eq 137 ] ||
		fail "$* : died with $KILL_RC: $(head -c 2000 "$BATS_TEST_TMPDIR/kill.out")"
}

# random_delay: 0.000-0.029 s, uniformly.
random_delay() {
	printf '0.%03d' $((RANDOM % 30))
}

# --- after a kill ---------------------------------------------------------------

# state_sane ID: `state` exits 0 with a status consistent with its pid
# (created/running/paused: the process is there; stopped: any), or exits 1
# with one line; and state.json, when there, is whole JSON.
state_sane() {
	local out rc=0 st pid
	out=$(b state "$1" 2>&1) || rc=$?
	if [ "$rc" -ne 0 ]; then
		[ "$rc" -eq 1 ] || fail "state $1: exit $rc: $out"
		[ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "state $1: not one line: $out"
	else
		st=$(jq -r .status <<<"$out") || fail "state $1: not JSON: $out"
		pid=$(jq -r .pid <<<"$out")
		case $st in
		created | running | paused)
			[ "$pid" -gt 0 ] && [ -e "/proc/$pid" ] || fail "state $1: $st with pid $pid gone"
			;;
		stopped) ;;
		*) fail "state $1: status '$st'" ;;
		esac
	fi
	if [ -e "$ROOT/$1/state.json" ]; then
		jq -e 'type == "object" and .id != null' "$ROOT/$1/state.json" >/dev/null ||
			fail "torn state.json: $(head -c 300 "$ROOT/$1/state.json")"
	fi
}

# recover ID BEFORE WHAT: state is sane, delete --force succeeds, the host is
# as BEFORE, and the ID can be used again.
recover() {
	local out
	state_sane "$1"
	out=$(b delete --force "$1" 2>&1) || fail "$3: delete --force $1 failed: $out"
	assert_snapshot "$2" "$3: delete --force"
	# Not through a pipe: the container inherits stdout and stderr.
	b run -d "$1" >/dev/null 2>"$BATS_TEST_TMPDIR/run.err" ||
		fail "$3: ID $1 cannot be used again: $(cat "$BATS_TEST_TMPDIR/run.err")"
	out=$(b delete --force "$1" 2>&1) || fail "$3: delete --force $1 (again) failed: $out"
	assert_snapshot "$2" "$3: run again"
}
