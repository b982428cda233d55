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
	CRI_OWN_CGROUPS=$(own_cgroup_dirs | tr '\n' ' ')
	export CRI_OWN_CGROUPS
	cri_start || fail "the CRI environment did not come up"
}

teardown_file() {
	[ -n "${CT:-}" ] || return 0
	cri_stop
	kill_ct_pids
	remove_pod_cgroups
	remove_ct
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

# own_cgroup_dirs: this shell's cgroup directory in every mounted hierarchy
# (the pods' relative cgroup parent is resolved below it).
own_cgroup_dirs() {
	local n ctl path mnt
	while IFS=: read -r n ctl path; do
		if [ -z "$ctl" ]; then
			mnt=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
		else
			mnt=$(awk -v c="${ctl%%,*}" '$9 == "cgroup" && index("," $NF ",", "," c ",") { print $5; exit }' \
				/proc/self/mountinfo)
		fi
		[ -n "$mnt" ] && [ -d "$mnt$path" ] && echo "${mnt}${path%/}"
	done </proc/self/cgroup | sort -u
}

# pod_cgroup_dirs: containers' cgroups left below the pods' (which are
# $CRI_CG_PARENT/pod-NAME), in any hierarchy.
pod_cgroup_dirs() {
	local d
	for d in $CRI_OWN_CGROUPS; do
		[ -d "$d/$CRI_CG_PARENT" ] && find "$d/$CRI_CG_PARENT" -mindepth 2 -type d
	done
	return 0
}

remove_pod_cgroups() {
	local d
	for d in $CRI_OWN_CGROUPS; do
		[ -d "$d/$CRI_CG_PARENT" ] && find "$d/$CRI_CG_PARENT" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	return 0
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
	left=$(find "$CT/run/runc/$CRI_K8S_NS" "$CT/runc-root/$CRI_K8S_NS" -mindepth 1 -maxdepth 1 2>/dev/null)
	[ -z "$left" ] || { echo "leak: runtime state: $(echo $left)" >&2; rc=1; }
	left=$(find "$CT/state/io.containerd.runtime.v2.task/$CRI_K8S_NS" -mindepth 1 -maxdepth 1 2>/dev/null)
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
# (shims re-parent to init, so: processes whose command line names $CT, or
# whose cgroup is below the pods' parent).
pod_processes() {
	local p cmd
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = "$CRI_PID" ] && continue
		cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
		if [[ $cmd == *"$CT/"* && $cmd != *cri.py* ]] ||
			grep -q "/$CRI_CG_PARENT/" "/proc/$p/cgroup" 2>/dev/null; then
			echo "$p $cmd"
		fi
	done
	return 0
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
