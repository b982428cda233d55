#!/usr/bin/env bats
# The kernel interfaces a container root must not read or write: the spec's
# maskedPaths and readonlyPaths, /sys and the cgroup hierarchies. Writes are
# made by opening for writing without writing anything (`(: >FILE)`), so a
# runtime that failed to protect a file still changes nothing on the host;
# the test then fails on the open having succeeded. Each case names the CVE
# class it defends against and (sec_teardown) checks the host is untouched.

load ../integration/helpers
load security_helpers

setup() {
	sec_setup
}

teardown() {
	sec_teardown
}

# can_open_for_write FILE... (container side, as a shell function in scripts):
# prints "FILE: open" or "FILE: <error>".
OPEN_W='try_w() { for f in "$@"; do if err=$( (: >"$f") 2>&1); then echo "$f: open"; else echo "$f: ${err##*: }"; fi; done; }'

@test "every default maskedPath reads empty and cannot be written through (CVE-2025-31133 class)" {
	local p present=()
	for p in $(jq -r '.linux.maskedPaths[]' "$BUNDLE/config.json"); do
		[ -e "$p" ] && present+=("$p")
	done
	# This host has several of them; /sys/firmware is not empty here.
	[ "${#present[@]}" -ge 3 ] || skip "fewer than 3 of the masked paths exist on this host"
	set_args sh -c 'for p in "$@"; do
	if [ -d "$p" ]; then echo "$p: $(ls -A "$p" | wc -l) entries"; touch "$p/x" 2>/dev/null && echo "$p: WRITABLE"
	else echo "$p: $(cat "$p" | wc -c) bytes"; echo x >"$p" 2>/dev/null; echo "$p: $(cat "$p" | wc -c) bytes after write"; fi
done; true' sh "${present[@]}"
	run_berth run ctr
	[ "$status" -eq 0 ]
	for p in "${present[@]}"; do
		if [ -d "$p" ]; then
			grep -qx "$p: 0 entries" <<<"$output" || fail "$p is not masked"
		else
			grep -qx "$p: 0 bytes" <<<"$output" || fail "$p is not masked"
			grep -qx "$p: 0 bytes after write" <<<"$output" || fail "$p kept what was written"
		fi
	done
	! grep -q WRITABLE <<<"$output"
	assert_host_untouched
}

@test "every default readonlyPath is a read-only mount; core_pattern, sysrq-trigger, hostname cannot be opened for writing (CVE-2025-31133, CVE-2025-52565 payloads)" {
	local p host_hostname
	host_hostname=$(cat /proc/sys/kernel/hostname)
	set_args sh -c "$OPEN_W"'
for p in "$@"; do [ -e "$p" ] && echo "$p: $(awk -v p="$p" "\$5 == p { split(\$6, o, \",\"); print o[1] }" /proc/self/mountinfo | tail -n 1)"; done
try_w /proc/sys/kernel/core_pattern /proc/sys/kernel/hostname /proc/sys/vm/drop_caches /proc/sysrq-trigger /proc/irq/default_smp_affinity
true' sh $(jq -r '.linux.readonlyPaths[]' "$BUNDLE/config.json")
	run_berth run ctr
	[ "$status" -eq 0 ]
	for p in $(jq -r '.linux.readonlyPaths[]' "$BUNDLE/config.json"); do
		[ -e "$p" ] || continue
		grep -qx "$p: ro" <<<"$output" || fail "$p is not a read-only mount"
	done
	for p in core_pattern hostname drop_caches; do
		grep -qx "/proc/sys/.*/$p: Read-only file system" <<<"$output" || fail "$p could be opened for writing"
	done
	if [ -e /proc/sysrq-trigger ]; then
		grep -qx "/proc/sysrq-trigger: Read-only file system" <<<"$output"
	fi
	grep -qx "/proc/irq/default_smp_affinity: Read-only file system" <<<"$output"
	[ "$(cat /proc/sys/kernel/hostname)" = "$host_hostname" ]
	assert_host_untouched
}

@test "/sys is read-only: uevent_helper and other kernel knobs cannot be opened for writing (uevent_helper escape class)" {
	set_args sh -c "$OPEN_W"'
awk "\$5 == \"/sys\" { split(\$6, o, \",\"); print \"/sys: \" o[1] }" /proc/self/mountinfo
touch /sys/kernel/berth-probe 2>/dev/null && echo "/sys: CREATED"
try_w /sys/kernel/uevent_helper /sys/kernel/mm/transparent_hugepage/enabled /sys/class/net/lo/mtu
true'
	run_berth run ctr
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "/sys: ro" ]
	! grep -q -e CREATED -e ": open$" <<<"$output" || fail "a /sys file could be written"
	# Each knob that exists is refused as read-only (missing ones say so).
	[ "$(grep -c ': Read-only file system$' <<<"$output")" -ge 2 ]
	assert_host_untouched
}

@test "the cgroup hierarchies are read-only and the container cannot mount its own (CVE-2022-0492)" {
	local before
	before=$(cgroup_tree)
	set_args sh -c "$OPEN_W"'
for d in $(find /sys/fs/cgroup -maxdepth 2 -name cgroup.procs | xargs -n1 dirname); do
	mkdir "$d/berth-escape-probe" 2>/dev/null && echo "$d: MKDIR"
	try_w "$d/cgroup.procs"
	[ -e "$d/notify_on_release" ] && try_w "$d/notify_on_release"
	[ -e "$d/release_agent" ] && try_w "$d/release_agent"
done
mkdir -p /tmp/cg 2>/dev/null
mount -t cgroup -o memory cgroup /tmp/cg 2>/dev/null && echo "MOUNTED v1"
mount -t cgroup2 cgroup2 /tmp/cg 2>/dev/null && echo "MOUNTED v2"
echo done'
	run_berth run ctr
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = done ]
	! grep -q -e MKDIR -e MOUNTED -e ": open$" <<<"$output" || fail "a cgroup file or mount was writable"
	# There were hierarchies to try, and every try was refused as read-only.
	[ "$(grep -c ': Read-only file system$' <<<"$output")" -ge 1 ]
	[ "$(cgroup_tree | grep -c berth-escape-probe)" -eq 0 ]
	assert_host_untouched
}
