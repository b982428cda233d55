#!/usr/bin/env bats
# Kubernetes' path to the runtime: what a kubelet sends over the CRI
# (runtime.v1 gRPC), by a client of our own (cri/cri.py, stubs generated at
# test time from cri/runtime_v1.proto), to containerd 1.6's CRI plugin, which
# runs each pod through the runc shim and the pod's runtime handler. Every
# scenario runs with the handler of README's RuntimeClass ($CRI_HANDLER:
# README's containerd block, BinaryName = the runtime under test) and with
# the handler runc, for parity. The environment (cri/cri_env.bash): a private
# containerd in a throwaway network namespace and a mount namespace of its
# own, pods on berth-bridge (berth's CNI plugin), a pause image built here
# from cri/pause.c.

load client_helpers
load cri/cri_env

setup_file() {
	clients_setup_file containerd ctr containerd-shim-runc-v2 protoc grpc_python_plugin
	/usr/bin/python3 -c 'import grpc, google.protobuf' 2>/dev/null ||
		skip "needs Debian's python3-grpcio and python3-protobuf (scripts/deps.sh clients)"
	command -v nft >/dev/null || skip "needs nftables (nft)"
	[ -x /usr/lib/cni/loopback ] || skip "needs containernetworking-plugins (loopback)"
	CRI_RUNC_WRAPPER=$CT/bin/runc-handler
	make_runtime_wrapper "$CRI_RUNC_WRAPPER" "$(command -v runc || echo /usr/sbin/runc)"
	export CRI_RUNC_WRAPPER
	cri_start || fail "the CRI environment did not come up"
}

teardown_file() {
	local rc=0
	[ -n "${CT:-}" ] || return 0
	cri_stop
	environment_empty || rc=1
	kill_ct_pids
	remove_pod_cgroups
	remove_ct
	return $rc
}

# environment_empty: after cri_stop, nothing of the run is left on the host:
# no process naming $CT (containerd, shims, runtimes), no container cgroup
# below the pods' parent, no mount under $CT, no host netns, no CNI cache
# entry of the pod network in the host's /var/lib/cni and no k8s.io state
# in its /run/containerd (the daemon only ever saw private directories there).
environment_empty() {
	local left rc=0
	retry 10 0.1 eval '[ -z "$(ct_pids)" ]' >/dev/null || {
		echo "leak: processes: $(ct_pids)" >&2
		rc=1
	}
	left=$(pod_cgroup_dirs)
	[ -z "$left" ] || { echo "leak: cgroups: $(echo $left)" >&2; rc=1; }
	left=$(ct_mounts all)
	[ -z "$left" ] || { echo "leak: host mounts: $(echo $left)" >&2; rc=1; }
	! ip netns list | grep -qw "$CRI_NETNS" || { echo "leak: netns $CRI_NETNS" >&2; rc=1; }
	left=$(find /var/lib/cni -name "*$CRI_NET*" 2>/dev/null
		find /run/containerd -newer "$CT/containerd.toml" -path "*$CRI_K8S_NS*" 2>/dev/null)
	[ -z "$left" ] || { echo "leak: in host paths: $(echo $left)" >&2; rc=1; }
	return $rc
}

setup() {
	mark_runtime_log
	POD_N=0
}

teardown() {
	show_runtime_log
	cri_remove_all
	assert_nothing_left
}

# ---- helpers ------------------------------------------------------------------

# json_args ARG...: the arguments (one line each) as a JSON array of strings.
json_args() {
	printf '%s\n' "$@" | jq -cRn '[inputs]'
}

# pod_json NAME [PID_MODE]: a PodSandboxConfig (the kubelet's shape: metadata,
# hostname, log directory, cgroup parent, namespace options).
pod_json() {
	POD_N=$((POD_N + 1))
	mkdir -p "$CT/logs/$1"
	jq -cn --arg n "$1" --arg u "uid-$BATS_TEST_NUMBER-$POD_N" --arg l "$CT/logs/$1" \
		--arg cg "$CRI_CG_PARENT/pod-$1" --arg pid "${2:-CONTAINER}" '{
		metadata: {name: $n, uid: $u, namespace: "default", attempt: 0},
		hostname: $n, log_directory: $l,
		linux: {cgroup_parent: $cg,
		        security_context: {namespace_options: {network: "POD", pid: $pid, ipc: "POD"}}}}'
}

# run_pod HANDLER NAME [PID_MODE]: RunPodSandbox; sets POD (id) and POD_CONFIG.
run_pod() {
	POD_CONFIG=$(pod_json "$2" "${3:-CONTAINER}")
	run_client "$CRI_BIN" RunPodSandbox "$(jq -cn --argjson c "$POD_CONFIG" --arg h "$1" \
		'{config: $c, runtime_handler: $h}')"
	expect_status 0
	POD=$(jq -r .pod_sandbox_id <<<"$output")
}

# create_ctr NAME ATTEMPT CMD...: CreateContainer in $POD (busybox image);
# sets CID.
create_ctr() {
	local name=$1 attempt=$2 cfg
	shift 2
	cfg=$(jq -cn --arg n "$name" --argjson a "$attempt" --arg i "$IMAGE" --argjson cmd "$(json_args "$@")" \
		--arg log "$name/$attempt.log" --arg pid "$(pod_pid_mode)" '{
		metadata: {name: $n, attempt: $a}, image: {image: $i}, command: $cmd, log_path: $log,
		linux: {security_context: {namespace_options: {network: "POD", pid: $pid, ipc: "POD"}}}}')
	run_client "$CRI_BIN" CreateContainer "$(jq -cn --arg p "$POD" --argjson c "$cfg" --argjson s "$POD_CONFIG" \
		'{pod_sandbox_id: $p, config: $c, sandbox_config: $s}')"
	expect_status 0
	CID=$(jq -r .container_id <<<"$output")
}

pod_pid_mode() {
	jq -r '.linux.security_context.namespace_options.pid' <<<"$POD_CONFIG"
}

# start_ctr NAME CMD...: create_ctr (attempt 0) + StartContainer.
start_ctr() {
	local name=$1
	shift
	create_ctr "$name" 0 "$@"
	run_client "$CRI_BIN" StartContainer "{\"container_id\": \"$CID\"}"
	expect_status 0
}

# ctr_state ID: CONTAINER_RUNNING, CONTAINER_EXITED, ...
ctr_state() {
	cri ContainerStatus "{\"container_id\": \"$1\"}" | jq -r .status.state
}

ctr_state_is() {
	[ "$(ctr_state "$1")" = "$2" ]
}

# ctr_pid ID: the container's init on the host (ContainerStatus verbose info).
ctr_pid() {
	cri ContainerStatus "{\"container_id\": \"$1\", \"verbose\": true}" | jq -r '.info.info | fromjson | .pid'
}

# pod_pid: the pod's pause process on the host.
pod_pid() {
	cri PodSandboxStatus "{\"pod_sandbox_id\": \"$POD\", \"verbose\": true}" | jq -r '.info.info | fromjson | .pid'
}

# exec_sync ID CMD...: ExecSync; sets status (the command's exit code),
# output (its stdout) and EXEC_STDERR.
exec_sync() {
	local id=$1 req resp
	shift
	req=$(jq -cn --arg c "$id" --argjson cmd "$(json_args "$@")" '{container_id: $c, cmd: $cmd, timeout: 20}')
	resp=$(cri ExecSync "$req") || fail "ExecSync $*: the call failed"
	status=$(jq -r .exit_code <<<"$resp")
	output=$(jq -r '.stdout | @base64d' <<<"$resp")
	EXEC_STDERR=$(jq -r '.stderr | @base64d' <<<"$resp")
	echo "# exec $* => $status: $output${EXEC_STDERR:+ (stderr: $EXEC_STDERR)}"
}

# ns_of PID NS: the namespace inode of PID.
ns_of() {
	readlink "/proc/$1/ns/$2"
}

# in_host CMD...: CMD in the network namespace that plays the host.
in_host() {
	nsenter --net="/run/netns/$CRI_NETNS" "$@"
}

# ---- leak checks ------------------------------------------------------------------

# assert_nothing_left: no pod or container for CRI, no runtime state, no
# process (shim, pause, workload), no mount under $CT in containerd's
# namespace beyond its own, no pod cgroup, no veth on the bridge, no lease.
assert_nothing_left() {
	local left rc=0
	left=$(cri ListPodSandbox '{}' | jq -r '.items[].id')
	[ -z "$left" ] || { echo "leak: pods: $left" >&2; rc=1; }
	left=$(cri ListContainers '{}' | jq -r '.containers[].id')
	[ -z "$left" ] || { echo "leak: containers: $left" >&2; rc=1; }
	retry 10 0.1 no_pod_processes >/dev/null || {
		echo "leak: processes: $(pod_processes)" >&2
		rc=1
	}
	# (A handler's state directory exists only once it has run a pod.)
	left=$(find "$CT/run/runc/$CRI_K8S_NS" "$CT/runc-root/$CRI_K8S_NS" -mindepth 1 -maxdepth 1 2>/dev/null || true)
	[ -z "$left" ] || { echo "leak: runtime state: $(echo $left)" >&2; rc=1; }
	left=$(find "$CT/state/io.containerd.runtime.v2.task/$CRI_K8S_NS" -mindepth 1 -maxdepth 1 2>/dev/null || true)
	[ -z "$left" ] || { echo "leak: shim bundles: $(echo $left)" >&2; rc=1; }
	left=$(comm -13 <(tr ' ' '\n' <<<"$CRI_BASE_MOUNTS" | sort) <(cri_mounts))
	[ -z "$left" ] || { echo "leak: mounts: $(echo $left)" >&2; rc=1; }
	left=$(pod_cgroup_dirs)
	[ -z "$left" ] || { echo "leak: cgroups: $(echo $left)" >&2; rc=1; }
	# The pod-level cgroups are the kubelet's to remove (the runtimes remove
	# the containers' below them): do that, as it would.
	remove_pod_cgroups
	left=$(ip -n "$CRI_NETNS" -o link show type veth 2>/dev/null)
	[ -z "$left" ] || { echo "leak: veths: $left" >&2; rc=1; }
	left=$(find "$CT/cni-data" -name '10.88.*' 2>/dev/null)
	[ -z "$left" ] || { echo "leak: leases: $left" >&2; rc=1; }
	return $rc
}

# pod_processes: processes other than containerd that are its descendants
# (shims re-parent to init, so: processes whose command line names a path
# under $CT, or whose cgroup is below the pods' parent). One grep each over
# /proc; their patterns do not match their own command lines.
pod_processes() {
	local p cmd
	{
		grep -l "/$CRI_CG_PARENT/[p]od-" /proc/[0-9]*/cgroup
		grep -la "$CT/[a-z]" /proc/[0-9]*/cmdline
	} 2>/dev/null | cut -d/ -f3 | sort -u | while read -r p; do
		[ "$p" = "$CRI_PID" ] && continue
		cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
		[[ $cmd == *cri.py* ]] || echo "$p $cmd"
	done
}

no_pod_processes() {
	[ -z "$(pod_processes)" ]
}

# ---- scenarios (each run with both handlers) -------------------------------------

scenario_pod_network() {
	local pid ip
	run_pod "$1" net
	run_client "$CRI_BIN" PodSandboxStatus "{\"pod_sandbox_id\": \"$POD\"}"
	expect_status 0
	[ "$(jq -r .status.state <<<"$output")" = SANDBOX_READY ] || fail "pod not ready"
	[ "$(jq -r .status.runtime_handler <<<"$output")" = "$1" ] || fail "pod's handler is not $1"
	ip=$(jq -r .status.network.ip <<<"$output")
	[[ $ip == 10.88.7.* ]] || fail "pod address '$ip' not from $CRI_SUBNET"
	pid=$(pod_pid)
	[ "$(ns_of "$pid" net)" != "$(ns_of "$CRI_PID" net)" ] || fail "pod shares the host's network namespace"
	run nsenter --net="/proc/$pid/ns/net" ip -4 -o addr show eth0
	[[ $output == *"inet $ip/24"* ]] || fail "eth0 of the pod has not $ip: $output"
	# libcni cached the result in containerd's private /var/lib/cni, not the host's.
	[ -n "$(find "$CT/cni-cache" -name "$CRI_NET-$POD-*")" ] || fail "no CNI result cached in $CT/cni-cache"
	[ -z "$(find /var/lib/cni -name "$CRI_NET-$POD-*")" ] || fail "CNI result cached in the host's /var/lib/cni"
	# The pod's address answers from the host; its gateway from the pod.
	run in_host busybox ping -c 1 -W 2 "$ip"
	[ "$status" -eq 0 ] || fail "pod $ip does not answer from the host: $output"
	start_ctr app sleep 3600
	exec_sync "$CID" ping -c 1 -W 2 "$CRI_GW"
	expect_status 0
	# The containers share the pod's network, IPC and UTS namespaces.
	local cpid
	cpid=$(ctr_pid "$CID")
	for ns in net ipc uts; do
		[ "$(ns_of "$cpid" $ns)" = "$(ns_of "$pid" $ns)" ] || fail "container's $ns namespace is not the pod's"
	done
	exec_sync "$CID" hostname
	expect_output net
}

@test "RunPodSandbox (berth handler): own netns with an address from berth-bridge, IPC/UTS shared with the containers" {
	scenario_pod_network "$CRI_HANDLER"
}

@test "RunPodSandbox (runc handler): own netns with an address from berth-bridge, IPC/UTS shared with the containers" {
	scenario_pod_network runc
}

# ctr_cgroup PID CONTROLLER: the host directory of PID's cgroup in the v1
# hierarchy of CONTROLLER (or the v2 one when CONTROLLER is empty).
ctr_cgroup() {
	local path mnt
	path=$(awk -F: -v c="$2" '$2 == c || index("," $2 ",", "," c ",") { print $3; exit }' "/proc/$1/cgroup")
	mnt=$(awk -v c="$2" '$9 == "cgroup" && index("," $NF ",", "," c ",") { print $5; exit }' /proc/self/mountinfo)
	echo "$mnt$path"
}

# fetch_from CID URL WANT: true when CID's wget of URL prints WANT.
fetch_from() {
	exec_sync "$1" wget -q -O - "$2"
	[ "$status" -eq 0 ] && [ "$output" = "$3" ]
}

scenario_localhost() {
	local client
	run_pod "$1" web
	start_ctr server sh -c 'mkdir -p /www && echo hello-from-server >/www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www'
	start_ctr client sleep 3600
	client=$CID
	retry 10 0.2 fetch_from "$client" http://127.0.0.1:8080/index.html hello-from-server ||
		fail "the client container did not get the server's page over localhost: $output"
	# Two containers: their own filesystems, and (pid: CONTAINER) their own processes.
	exec_sync "$client" sh -c 'test ! -e /www && ps -o args | grep -c "[h]ttpd"'
	[ "$output" = 0 ] || fail "the client sees the server's files or processes: $output"
}

@test "two containers of a pod talk over localhost (berth handler)" {
	scenario_localhost "$CRI_HANDLER"
}

@test "two containers of a pod talk over localhost (runc handler)" {
	scenario_localhost runc
}

scenario_exec_sync() {
	run_pod "$1" exec
	start_ctr app sleep 3600
	exec_sync "$CID" sh -c 'echo to-stdout; echo to-stderr >&2; exit 3'
	expect_status 3
	expect_output to-stdout
	[ "$EXEC_STDERR" = to-stderr ] || fail "stderr: '$EXEC_STDERR'"
	exec_sync "$CID" sh -c 'echo $$; cat /proc/1/cmdline'
	expect_status 0
	[ "${lines[0]:-}" != 1 ] || fail "the exec'd process is the container's init"
	[[ $output == *sleep3600 ]] || fail "pid 1 of the container is not its init: $output"
}

@test "ExecSync: output, stderr and exit code (berth handler)" {
	scenario_exec_sync "$CRI_HANDLER"
}

@test "ExecSync: output, stderr and exit code (runc handler)" {
	scenario_exec_sync runc
}

scenario_stats() {
	local busy idle
	run_pod "$1" stats
	# 16 MiB in the pod's /dev/shm (tmpfs: charged to the container, never reclaimed) and some CPU.
	start_ctr busy sh -c 'dd if=/dev/zero of=/dev/shm/fill bs=1M count=16 2>/dev/null; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; touch /tmp/done; exec sleep 3600'
	busy=$CID
	start_ctr idle sleep 3600
	idle=$CID
	retry 20 0.2 eval 'exec_sync "$busy" test -e /tmp/done >/dev/null; [ "$status" -eq 0 ]' ||
		fail "the busy container did not finish its work"
	run_client "$CRI_BIN" ContainerStats "{\"container_id\": \"$busy\"}"
	expect_status 0
	[ "$(jq -r .stats.attributes.id <<<"$output")" = "$busy" ] || fail "stats of another container"
	[ "$(jq -r '.stats.cpu.usage_core_nano_seconds.value | tonumber' <<<"$output")" -gt 10000000 ] ||
		fail "cpu usage below 10 ms"
	[ "$(jq -r '.stats.memory.usage_bytes.value | tonumber' <<<"$output")" -ge $((16 << 20)) ] ||
		fail "memory usage below the 16 MiB in /dev/shm"
	[ "$(jq -r '.stats.memory.working_set_bytes.value | tonumber' <<<"$output")" -ge $((16 << 20)) ] ||
		fail "working set below the 16 MiB in /dev/shm"
	run_client "$CRI_BIN" ListContainerStats "{\"filter\": {\"pod_sandbox_id\": \"$POD\"}}"
	expect_status 0
	[ "$(jq -r '[.stats[].attributes.id] | sort | join(" ")' <<<"$output")" = "$(printf '%s\n' "$busy" "$idle" | sort | tr '\n' ' ' | sed 's/ $//')" ] ||
		fail "ListContainerStats does not list exactly the pod's two containers"
}

@test "ContainerStats and ListContainerStats: the workload's CPU and memory (berth handler)" {
	scenario_stats "$CRI_HANDLER"
}

@test "ContainerStats and ListContainerStats: the workload's CPU and memory (runc handler)" {
	scenario_stats runc
}

scenario_update() {
	local pid mem cpu
	run_pod "$1" update
	start_ctr app sleep 3600
	pid=$(ctr_pid "$CID")
	mem=$(ctr_cgroup "$pid" memory)
	cpu=$(ctr_cgroup "$pid" cpu)
	[[ $mem == */$CRI_CG_PARENT/pod-update/* ]] || fail "container's memory cgroup $mem is not below its pod's"
	run_client "$CRI_BIN" UpdateContainerResources "{\"container_id\": \"$CID\", \"linux\": {
		\"memory_limit_in_bytes\": $((48 << 20)), \"cpu_period\": 100000, \"cpu_quota\": 25000,
		\"cpu_shares\": 256}}"
	expect_status 0
	[ "$(cat "$mem/memory.limit_in_bytes")" = $((48 << 20)) ] || fail "memory.limit_in_bytes: $(cat "$mem/memory.limit_in_bytes")"
	[ "$(cat "$cpu/cpu.cfs_quota_us")" = 25000 ] || fail "cpu.cfs_quota_us: $(cat "$cpu/cpu.cfs_quota_us")"
	[ "$(cat "$cpu/cpu.shares")" = 256 ] || fail "cpu.shares: $(cat "$cpu/cpu.shares")"
	# The limit holds: 64 MiB into tmpfs (unreclaimable, no swap) gets the
	# writer OOM-killed in the container's cgroup.
	exec_sync "$CID" sh -c 'dd if=/dev/zero of=/dev/shm/big bs=1M count=64 2>/dev/null; echo rc=$?'
	expect_output rc=137
	grep -qx 'oom_kill [1-9][0-9]*' "$mem/memory.oom_control" || fail "no OOM kill in $mem"
}

@test "UpdateContainerResources: new memory and CPU limits in the container's cgroup, enforced (berth handler)" {
	scenario_update "$CRI_HANDLER"
}

@test "UpdateContainerResources: new memory and CPU limits in the container's cgroup, enforced (runc handler)" {
	scenario_update runc
}

scenario_restart() {
	local first
	run_pod "$1" restart
	start_ctr job sh -c 'echo run-of-job; exit 4'
	first=$CID
	retry 10 0.1 ctr_state_is "$first" CONTAINER_EXITED || fail "job did not exit"
	run_client "$CRI_BIN" ContainerStatus "{\"container_id\": \"$first\"}"
	[ "$(jq -r .status.exit_code <<<"$output")" = 4 ] || fail "exit code of the first run"
	grep -q 'run-of-job' "$CT/logs/restart/job/0.log" || fail "no output in the first run's log"
	# The kubelet's restart: the same container again, attempt 1, in the same pod.
	create_ctr job 1 sh -c 'echo run-of-job; exec sleep 3600'
	run_client "$CRI_BIN" StartContainer "{\"container_id\": \"$CID\"}"
	expect_status 0
	retry 10 0.1 ctr_state_is "$CID" CONTAINER_RUNNING || fail "the restarted job is not running"
	retry 10 0.1 grep -q 'run-of-job' "$CT/logs/restart/job/1.log" || fail "no output in the second run's log"
	exec_sync "$CID" true
	expect_status 0
	run_client "$CRI_BIN" RemoveContainer "{\"container_id\": \"$first\"}"
	expect_status 0
	run_client "$CRI_BIN" ListContainers "{\"filter\": {\"pod_sandbox_id\": \"$POD\"}}"
	[ "$(jq -r '[.containers[].id] | join(" ")' <<<"$output")" = "$CID" ] || fail "containers of the pod: $output"
}

@test "container restart after exit: created again in the same pod (berth handler)" {
	scenario_restart "$CRI_HANDLER"
}

@test "container restart after exit: created again in the same pod (runc handler)" {
	scenario_restart runc
}

scenario_pid_pod() {
	local pid
	run_pod "$1" pidpod POD
	start_ctr a sleep 1234
	start_ctr b sleep 3600
	exec_sync "$CID" ps -o pid,args
	expect_status 0
	[[ $output == *"sleep 1234"* ]] || fail "container b does not see container a's process"
	printf '%s\n' "$output" | grep -Eq '^ *1 /pause$' || fail "pid 1 of the pod is not the pause process"
	pid=$(pod_pid)
	[ "$(ns_of "$(ctr_pid "$CID")" pid)" = "$(ns_of "$pid" pid)" ] || fail "b is not in the pod's pid namespace"
}

@test "a pod with namespace_options.pid = POD: containers see each other's processes (berth handler)" {
	scenario_pid_pod "$CRI_HANDLER"
}

@test "a pod with namespace_options.pid = POD: containers see each other's processes (runc handler)" {
	scenario_pid_pod runc
}

# pod_traces: what a running pod leaves on the machine: pids, veths, leases,
# container cgroups, mounts (one line each kind, with counts).
pod_traces() {
	echo "processes $(pod_processes | wc -l)"
	echo "veths $(ip -n "$CRI_NETNS" -o link show type veth | wc -l)"
	echo "leases $(find "$CT/cni-data" -name '10.88.*' | wc -l)"
	echo "cgroups $(pod_cgroup_dirs | wc -l)"
	echo "mounts $(comm -13 <(tr ' ' '\n' <<<"$CRI_BASE_MOUNTS" | sort) <(cri_mounts) | wc -l)"
}

scenario_stop_remove() {
	local traces pause
	run_pod "$1" gone
	start_ctr a sleep 3600
	start_ctr b sh -c 'trap "" TERM; sleep 3600'
	pause=$(pod_pid)
	traces=$(pod_traces)
	echo "# while running: $(echo $traces)"
	grep -qx 'processes 0\|veths 0\|leases 0\|cgroups 0\|mounts 0' <<<"$traces" &&
		fail "a running pod should show every kind of trace: $(echo $traces)"
	run_client "$CRI_BIN" StopPodSandbox "{\"pod_sandbox_id\": \"$POD\"}"
	expect_status 0
	! kill -0 "$pause" 2>/dev/null || fail "the pause process survived StopPodSandbox"
	[ -z "$(ip -n "$CRI_NETNS" -o link show type veth)" ] || fail "veth left after StopPodSandbox"
	[ -z "$(find "$CT/cni-data" -name '10.88.*')" ] || fail "lease left after StopPodSandbox"
	run_client "$CRI_BIN" RemovePodSandbox "{\"pod_sandbox_id\": \"$POD\"}"
	expect_status 0
	assert_nothing_left
}

@test "StopPodSandbox + RemovePodSandbox leave nothing: process, mount, cgroup, veth, lease, state (berth handler)" {
	scenario_stop_remove "$CRI_HANDLER"
}

@test "StopPodSandbox + RemovePodSandbox leave nothing: process, mount, cgroup, veth, lease, state (runc handler)" {
	scenario_stop_remove runc
}
