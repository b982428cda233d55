#!/usr/bin/env bats
# Container lifecycle: create/start/state/delete transitions, --pid-file, the
# state JSON, list (table, -q, json), delete rules (running, created, --force),
# duplicate and unknown IDs, invalid IDs, --root creation and --bundle.

load helpers

@test "create, start, exit, delete: state follows every step" {
	set_args sh -c "$WAIT_FOR_GO"
	run_berth create --pid-file "$BATS_TEST_TMPDIR/pid" c1
	[ "$status" -eq 0 ]

	run_berth state c1
	[ "$status" -eq 0 ]
	[ "$(jq -r .status <<<"$output")" = created ]
	local pid
	pid=$(jq -r .pid <<<"$output")
	[ "$pid" -gt 0 ]
	[ -d "/proc/$pid" ]
	[ "$(cat "$BATS_TEST_TMPDIR/pid")" = "$pid" ]
	# The init process is already inside the container's root.
	[ "$(rootfs_pids "$BUNDLE/rootfs")" = "$pid" ]

	run_berth start c1
	[ "$status" -eq 0 ]
	run_berth state c1
	[ "$(jq -r .status <<<"$output")" = running ]
	[ "$(jq -r .pid <<<"$output")" = "$pid" ]

	release_container
	wait_for_status c1 stopped

	run_berth delete c1
	[ "$status" -eq 0 ]
	run_berth state c1
	[ "$status" -ne 0 ]
	[ -z "$(root_entries)" ]
}

@test "create leaves the user process unstarted until start" {
	update_config '.root.readonly = false'
	set_args sh -c 'echo started >/started'
	run_berth create c1
	[ "$status" -eq 0 ]
	sleep 0.2
	[ ! -e "$BUNDLE/rootfs/started" ]
	run_berth start c1
	[ "$status" -eq 0 ]
	retry 5 0.02 test -e "$BUNDLE/rootfs/started"
	wait_for_status c1 stopped
}

@test "pid-file is written by run --detach too" {
	set_args sleep 100
	run_berth run --detach --pid-file "$BATS_TEST_TMPDIR/pid" c1
	[ "$status" -eq 0 ]
	[ "$(cat "$BATS_TEST_TMPDIR/pid")" = "$(container_pid c1)" ]
}

@test "delete of a running container fails without --force and succeeds with it" {
	set_args sleep 100
	run_berth run --detach c1
	[ "$status" -eq 0 ]
	local pid
	pid=$(container_pid c1)

	run_berth delete c1
	[ "$status" -ne 0 ]
	[ "$(container_status c1)" = running ]
	kill -0 "$pid"

	run_berth delete --force c1
	[ "$status" -eq 0 ]
	retry 5 0.02 no_rootfs_pids "$BUNDLE/rootfs"
	run_berth state c1
	[ "$status" -ne 0 ]
	[ -z "$(root_entries)" ]
}

@test "delete of a created container kills its init" {
	set_args sleep 100
	run_berth create c1
	[ "$status" -eq 0 ]
	[ -n "$(rootfs_pids "$BUNDLE/rootfs")" ]

	run_berth delete c1
	[ "$status" -eq 0 ]
	retry 5 0.02 no_rootfs_pids "$BUNDLE/rootfs"
	[ -z "$(root_entries)" ]
}

@test "create of an existing ID fails and leaves the first container alone" {
	set_args sleep 100
	run_berth create c1
	[ "$status" -eq 0 ]
	local pid
	pid=$(container_pid c1)

	run_berth create c1
	[ "$status" -ne 0 ]
	[ "$(container_status c1)" = created ]
	[ "$(container_pid c1)" = "$pid" ]
	[ "$(rootfs_pids "$BUNDLE/rootfs")" = "$pid" ]
}

@test "start of a running or stopped container fails" {
	set_args sh -c "$WAIT_FOR_GO"
	run_berth run --detach c1
	[ "$status" -eq 0 ]
	run_berth start c1
	[ "$status" -ne 0 ]
	release_container
	wait_for_status c1 stopped
	run_berth start c1
	[ "$status" -ne 0 ]
	[ "$(container_status c1)" = stopped ]
}

@test "state, start, kill, delete of an unknown ID exit 1 with 'does not exist'" {
	local verb
	for verb in state start kill delete; do
		run_berth "$verb" nosuch
		[ "$status" -eq 1 ] || fail "$verb nosuch exited $status"
		[[ "$output" == *"does not exist"* ]] || fail "$verb nosuch: no 'does not exist' in output"
	done
}

@test "delete --force of an unknown ID succeeds (runc compatibility)" {
	run_berth delete --force nosuch
	[ "$status" -eq 0 ]
}

@test "list shows containers with their status; -q only ids; json has id/status/pid" {
	set_args sleep 100
	run_berth create created1
	[ "$status" -eq 0 ]
	run_berth run --detach running1
	[ "$status" -eq 0 ]

	run_berth list
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == ID* ]]
	echo "$output" | grep -E '^created1[[:space:]].*[[:space:]]created[[:space:]]'
	echo "$output" | grep -E '^running1[[:space:]].*[[:space:]]running[[:space:]]'

	run_berth list -q
	[ "$status" -eq 0 ]
	[ "$(sort <<<"$output")" = "$(printf 'created1\nrunning1')" ]

	run_berth list --format json
	[ "$status" -eq 0 ]
	jq -e 'length == 2' <<<"$output"
	jq -e '.[] | select(.id == "created1") | .status == "created" and .pid > 0' <<<"$output"
	jq -e --argjson p "$(container_pid running1)" \
		'.[] | select(.id == "running1") | .status == "running" and .pid == $p' <<<"$output"
}

@test "list on an empty root prints no containers" {
	run_berth list -q
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run_berth list --format json
	[ "$status" -eq 0 ]
	jq -e 'length == 0' <<<"$output"
}

@test "state JSON has the OCI fields, and annotations from the config" {
	update_config '.annotations = {"org.example.key": "value 1", "org.example.other": ""}'
	set_args sleep 100
	run_berth create c1
	[ "$status" -eq 0 ]

	run_berth state c1
	[ "$status" -eq 0 ]
	local bundle
	bundle=$(realpath "$BUNDLE")
	jq -e '.ociVersion | type == "string" and startswith("1.")' <<<"$output"
	jq -e '.id == "c1"' <<<"$output"
	jq -e '.status == "created"' <<<"$output"
	jq -e '.pid | type == "number" and . > 0' <<<"$output"
	jq -e --arg b "$bundle" '.bundle == $b' <<<"$output"
	jq -e --arg r "$bundle/rootfs" '.rootfs == $r' <<<"$output"
	# RFC 3339 timestamp, UTC, of today.
	jq -e --arg d "$(date -u +%Y-%m-%d)" '.created | startswith($d + "T") and endswith("Z")' <<<"$output"
	jq -e '.annotations == {"org.example.key": "value 1", "org.example.other": ""}' <<<"$output"
}

@test "create --bundle works from another directory and records an absolute bundle" {
	set_args sleep 100
	cd /
	run_berth create --bundle "$BUNDLE" c1
	[ "$status" -eq 0 ]
	jq -e --arg b "$(realpath "$BUNDLE")" '.bundle == $b' <<<"$(berth state c1)"
	[ -n "$(rootfs_pids "$BUNDLE/rootfs")" ]
}

@test "a missing --root directory is created" {
	set_args true
	ROOT=$BATS_TEST_TMPDIR/deep/er/root
	run_berth run c1
	[ "$status" -eq 0 ]
	[ -d "$ROOT" ]
}

@test "invalid container IDs are refused with exit 1" {
	set_args true
	local id
	for id in "../x" "a/b" "" ".." "." "/abs"; do
		run_berth create "$id"
		[ "$status" -eq 1 ] || fail "create '$id' exited $status"
		[ -z "$(root_entries)" ] || fail "create '$id' left $(root_entries) in the root"
		[ ! -e "$BATS_TEST_TMPDIR/x" ] || fail "create '../x' escaped the root"
	done
	no_rootfs_pids "$BUNDLE/rootfs"
}

@test "create without an ID fails" {
	run_berth create
	[ "$status" -ne 0 ]
	[ -z "$(root_entries)" ]
}
