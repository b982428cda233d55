#!/usr/bin/env bats
# Malicious-rootfs escapes. Each case names the CVE class it defends against
# and asserts the host is untouched: the create fails with one line, nothing
# is left in --root, and the host's mount table is unchanged.

load ../integration/helpers

setup() {
	setup_bundle
	HOST_MOUNTS=$(cat /proc/self/mountinfo)
}

teardown() {
	teardown_bundle
}

refused() {
	# refused WORDS...: create fails cleanly and the message contains WORDS.
	run_berth create evil
	[ "$status" -ne 0 ] || fail "create succeeded"
	[ -z "$(ls -A "$ROOT" 2>/dev/null | grep -x evil)" ] || fail "state left in \$ROOT"
	[ "$(cat /proc/self/mountinfo)" = "$HOST_MOUNTS" ] || fail "host mount table changed"
	if is_berth; then
		[ "${#lines[@]}" -eq 1 ] || fail "wanted one line, got ${#lines[@]}"
		local w
		for w in "$@"; do
			[[ "$output" == *"$w"* ]] || fail "message lacks '$w'"
		done
	fi
}

@test "rootfs /proc is a symlink: procfs is not mounted elsewhere (CVE-2019-16884, CVE-2019-19921)" {
	mkdir -p "$BUNDLE/rootfs/fakeproc"
	rm -rf "$BUNDLE/rootfs/proc"
	ln -s /fakeproc "$BUNDLE/rootfs/proc"
	refused "/proc" "symlink"
	# Nothing was mounted on the symlink's target either.
	[ -z "$(ls -A "$BUNDLE/rootfs/fakeproc")" ]
}

@test "rootfs /sys is a symlink: sysfs is not mounted elsewhere" {
	mkdir -p "$BUNDLE/rootfs/fakesys"
	rm -rf "$BUNDLE/rootfs/sys"
	ln -s /fakesys "$BUNDLE/rootfs/sys"
	refused "/sys" "symlink"
	[ -z "$(ls -A "$BUNDLE/rootfs/fakesys")" ]
}

@test "a symlink on the way to /proc is refused too" {
	update_config '.mounts += [{"destination": "/deep/proc", "type": "proc", "source": "proc"}]'
	mkdir -p "$BUNDLE/rootfs/real/proc"
	ln -s /real "$BUNDLE/rootfs/deep"
	refused "/deep/proc" "symlink"
}

@test "an image's /dev/null that is a regular file is not used as the mask (CVE-2025-31133)" {
	# No tmpfs on /dev: the rootfs's own /dev is used, and the image made it.
	update_config '.mounts |= map(select(.destination | startswith("/dev") | not))'
	mkdir -p "$BUNDLE/rootfs/dev"
	rm -f "$BUNDLE/rootfs/dev/null"
	echo "not null" >"$BUNDLE/rootfs/dev/null"
	refused "/dev/null" "not the null device"
	[ "$(cat "$BUNDLE/rootfs/dev/null")" = "not null" ]
}

@test "an image's /dev/null that is a symlink is not used as the mask (CVE-2025-31133)" {
	update_config '.mounts |= map(select(.destination | startswith("/dev") | not))'
	mkdir -p "$BUNDLE/rootfs/dev"
	rm -f "$BUNDLE/rootfs/dev/null"
	ln -s /etc/passwd "$BUNDLE/rootfs/dev/null"
	refused "/dev/null"
}

@test "with berth's own /dev, masked files read empty and are the null device" {
	set_args sh -c 'wc -c </proc/keys; stat -c %t:%T /proc/keys'
	run_berth run ctr
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 0 ]
	[ "${lines[1]}" = "1:3" ]
}
