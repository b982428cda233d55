#!/usr/bin/env bats
# The container process: args passed verbatim, env (and no leak of the
# runtime's own environment), cwd (created when missing), user uid/gid and
# additionalGids, umask, rlimits, capabilities (exact sets, ambient for a
# non-root user, a dropped capability really missing), noNewPrivileges,
# oomScoreAdj, and file descriptors (none leaked; --preserve-fds).

load helpers

# Capability sets as the kernel prints them in /proc/PID/status.
CAP_CHOWN_KILL_NBS=0000000000000421 # CAP_CHOWN(0) | CAP_KILL(5) | CAP_NET_BIND_SERVICE(10)

# set_caps JSON-LIST [INHERITABLE] [AMBIENT]: bounding, effective and permitted
# all set to LIST; inheritable and ambient as given (omitted when empty).
set_caps() {
	update_config --argjson c "$1" --argjson i "${2:-null}" --argjson a "${3:-null}" '
		.process.capabilities = {"bounding": $c, "effective": $c, "permitted": $c}
		| if $i != null then .process.capabilities.inheritable = $i else . end
		| if $a != null then .process.capabilities.ambient = $a else . end'
}

@test "args reach the process verbatim" {
	set_args sh -c 'printf "[%s]" "$0" "$@"' argv0 'a b' 'c"d' '' '$HOME' '*'
	run_berth run c1
	[ "$status" -eq 0 ]
	[ "$output" = '[argv0][a b][c"d][][$HOME][*]' ]
}

@test "args[0] is looked up in the config's PATH" {
	mkdir -p "$BUNDLE/rootfs/opt/tools"
	printf '#!/bin/sh\necho found-in-opt\n' >"$BUNDLE/rootfs/opt/tools/mytool"
	chmod 755 "$BUNDLE/rootfs/opt/tools/mytool"
	update_config '.process.env = ["PATH=/opt/tools:/bin"]'
	set_args mytool
	run_berth run c1
	[ "$status" -eq 0 ]
	[ "$output" = found-in-opt ]
}

@test "env from the config is set; the runtime's own environment is not passed" {
	update_config '.process.env = ["PATH=/bin", "FOO=bar baz", "EMPTY=", "EQ=a=b"]'
	set_args sh -c 'echo "FOO=$FOO"; echo "EMPTY=[${EMPTY-unset}]"; echo "EQ=$EQ"; echo "LEAK=${BERTH_TEST_LEAK-unset}"'
	BERTH_TEST_LEAK=1 run_berth run c1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "FOO=bar baz" ]
	[ "${lines[1]}" = "EMPTY=[]" ]
	[ "${lines[2]}" = "EQ=a=b" ]
	[ "${lines[3]}" = "LEAK=unset" ]
}

@test "cwd is where the process starts" {
	update_config '.process.cwd = "/etc"'
	run_sh 'pwd; ls passwd'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = /etc ]
	[ "${lines[1]}" = passwd ]
}

@test "a cwd missing from the rootfs is created (like runc)" {
	update_config '.process.cwd = "/no/such/dir"'
	run_sh 'pwd'
	[ "$status" -eq 0 ]
	[ "$output" = /no/such/dir ]
	[ -d "$BUNDLE/rootfs/no/such/dir" ]
}

@test "user uid and gid are applied" {
	update_config '.root.readonly = false | .process.user = {"uid": 1000, "gid": 1000}'
	run_sh 'id -u; id -g; touch /tmp/by-user; touch /root/x 2>/dev/null || echo root-denied'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1000 ]
	[ "${lines[1]}" = 1000 ]
	[ "${lines[2]}" = root-denied ]
	[ "$(stat -c %u:%g "$BUNDLE/rootfs/tmp/by-user")" = 1000:1000 ]
	[ ! -e "$BUNDLE/rootfs/root/x" ]
}

@test "uid and gid also apply to the real and saved ids" {
	update_config '.process.user = {"uid": 1000, "gid": 1001}'
	run_sh 'grep -E "^(Uid|Gid):" /proc/self/status'
	[ "$status" -eq 0 ]
	[ "$(echo ${lines[0]})" = "Uid: 1000 1000 1000 1000" ]
	[ "$(echo ${lines[1]})" = "Gid: 1001 1001 1001 1001" ]
}

@test "additionalGids become the supplementary groups" {
	update_config '.process.user = {"uid": 1000, "gid": 1000, "additionalGids": [1001, 1002]}'
	run_sh 'id -G; grep ^Groups: /proc/self/status'
	[ "$status" -eq 0 ]
	[ "$(tr ' ' '\n' <<<"${lines[0]}" | sort -n | xargs)" = "1000 1001 1002" ]
	[ "$(echo ${lines[1]})" = "Groups: 1001 1002" ]
}

@test "root without additionalGids has no supplementary groups from the host" {
	run_sh 'grep ^Groups: /proc/self/status'
	[ "$status" -eq 0 ]
	[ "$(echo $output)" = "Groups:" ]
}

@test "umask from the config applies to new files" {
	update_config '.root.readonly = false | .process.user.umask = 63'
	run_sh 'umask; touch /tmp/f; mkdir /tmp/d; stat -c %a /tmp/f /tmp/d'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 0077 ]
	[ "${lines[1]}" = 600 ]
	[ "${lines[2]}" = 700 ]
}

@test "default umask is 0022" {
	update_config '.root.readonly = false | del(.process.user.umask)'
	run_sh 'umask; touch /tmp/f; stat -c %a /tmp/f'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 0022 ]
	[ "${lines[1]}" = 644 ]
}

@test "rlimits are applied (soft and hard)" {
	update_config '.process.rlimits = [
		{"type": "RLIMIT_NOFILE", "soft": 1000, "hard": 2000},
		{"type": "RLIMIT_CORE", "soft": 0, "hard": 4096},
		{"type": "RLIMIT_NPROC", "soft": 500, "hard": 600}]'
	run_sh 'ulimit -n; ulimit -Hn; grep -E "^Max (open files|core file size|processes)" /proc/self/limits'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1000 ]
	[ "${lines[1]}" = 2000 ]
	[[ "$(echo ${lines[2]})" == "Max core file size 0 4096 bytes" ]]
	[[ "$(echo ${lines[3]})" == "Max processes 500 600 processes" ]]
	[[ "$(echo ${lines[4]})" == "Max open files 1000 2000 files" ]]
}

@test "an rlimit soft limit is enforced" {
	update_config '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 5, "hard": 5}]'
	# fds 0-2 are taken; opening 3 and 4 works, 5 must fail.
	run_sh 'exec 3</dev/null 4</dev/null; exec 5</dev/null && echo opened-5'
	[[ "$output" != *opened-5* ]]
}

@test "capabilities: exact bounding/effective/permitted, empty inheritable and ambient" {
	set_caps '["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]'
	run_sh 'grep ^Cap /proc/self/status'
	[ "$status" -eq 0 ]
	[ "$(echo ${lines[0]})" = "CapInh: 0000000000000000" ]
	[ "$(echo ${lines[1]})" = "CapPrm: $CAP_CHOWN_KILL_NBS" ]
	[ "$(echo ${lines[2]})" = "CapEff: $CAP_CHOWN_KILL_NBS" ]
	[ "$(echo ${lines[3]})" = "CapBnd: $CAP_CHOWN_KILL_NBS" ]
	[ "$(echo ${lines[4]})" = "CapAmb: 0000000000000000" ]
}

@test "capabilities: an empty set leaves the process with none" {
	set_caps '[]'
	run_sh 'grep ^Cap /proc/self/status'
	[ "$status" -eq 0 ]
	local line
	for line in "${lines[@]}"; do
		[ "${line##*[[:space:]]}" = 0000000000000000 ] || fail "not empty: $line"
	done
}

@test "capabilities: inheritable and ambient keep a capability for a non-root user" {
	update_config '.root.readonly = false | .process.user = {"uid": 1000, "gid": 1000}'
	set_caps '["CAP_CHOWN"]' '["CAP_CHOWN"]' '["CAP_CHOWN"]'
	run_sh 'grep ^Cap /proc/self/status; touch /tmp/f && chown 1002 /tmp/f && echo chowned'
	[ "$status" -eq 0 ]
	[ "$(echo ${lines[0]})" = "CapInh: 0000000000000001" ]
	[ "$(echo ${lines[1]})" = "CapPrm: 0000000000000001" ]
	[ "$(echo ${lines[2]})" = "CapEff: 0000000000000001" ]
	[ "$(echo ${lines[3]})" = "CapBnd: 0000000000000001" ]
	[ "$(echo ${lines[4]})" = "CapAmb: 0000000000000001" ]
	[ "${lines[5]}" = chowned ]
	[ "$(stat -c %u "$BUNDLE/rootfs/tmp/f")" = 1002 ]
}

@test "a non-root user without ambient capabilities has none effective" {
	update_config '.process.user = {"uid": 1000, "gid": 1000}'
	set_caps '["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]'
	run_sh 'grep -E "^Cap(Eff|Prm|Bnd)" /proc/self/status'
	[ "$status" -eq 0 ]
	[ "$(echo ${lines[0]})" = "CapPrm: 0000000000000000" ]
	[ "$(echo ${lines[1]})" = "CapEff: 0000000000000000" ]
	[ "$(echo ${lines[2]})" = "CapBnd: $CAP_CHOWN_KILL_NBS" ]
}

@test "the default process lacks CAP_SYS_ADMIN and CAP_CHOWN" {
	update_config '.root.readonly = false'
	run_sh 'hostname changed 2>&1 || echo hostname-denied
		touch /tmp/f; chown 1000 /tmp/f 2>&1 || echo chown-denied
		hostname'
	[ "$status" -eq 0 ]
	[[ "$output" == *hostname-denied* ]]
	[[ "$output" == *chown-denied* ]]
	[ "${lines[-1]}" != changed ]
	[ "$(stat -c %u "$BUNDLE/rootfs/tmp/f")" = 0 ]
}

@test "an added capability takes effect (CAP_CHOWN, CAP_SYS_ADMIN)" {
	update_config '.root.readonly = false'
	set_caps '["CAP_CHOWN", "CAP_SYS_ADMIN"]'
	run_sh 'hostname changed && hostname; touch /tmp/f; chown 1000 /tmp/f && echo chowned'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = changed ]
	[ "${lines[1]}" = chowned ]
	[ "$(stat -c %u "$BUNDLE/rootfs/tmp/f")" = 1000 ]
}

@test "noNewPrivileges true sets NoNewPrivs" {
	update_config '.process.noNewPrivileges = true'
	run_sh 'grep ^NoNewPrivs: /proc/self/status'
	[ "$status" -eq 0 ]
	[ "$(echo $output)" = "NoNewPrivs: 1" ]
}

@test "noNewPrivileges false leaves NoNewPrivs clear" {
	update_config '.process.noNewPrivileges = false'
	run_sh 'grep ^NoNewPrivs: /proc/self/status'
	[ "$status" -eq 0 ]
	[ "$(echo $output)" = "NoNewPrivs: 0" ]
}

@test "oomScoreAdj is applied" {
	update_config '.process.oomScoreAdj = 500'
	run_sh 'cat /proc/self/oom_score_adj'
	[ "$status" -eq 0 ]
	[ "$output" = 500 ]
	# The runtime did not change its caller's score.
	[ "$(cat /proc/$$/oom_score_adj)" != 500 ]
}

@test "no file descriptor of the caller leaks into the container" {
	# Not the last command, or sh would exec ls and list ls's own directory fd.
	set_args sh -c 'ls /proc/$$/fd; exit 0'
	local out
	# fd 7 and 8 are open in the caller, without close-on-exec.
	out=$(timeout 20 "$BERTH" --root "$ROOT" run c1 7</etc/hostname 8>"$BATS_TEST_TMPDIR/w" 2>&1 </dev/null 3>&-)
	echo "$out"
	[ "$(echo $out)" = "0 1 2" ]
}

@test "--preserve-fds passes extra descriptors through" {
	echo preserved >"$BATS_TEST_TMPDIR/data"
	set_args sh -c 'cat <&3; ls /proc/$$/fd; exit 0'
	local out
	out=$(timeout 20 "$BERTH" --root "$ROOT" run --preserve-fds 1 c1 3<"$BATS_TEST_TMPDIR/data" 2>&1 </dev/null)
	echo "$out"
	[ "$(echo $out)" = "preserved 0 1 2 3" ]
}

@test "linux.personality LINUX32: uname -m says i686, for the init and an exec'd process" {
	runc_older_than 1.2 && skip "runc 1.1 ignores linux.personality (added in 1.2)"
	update_config '.linux.personality = {"domain": "LINUX32"}'
	set_args sh -c 'uname -m; sleep 100'
	run_berth run -d pers
	[ "$status" -eq 0 ]
	retry 5 0.05 test -s "$BERTH_OUT"
	[ "$(cat "$BERTH_OUT")" = i686 ]
	run_berth exec pers uname -m
	[ "$status" -eq 0 ]
	[ "$output" = i686 ]
}

@test "linux.personality LINUX with a flag: uname -m unchanged, the flag in /proc/self/personality" {
	runc_older_than 1.2 && skip "runc 1.1 ignores linux.personality (added in 1.2)"
	update_config '.linux.personality = {"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]}'
	set_args sh -c 'uname -m; cat /proc/self/personality'
	run_berth run pers
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = x86_64 ]
	[ "${lines[1]}" = 00040000 ]
}

@test "linux.personality: an unknown domain or flag is refused, naming the JSON path" {
	requires_berth "runc 1.1 ignores linux.personality"
	update_config '.linux.personality = {"domain": "BSD"}'
	run_berth create pers
	[ "$status" -eq 1 ]
	[ "$output" = 'berth: config.json: linux.personality.domain: must be LINUX or LINUX32, got "BSD"' ]
	update_config '.linux.personality = {"domain": "LINUX", "flags": ["NOPE"]}'
	run_berth create pers
	[ "$status" -eq 1 ]
	[ "$output" = 'berth: config.json: linux.personality.flags[0]: unknown flag "NOPE"' ]
	[ -z "$(root_entries)" ]
}
