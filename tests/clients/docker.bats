#!/usr/bin/env bats
# docker 20.10 (Debian's docker.io: dockerd, on containerd 1.6 and
# containerd-shim-runc-v2) driving the runtime under test (RUNTIME=berth|runc),
# declared in daemon.json "runtimes" and chosen per container with
# `docker run --runtime NAME`.
#
# The suite starts its own containerd (as containerd.bats: private socket,
# root, state and opt dir, CRI off) and its own dockerd on top of it
# (--containerd; dockerd's managed containerd would make /opt/containerd):
# data root, exec root (with the runtime's state: dockerd 20.10 gives every
# runtime of daemon.json the --root exec-root/runtime-runc/moby), pid file,
# trust key and socket under $CT; vfs storage; no bridge, no iptables; every
# container runs with --network none. It never reads or writes /etc/docker,
# /var/lib/docker, /run/docker or /run/containerd/containerd.sock, and
# containers go below the cgroup /berthdocker. The image is a docker-archive
# of the busybox fixture (make-docker-archive.sh), loaded with `docker load`.

load client_helpers

CG_PARENT=berthdocker

setup_file() {
	clients_setup_file dockerd containerd containerd-shim-runc-v2
	# Debian's client (docker.io: /usr/bin/docker), of the daemon's version:
	# another docker CLI may come first on PATH.
	DOCKER_BIN=/usr/bin/docker
	[ -x "$DOCKER_BIN" ] || DOCKER_BIN=$(command -v docker) ||
		skip "docker (the client) is not installed (scripts/deps.sh clients installs docker.io)"
	export DOCKER_BIN
	# dockerd reserves the name "runc" for its built-in runtime.
	DOCKER_RUNTIME=$RUNTIME_NAME
	[ "$DOCKER_RUNTIME" != runc ] || DOCKER_RUNTIME=runc-under-test
	export DOCKER_RUNTIME
	mkdir -p "$CT/docker" "$CT/exec" "$CT/cli" "$CT/containerd"
	# The shim makes its sockets in /run/containerd/s; remove that at the end
	# if this run made it.
	RUN_CONTAINERD_EXISTED=no
	[ -e /run/containerd ] && RUN_CONTAINERD_EXISTED=yes
	# dockerd always makes /run/docker/plugins (no option moves it).
	RUN_DOCKER_EXISTED=no
	[ -e /run/docker ] && RUN_DOCKER_EXISTED=yes
	export RUN_CONTAINERD_EXISTED RUN_DOCKER_EXISTED
	# default-ulimits: modest, fixed limits for every container (without it
	# they inherit dockerd's). A limit above the caller's hard limit (here
	# nofile 20000, no CAP_SYS_RESOURCE) cannot be set, by runc or berth.
	cat >"$CT/daemon.json" <<EOF
{
  "runtimes": {
    "$DOCKER_RUNTIME": {"path": "$RUNTIME_WRAPPER"}
  },
  "default-ulimits": {
    "nofile": {"Name": "nofile", "Soft": 1024, "Hard": 1024}
  },
  "storage-driver": "vfs",
  "cgroup-parent": "/$CG_PARENT",
  "deprecated-key-path": "$CT/docker/key.json"
}
EOF
	cat >"$CT/containerd/config.toml" <<EOF
version = 2
root = "$CT/containerd/root"
state = "$CT/containerd/state"
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
  address = "$CT/containerd/containerd.sock"

[plugins."io.containerd.internal.v1.opt"]
  path = "$CT/containerd/opt"
EOF
	containerd --config "$CT/containerd/config.toml" >"$CT/containerd.log" 2>&1 </dev/null 3>&- &
	CONTAINERD_PID=$!
	export CONTAINERD_PID
	if ! retry 20 0.1 test -S "$CT/containerd/containerd.sock"; then
		cat "$CT/containerd.log"
		kill -0 "$CONTAINERD_PID" 2>/dev/null || skip "containerd could not start here (log above)"
		fail "containerd did not come up"
	fi
	dockerd --config-file "$CT/daemon.json" \
		--data-root "$CT/data" --exec-root "$CT/exec" --pidfile "$CT/docker/docker.pid" \
		-H "unix://$CT/docker.sock" \
		--containerd "$CT/containerd/containerd.sock" \
		--bridge=none --iptables=false --ip6tables=false \
		>"$CT/dockerd.log" 2>&1 </dev/null 3>&- &
	DOCKERD_PID=$!
	EXCLUDE_PID="$CONTAINERD_PID $DOCKERD_PID"
	export DOCKERD_PID EXCLUDE_PID
	export DOCKER_HOST=unix://$CT/docker.sock
	export DOCKER_CONFIG=$CT/cli
	if ! retry 30 0.2 "$DOCKER_BIN" version >/dev/null 2>&1; then
		cat "$CT/dockerd.log"
		# Only a daemon that cannot run here is a reason to skip.
		if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
			stop_daemon "$CONTAINERD_PID"
			skip "dockerd could not start here (log above)"
		fi
		fail "dockerd did not answer on $DOCKER_HOST"
	fi
	"$DOCKER_BIN" load -i "$DOCKER_ARCHIVE" >"$CT/load.log" 2>&1 </dev/null 3>&- || {
		cat "$CT/load.log" "$CT/dockerd.log"
		fail "docker load of the busybox image failed"
	}
	# Mounts the daemon keeps for itself (none expected with vfs and no
	# networks, but they are not a test's leak).
	CT_MOUNTS_BASE=$(ct_mounts all | tr '\n' ' ')
	export CT_MOUNTS_BASE
}

teardown_file() {
	local d
	[ -n "${CT:-}" ] || return 0
	docker_cleanup
	stop_daemon "${DOCKERD_PID:-}"
	stop_daemon "${CONTAINERD_PID:-}"
	DOCKERD_PID= CONTAINERD_PID= EXCLUDE_PID=
	kill_ct_pids
	cleanup_cgroups "$CG_PARENT"
	if [ "${RUN_CONTAINERD_EXISTED:-yes}" = no ]; then
		for d in /run/containerd/s /run/containerd/fifo /run/containerd; do
			rmdir "$d" 2>/dev/null || true
		done
	fi
	if [ "${RUN_DOCKER_EXISTED:-yes}" = no ]; then
		rmdir /run/docker/plugins /run/docker 2>/dev/null || true
	fi
	remove_ct
}

# stop_daemon PID: TERM, then KILL after 20 s.
stop_daemon() {
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null || return 0
	retry 20 0.1 eval "! kill -0 $1 2>/dev/null" >/dev/null || kill -9 "$1" 2>/dev/null || true
}

setup() {
	mark_runtime_log
	DOCKER=("$DOCKER_BIN")
	RUN=("$DOCKER_BIN" run --runtime "$DOCKER_RUNTIME" --network none)
}

teardown() {
	local ids
	show_runtime_log
	ids=$(rootfs_ids "$CT"/data/vfs/dir/*)
	docker_cleanup
	[ -z "$("$DOCKER_BIN" ps -aq 2>/dev/null)" ] || fail "docker containers left after rm -f"
	check_no_leaks "$CT/exec/runtime-runc/moby" "$ids" "$CG_PARENT"
}

docker_cleanup() {
	local ids
	ids=$(timeout 20 "$DOCKER_BIN" ps -aq 2>/dev/null) || return 0
	[ -z "$ids" ] && return 0
	# shellcheck disable=SC2086
	timeout -k 5 60 "$DOCKER_BIN" rm -f $ids >/dev/null 2>&1 </dev/null 3>&- || true
}

# ctr_pid NAME: host pid of a running container's init.
ctr_pid() {
	"$DOCKER_BIN" inspect -f '{{.State.Pid}}' "$1"
}

ctr_state() {
	"$DOCKER_BIN" inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$1"
}

@test "README's daemon.json snippet is what this daemon runs with" {
	local snippet
	snippet=$(readme_block '**docker**' json)
	[ -n "$snippet" ] || fail "no json block after **docker** in README.md"
	run jq -e '.runtimes == {berth: {path: "/usr/local/bin/berth"}}' <<<"$snippet"
	[ "$status" -eq 0 ] || fail "README's runtimes: $(jq -c .runtimes <<<"$snippet")"
	# Each of its keys, with the runtime renamed and repointed as this suite
	# does it, has the same value in the daemon.json dockerd was started with.
	run jq -e --arg n "$DOCKER_RUNTIME" --arg p "$RUNTIME_WRAPPER" --slurpfile cfg "$CT/daemon.json" '
		(. + {runtimes: {($n): {path: $p}}}) as $want
		| $cfg[0] | with_entries(select(.key as $k | $want | has($k))) == $want' <<<"$snippet"
	[ "$status" -eq 0 ] || fail "README's daemon.json differs from $CT/daemon.json: $(cat "$CT/daemon.json")"
}

@test "docker run --rm: output and exit status 0" {
	run_client "${RUN[@]}" --rm "$IMAGE" echo hi
	expect_status 0
	expect_output hi
}

@test "docker run --rm: exit status 42 propagates" {
	run_client "${RUN[@]}" --rm "$IMAGE" sh -c 'echo before; exit 42'
	expect_status 42
	expect_output before
}

@test "docker run: default-ulimits from daemon.json reach the process" {
	run_client "${RUN[@]}" --rm "$IMAGE" sh -c 'ulimit -n; ulimit -Hn'
	expect_status 0
	expect_output $'1024\n1024'
}

@test "docker run -d, exec, stop (TERM reaches the container), rm" {
	run_client "${RUN[@]}" -d --name d1 --hostname berthtest "$IMAGE" sh -c "$COUNTER_SCRIPT"
	expect_status 0
	run_client "${DOCKER[@]}" ps --filter name=d1 --format '{{.Names}}'
	expect_status 0
	expect_output d1
	run ctr_state d1
	expect_output "running 0"
	run_client "${DOCKER[@]}" exec d1 cat /etc/hostname
	expect_status 0
	expect_output berthtest
	run_client "${DOCKER[@]}" stop -t 10 d1
	expect_status 0
	# The trap exits 0 on TERM: 137 would mean docker had to fall back to KILL.
	run ctr_state d1
	expect_output "exited 0"
	run_client "${DOCKER[@]}" rm d1
	expect_status 0
	[ -z "$("$DOCKER_BIN" ps -aq)" ] || fail "d1 still listed after rm"
}

@test "docker exec: exit status and both output streams propagate" {
	run_client "${RUN[@]}" -d --name e1 "$IMAGE" sh -c "$COUNTER_SCRIPT"
	expect_status 0
	run_client "${DOCKER[@]}" exec e1 sh -c 'echo out; echo err >&2; exit 3'
	expect_status 3
	[[ $output == *out* && $output == *err* ]] || fail "exec output missing"
	# exec'd processes are not the container's init
	run_client "${DOCKER[@]}" exec e1 sh -c 'echo $$'
	expect_status 0
	[ "$output" != 1 ] || fail "exec ran as pid 1"
}

# docker 20.10 reports 126 for every exec that cannot start (its daemon sets
# 126 after the error, whatever the text; 127 for `exec` came in docker 23),
# so both cases are 126 here, with runc as well. The error names the program.
@test "docker exec: 126 for a file that is not executable and for a missing one" {
	run_client "${RUN[@]}" -d --name x1 "$IMAGE" sh -c "$COUNTER_SCRIPT"
	expect_status 0
	run_client "${DOCKER[@]}" exec x1 /etc/passwd
	expect_status 126
	[[ $output == *'"/etc/passwd"'* ]] || fail "error does not name the program: $output"
	run_client "${DOCKER[@]}" exec x1 /no/such/program
	expect_status 126
	[[ $output == *'"/no/such/program"'* ]] || fail "error does not name the program: $output"
	# The container is unharmed.
	run_client "${DOCKER[@]}" exec x1 true
	expect_status 0
}

# For `run`, the docker CLI maps the daemon's error text to the shell's codes
# (case-sensitively): "permission denied" 126; "executable file not found" or
# "no such file or directory" 127; anything else 125. So the runtime's error
# message decides the status: runc's are lowercase.
@test "docker run: 126 for a file that is not executable, 127 for a missing one" {
	run_client "${RUN[@]}" --rm "$IMAGE" /etc/passwd
	expect_status 126
	run_client "${RUN[@]}" --rm "$IMAGE" /no/such/program
	expect_status 127
	run_client "${RUN[@]}" --rm "$IMAGE" no-such-program-in-path
	expect_status 127
}

@test "docker kill: container exits 137" {
	run_client "${RUN[@]}" -d --name k1 "$IMAGE" sh -c "$COUNTER_SCRIPT"
	expect_status 0
	run_client "${DOCKER[@]}" kill k1
	expect_status 0
	run_client "${DOCKER[@]}" wait k1
	expect_status 0
	expect_output 137
}

@test "docker run -t: tty through the shim's console socket" {
	run_tty "${RUN[@]}" -t --rm "$IMAGE" tty
	expect_status 0
	expect_tty_line
}

@test "docker pause/unpause: the workload stops and resumes" {
	local pid
	run_client "${RUN[@]}" -d --name p1 "$IMAGE" sh -c "$COUNTER_SCRIPT"
	expect_status 0
	pid=$(ctr_pid p1)
	retry 5 0.1 counter_moves "$pid"
	run_client "${DOCKER[@]}" pause p1
	expect_status 0
	run ctr_state p1
	expect_output "paused 0"
	counter_frozen "$pid" || fail "counter still advancing while paused"
	counter_frozen "$pid" || fail "counter still advancing while paused"
	run_client "${DOCKER[@]}" unpause p1
	expect_status 0
	run ctr_state p1
	expect_output "running 0"
	retry 5 0.1 counter_moves "$pid"
}

# What the memory cgroup says inside the container: the limit and the number
# of OOM kills (cgroup v1 files, or v2's memory.max and memory.events).
MEM_REPORT='if [ -f /sys/fs/cgroup/memory.max ]; then
	cat /sys/fs/cgroup/memory.max; k=$(grep "^oom_kill " /sys/fs/cgroup/memory.events)
else
	cat /sys/fs/cgroup/memory/memory.limit_in_bytes; k=$(grep "^oom_kill " /sys/fs/cgroup/memory/memory.oom_control)
fi
echo "$k"'

@test "docker run --memory 32m: allocating 64 MiB is OOM-killed (137), the cgroup counts it" {
	# Negative control: the same allocation fits in 256m.
	run_client "${RUN[@]}" --rm --memory 256m --memory-swap 256m "$IMAGE" \
		dd if=/dev/zero of=/dev/null bs=64M count=1
	expect_status 0
	# dd as a child of the container's shell: the kernel kills it, and the
	# container's own memory cgroup (no cgroup namespace on a v1 host: the
	# runtime binds the container's directories) has the limit and one kill.
	run_client "${RUN[@]}" --rm --memory 32m --memory-swap 32m "$IMAGE" sh -c "
		dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo dd=\$?; $MEM_REPORT"
	expect_status 0
	expect_output $'dd=137\n33554432\noom_kill 1'
	# dd as the container's init: docker reports 137 and OOMKilled (the
	# shim's OOM event for the container's cgroup).
	run_client "${RUN[@]}" --name oom1 --memory 32m --memory-swap 32m "$IMAGE" \
		dd if=/dev/zero of=/dev/null bs=64M count=1
	expect_status 137
	run_client "${DOCKER[@]}" inspect -f '{{.State.ExitCode}} OOMKilled={{.State.OOMKilled}}' oom1
	expect_output "137 OOMKilled=true"
}

@test "docker run: the container is in its own cgroup (/$CG_PARENT/ID) in every hierarchy" {
	local id bad
	run_client "${RUN[@]}" --name cg1 "$IMAGE" cat /proc/self/cgroup
	expect_status 0
	id=$("$DOCKER_BIN" inspect -f '{{.Id}}' cg1)
	[ -n "$output" ] || fail "no /proc/self/cgroup output"
	bad=$(printf '%s\n' "$output" | only_mounted_hierarchies | grep -v "/$CG_PARENT/$id\$" || true)
	[ -z "$bad" ] || fail "not in the container's cgroup /$CG_PARENT/$id: $(echo $bad)"
}
