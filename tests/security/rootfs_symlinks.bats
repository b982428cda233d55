#!/usr/bin/env bats
# A malicious image (symlinks in the rootfs) and hostile mount destinations.
# Each case names the CVE class it defends against, checks the real effect
# inside or outside the container, and (sec_teardown) fails unless the host
# is untouched: mount table identical, the host marker directory $MARK as it
# was, nothing left in --root.
#
# $MARK is a host directory outside the bundle: the absolute path an image's
# symlink names, so that following it on the host (instead of inside the
# rootfs) would write or mount there.

load ../integration/helpers
load security_helpers

setup() {
	sec_setup
}

teardown() {
	sec_teardown
}

# refused_or_ran: after run_berth, either a clean refusal (status 1;
# for berth one line) or a successful run. Prints which.
refused_or_ran() {
	if [ "$status" -eq 0 ]; then
		echo ran
	else
		[ "$status" -eq 1 ] || fail "runtime exited $status (neither success nor a clean refusal)"
		! is_berth || [ "${#lines[@]}" -eq 1 ] || fail "refusal should be one line"
		echo refused
	fi
}

# --- /dev in the image ----------------------------------------------------------

# runc 1.1.5 fails this one too: even with the spec's tmpfs on /dev (which it
# mounts inside the rootfs), setupDevSymlinks creates /dev/fd, stdin, stdout,
# stderr and ptmx by host path, through the image's symlink, in $MARK.
@test "image /dev is a symlink to a host directory: tmpfs, devpts and nodes land inside the rootfs (runc CVE-2026-41579 class)" {
	requires_berth "runc 1.1.5 creates /dev/fd, stdin, stdout, stderr and ptmx links in the host directory (CVE-2026-41579, fixed in runc 1.3.6)"
	rm -rf "$BUNDLE/rootfs/dev"
	ln -s "$MARK" "$BUNDLE/rootfs/dev"
	set_args sh -c 'stat -c "%t:%T" /dev/null; awk "\$5 == \"$(readlink /dev)/pts\" && \$9 == \"devpts\"" /proc/self/mountinfo | wc -l'
	run_berth run ctr
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "1:3" ]
	[ "${lines[1]}" = 1 ]
	# The runtime's /dev was built at the symlink's target inside the rootfs.
	[ -d "$BUNDLE/rootfs$MARK" ]
	[ ! -e "$MARK/null" ] && [ ! -e "$MARK/pts" ] && [ ! -e "$MARK/ptmx" ]
	assert_host_untouched
}

# runc 1.1.5 is vulnerable here: with /dev a symlink and no tmpfs over it,
# setupPtmx and setupDevSymlinks follow it on the host, delete a host file
# named ptmx and create fd/stdin/stdout/stderr/ptmx symlinks in the host
# directory (fixed in runc 1.3.6).
@test "image /dev -> host directory with a file named ptmx, no /dev mount: the host file survives (runc CVE-2026-41579)" {
	requires_berth "runc 1.1.5 deletes the host's ptmx through the symlink (CVE-2026-41579, fixed in runc 1.3.6)"
	echo "host ptmx" >"$MARK/ptmx"
	MARK_BEFORE=$(tree_listing "$MARK")
	rm -rf "$BUNDLE/rootfs/dev"
	ln -s "$MARK" "$BUNDLE/rootfs/dev"
	no_dev_mounts '^/dev/pts$'
	set_args sh -c 'readlink /dev/ptmx; stat -c "%t:%T" /dev/null'
	run_berth run ctr
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = pts/ptmx ]
	[ "${lines[1]}" = "1:3" ]
	[ "$(cat "$MARK/ptmx")" = "host ptmx" ]
	[ ! -e "$MARK/fd" ] && [ ! -e "$MARK/stdin" ] && [ ! -e "$MARK/null" ]
	# What the runtime made is in the rootfs, at the clamped target.
	[ -L "$BUNDLE/rootfs$MARK/ptmx" ]
	assert_host_untouched
}

@test "image /dev/console -> a host file, terminal false: the host file is neither written nor mounted (runc CVE-2025-52565, crun CVE-2026-88264)" {
	no_dev_mounts
	ln -s "$MARK/marker" "$BUNDLE/rootfs/dev/console"
	set_args sh -c 'readlink /dev/console; grep -c " /dev/console " /proc/self/mountinfo; cat /dev/console 2>/dev/null || echo unreadable; true'
	run_berth run ctr
	[ "$status" -eq 0 ]
	# Left as the image made it: a dangling symlink inside the container.
	[ "${lines[0]}" = "$MARK/marker" ]
	[ "${lines[1]}" = 0 ]
	[ "${lines[2]}" = unreadable ]
	[ -L "$BUNDLE/rootfs/dev/console" ]
	assert_host_untouched
}

@test "image /dev/console and /dev/tty0 -> procfs files: nothing is bound there and writes stay read-only (runc CVE-2025-52565)" {
	no_dev_mounts '^/dev/pts$'
	ln -s /proc/sys/kernel/core_pattern "$BUNDLE/rootfs/dev/console"
	ln -s /proc/sysrq-trigger "$BUNDLE/rootfs/dev/tty0"
	# Opening for writing without writing anything: harmless even if it worked.
	set_args sh -c 'grep -c -e " /dev/console " -e " /dev/tty0 " /proc/self/mountinfo
for f in /dev/console /dev/tty0; do if (: >$f) 2>/dev/null; then echo "$f writable"; else echo "$f refused"; fi; done; true'
	run_berth run ctr
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 0 ]
	[ "${lines[1]}" = "/dev/console refused" ]
	[ "${lines[2]}" = "/dev/tty0 refused" ]
	assert_host_untouched
}

@test "image /dev/ptmx -> a host file, devpts mounted: the runtime replaces the link in the rootfs, the host file survives (runc CVE-2026-41579 class)" {
	no_dev_mounts '^/dev/pts$'
	ln -s "$MARK/marker" "$BUNDLE/rootfs/dev/ptmx"
	set_args sh -c 'readlink /dev/ptmx; stat -L -c "%t:%T" /dev/ptmx'
	run_berth run ctr
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = pts/ptmx ]
	[ "${lines[1]}" = "5:2" ]
	assert_host_untouched
}

# --- mount destinations -------------------------------------------------------------

@test "destinations with .. (leading and embedded) never reach the host directory (CVE-2021-30465 class)" {
	local d
	for d in "/../../../../../../..$MARK/x" "/mnt/../../../../../..$MARK/y" "/mnt/a/../../../../../../../..$MARK"; do
		update_config --arg d "$d" '.mounts += [{"destination": $d, "type": "tmpfs", "source": "tmpfs"}]'
		set_args sh -c 'awk "\$9 == \"tmpfs\" { print \$5 }" /proc/self/mountinfo'
		run_berth run ctr
		case $(refused_or_ran) in
		ran)
			# Clamped to the rootfs: the tmpfs is at $MARK... inside the container.
			[[ "$output" == *"$MARK"* ]] || fail "$d: tmpfs not found inside the container"
			;;
		esac
		assert_host_untouched
		update_config '.mounts |= .[:-1]'
	done
}

@test "tmpfs destination through a chain of absolute and relative symlinks lands inside the rootfs (CVE-2021-30465 class)" {
	mkdir -p "$BUNDLE/rootfs/mnt"
	# /mnt/a -> /mnt/b -> ../../../../../.. -> (host /) ; then $MARK under it.
	ln -s /mnt/b "$BUNDLE/rootfs/mnt/a"
	ln -s ../../../../../../../.. "$BUNDLE/rootfs/mnt/b"
	update_config --arg d "/mnt/a$MARK" '.mounts += [{"destination": $d, "type": "tmpfs", "source": "tmpfs"}]'
	set_args sh -c "awk '\$9 == \"tmpfs\" && \$5 == \"$MARK\"' /proc/self/mountinfo | wc -l; touch $MARK/inside && echo writable"
	run_berth run ctr
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1 ]
	[ "${lines[1]}" = writable ]
	[ -d "$BUNDLE/rootfs$MARK" ]
	[ ! -e "$MARK/inside" ]
	assert_host_untouched
}

@test "destination through a symlink to a /proc magic link (/proc/self/root, /proc/1/root, /proc/self/cwd) stays inside the rootfs (CVE-2021-30465 class)" {
	local l
	mkdir -p "$BUNDLE/rootfs/mnt"
	for l in /proc/self/root /proc/1/root /proc/self/cwd; do
		rm -f "$BUNDLE/rootfs/mnt/magic"
		ln -s "$l" "$BUNDLE/rootfs/mnt/magic"
		# Followed on the host, the magic link is the runtime's own root: the
		# host's /, and $MARK the host marker directory.
		update_config --arg d "/mnt/magic$MARK" '.mounts += [{"destination": $d, "type": "tmpfs", "source": "tmpfs"}]'
		set_args sh -c 'ls -A /mnt >/dev/null; echo ran'
		run_berth run ctr
		refused_or_ran
		assert_host_untouched
		update_config '.mounts |= .[:-1]'
	done
}

@test "a destination through a symlink loop is refused cleanly (ELOOP), nothing left behind" {
	mkdir -p "$BUNDLE/rootfs/mnt"
	ln -s loop2 "$BUNDLE/rootfs/mnt/loop1"
	ln -s loop1 "$BUNDLE/rootfs/mnt/loop2"
	update_config '.mounts += [{"destination": "/mnt/loop1/x", "type": "tmpfs", "source": "tmpfs"}]'
	set_args true
	run_berth run ctr
	[ "$status" -eq 1 ]
	[[ "$output" == *"symbolic links"* ]]
	[ -z "$(root_entries)" ]
	no_rootfs_pids "$BUNDLE/rootfs"
}

@test "a missing directory target behind a dangling absolute symlink is created in the rootfs, not on the host (crun CVE-2019-18837, runc CVE-2024-45310)" {
	mkdir -p "$BUNDLE/rootfs/mnt"
	ln -s "$MARK/newdir" "$BUNDLE/rootfs/mnt/dangling"
	update_config '.mounts += [{"destination": "/mnt/dangling", "type": "tmpfs", "source": "tmpfs"}]'
	set_args sh -c "awk '\$9 == \"tmpfs\" && \$5 == \"$MARK/newdir\"' /proc/self/mountinfo | wc -l"
	run_berth run ctr
	[ "$status" -eq 0 ]
	[ "$output" = 1 ]
	[ ! -e "$MARK/newdir" ]
	[ -d "$BUNDLE/rootfs$MARK/newdir" ]
	assert_host_untouched
}

@test "a missing file target behind a dangling absolute symlink is created in the rootfs, not on the host (crun CVE-2019-18837, runc CVE-2024-45310)" {
	local src=$BATS_TEST_TMPDIR/src-file
	echo from-bind >"$src"
	mkdir -p "$BUNDLE/rootfs/mnt"
	ln -s "$MARK/newfile" "$BUNDLE/rootfs/mnt/dangling"
	update_config --arg s "$src" '.mounts += [{"destination": "/mnt/dangling", "type": "bind", "source": $s, "options": ["bind", "ro"]}]'
	set_args sh -c 'cat /mnt/dangling'
	run_berth run ctr
	[ "$status" -eq 0 ]
	[ "$output" = from-bind ]
	[ ! -e "$MARK/newfile" ]
	[ -f "$BUNDLE/rootfs$MARK/newfile" ]
	assert_host_untouched
}

@test "a file bind whose destination is a relative symlink out to the bundle's config.json covers a file in the rootfs (CVE-2021-30465 class)" {
	local src=$BATS_TEST_TMPDIR/src-file cfg_sha
	echo from-bind >"$src"
	mkdir -p "$BUNDLE/rootfs/etc"
	# From /etc in the rootfs, ../../config.json is the bundle's config on the host.
	ln -s ../../config.json "$BUNDLE/rootfs/etc/app.conf"
	update_config --arg s "$src" '.mounts += [{"destination": "/etc/app.conf", "type": "bind", "source": $s, "options": ["bind", "rw"]}]'
	set_args sh -c 'cat /etc/app.conf; echo overwritten >/etc/app.conf && echo wrote'
	cfg_sha=$(sha256sum <"$BUNDLE/config.json")
	run_berth run ctr
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = from-bind ]
	[ "${lines[1]}" = wrote ]
	# The write went to the bind source, never to the bundle's config.json.
	[ "$(sha256sum <"$BUNDLE/config.json")" = "$cfg_sha" ]
	[ "$(cat "$src")" = overwritten ]
	assert_host_untouched
}

# --- masked and read-only paths through symlinks ---------------------------------------

@test "maskedPaths and readonlyPaths through an image symlink to a host directory act inside the rootfs (CVE-2023-27561, CVE-2019-19921 class)" {
	update_config '.root.readonly = false'
	mkdir -p "$BUNDLE/rootfs/mnt" "$BUNDLE/rootfs$MARK/sub"
	echo "inner secret" >"$BUNDLE/rootfs$MARK/marker"
	ln -s "$MARK" "$BUNDLE/rootfs/mnt/link"
	# The symlink is on the way, not the last component (for that see
	# PENDING-symlinked-protected-paths.bats.disabled).
	update_config '.linux.maskedPaths += ["/mnt/link/marker"] | .linux.readonlyPaths += ["/mnt/link/sub"]'
	set_args sh -c "echo \"[\$(cat /mnt/link/marker)]\"; touch $MARK/sub/new 2>/dev/null && echo writable || echo read-only"
	run_berth run ctr
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "[]" ]
	[ "${lines[1]}" = read-only ]
	[ "$(cat "$BUNDLE/rootfs$MARK/marker")" = "inner secret" ]
	assert_host_untouched
}
