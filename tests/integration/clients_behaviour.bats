#!/usr/bin/env bats
# What clients (containerd's shim, podman/conmon, systemd socket activation)
# rely on, checked the same way against runc: exit statuses and messages of
# kill/delete/start/state/exec in the awkward states, the JSON shapes of list
# and ps, and LISTEN_FDS/LISTEN_PID socket activation. Container IDs start
# with cb-.

load helpers

setup() {
	setup_bundle
	ID=cb-$BATS_TEST_NUMBER-$$
}

teardown() {
	local rc=0
	teardown_bundle || rc=1
	teardown_cgroups || rc=1
	return $rc
}

# run_stopped: a container whose process has exited (state stopped, not deleted).
run_stopped() {
	set_args true
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	wait_for_status "$ID" stopped
}

# --- kill ----------------------------------------------------------------------

@test "kill of a stopped container exits 1 with 'not running'" {
	run_stopped
	local sig
	for sig in "" KILL TERM; do
		run_berth kill "$ID" $sig
		[ "$status" -eq 1 ] || fail "kill $sig exited $status"
		[[ "$output" == *"not running"* ]]
		[ "${#lines[@]}" -eq 1 ]
	done
	[ "$(container_status "$ID")" = stopped ]
}

@test "kill --all of a stopped container with no processes left exits 0 (as runc)" {
	# containerd's shim sends `kill --all KILL` after the init of a container
	# without its own pid namespace exits, to reap what is left; runc accepts
	# it for a stopped container.
	run_stopped
	run_berth kill --all "$ID" KILL
	[ "$status" -eq 0 ]
	run_berth kill --all "$ID"
	[ "$status" -eq 0 ]
	[ "$(container_status "$ID")" = stopped ]
}

@test "kill --all reaches processes an exited init left behind (no pid namespace)" {
	ns_remove pid
	set_args sh -c 'sleep 100 & sleep 100 & echo ready >/cb-ready'
	update_config '.root.readonly = false'
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	retry 10 0.02 test -e "$BUNDLE/rootfs/cb-ready"
	wait_for_status "$ID" stopped
	[ "$(rootfs_pids "$BUNDLE/rootfs" | wc -l)" -eq 2 ]
	run_berth kill --all "$ID" KILL
	[ "$status" -eq 0 ]
	retry 5 0.02 no_rootfs_pids "$BUNDLE/rootfs"
	run_berth delete "$ID"
	[ "$status" -eq 0 ]
}

# --- delete --------------------------------------------------------------------

@test "delete of a created (never started) container removes its process, cgroup and state" {
	set_args touch /cb-ran
	update_config '.root.readonly = false'
	run_berth create "$ID"
	[ "$status" -eq 0 ]
	save_cgroup_dirs "$ID"
	local pid
	pid=$(container_pid "$ID")
	kill -0 "$pid"
	run_berth delete "$ID"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	retry 5 0.02 no_rootfs_pids "$BUNDLE/rootfs"
	[ -z "$(root_entries)" ]
	retry 3 0.05 no_cgroup_dirs_left || fail "cgroups left: $(cgroup_dirs_left)"
	# The process never ran.
	[ ! -e "$BUNDLE/rootfs/cb-ran" ]
	run_berth state "$ID"
	[ "$status" -eq 1 ]
}

@test "delete of a running container without --force fails with a message and changes nothing" {
	set_args sleep 100
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	local pid
	pid=$(container_pid "$ID")
	run_berth delete "$ID"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *running* ]]
	[ "$(container_status "$ID")" = running ]
	[ "$(container_pid "$ID")" = "$pid" ]
	kill -0 "$pid"
	run_berth delete --force "$ID"
	[ "$status" -eq 0 ]
	[ -z "$(root_entries)" ]
}

@test "delete --force of an unknown id exits 0 silently" {
	run_berth delete --force cb-nosuch
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "delete of a stopped container succeeds once, then 'does not exist'" {
	run_stopped
	run_berth delete "$ID"
	[ "$status" -eq 0 ]
	[ -z "$(root_entries)" ]
	run_berth delete "$ID"
	[ "$status" -eq 1 ]
	[[ "$output" == *"does not exist"* ]]
}

# --- state, start, exec ---------------------------------------------------------

@test "state of an unknown id exits 1 with 'does not exist'" {
	run_berth state cb-nosuch
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"does not exist"* ]]
}

@test "start twice: the second fails and the process ran once" {
	update_config '.root.readonly = false'
	set_args sh -c 'echo once >>/cb-count; sleep 100'
	run_berth create "$ID"
	[ "$status" -eq 0 ]
	run_berth start "$ID"
	[ "$status" -eq 0 ]
	retry 5 0.02 test -s "$BUNDLE/rootfs/cb-count"
	run_berth start "$ID"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *running* ]]
	sleep 0.2
	[ "$(wc -l <"$BUNDLE/rootfs/cb-count")" -eq 1 ]
	[ "$(container_status "$ID")" = running ]
}

@test "start of a stopped container fails" {
	run_stopped
	run_berth start "$ID"
	[ "$status" -eq 1 ]
	[[ "$output" == *stopped* ]]
}

@test "exec into an unknown container exits 255" {
	requires_berth_exec
	run_berth exec cb-nosuch true
	[ "$status" -eq 255 ]
	[[ "$output" == *"does not exist"* ]]
}

# --- list and ps JSON ------------------------------------------------------------

@test "list --format json: one object per container with runc's fields and types" {
	update_config '.annotations = {"org.example.cb": "x"}'
	set_args sleep 100
	run_berth create "$ID"
	[ "$status" -eq 0 ]
	run_berth list --format json
	[ "$status" -eq 0 ]
	jq -e 'type == "array" and length == 1' <<<"$output"
	jq -e --arg id "$ID" --arg b "$(realpath "$BUNDLE")" --argjson p "$(container_pid "$ID")" '.[0] |
		(.ociVersion | type == "string") and .id == $id and .pid == $p and .status == "created"
		and .bundle == $b and .rootfs == $b + "/rootfs" and (.created | type == "string")
		and (.owner | type == "string") and .annotations == {"org.example.cb": "x"}' <<<"$output"
}

@test "list --format json: owner is the owner of the state, as runc reports it" {
	set_args sleep 100
	run_berth create "$ID"
	[ "$status" -eq 0 ]
	run_berth list --format json
	[ "$status" -eq 0 ]
	jq -e --arg u "$(id -un)" '.[0].owner == $u' <<<"$output"
}

@test "list --format json on an empty root is an empty list (runc: null)" {
	run_berth list --format json
	[ "$status" -eq 0 ]
	jq -e '(. // []) == []' <<<"$output"
}

@test "ps --format json of a created container is the init's host pid" {
	set_args sleep 100
	run_berth create "$ID"
	[ "$status" -eq 0 ]
	run_berth ps --format json "$ID"
	[ "$status" -eq 0 ]
	jq -e --argjson p "$(container_pid "$ID")" '. == [$p]' <<<"$output"
}

@test "ps --format json of a running container lists every process" {
	ns_remove pid
	update_config '.root.readonly = false'
	set_args sh -c 'sleep 100 & echo ready >/cb-ready; wait'
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	retry 10 0.02 test -e "$BUNDLE/rootfs/cb-ready"
	run_berth ps --format json "$ID"
	[ "$status" -eq 0 ]
	[ "$(jq -c 'sort' <<<"$output")" = "$(rootfs_pids "$BUNDLE/rootfs" | jq -cs 'sort')" ]
	jq -e 'length == 2' <<<"$output"
}

# --- socket activation (LISTEN_FDS / LISTEN_PID) -----------------------------------

# listen_run LISTEN_PID_VALUE ARGS...: `run` ARGS with fds 3, 4 and 5 open on
# files holding three, four and five and LISTEN_FDS=2 in the runtime's
# environment. LISTEN_PID_VALUE "self" is the runtime's own pid: `exec` keeps
# the shell's pid. Sets status and output (stdout and stderr).
listen_run() {
	local lp=$1
	shift
	echo three >"$BATS_TEST_TMPDIR/f3"
	echo four >"$BATS_TEST_TMPDIR/f4"
	echo five >"$BATS_TEST_TMPDIR/f5"
	status=0
	timeout -k 5 "$BERTH_TIMEOUT" bash -c '
		exec 3<"$1/f3" 4<"$1/f4" 5<"$1/f5"
		lp=$2
		[ "$lp" != self ] || lp=$$
		shift 2
		LISTEN_FDS=2 LISTEN_PID=$lp exec "$@"' \
		bash "$BATS_TEST_TMPDIR" "$lp" "$BERTH" --root "$ROOT" "$@" \
		>"$BATS_TEST_TMPDIR/out" 2>&1 </dev/null || status=$?
	output=$(cat "$BATS_TEST_TMPDIR/out")
	echo "# listen_run $lp $* => status $status"
	echo "$output"
}

# What the container reports: its LISTEN_* variables and its fds 3 to 6.
LISTEN_PROBE='echo "fds=${LISTEN_FDS-unset} pid=${LISTEN_PID-unset}"
for fd in 3 4 5 6; do
	if [ -e /proc/self/fd/$fd ]; then echo "$fd:$(cat /proc/self/fd/$fd)"; else echo "$fd:closed"; fi
done'

@test "LISTEN_FDS with our LISTEN_PID: fds 3.. go to the container with LISTEN_FDS=N, LISTEN_PID=1" {
	set_args sh -c "$LISTEN_PROBE"
	listen_run self run "$ID"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n' 'fds=2 pid=1' 3:three 4:four 5:closed 6:closed)" ]
}

@test "LISTEN_FDS fds come first, --preserve-fds follow them" {
	set_args sh -c "$LISTEN_PROBE"
	listen_run self run --preserve-fds 1 "$ID"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n' 'fds=2 pid=1' 3:three 4:four 5:five 6:closed)" ]
}

@test "LISTEN_FDS with another process's LISTEN_PID: nothing is passed" {
	set_args sh -c "$LISTEN_PROBE"
	listen_run 1 run "$ID"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n' 'fds=unset pid=unset' 3:closed 4:closed 5:closed 6:closed)" ]
}

@test "LISTEN_FDS reach a created container's process after start" {
	update_config '.root.readonly = false'
	set_args sh -c "$WAIT_FOR_GO; { $LISTEN_PROBE; } >/cb-probe"
	listen_run self create "$ID"
	[ "$status" -eq 0 ]
	run_berth start "$ID"
	[ "$status" -eq 0 ]
	release_container
	wait_for_status "$ID" stopped
	[ "$(cat "$BUNDLE/rootfs/cb-probe")" = "$(printf '%s\n' 'fds=2 pid=1' 3:three 4:four 5:closed 6:closed)" ]
}
