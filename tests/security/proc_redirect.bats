#!/usr/bin/env bats
# Attacks on the masks and read-only binds through the container's own /proc
# (CVE-2025-52881 class). Both pass since berth refuses mounts inside procfs
# and makes masks with the mount API on fds from its own procfs/sysfs mounts.
#
# The bug was: after pivot_root, paths_mask() and paths_readonly() (runtime/
# mount.c) mount through "/proc/self/fd/N" strings, and find the paths to
# protect by name under the container's own /proc. Both lookups go through
# the container's tree, which the config or a concurrent writer controls:
#
# 1. (deterministic, config only) a bind mount whose destination is inside
#    /proc, e.g. "/proc/self" (resolved to /proc/1), is accepted. Its source
#    then answers every "/proc/self/fd/N" lookup: the tmpfs and /dev/null
#    masks and the read-only binds all land in the bind source, and the
#    container starts with /proc/keys readable and /proc/sys writable (with
#    root: /proc/sys/kernel/core_pattern -> code execution on the host).
#    runc refuses such destinations ("cannot be mounted because it is inside
#    /proc").
# 2. (race) swapping the rootfs's /proc directory with a symlink to a
#    prepared directory tree while the container starts has the same result
#    in about 1 run in 10 on this 2-CPU machine. There is also a TOCTOU in
#    mount_one(): the target is opened once (rootfs_open) and checked for
#    symlinks by a second, separate lookup (proc_sys_target_check).
#
# Fix directions: refuse mount destinations that resolve into /proc (or
# /sys) unless the source is that filesystem; do the masking and read-only
# binds with fds only (open_tree/move_mount/mount_setattr with AT_EMPTY_PATH,
# or a procfs handle opened before pivot_root that the container cannot
# reach, as runc 1.2.8 does), and check the procfs/sysfs target on the same
# fd that is mounted on (fstatfs after the mount, or O_PATH|O_NOFOLLOW open
# plus fstat on that fd).

load ../integration/helpers
load security_helpers

setup() {
	sec_setup
}

teardown() {
	sec_teardown
}

# A directory laid out like /proc/self as far as berth's post-pivot mounts
# care: every fd/N (whatever fd numbers this build uses) is a symlink to the
# one directory D, so each bind, mask and remount "through /proc/self/fd/N"
# stacks on D and succeeds.
fake_proc_self() {
	local i
	mkdir -p "$1/fd" "$1/D"
	for i in $(seq 0 64); do ln -s ../D "$1/fd/$i"; done
}

# The container reports how protected the procfs it finds is. The write is
# an open without data: harmless even when it succeeds.
PROC_REPORT='for d in /proc /proclink; do
	cd $d 2>/dev/null || continue
	[ -e version ] || continue
	k=$(wc -c <keys 2>/dev/null || echo none); w=ro
	if (: >sys/kernel/hostname) 2>/dev/null; then w=WRITABLE; fi
	echo "keys=$k sys=$w"
	exit 0
done
echo no-procfs'

@test "a bind mount at /proc/self cannot redirect maskedPaths and readonlyPaths (CVE-2025-52881 class)" {
	local vol=$BATS_TEST_TMPDIR/vol
	fake_proc_self "$vol"
	update_config --arg v "$vol" '.mounts += [{"destination": "/proc/self", "type": "bind", "source": $v, "options": ["rbind"]}]'
	set_args sh -c "$PROC_REPORT"
	run_berth run ctr
	# Refused (as runc does), or the protections hold.
	if [ "$status" -eq 0 ]; then
		[ "$output" = "keys=0 sys=ro" ] || fail "maskedPaths/readonlyPaths were redirected: $output"
	fi
	assert_host_untouched
}

@test "swapping /proc with a symlink during setup, 300 runs, never leaves procfs unmasked or writable (CVE-2025-52881, CVE-2019-19921 class)" {
	requires_berth "runc 1.1.5 loses this race too (fixed in runc 1.2.8); it would fail here"
	local swap=$BATS_RUN_TMPDIR/rename-exchange i rc out bad=0
	[ -x "$swap" ] || cc -O2 -o "$swap" "$BATS_TEST_DIRNAME/rename_exchange.c"
	fake_proc_self "$BUNDLE/rootfs/fakeproc/self"
	ln -s /fakeproc "$BUNDLE/rootfs/proclink"
	set_args sh -c "$PROC_REPORT"
	"$swap" "$BUNDLE/rootfs/proc" "$BUNDLE/rootfs/proclink" >/dev/null 2>&1 &
	BG_PIDS+=("$!")
	for ((i = 0; i < 300; i++)); do
		rc=0
		out=$(timeout -k 5 "$BERTH_TIMEOUT" "$BERTH" --root "$ROOT" run "p$i" 2>&1 </dev/null) || rc=$?
		if [ "$rc" -eq 0 ] && [[ "$out" == *WRITABLE* || ("$out" == keys=* && "$out" != keys=0*) ]]; then
			echo "run $i: $out"
			bad=$((bad + 1))
		fi
	done
	kill -TERM "${BG_PIDS[-1]}"
	[ "$bad" -eq 0 ] || fail "$bad of 300 containers started with an unprotected procfs"
	assert_host_untouched
}
