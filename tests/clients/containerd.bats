#!/usr/bin/env bats
# containerd 1.6 (ctr + containerd-shim-runc-v2) driving the runtime under test
# (RUNTIME=berth|runc) through `--runc-binary`. The suite starts its own
# containerd (private socket, root and state under $CT, CRI off, native
# snapshotter) and stops it at the end. The runtime's state goes to
# $CT/runc-root/<namespace> (`--runc-root`), FIFOs to $CT/fifo (`--fifo-dir`).

load client_helpers

NS=berthtest

setup_file() {
	clients_setup_file containerd ctr containerd-shim-runc-v2
	mkdir -p "$CT/fifo" "$CT/runc-root"
	# The shim always makes its sockets in /run/containerd/s and ctr may use
	# /run/containerd/fifo; remove them at the end if this run made them.
	RUN_CONTAINERD_EXISTED=no
	[ -e /run/containerd ] && RUN_CONTAINERD_EXISTED=yes
	export RUN_CONTAINERD_EXISTED
	cat >"$CT/containerd.toml" <<EOF
version = 2
root = "$CT/root"
state = "$CT/state"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "$CT/containerd.sock"

[plugins."io.containerd.internal.v1.opt"]
  path = "$CT/opt"
EOF
	containerd --config "$CT/containerd.toml" >"$CT/containerd.log" 2>&1 </dev/null 3>&- &
	EXCLUDE_PID=$!
	export EXCLUDE_PID
	export CONTAINERD_ADDRESS=$CT/containerd.sock
	export CONTAINERD_NAMESPACE=$NS
	export CONTAINERD_SNAPSHOTTER=native
	if ! retry 20 0.1 ctr version >/dev/null 2>&1; then
		cat "$CT/containerd.log"
		fail "containerd did not come up"
	fi
	ctr images import "$IMAGE_ARCHIVE" >"$CT/import.log" 2>&1 </dev/null 3>&- || {
		cat "$CT/import.log"
		fail "ctr images import of the busybox image failed"
	}
}

teardown_file() {
	local d
	[ -n "${CT:-}" ] || return 0
	ctr_cleanup
	if [ -n "${EXCLUDE_PID:-}" ]; then
		kill "$EXCLUDE_PID" 2>/dev/null || true
		retry 10 0.1 eval '! kill -0 "$EXCLUDE_PID" 2>/dev/null' >/dev/null ||
			kill -9 "$EXCLUDE_PID" 2>/dev/null || true
		EXCLUDE_PID=
	fi
	kill_ct_pids
	cleanup_cgroups
	if [ "${RUN_CONTAINERD_EXISTED:-yes}" = no ]; then
		for d in /run/containerd/s /run/containerd/fifo /run/containerd; do
			rmdir "$d" 2>/dev/null || true
		done
	fi
	remove_ct
}

setup() {
	mark_runtime_log
	RUNC=(--runc-binary "$RUNTIME_WRAPPER" --runc-root "$CT/runc-root")
	FIFO=(--fifo-dir "$CT/fifo")
}

teardown() {
	local ids
	show_runtime_log
	ids=$(rootfs_ids "$CT"/root/io.containerd.snapshotter.v1.native/snapshots/*)
	ctr_cleanup
	[ -z "$(ctr containers ls -q 2>/dev/null)" ] || fail "containers left after cleanup"
	check_no_leaks "$CT/runc-root/$NS" "$ids" "$NS"
}

# ctr_cleanup: kill and delete every task and container in the namespace.
ctr_cleanup() {
	local c
	for c in $(timeout 20 ctr containers ls -q 2>/dev/null); do
		timeout 20 ctr task kill -s KILL "$c" >/dev/null 2>&1 </dev/null 3>&- || true
		retry 5 0.1 task_gone_or_stopped "$c" >/dev/null || true
		timeout 20 ctr task rm -f "$c" >/dev/null 2>&1 </dev/null 3>&- || true
		timeout 20 ctr containers rm "$c" >/dev/null 2>&1 </dev/null 3>&- || true
	done
}

# task_field ID COLUMN: the PID (2) or STATUS (3) column of `ctr task ls`.
task_field() {
	ctr task ls 2>/dev/null | awk -v id="$1" -v col="$2" '$1 == id { print $col }'
}

task_gone_or_stopped() {
	local s
	s=$(task_field "$1" 3)
	[ -z "$s" ] || [ "$s" = STOPPED ]
}

task_status_is() {
	[ "$(task_field "$1" 3)" = "$2" ]
}

@test "README's config.toml snippet, alone: containerd has the berth handler with its BinaryName" {
	local table=plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.berth
	readme_block '**containerd**' toml >"$CT/readme-config.toml"
	[ -s "$CT/readme-config.toml" ] || fail "no toml block after **containerd** in README.md"
	# What containerd makes of the file on its own (defaults merged in).
	run_client containerd --config "$CT/readme-config.toml" config dump
	expect_status 0
	run awk -v t="[$table]" -v o="[$table.options]" '
		{ sub(/^ +/, "") }
		/^\[/ { cur = $0; next }
		cur == t && $0 == "runtime_type = \"io.containerd.runc.v2\"" { rt = 1 }
		cur == o && $0 == "BinaryName = \"/usr/local/bin/berth\"" { bn = 1 }
		END { exit !(rt && bn) }' <<<"$output"
	[ "$status" -eq 0 ] || fail "containerd's config has no runc.v2 handler berth with BinaryName /usr/local/bin/berth"
}

@test "ctr run --rm: output and exit status 0" {
	run_client ctr run --rm "${RUNC[@]}" "${FIFO[@]}" "$IMAGE" c1 echo hi
	expect_status 0
	expect_output hi
}

@test "ctr run --rm: exit status propagates" {
	run_client ctr run --rm "${RUNC[@]}" "${FIFO[@]}" "$IMAGE" c2 sh -c 'exit 7'
	expect_status 7
}

@test "ctr run -d + task exec: output and exit status of the exec'd process" {
	run_client ctr run -d "${RUNC[@]}" "${FIFO[@]}" "$IMAGE" c3 sh -c "$COUNTER_SCRIPT"
	expect_status 0
	retry 5 0.1 task_status_is c3 RUNNING
	run_client ctr task exec "${FIFO[@]}" --exec-id e1 c3 sh -c 'echo from-exec $$; exit 5'
	expect_status 5
	[[ $output == "from-exec "* ]] || fail "exec output: $output"
	[ "$output" != "from-exec 1" ] || fail "exec ran as pid 1"
	# The counter file is rewritten 20 times a second (truncate, then write):
	# a read may land in between, so read until it has a number.
	run_client ctr task exec "${FIFO[@]}" --exec-id e2 c3 sh -c \
		'for i in 1 2 3 4 5 6 7 8 9 10; do c=$(cat /tmp/count); [ -n "$c" ] && { echo "$c"; exit 0; }; sleep 0.05; done; exit 1'
	expect_status 0
	[[ $output =~ ^[0-9]+$ ]] || fail "exec could not read the init's counter: $output"
}

@test "ctr task ps: the runtime lists the container's processes" {
	local pid
	run_client ctr run -d "${RUNC[@]}" "${FIFO[@]}" "$IMAGE" c4 sh -c "$COUNTER_SCRIPT"
	expect_status 0
	pid=$(task_field c4 2)
	run_client ctr task ps c4
	expect_status 0
	[[ $output == *$'\n'"$pid "* || $output == *$'\n'"$pid"$'\t'* ]] || fail "init pid $pid not in task ps"
}

@test "ctr task kill (TERM) and KILL: the task stops with the right exit status" {
	run_client ctr run -d "${RUNC[@]}" "${FIFO[@]}" "$IMAGE" c5 sh -c "${COUNTER_SCRIPT/exit 0/exit 3}"
	expect_status 0
	retry 5 0.1 task_status_is c5 RUNNING
	run_client ctr task kill c5
	expect_status 0
	retry 10 0.1 task_status_is c5 STOPPED
	run_client ctr task rm c5
	expect_status 0
	[[ $output == *"exit code 3"* ]] || fail "TERM handler's exit status 3 not reported"
	run_client ctr containers rm c5
	expect_status 0

	run_client ctr run -d "${RUNC[@]}" "${FIFO[@]}" "$IMAGE" c6 sh -c "$COUNTER_SCRIPT"
	expect_status 0
	run_client ctr task kill -s SIGKILL c6
	expect_status 0
	retry 10 0.1 task_status_is c6 STOPPED
	run_client ctr task rm c6
	expect_status 0
	[[ $output == *"exit code 137"* ]] || fail "KILL not reported as 137"
}

@test "ctr task pause/resume: the workload stops and resumes" {
	local pid
	run_client ctr run -d "${RUNC[@]}" "${FIFO[@]}" "$IMAGE" c7 sh -c "$COUNTER_SCRIPT"
	expect_status 0
	pid=$(task_field c7 2)
	retry 5 0.1 counter_moves "$pid"
	run_client ctr task pause c7
	expect_status 0
	retry 5 0.1 task_status_is c7 PAUSED
	counter_frozen "$pid" || fail "counter still advancing while paused"
	counter_frozen "$pid" || fail "counter still advancing while paused"
	run_client ctr task resume c7
	expect_status 0
	retry 5 0.1 task_status_is c7 RUNNING
	retry 5 0.1 counter_moves "$pid"
}

@test "ctr run: the container is in its own cgroup (/$NS/ID) in every hierarchy" {
	local bad
	run_client ctr run --rm "${RUNC[@]}" "${FIFO[@]}" "$IMAGE" c11 cat /proc/self/cgroup
	expect_status 0
	bad=$(printf '%s\n' "$output" | only_mounted_hierarchies | grep -v "/$NS/c11\$" || true)
	[ -z "$bad" ] || fail "not in the container's cgroup /$NS/c11: $(echo $bad)"
}

@test "ctr run -t: tty through the shim's console socket" {
	run_tty ctr run -t --rm "${RUNC[@]}" "${FIFO[@]}" "$IMAGE" c9 tty
	expect_status 0
	expect_tty_line
}

@test "ctr task exec -t: a tty for the exec'd process" {
	run_client ctr run -d "${RUNC[@]}" "${FIFO[@]}" "$IMAGE" c10 sh -c "$COUNTER_SCRIPT"
	expect_status 0
	run_tty ctr task exec -t "${FIFO[@]}" --exec-id e1 c10 tty
	expect_status 0
	expect_tty_line
}

# The microVM backend through a real client: ctr's --annotation lands in the
# bundle's config.json, berth runs the process in a guest with its own
# kernel, and the shim gets its output and exit status as from runc.
@test "ctr run --rm --annotation dev.berth.backend=microvm: the process runs in a microVM; output and status come back" {
	is_runc && skip "berth's microVM backend"
	microvm_client_requires
	run_client ctr run --rm "${RUNC[@]}" "${FIFO[@]}" "${MICROVM_ANNOTATIONS[@]}" "$IMAGE" vm1 \
		sh -c 'uname -r; echo to-stderr >&2; exit 7'
	expect_status 7
	[ "${lines[0]}" != "$(uname -r)" ] && [[ ${lines[0]} == *-cloud-amd64 ]] ||
		fail "not the guest's kernel: '${lines[0]}'"
	[[ $output == *to-stderr* ]] || fail "no stderr: $output"
	grep -q "create .*vm1" "$CT/runtime-argv.log" || fail "the shim did not create vm1 through berth"
}
