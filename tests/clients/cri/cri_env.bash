#!/usr/bin/env bash
# The private Kubernetes-node environment of tests/clients/cri.bats and
# bench/cri.sh: a containerd 1.6 with its CRI plugin on, started in
#   - a throwaway network namespace ($CRI_NETNS) that plays the host: the pod
#     bridge, veths and nftables rules of berth-bridge live and die there;
#   - a mount namespace of its own (slave of the host's) where $CT/run is
#     bind-mounted on /run/containerd (the shims' sockets in
#     /run/containerd/s and the handler's runtime state in
#     /run/containerd/runc: fixed paths in containerd 1.6) and $CT/cni-cache
#     on /var/lib/cni (libcni's result cache, also fixed), so nothing of it
#     reaches the host's paths. The pods' netns files and rootfs mounts are
#     made in that namespace too (cri_mounts lists them).
# Root, state, socket, CNI config and plugins, IPAM leases: all under $CT.
#
# Runtime handlers: $CRI_HANDLER (the name in README's RuntimeClass manifest),
# defined by README's containerd block with BinaryName pointing at
# $RUNTIME_WRAPPER (the runtime under test), and "runc" (runc through
# $CRI_RUNC_WRAPPER, state under $CT/runc-root) for parity.
#
# Needs from the caller: CT, CLIENTS_SRC_DIR, RUNTIME_WRAPPER, CRI_RUNC_WRAPPER,
# IMAGE_ARCHIVE, and readme_block and retry from client_helpers.bash.

CRI_K8S_NS=k8s.io
PAUSE_IMAGE=localhost/pause:test
CRI_NET=berthcri
CRI_BRIDGE=cribr0
CRI_SUBNET=10.88.7.0/24
CRI_GW=10.88.7.1
# The pods' cgroup parent, relative: below the cgroup of containerd (the
# shims and the runtimes run in it, and it is the caller's) in every
# hierarchy; one per run (cri_start exports it to the tests), so two runs
# never see each other's pods.
CRI_CG_PARENT=${CRI_CG_PARENT:-berthcri-$$}
CRI_SRC=$CLIENTS_SRC_DIR/tests/clients/cri

# cri_handler_from_readme: the handler of README's RuntimeClass manifest.
cri_handler_from_readme() {
	readme_block '**Kubernetes**' yaml | awk '$1 == "handler:" { print $2; exit }'
}

# cri_build_stubs: Python stubs from runtime_v1.proto into $CT/stubs.
cri_build_stubs() {
	mkdir -p "$CT/stubs"
	protoc -I"$CRI_SRC" --python_out="$CT/stubs" --grpc_python_out="$CT/stubs" \
		--plugin=protoc-gen-grpc_python="$(command -v grpc_python_plugin)" \
		"$CRI_SRC/runtime_v1.proto"
}

# cri_build_pause_image: pause.c, static, alone in an image whose entrypoint
# it is, as the archive $CT/pause.tar named $PAUSE_IMAGE.
cri_build_pause_image() {
	mkdir -p "$CT/pause-rootfs"
	"${CC:-cc}" -static -O2 -Wall -Wextra -Werror -o "$CT/pause-rootfs/pause" "$CRI_SRC/pause.c" &&
		"$CLIENTS_SRC_DIR/tests/clients/make-oci-image.sh" "$CT/pause-rootfs" "$CT/pause.tar" \
			"$PAUSE_IMAGE" '["/pause"]'
}

# cri_write_cni: berth-bridge (a link to berth) and loopback (Debian's
# reference plugin: containerd brings up the pods' lo with it) in
# $CT/cni-bin, the pod network in $CT/cni-conf.
cri_write_cni() {
	local plugin=${BERTH_CNI_BIN:-$CLIENTS_SRC_DIR/berth}
	mkdir -p "$CT/cni-bin" "$CT/cni-conf" "$CT/cni-data"
	ln -sf "$plugin" "$CT/cni-bin/berth-bridge"
	ln -sf /usr/lib/cni/loopback "$CT/cni-bin/loopback"
	jq -n --arg n "$CRI_NET" --arg b "$CRI_BRIDGE" --arg d "$CT/cni-data" \
		--arg s "$CRI_SUBNET" --arg g "$CRI_GW" '{
		cniVersion: "1.0.0", name: $n,
		plugins: [{type: "berth-bridge", bridge: $b, isGateway: true, ipMasq: true,
		           ipam: {type: "host-local", dataDir: $d,
		                  ranges: [[{subnet: $s, gateway: $g}]],
		                  routes: [{dst: "0.0.0.0/0"}]}}]}' >"$CT/cni-conf/10-$CRI_NET.conflist"
}

# cri_write_config: $CT/containerd.toml: the daemon's private paths and CRI
# settings, the runc handler, then README's handler block (its BinaryName
# replaced by $RUNTIME_WRAPPER).
cri_write_config() {
	local handler_block
	handler_block=$(readme_block '**containerd**' toml | grep -v '^version = ')
	if [ -z "$handler_block" ]; then
		echo "no toml block after **containerd** in README.md" >&2
		return 1
	fi
	cat >"$CT/containerd.toml" <<TOML
version = 2
root = "$CT/root"
state = "$CT/state"
disabled_plugins = [
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

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # No CAP_SYS_RESOURCE here: never ask for an oom_score_adj below ours.
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "$CT/cni-bin"
  conf_dir = "$CT/cni-conf"
  max_conf_num = 1

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "native"
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  BinaryName = "$CRI_RUNC_WRAPPER"
  Root = "$CT/runc-root"

${handler_block//\/usr\/local\/bin\/berth/$RUNTIME_WRAPPER}
TOML
}

# cri_start: build what containerd needs, start it, import the images.
# Sets CRI_PID (containerd), CRI_NETNS, CRI_SOCK, CRI_HANDLER, CRI_STUBS.
cri_start() {
	CRI_HANDLER=$(cri_handler_from_readme)
	if [ -z "$CRI_HANDLER" ]; then
		echo "no handler: line in the yaml block after **Kubernetes** in README.md" >&2
		return 1
	fi
	CRI_SOCK=$CT/containerd.sock
	CRI_NETNS=berth-cri-$$
	CRI_STUBS=$CT/stubs
	CRI_OWN_CGROUPS=$(own_cgroup_dirs | tr '\n' ' ')
	export CRI_HANDLER CRI_SOCK CRI_NETNS CRI_STUBS CRI_OWN_CGROUPS CRI_CG_PARENT
	mkdir -p "$CT/run" "$CT/cni-cache" "$CT/runc-root" "$CT/logs"
	cri_build_stubs || return 1
	cri_make_bin
	cri_build_pause_image >"$CT/pause-build.log" 2>&1 || {
		cat "$CT/pause-build.log" >&2
		return 1
	}
	cri_write_cni
	cri_write_config || return 1
	cri_make_mountpoints
	ip netns add "$CRI_NETNS" || return 1
	ip -n "$CRI_NETNS" link set lo up
	cri_launch
	if ! retry 30 0.1 cri_ready >/dev/null; then
		cat "$CT/containerd.log" >&2
		echo "containerd (CRI) did not come up" >&2
		return 1
	fi
	CRI_BASE_MOUNTS=$(cri_mounts | tr '\n' ' ')
	export CRI_BASE_MOUNTS
	cri_import "$IMAGE_ARCHIVE" && cri_import "$CT/pause.tar"
}

# cri_launch: containerd in the host netns and a mount namespace of its own.
cri_launch() {
	# shellcheck disable=SC2016 # expanded by the inner sh
	nsenter --net="/run/netns/$CRI_NETNS" unshare --mount --propagation slave -- sh -c '
		mount --bind "$1/run" /run/containerd &&
		mount --bind "$1/cni-cache" /var/lib/cni &&
		exec containerd --config "$1/containerd.toml"' sh "$CT" \
		>"$CT/containerd.log" 2>&1 </dev/null 3>&- &
	CRI_PID=$!
	export CRI_PID
}

# The directories bind-mounted over must exist; remember which this run made
# (cri_stop removes them again). While containerd runs, each holds a marker
# file of this run: another suite's teardown that rmdirs the directory (it
# made it, it thinks) would otherwise succeed on the host and, doing so,
# detach containerd's bind mount from it, sending the daemon to the host's
# paths.
cri_make_mountpoints() {
	local d
	CRI_MADE_DIRS=
	for d in /run/containerd /var/lib/cni; do
		if [ ! -d "$d" ]; then
			mkdir -p "$d" && CRI_MADE_DIRS+=" $d"
		fi
		: >"$d/.berth-cri-$$"
	done
	CRI_MARKER=.berth-cri-$$
	export CRI_MADE_DIRS CRI_MARKER
}

# cri_ready: containerd answers and CRI reports the runtime and network ready.
cri_ready() {
	kill -0 "$CRI_PID" 2>/dev/null || return 2
	cri Status '{}' 2>/dev/null |
		jq -e '[.status.conditions[] | select(.status)] | length == 2' >/dev/null
}

# cri_import ARCHIVE: ctr images import into the CRI namespace (unpacked for
# the native snapshotter the CRI plugin uses).
cri_import() {
	ctr --address "$CRI_SOCK" -n "$CRI_K8S_NS" images import --snapshotter native "$1" \
		>"$CT/import.log" 2>&1 </dev/null 3>&- || {
		cat "$CT/import.log" >&2
		return 1
	}
}

# cri METHOD [JSON]: one CRI call (tests/clients/cri/cri.py through $CRI_BIN,
# a script run_client can run too); the response as JSON.
cri() {
	"$CRI_BIN" "$@"
}

# cri_make_bin: $CRI_BIN, cri.py with the socket and the stubs.
cri_make_bin() {
	CRI_BIN=$CT/bin/cri
	export CRI_BIN
	cat >"$CRI_BIN" <<SH
#!/bin/sh
CRI_STUBS=$CRI_STUBS exec /usr/bin/python3 $CRI_SRC/cri.py $CRI_SOCK "\$@"
SH
	chmod 755 "$CRI_BIN"
}

# cri_mounts: mount points under $CT in containerd's mount namespace.
cri_mounts() {
	[ -n "${CRI_PID:-}" ] || return 0
	awk -v d="$CT/" 'index($5, d) == 1 { print $5 }' "/proc/$CRI_PID/mountinfo" 2>/dev/null | sort
}

# cri_remove_all: stop and remove every pod (and so its containers).
cri_remove_all() {
	local id
	for id in $(cri ListPodSandbox '{}' 2>/dev/null | jq -r '.items[].id'); do
		cri StopPodSandbox "{\"pod_sandbox_id\": \"$id\"}" >/dev/null || true
		cri RemovePodSandbox "{\"pod_sandbox_id\": \"$id\"}" >/dev/null || true
	done
}

# own_cgroup_dirs: this shell's cgroup directory in every mounted hierarchy
# (the pods' relative cgroup parent is resolved below it).
own_cgroup_dirs() {
	local ctl path mnt
	while IFS=: read -r _ ctl path; do
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

# cri_stop: remove the pods, stop containerd (its mount namespace goes with
# it), delete the host netns and the directories cri_start made.
cri_stop() {
	local d
	if [ -n "${CRI_PID:-}" ]; then
		kill -0 "$CRI_PID" 2>/dev/null && cri_remove_all
		kill "$CRI_PID" 2>/dev/null || true
		# shellcheck disable=SC2016 # eval expands it
		retry 10 0.1 eval '! kill -0 "$CRI_PID" 2>/dev/null' >/dev/null ||
			kill -9 "$CRI_PID" 2>/dev/null || true
		CRI_PID=
	fi
	[ -z "${CRI_NETNS:-}" ] || ip netns delete "$CRI_NETNS" 2>/dev/null || true
	[ -z "${CRI_MARKER:-}" ] || rm -f "/run/containerd/$CRI_MARKER" "/var/lib/cni/$CRI_MARKER"
	# (Not while another run's marker is in it.)
	for d in ${CRI_MADE_DIRS:-}; do rmdir "$d" 2>/dev/null || true; done
}
