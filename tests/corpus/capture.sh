#!/usr/bin/env bash
# Capture the config.json files (and runtime argv) that real callers hand to an
# OCI runtime, across their common flags. Run by hand, as root, not by
# `make check`:
#
#   scripts/deps.sh corpus              # podman, docker.io, buildah, containerd, tini, catatonit
#   tests/corpus/capture.sh [podman|docker|buildah|ctr]...   (default: all four)
#   tests/corpus/normalise.sh           # raw captures -> tests/fixtures/configs/
#
# Every caller runs in a private environment under one temp dir ($WORK):
# podman/buildah storage (vfs), a containerd and a dockerd of their own (own
# root, state, socket; dockerd with --bridge=none --iptables=false, containers
# with --network none), loopback only, nothing on the host's interfaces or
# firewall. The callers call tests/corpus/capture-runtime (linked as
# $WORK/bin/capture-runtime) instead of runc; it logs argv and copies each
# create/run bundle's config.json, then execs runc.
#
# Raw results go to $CORPUS_RAW (default tests/corpus/raw, git-ignored):
# argv.log and configs/NNN_<caller>-<case>_<id>.json. Each caller holds
# /tmp/berth-tests.lock while it runs containers (others' tests share cgroups
# and global paths). Everything started is stopped and $WORK removed at exit.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
RAW=${CORPUS_RAW:-$SRC/tests/corpus/raw}
REAL=${CAPTURE_REAL:-$(command -v runc || echo /usr/sbin/runc)}
LOCK=/tmp/berth-tests.lock
TIMEOUT=${CAPTURE_TIMEOUT:-90}
IMAGE=localhost/busybox:corpus
DOCKER=/usr/bin/docker

[ "$(id -u)" -eq 0 ] || { echo "capture.sh: needs root" >&2; exit 1; }
[ -x "$REAL" ] || { echo "capture.sh: runc not found ($REAL)" >&2; exit 1; }

callers=("$@")
[ ${#callers[@]} -gt 0 ] || callers=(podman docker buildah ctr)

# Short path: unix socket paths are limited to 108 bytes.
WORK=$(mktemp -d /tmp/berth-corpus.XXXXXX)
DAEMON_PIDS=()
RUN_CONTAINERD_EXISTED=no
[ -e /run/containerd ] && RUN_CONTAINERD_EXISTED=yes

cleanup() {
	set +e
	local p m
	for p in "${DAEMON_PIDS[@]}"; do
		kill "$p" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	# Anything still running out of $WORK (conmon, shims, containers).
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = $$ ] && continue
		if tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qF "$WORK"; then
			kill -9 "$p" 2>/dev/null
		fi
	done
	sleep 0.5
	awk -v d="$WORK/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null; done
	# Cgroups the callers made under the parents named below.
	for m in /sys/fs/cgroup/*/berth-corpus /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/*/corpus; do
		[ -d "$m" ] && find "$m" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	if [ "$RUN_CONTAINERD_EXISTED" = no ] && [ -d /run/containerd ]; then
		rm -rf /run/containerd
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/bin" "$RAW"
ln -s "$SRC/tests/corpus/capture-runtime" "$WORK/bin/capture-runtime"
printf 'OUT=%q\nREAL=%q\n' "$RAW" "$REAL" >"$WORK/bin/capture.env"
WRAPPER=$WORK/bin/capture-runtime

# --- images and inputs ---------------------------------------------------------

"$SRC/tests/fixtures/busybox-rootfs.sh" "$WORK/rootfs" >/dev/null
"$SRC/tests/clients/make-oci-image.sh" "$WORK/rootfs" "$WORK/busybox-oci.tar" "$IMAGE"
"$SRC/tests/corpus/make-docker-archive.sh" "$WORK/rootfs" "$WORK/busybox-docker.tar" "$IMAGE"
mkdir -p "$WORK/vol" "$WORK/vol-ro"
echo data >"$WORK/vol/file"
# A small custom seccomp profile: allow all, refuse two syscalls with EPERM.
cat >"$WORK/seccomp.json" <<'EOF'
{
  "defaultAction": "SCMP_ACT_ALLOW",
  "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
  "syscalls": [
    {"names": ["keyctl", "add_key"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
  ]
}
EOF

# --- running ---------------------------------------------------------------------

# set_case NAME: what the wrapper labels the following runtime calls with.
set_case() {
	CASE=$1
	printf '%s\n' "$1" >"$RAW/case"
}

# try CASE CMD...: run one caller command for CASE with a timeout; a failure is
# reported and the capture goes on (the config may still have been copied).
try() {
	set_case "$1"
	shift
	local rc=0
	timeout -k 5 "$TIMEOUT" "$@" >"$WORK/last.out" 2>&1 </dev/null 3>&- 9>&- || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "capture: $(date +%T) $CASE: exit $rc: $*" >&2
		sed 's/^/    /' "$WORK/last.out" | tail -n 5 >&2
	else
		echo "capture: $(date +%T) $CASE: ok"
	fi
	return 0
}

lock() {
	exec 9>>"$LOCK"
	echo "capture: $(date +%T) waiting for $LOCK"
	flock 9
	echo "capture: $(date +%T) locked"
}

unlock() {
	flock -u 9
	exec 9>&-
}

wait_socket() {
	local _
	for _ in $(seq 100); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

# --- podman (4.3, conmon) ---------------------------------------------------------

capture_podman() {
	local d=$WORK/podman nproc
	mkdir -p "$d/storage" "$d/run" "$d/tmp" "$d/net" "$d/hooks.d" "$d/rroot"
	nproc=$(ulimit -Hu)
	[ "$nproc" = unlimited ] || [ "$nproc" -gt 4096 ] && nproc=4096
	cat >"$d/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$d/storage"
runroot = "$d/run"
EOF
	cat >"$d/registries.conf" <<EOF
unqualified-search-registries = []
short-name-mode = "enforcing"
EOF
	cat >"$d/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=$nproc:$nproc"]
netns = "none"
log_driver = "k8s-file"

[network]
network_config_dir = "$d/net"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$d/events.log"
tmp_dir = "$d/tmp"
static_dir = "$d/storage/libpod"
volume_path = "$d/storage/volumes"
lock_type = "file"
hooks_dir = ["$d/hooks.d"]
pull_policy = "never"
image_copy_tmp_dir = "$d/tmp"
runtime = "capture"
runtime_supports_json = ["capture"]

[engine.runtimes]
capture = ["$WRAPPER"]
EOF
	export CONTAINERS_CONF=$d/containers.conf
	export CONTAINERS_STORAGE_CONF=$d/storage.conf
	export CONTAINERS_REGISTRIES_CONF=$d/registries.conf
	export TMPDIR=$d/tmp
	local P=(podman --runtime capture --cgroup-manager cgroupfs)
	try podman-load "${P[@]}" load -i "$WORK/busybox-oci.tar"
	local R=("${P[@]}" run --rm --network none)
	lock
	try podman-default "${R[@]}" "$IMAGE" true
	try podman-privileged "${R[@]}" --privileged "$IMAGE" true
	try podman-device "${R[@]}" --device /dev/fuse "$IMAGE" true
	try podman-readonly "${R[@]}" --read-only "$IMAGE" true
	try podman-tmpfs "${R[@]}" --tmpfs /scratch:rw,size=1m,mode=1777 "$IMAGE" true
	try podman-volume "${R[@]}" -v "$WORK/vol:/data" -v "$WORK/vol-ro:/data-ro:ro" "$IMAGE" true
	try podman-user "${R[@]}" --user 1000:1000 "$IMAGE" true
	try podman-caps "${R[@]}" --cap-add NET_ADMIN --cap-add SYS_PTRACE --cap-drop CHOWN "$IMAGE" true
	try podman-seccomp-unconfined "${R[@]}" --security-opt seccomp=unconfined "$IMAGE" true
	try podman-seccomp-custom "${R[@]}" --security-opt "seccomp=$WORK/seccomp.json" "$IMAGE" true
	try podman-nnp "${R[@]}" --security-opt no-new-privileges "$IMAGE" true
	try podman-init "${R[@]}" --init "$IMAGE" true
	try podman-pids "${R[@]}" --pids-limit 100 "$IMAGE" true
	try podman-memory-cpus "${R[@]}" --memory 64m --cpus 0.5 "$IMAGE" true
	try podman-uidmap "${R[@]}" --uidmap 0:100000:65536 --gidmap 0:100000:65536 "$IMAGE" true
	try podman-personality "${R[@]}" --personality LINUX32 "$IMAGE" true
	try podman-ulimits "${R[@]}" --ulimit nofile=512:1024 --ulimit nproc=100:200 "$IMAGE" true
	try podman-env-workdir-hostname "${R[@]}" -e FOO=bar -w /tmp --hostname corpus-host "$IMAGE" true
	try podman-sysctl-shm "${R[@]}" --sysctl net.ipv4.ping_group_range="0 0" --shm-size 16m "$IMAGE" true
	try podman-pod-create "${P[@]}" pod create --name corpuspod --network none
	try podman-pod "${R[@]}" --pod corpuspod "$IMAGE" true
	try podman-pod-rm "${P[@]}" pod rm -f corpuspod
	"${P[@]}" rm -a -f -t 0 >/dev/null 2>&1 || true
	unlock
	unset CONTAINERS_CONF CONTAINERS_STORAGE_CONF CONTAINERS_REGISTRIES_CONF TMPDIR
}

# --- docker (20.10, its own containerd) -------------------------------------------

capture_docker() {
	local d=$WORK/docker sock nproc
	sock=$d/docker.sock
	mkdir -p "$d/data" "$d/exec" "$d/config"
	cat >"$d/daemon.json" <<EOF
{
  "runtimes": {"capture": {"path": "$WRAPPER"}},
  "default-runtime": "capture",
  "default-ulimits": {"nofile": {"Name": "nofile", "Hard": 1024, "Soft": 1024}}
}
EOF
	lock
	dockerd --config-file "$d/daemon.json" --data-root "$d/data" --exec-root "$d/exec" \
		-H "unix://$sock" --pidfile "$d/docker.pid" --bridge=none --iptables=false \
		--ip6tables=false --ip-forward=false --ip-masq=false --userland-proxy=false \
		--exec-opt native.cgroupdriver=cgroupfs --cgroup-parent /berth-corpus \
		>"$d/dockerd.log" 2>&1 </dev/null 9>&- &
	DAEMON_PIDS+=($!)
	local D=(env DOCKER_CONFIG="$d/config" "$DOCKER" -H "unix://$sock")
	if ! wait_socket "${D[@]}" version; then
		tail -n 20 "$d/dockerd.log" >&2
		echo "capture: dockerd did not come up" >&2
		unlock
		return 0
	fi
	try docker-load "${D[@]}" load -i "$WORK/busybox-docker.tar"
	local R=("${D[@]}" run --rm --network none)
	try docker-default "${R[@]}" "$IMAGE" true
	try docker-privileged "${R[@]}" --privileged "$IMAGE" true
	try docker-device "${R[@]}" --device /dev/fuse "$IMAGE" true
	try docker-readonly "${R[@]}" --read-only "$IMAGE" true
	try docker-tmpfs "${R[@]}" --tmpfs /scratch:rw,size=1m,mode=1777 "$IMAGE" true
	try docker-volume "${R[@]}" -v "$WORK/vol:/data" -v "$WORK/vol-ro:/data-ro:ro" "$IMAGE" true
	try docker-user "${R[@]}" --user 1000:1000 "$IMAGE" true
	try docker-caps "${R[@]}" --cap-add NET_ADMIN --cap-add SYS_PTRACE --cap-drop CHOWN "$IMAGE" true
	try docker-seccomp-unconfined "${R[@]}" --security-opt seccomp=unconfined "$IMAGE" true
	try docker-seccomp-custom "${R[@]}" --security-opt "seccomp=$WORK/seccomp.json" "$IMAGE" true
	try docker-nnp "${R[@]}" --security-opt no-new-privileges "$IMAGE" true
	try docker-init "${R[@]}" --init "$IMAGE" true
	try docker-pids "${R[@]}" --pids-limit 100 "$IMAGE" true
	try docker-memory-cpus "${R[@]}" --memory 64m --cpus 0.5 "$IMAGE" true
	try docker-ulimits "${R[@]}" --ulimit nofile=512:1024 --ulimit nproc=100:200 "$IMAGE" true
	try docker-env-workdir-hostname "${R[@]}" -e FOO=bar -w /tmp --hostname corpus-host "$IMAGE" true
	try docker-sysctl-shm "${R[@]}" --sysctl net.ipv4.ping_group_range="0 0" --shm-size 16m "$IMAGE" true
	try docker-cgroupns "${R[@]}" --cgroupns private "$IMAGE" true
	local ids
	mapfile -t ids < <("${D[@]}" ps -aq)
	[ ${#ids[@]} -eq 0 ] || "${D[@]}" rm -f "${ids[@]}" >/dev/null 2>&1 || true
	stop_daemons
	unlock
}

# --- buildah (1.28) ----------------------------------------------------------------

capture_buildah() {
	local d=$WORK/buildah c
	mkdir -p "$d/root" "$d/run" "$d/tmp" "$d/vol"
	cat >"$d/registries.conf" <<'EOF'
unqualified-search-registries = []
EOF
	local B=(env TMPDIR="$d/tmp" CONTAINERS_REGISTRIES_CONF="$d/registries.conf"
		buildah --root "$d/root" --runroot "$d/run" --storage-driver vfs)
	lock
	c=$("${B[@]}" from --pull-never --name corpus "oci-archive:$WORK/busybox-oci.tar" 2>"$d/from.log") || {
		cat "$d/from.log" >&2
		echo "capture: buildah from failed" >&2
		unlock
		return 0
	}
	local R=("${B[@]}" run --runtime "$WRAPPER" --network none --isolation oci)
	try buildah-default "${R[@]}" "$c" -- true
	try buildah-user "${R[@]}" --user 1000:1000 "$c" -- true
	try buildah-caps "${R[@]}" --cap-add CAP_NET_ADMIN --cap-drop CAP_CHOWN "$c" -- true
	try buildah-mount "${R[@]}" --mount "type=bind,src=$WORK/vol,dst=/data" \
		--mount type=tmpfs,dst=/scratch "$c" -- true
	try buildah-env-workdir-hostname "${R[@]}" --hostname corpus-host --workingdir /tmp "$c" -- true
	mkdir -p "$d/ctx"
	printf 'FROM %s\nRUN true\n' "oci-archive:$WORK/busybox-oci.tar" >"$d/ctx/Containerfile"
	try buildah-bud "${B[@]}" bud --pull-never --runtime "$WRAPPER" --network none --isolation oci \
		-t corpus-built "$d/ctx"
	"${B[@]}" rm -a >/dev/null 2>&1 || true
	"${B[@]}" rmi -a -f >/dev/null 2>&1 || true
	unlock
}

# --- ctr (containerd 1.6, containerd-shim-runc-v2) ------------------------------------

capture_ctr() {
	local d=$WORK/ctr
	mkdir -p "$d/fifo" "$d/runc-root"
	cat >"$d/containerd.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
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
  address = "$d/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
EOF
	lock
	containerd --config "$d/containerd.toml" >"$d/containerd.log" 2>&1 </dev/null 9>&- &
	DAEMON_PIDS+=($!)
	local C=(env CONTAINERD_ADDRESS="$d/containerd.sock" CONTAINERD_NAMESPACE=corpus
		CONTAINERD_SNAPSHOTTER=native ctr)
	if ! wait_socket "${C[@]}" version; then
		tail -n 20 "$d/containerd.log" >&2
		echo "capture: containerd did not come up" >&2
		unlock
		return 0
	fi
	try ctr-import "${C[@]}" images import "$WORK/busybox-oci.tar"
	local R=("${C[@]}" run --rm --null-io --runc-binary "$WRAPPER" --runc-root "$d/runc-root"
		--fifo-dir "$d/fifo")
	local n=0
	ctr_case() {
		local name=$1
		shift
		n=$((n + 1))
		try "ctr-$name" "${R[@]}" "$@" "$IMAGE" "corpus$n" true
	}
	ctr_case default
	ctr_case privileged --privileged
	ctr_case device --device /dev/fuse
	ctr_case readonly --read-only
	ctr_case mount --mount "type=bind,src=$WORK/vol,dst=/data,options=rbind:rw" \
		--mount "type=bind,src=$WORK/vol-ro,dst=/data-ro,options=rbind:ro"
	ctr_case caps --cap-add CAP_NET_ADMIN --cap-drop CAP_CHOWN
	ctr_case seccomp --seccomp
	ctr_case seccomp-custom --seccomp --seccomp-profile "$WORK/seccomp.json"
	ctr_case allow-new-privs --allow-new-privs
	ctr_case memory-cpus --memory-limit 67108864 --cpus 0.5 --cpu-shares 512
	ctr_case uidmap --uidmap 0:100000:65536 --gidmap 0:100000:65536
	ctr_case env-cwd --env FOO=bar --cwd /tmp
	ctr_case no-pivot --no-pivot
	local ids
	mapfile -t ids < <("${C[@]}" containers ls -q)
	[ ${#ids[@]} -eq 0 ] || "${C[@]}" containers rm "${ids[@]}" >/dev/null 2>&1 || true
	stop_daemons
	unlock
}

stop_daemons() {
	local p
	for p in "${DAEMON_PIDS[@]}"; do
		kill "$p" 2>/dev/null || continue
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	DAEMON_PIDS=()
}

for c in "${callers[@]}"; do
	case $c in
	podman | docker | buildah | ctr) "capture_$c" ;;
	*) echo "capture.sh: unknown caller '$c' (podman|docker|buildah|ctr)" >&2; exit 1 ;;
	esac
done
rm -f "$RAW/case"
echo "capture: raw configs in $RAW/configs, argv in $RAW/argv.log"
