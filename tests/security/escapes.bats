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

# --- mount destinations ------------------------------------------------------

@test "bind destination through an absolute symlink stays inside the rootfs (CVE-2021-30465 class)" {
	local host_dir src
	host_dir=$(mktemp -d /tmp/berth-escape-target.XXXXXX)
	src=$(mktemp -d /tmp/berth-escape-src.XXXXXX)
	echo marker >"$src/from-bind"
	# The image points /mnt/evil at the host directory's absolute path.
	mkdir -p "$BUNDLE/rootfs/mnt"
	ln -s "$host_dir" "$BUNDLE/rootfs/mnt/evil"
	update_config --arg s "$src" '.mounts += [{"destination": "/mnt/evil", "type": "bind", "source": $s, "options": ["rbind", "ro"]}]'
	set_args sh -c 'cat /mnt/evil/from-bind'
	run_berth run ctr
	local rc=$status out=$output
	# Whatever the runtime did, the host directory got nothing mounted or written.
	[ -z "$(ls -A "$host_dir")" ] || fail "host directory changed: $(ls -A "$host_dir")"
	[ "$(cat /proc/self/mountinfo)" = "$HOST_MOUNTS" ] || fail "host mount table changed"
	rm -rf "$host_dir" "$src"
	# And inside, the bind landed at the symlink's target within the rootfs.
	[ "$rc" -eq 0 ] || fail "run failed: $out"
	[ "$out" = marker ]
	[ -d "$BUNDLE/rootfs$host_dir" ]
}

@test "bind destination through a relative ../.. symlink stays inside the rootfs" {
	local src
	src=$(mktemp -d /tmp/berth-escape-src.XXXXXX)
	echo marker >"$src/from-bind"
	mkdir -p "$BUNDLE/rootfs/mnt"
	# Enough ../ to leave any rootfs if followed on the host.
	ln -s ../../../../../../../../../../etc "$BUNDLE/rootfs/mnt/up"
	update_config --arg s "$src" '.mounts += [{"destination": "/mnt/up", "type": "bind", "source": $s, "options": ["rbind", "ro"]}]'
	set_args sh -c 'cat /mnt/up/from-bind; cat /etc/from-bind'
	run_berth run ctr
	local rc=$status out=$output
	[ ! -e /etc/from-bind ] || fail "the bind reached the host's /etc"
	[ "$(cat /proc/self/mountinfo)" = "$HOST_MOUNTS" ] || fail "host mount table changed"
	rm -rf "$src"
	[ "$rc" -eq 0 ] || fail "run failed: $out"
	[ "${lines[0]}" = marker ]
	[ "${lines[1]}" = marker ]
}

@test "a destination longer than PATH_MAX is refused cleanly" {
	local long
	long=$(printf '/%0250d' $(seq 1 20) | tr 0 a)
	update_config --arg d "$long" '.mounts += [{"destination": $d, "type": "tmpfs", "source": "tmpfs"}]'
	refused
}

# --- cwd ---------------------------------------------------------------------

@test "cwd /proc/self/fd/N cannot reach a host directory (CVE-2024-21626 class)" {
	local n out
	for n in 3 4 5 6 7 8; do
		update_config --arg c "/proc/self/fd/$n" '.process.cwd = $c'
		set_args sh -c 'pwd; ls / | tr "\n" " "'
		run_berth run "ctr$n"
		out=$output
		# Either refused, or the cwd is inside the container: its / is the
		# busybox rootfs, never the host's.
		if [ "$status" -eq 0 ]; then
			[[ "${lines[0]}" != *"(unreachable)"* ]] || fail "fd $n: cwd outside the root: $out"
			[[ "${lines[1]}" != *"vmlinuz"* && "${lines[1]}" != *"work"* ]] || fail "fd $n: host root visible: $out"
		fi
		[ -z "$(ls -A "$ROOT" 2>/dev/null | grep -x "ctr$n")" ] || fail "state left for ctr$n"
	done
}

# --- /dev ----------------------------------------------------------------------

@test "an image whose /dev/pts is a symlink to / gets devpts on berth's /dev, not on its target" {
	rm -rf "$BUNDLE/rootfs/dev"
	mkdir -p "$BUNDLE/rootfs/dev"
	ln -s / "$BUNDLE/rootfs/dev/pts"
	ln -s /etc/passwd "$BUNDLE/rootfs/dev/console"
	set_args sh -c 'awk "\$5 == \"/dev/pts\"" /proc/self/mountinfo | grep -c " - devpts "; ls /bin/sh >/dev/null && echo root-intact'
	run_berth run ctr
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1 ]
	[ "${lines[1]}" = root-intact ]
	[ "$(cat /proc/self/mountinfo)" = "$HOST_MOUNTS" ]
	# The image's own files are as they were.
	[ -L "$BUNDLE/rootfs/dev/pts" ]
}

# --- privileges ----------------------------------------------------------------

# setuid-root copy of the probe, run by uid 1000; prints the euid it got.
setuid_probe_euid() {
	cp "$BUNDLE/rootfs/bin/syscall-probe" "$BUNDLE/rootfs/bin/probe-suid"
	chown 0:0 "$BUNDLE/rootfs/bin/probe-suid"
	chmod 4755 "$BUNDLE/rootfs/bin/probe-suid"
	update_config --argjson nnp "$1" '.process.noNewPrivileges = $nnp | .process.user = {"uid": 1000, "gid": 1000}'
	# geteuid is syscall 107 on x86_64
	set_args /bin/probe-suid raw 107
	run_berth run "ctr-$1"
}

@test "no_new_privs stops a setuid-root binary from gaining root (setuid escalation class)" {
	[ "$(uname -m)" = x86_64 ] || skip "syscall number is x86_64's"
	setuid_probe_euid true
	[ "$status" -eq 0 ]
	[ "$output" = "ok 1000" ] || fail "with no_new_privs the setuid binary ran as euid: $output"
	# The same binary without no_new_privs does become root: the check above can fail.
	setuid_probe_euid false
	[ "$status" -eq 0 ]
	[ "$output" = "ok 0" ] || fail "without no_new_privs expected euid 0, got: $output"
}
