#!/usr/bin/env bash
# Shared helpers for the real-client suites (podman.bats, containerd.bats,
# docker.bats, buildah.bats).
#
# The runtime under test is chosen by RUNTIME:
#   RUNTIME=berth (default)  the repository's ./berth
#   RUNTIME=runc             /usr/bin/runc (or runc on PATH): the parity run
#   RUNTIME=/abs/path        any runc-compatible binary
#
# Each .bats file gets a private environment under one temp dir ($CT), made in
# setup_file and removed in teardown_file: podman's storage, run and lock dirs,
# containers.conf and storage.conf, or a containerd daemon of its own with its
# own socket, root and state, a dockerd with its own data root, exec root,
# socket and managed containerd, or buildah's storage. Nothing touches
# /var/lib/containers, /var/lib/docker, /etc/docker, /run/libpod, /run/runc,
# /run/berth or a system containerd or dockerd.
#
# The clients never call the runtime directly but through a wrapper script
# ($CT/bin/<name>, see make_runtime_wrapper) that appends every argv to
# $CT/runtime-argv.log and then execs the runtime. When the client passes no
# --root the wrapper adds `--root $CT/runtime-root` (podman 4.3 passes none as
# root, and drops --runtime-flag on its cleanup path), so runtime state stays
# private too. On a failed test the log is printed (bats shows it);
# CLIENTS_ARGV_LOG=FILE appends the whole log of each file to FILE.

CLIENTS_SRC_DIR=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
RUNTIME=${RUNTIME:-${BERTH:-berth}}
case $RUNTIME in
berth) RUNTIME_BIN=$CLIENTS_SRC_DIR/berth ;;
runc) RUNTIME_BIN=$(command -v runc || echo /usr/bin/runc) ;;
/*) RUNTIME_BIN=$RUNTIME ;;
*) RUNTIME_BIN=$(command -v "$RUNTIME" || echo "$RUNTIME") ;;
esac
# What the clients call the runtime (podman's [engine.runtimes] key, wrapper name).
RUNTIME_NAME=$(basename "$RUNTIME_BIN")
# Longest one client command may take before the test gives up on it.
CLIENT_TIMEOUT=${CLIENT_TIMEOUT:-60}
# The image every test runs: busybox-static from tests/fixtures/busybox-rootfs.sh.
IMAGE=localhost/busybox:test
CLIENT_CALLS=0

fail() {
	echo "FAIL: $*" >&2
	return 1
}

# retry TIMEOUT INTERVAL CMD...: rerun CMD until it succeeds or time runs out.
retry() {
	local timeout=$1 interval=$2
	shift 2
	local end=$((SECONDS + timeout))
	until "$@"; do
		if [ "$SECONDS" -ge "$end" ]; then
			echo "retry: '$*' still failing after ${timeout}s"
			return 1
		fi
		sleep "$interval"
	done
}

# is_runc: true when the runtime under test is runc.
is_runc() {
	"$RUNTIME_BIN" --version 2>/dev/null | head -n 1 | grep -q '^runc'
}

# --- setup_file --------------------------------------------------------------

# clients_setup_file CLIENT_BINARY...: skip the whole file if a client binary is
# missing (scripts/deps.sh clients installs them), fail if the runtime is;
# then make $CT with the runtime wrapper and the image archive.
clients_setup_file() {
	local b
	for b in "$@"; do
		command -v "$b" >/dev/null ||
			skip "$b is not installed (scripts/deps.sh clients, as root, installs it)"
	done
	[ "$(id -u)" -eq 0 ] || skip "the client suites need root"
	[ -x "$RUNTIME_BIN" ] || fail "runtime under test '$RUNTIME_BIN' not found (make berth?)"
	# Short, fixed-depth path: unix socket paths are limited to 108 bytes.
	CT=$(mktemp -d /tmp/berth-clients.XXXXXX)
	export CT
	mkdir -p "$CT/bin" "$CT/runtime-root"
	make_runtime_wrapper "$CT/bin/$RUNTIME_NAME" "$RUNTIME_BIN"
	RUNTIME_WRAPPER=$CT/bin/$RUNTIME_NAME
	export RUNTIME_WRAPPER
	ensure_image_archive
	# Parent cgroups the clients put containers in (podman: /libpod_parent,
	# containerd: /<namespace>, dockerd and buildah: --cgroup-parent) are
	# host-global; teardown_file removes the ones this run made.
	CG_PREEXISTING=$(client_cgroup_dirs | tr '\n' ' ')
	export CG_PREEXISTING
}

# Names of the parent cgroups the suites' clients use (see cleanup_cgroups).
CLIENT_CGROUP_PARENTS="libpod_parent berthtest berthdocker berthbuildah"

client_cgroup_dirs() {
	local n d
	for n in $CLIENT_CGROUP_PARENTS; do
		for d in /sys/fs/cgroup/*/"$n" /sys/fs/cgroup/"$n"; do
			[ -d "$d" ] && echo "$d"
		done
	done
	return 0
}

# make_runtime_wrapper PATH REAL: a runc-compatible wrapper that logs argv.
make_runtime_wrapper() {
	cat >"$1" <<EOF
#!/bin/sh
# Logs argv to $CT/runtime-argv.log, then execs $2.
# Adds --root $CT/runtime-root when the caller gave no --root.
{
	printf '%s' "\$(date +%T.%N | cut -c1-12) [\$\$]"
	for a in "\$@"; do
		case \$a in *[\ \	\'\"]*|'') printf " '%s'" "\$a" ;; *) printf ' %s' "\$a" ;; esac
	done
	echo
} >>$CT/runtime-argv.log 2>/dev/null
for a in "\$@"; do
	case \$a in --root|--root=*) exec $2 "\$@" ;; esac
done
exec $2 --root $CT/runtime-root "\$@"
EOF
	chmod 755 "$1"
}

# ensure_image_archive: build the busybox image once per bats run, shared by
# the client files: as an OCI archive ($IMAGE_ARCHIVE: podman, containerd,
# buildah) and as a docker-archive ($DOCKER_ARCHIVE: docker load, buildah).
ensure_image_archive() {
	local dir=$BATS_RUN_TMPDIR/clients-image
	IMAGE_ARCHIVE=$dir/busybox-oci.tar
	DOCKER_ARCHIVE=$dir/busybox-docker.tar
	export IMAGE_ARCHIVE DOCKER_ARCHIVE
	[ -f "$DOCKER_ARCHIVE" ] && return 0
	mkdir -p "$dir"
	(
		flock 9
		if [ ! -f "$IMAGE_ARCHIVE" ]; then
			rm -rf "$dir/rootfs"
			"$CLIENTS_SRC_DIR/tests/fixtures/busybox-rootfs.sh" "$dir/rootfs" || exit 1
			"$CLIENTS_SRC_DIR/tests/clients/make-oci-image.sh" "$dir/rootfs" "$IMAGE_ARCHIVE" "$IMAGE" || exit 1
			rm -rf "$dir/rootfs"
		fi
		if [ ! -f "$DOCKER_ARCHIVE" ]; then
			"$CLIENTS_SRC_DIR/tests/clients/make-docker-archive.sh" "$IMAGE_ARCHIVE" "$DOCKER_ARCHIVE" "$IMAGE" || exit 1
		fi
	) 9>"$dir.lock" || fail "building the busybox image archive failed"
}

# readme_block MARKER LANG: the first ```LANG block after the line of
# README.md that starts with MARKER (the configuration snippets the suites
# check against what they run).
readme_block() {
	awk -v m="$1" -v fence="\`\`\`$2" '
		state == 0 && index($0, m) == 1 { state = 1; next }
		state == 1 && $0 == fence { state = 2; next }
		state == 2 && $0 == "```" { exit }
		state == 2 { print }' "$CLIENTS_SRC_DIR/README.md"
}

# --- running clients -----------------------------------------------------------

# run_client CMD...: like bats' `run`, with a timeout, stdin from /dev/null and
# output (stdout+stderr) through a file, so a daemonized child that keeps the
# descriptors cannot hold the call open. Sets $status, $output, $lines.
run_client() {
	CLIENT_CALLS=$((CLIENT_CALLS + 1))
	local out=$BATS_TEST_TMPDIR/client.out.$CLIENT_CALLS
	status=0
	timeout -k 5 "$CLIENT_TIMEOUT" "$@" >"$out" 2>&1 </dev/null 3>&- || status=$?
	output=$(cat "$out")
	lines=()
	[ -z "$output" ] || mapfile -t lines <<<"$output"
	echo "# $* => status $status"
	[ -z "$output" ] || printf '%s\n' "$output"
	[ "$status" -ne 124 ] || echo "# (timed out after ${CLIENT_TIMEOUT}s)"
}

# run_tty CMD...: run_client under script(1), so CMD has a controlling
# terminal (for `run -t`). The pty's CRs and the "^@" it echoes when script's
# stdin (/dev/null) hits EOF are stripped.
run_tty() {
	local cmd="" a
	for a in "$@"; do cmd+="$(printf '%q' "$a") "; done
	run_client env SHELL=/bin/bash script -qefc "$cmd" /dev/null
	output=${output//$'\r'/}
	output=${output//^@/}
	lines=()
	[ -z "$output" ] || mapfile -t lines <<<"$output"
}

# expect_tty_line: fail unless a line of $output is a pts path (`tty` in the
# container found a terminal on its stdin). ctr may add a "resize pty" error
# line when the process is gone before its first resize.
expect_tty_line() {
	printf '%s\n' "$output" | grep -qE '^/dev/pts/[0-9]+$' ||
		fail "no /dev/pts/N line from tty in: $output"
}

# expect_status N: fail unless $status is N.
expect_status() {
	[ "$status" -eq "$1" ] || fail "expected exit status $1, got $status"
}

# expect_output STRING: fail unless $output is exactly STRING.
expect_output() {
	[ "$output" = "$1" ] || fail "expected output '$1', got '$output'"
}

# A counter in /tmp/count, written to a temporary file and renamed: a
# reader (or a freeze) never sees the file truncated and empty.
COUNTER_SCRIPT='trap "exit 0" TERM; i=0; while :; do i=$((i+1)); echo $i >/tmp/count.new; mv /tmp/count.new /tmp/count; sleep 0.05; done'

# pid_counter PID: the counter a COUNTER_SCRIPT container keeps in /tmp/count,
# read from the host through /proc/PID/root (works while frozen).
pid_counter() {
	cat "/proc/$1/root/tmp/count" 2>/dev/null
}

# counter_moves PID: true when the counter advances within 0.5 s.
counter_moves() {
	local a b
	a=$(pid_counter "$1")
	sleep 0.5
	b=$(pid_counter "$1")
	[ -n "$a" ] && [ -n "$b" ] && [ "$b" -gt "$a" ]
}

# counter_frozen PID: true when the counter does not advance within 0.5 s.
counter_frozen() {
	local a b
	a=$(pid_counter "$1")
	sleep 0.5
	b=$(pid_counter "$1")
	[ -n "$a" ] && [ "$a" = "$b" ]
}

# --- leak checks ---------------------------------------------------------------

# rootfs_ids DIR...: device:inode of each DIR (container rootfs directories),
# taken before the client removes them.
rootfs_ids() {
	local d
	for d in "$@"; do
		[ -d "$d" ] && stat -L -c %d:%i "$d"
	done | tr '\n' ' '
	return 0
}

# ct_pids [IDS]: live processes that belong to this file's environment: their
# command line mentions $CT (conmon, shims, the runtime, podman cleanup), or
# their root directory is one of IDS (from rootfs_ids). Excludes the pids in
# $EXCLUDE_PID (the daemons: containerd, or dockerd and its containerd) and
# this shell.
ct_pids() {
	local p cmd d want=${1:-}
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		{ [ "$p" = "$$" ] || [ "$p" = "$BASHPID" ] || [[ " ${EXCLUDE_PID:-} " == *" $p "* ]]; } && continue
		cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
		[ -n "$cmd" ] || continue
		if [[ $cmd == *"$CT"* ]]; then
			echo "$p $cmd"
			continue
		fi
		if [ -n "$want" ]; then
			d=$(stat -L -c %d:%i "/proc/$p/root" 2>/dev/null) || continue
			[[ " $want " == *" $d "* ]] && echo "$p $cmd"
		fi
	done
	return 0
}

# cgroup_pids PARENT: processes in the pids-controller cgroup /PARENT and below
# (where the client puts its containers), or on cgroup2 in /sys/fs/cgroup/PARENT.
cgroup_pids() {
	local base=/sys/fs/cgroup/pids/$1
	[ -d /sys/fs/cgroup/pids ] || base=/sys/fs/cgroup/$1
	[ -d "$base" ] || return 0
	find "$base" -name cgroup.procs -exec cat {} + 2>/dev/null
	return 0
}

no_leaked_pids() {
	[ -z "$(ct_pids "$1")" ] && [ -z "$(cgroup_pids "$2")" ]
}

# ct_mounts [all]: host mount points under $CT, except those listed in
# $CT_MOUNTS_BASE (a daemon's own, recorded after it started) unless "all".
ct_mounts() {
	local base=${CT_MOUNTS_BASE:-}
	[ "${1:-}" != all ] || base=
	awk -v d="$CT/" -v base=" $base " 'index($5, d) == 1 && index(base, " " $5 " ") == 0 { print $5 }' \
		/proc/self/mountinfo | sort -r
}

# runtime_leftovers ROOT: containers the runtime still has under ROOT.
runtime_leftovers() {
	[ -d "$1" ] || return 0
	"$RUNTIME_BIN" --root "$1" list -q 2>/dev/null || ls -A "$1"
}

# check_no_leaks ROOT ROOTFS_IDS CGROUP_PARENT: fail if the runtime has state
# under ROOT, or processes (see ct_pids, cgroup_pids) or mounts under $CT are
# left. Shims, conmon and cleanup processes exit asynchronously: allow 10 s.
check_no_leaks() {
	local root=$1 ids=$2 cg=$3 rc=0 left
	if ! retry 10 0.1 no_leaked_pids "$ids" "$cg" >/dev/null; then
		echo "leak: processes left behind:" >&2
		ct_pids "$ids" >&2
		left=$(cgroup_pids "$cg")
		[ -z "$left" ] || echo "leak: pids in cgroup $cg: $(echo $left)" >&2
		rc=1
	fi
	left=$(runtime_leftovers "$root")
	if [ -n "$left" ]; then
		echo "leak: runtime state left in $root: $(echo $left)" >&2
		rc=1
	fi
	left=$(ct_mounts)
	if [ -n "$left" ]; then
		echo "leak: mounts left under $CT: $(echo $left)" >&2
		rc=1
	fi
	return $rc
}

# kill_ct_pids: last resort for teardown_file.
kill_ct_pids() {
	local p
	for p in $(ct_pids | cut -d' ' -f1); do
		kill -9 "$p" 2>/dev/null || true
	done
}

# show_runtime_log: the wrapper's argv log of this test (bats shows it on failure).
show_runtime_log() {
	local log=$CT/runtime-argv.log
	[ -s "$log" ] || return 0
	echo "# runtime calls ($RUNTIME_BIN):"
	sed -n "$((${RUNTIME_LOG_START:-0} + 1)),\$p" "$log" | sed 's/^/#   /'
}

# mark_runtime_log: remember where this test's part of the argv log starts.
mark_runtime_log() {
	RUNTIME_LOG_START=$(wc -l 2>/dev/null <"$CT/runtime-argv.log" || echo 0)
}

# cleanup_cgroups [NAME...]: remove the client-made parent cgroups this run
# created (only those named, when names are given).
cleanup_cgroups() {
	local d
	for d in $(CLIENT_CGROUP_PARENTS=${*:-$CLIENT_CGROUP_PARENTS} client_cgroup_dirs); do
		[[ " ${CG_PREEXISTING:-} " == *" $d "* ]] && continue
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
	done
}

# remove_ct: unmount what is left and delete $CT.
remove_ct() {
	local m
	[ -n "${CT:-}" ] && [ -d "$CT" ] || return 0
	# CLIENTS_ARGV_LOG=FILE keeps every runtime call of the run.
	if [ -n "${CLIENTS_ARGV_LOG:-}" ] && [ -f "$CT/runtime-argv.log" ]; then
		cat "$CT/runtime-argv.log" >>"$CLIENTS_ARGV_LOG"
	fi
	for m in $(ct_mounts all); do umount -l "$m" 2>/dev/null || true; done
	rm -rf "$CT"
}

# only_mounted_hierarchies: /proc/PID/cgroup lines (stdin) less those of v1
# hierarchies no mount on this host shows. A v1 hierarchy mounted once (in
# a private mount namespace, say) lives on unmounted while processes sit in
# its root; no runtime can place a container in it, runc included.
only_mounted_hierarchies() {
	local opts n ctl path
	opts=$(awk '$0 ~ / - cgroup / { split($0, a, " - "); split(a[2], f, " "); print "," f[3] "," }' /proc/self/mountinfo)
	while IFS=: read -r n ctl path; do
		if [ -z "$ctl" ] || grep -q ",${ctl%%,*}," <<<"$opts"; then
			echo "$n:$ctl:$path"
		fi
	done
}

# microvm_client_requires: skip unless berth's microVM backend can run here
# (root, QEMU, virtiofsd, the guest assets, built as tests/integration's
# microvm_helpers.bash does); sets MICROVM_ANNOTATIONS, the client's
# --annotation flags (the backend; $BERTH_VM_ASSETS's or $VM_ASSETS_DIR's
# assets when set) and a CLIENT_TIMEOUT for a TCG boot.
microvm_client_requires() {
	command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86 is not installed"
	[ -x /usr/lib/qemu/virtiofsd ] || skip "virtiofsd (qemu-system-common) is not installed"
	local dir=${BERTH_VM_ASSETS:-${VM_ASSETS_DIR:-}}
	make -C "$CLIENTS_SRC_DIR" vm-assets ${dir:+VM_ASSETS_DIR="$dir"} >"$BATS_TEST_TMPDIR/assets.log" 2>&1 ||
		skip "guest assets could not be built: $(tail -n 1 "$BATS_TEST_TMPDIR/assets.log")"
	# Annotations rather than BERTH_VM_ASSETS: the client's daemon, not the
	# test, starts the runtime.
	MICROVM_ANNOTATIONS=(--annotation dev.berth.backend=microvm)
	[ -z "$dir" ] || MICROVM_ANNOTATIONS+=(
		--annotation "dev.berth.vm.kernel=$dir/vmlinux"
		--annotation "dev.berth.vm.initrd=$dir/initramfs.cpio")
	CLIENT_TIMEOUT=180
}
