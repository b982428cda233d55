#!/usr/bin/env bats
# A readonlyPaths entry the image turned into a symlink (CVE-2023-27561
# class): berth now follows it inside the root, as runc does.
#
# The bug was: paths_readonly() (runtime/mount.c) opens each readonlyPaths entry
# with O_PATH|O_NOFOLLOW, so when the image makes the entry itself a symlink
# the read-only bind is put on the symlink, and the directory it points to
# stays writable. An image can so neutralise any readonlyPaths entry that is
# not on procfs/sysfs (a volume an orchestrator meant read-only, say). runc
# follows the symlink (inside the container root) and makes the target
# read-only. Either follow it within the root (openat2 RESOLVE_IN_ROOT
# without O_NOFOLLOW) or refuse the config (runc PR #3756 proposed refusing
# symlinks that conflict with readonlyPaths/maskedPaths, for CVE-2023-27561).

load ../integration/helpers
load security_helpers

setup() {
	sec_setup
}

teardown() {
	sec_teardown
}

@test "a readonlyPaths entry that the image made a symlink protects the target, not the link (CVE-2023-27561 class)" {
	update_config '.root.readonly = false | .linux.readonlyPaths += ["/mnt/ro"]'
	mkdir -p "$BUNDLE/rootfs/data/real" "$BUNDLE/rootfs/mnt"
	ln -s /data/real "$BUNDLE/rootfs/mnt/ro"
	set_args sh -c 'touch /mnt/ro/new 2>/dev/null && echo WRITABLE || echo read-only'
	run_berth run ctr
	if [ "$status" -eq 0 ]; then
		[ "$output" = read-only ] || fail "the readonlyPaths entry's target stayed writable"
	fi
	[ ! -e "$BUNDLE/rootfs/data/real/new" ]
	assert_host_untouched
}
