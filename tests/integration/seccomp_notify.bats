#!/usr/bin/env bats
# Seccomp notify (linux.seccomp listenerPath): the listener fd and the
# runtime-spec's ContainerProcessState reach the agent's socket, and the
# agent's answers decide the notified syscalls. The agent is
# tests/fixtures/seccomp_agent.c: mkdir/mkdirat "succeed" without doing
# anything, which only an agent that really got the fd can make happen.

load helpers

setup_file() {
	gcc -O2 -Wall -o "$BATS_RUN_TMPDIR/seccomp_agent" "$BATS_TEST_DIRNAME/../fixtures/seccomp_agent.c"
}

setup() {
	setup_bundle
	AGENT_SOCK=$BATS_TEST_TMPDIR/agent.sock
	AGENT_LOG=$BATS_TEST_TMPDIR/agent.log
}

teardown() {
	[ -z "${AGENT_PID:-}" ] || kill "$AGENT_PID" 2>/dev/null || true
	teardown_bundle
}

start_agent() {
	"$BATS_RUN_TMPDIR/seccomp_agent" "$AGENT_SOCK" "$AGENT_LOG" >"$BATS_TEST_TMPDIR/agent.out" 2>&1 &
	AGENT_PID=$!
	retry 5 0.02 test -S "$AGENT_SOCK"
}

notify_profile() {
	update_config '.root.readonly = false
		| .linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "'"$AGENT_SOCK"'",
			"listenerMetadata": "meta-42", "architectures": ["SCMP_ARCH_X86_64"],
			"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}'
}

@test "seccomp notify: the agent gets the listener and the state, and answers mkdir" {
	requires_berth "runc 1.1 sends a differently shaped state (tested separately)"
	start_agent
	notify_profile
	run_sh 'mkdir /tmp/notified; echo "rc=$?"; [ -d /tmp/notified ] && echo exists || echo absent; ls /proc/self/fd | tr "\n" " "'
	[ "$status" -eq 0 ]
	# The agent answered 0 without creating anything: only it can do that.
	[[ "$output" == *"rc=0"* ]]
	[[ "$output" == *"absent"* ]]
	[ ! -d "$BUNDLE/rootfs/tmp/notified" ]
	# Neither the agent's socket nor the listener stayed in the container.
	[[ "$output" == *"0 1 2 3 "* ]] || [[ "$output" == *"0 1 2 "* ]]
	[[ "$output" != *"0 1 2 3 4"* ]]
	retry 5 0.05 grep -q '^syscall mkdir' "$AGENT_LOG"
	local state
	state=$(head -n 1 "$AGENT_LOG")
	[ "$(jq -r '.fds[0]' <<<"$state")" = seccompFd ]
	[ "$(jq -r '.metadata' <<<"$state")" = meta-42 ]
	[ "$(jq -r '.state.id' <<<"$state")" = ctr ]
	[ "$(jq -r '.state.bundle' <<<"$state")" = "$BUNDLE" ]
	[ "$(jq -r '.pid' <<<"$state")" -gt 1 ]
}

@test "seccomp notify: an exec'd process hands the agent a listener of its own" {
	requires_berth "runc 1.1 sends a differently shaped state"
	start_agent
	notify_profile
	set_args sleep 100
	run_berth run -d ctr
	[ "$status" -eq 0 ]
	run_berth exec ctr sh -c 'mkdir /tmp/from-exec; echo "rc=$?"; [ -d /tmp/from-exec ] && echo exists || echo absent'
	[ "$status" -eq 0 ]
	[[ "$output" == *"rc=0"* ]]
	[[ "$output" == *"absent"* ]]
	# Two states: the init's and the exec'd process's, with different pids.
	retry 5 0.05 test "$(grep -c '"seccompFd"' "$AGENT_LOG")" -eq 2
	local p1 p2
	p1=$(grep '"seccompFd"' "$AGENT_LOG" | sed -n 1p | jq -r .pid)
	p2=$(grep '"seccompFd"' "$AGENT_LOG" | sed -n 2p | jq -r .pid)
	[ "$p1" != "$p2" ]
	[ "$(grep '"seccompFd"' "$AGENT_LOG" | sed -n 2p | jq -r .state.id)" = ctr ]
}

@test "seccomp notify: without the profile's notify rule mkdir really happens (control)" {
	start_agent
	update_config '.root.readonly = false'
	run_sh 'mkdir /tmp/notified && echo made'
	[ "$status" -eq 0 ]
	[[ "$output" == *made* ]]
	[ -d "$BUNDLE/rootfs/tmp/notified" ]
}

@test "seccomp notify: a listenerPath nobody listens on fails the create, nothing left" {
	requires_berth "runc reports it differently"
	notify_profile
	run_berth create ctr
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"listenerPath"* ]]
	[ -z "$(ls -A "$ROOT")" ]
}

@test "seccomp notify: execve, execveat, close, exit_group and sendmsg may be notified (as runc allows)" {
	requires_berth "runc 1.1 sends a differently shaped state"
	start_agent
	update_config '.root.readonly = false
		| .linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "'"$AGENT_SOCK"'",
			"syscalls": [{"names": ["mkdir", "mkdirat", "execve", "execveat", "close", "exit_group", "sendmsg"],
				"action": "SCMP_ACT_NOTIFY"}]}'
	run_sh 'mkdir /tmp/notified; echo "rc=$?"; [ -d /tmp/notified ] && echo exists || echo absent'
	[ "$status" -eq 0 ]
	[[ "$output" == *"rc=0"* ]]
	[[ "$output" == *"absent"* ]]
	# The runtime's own execve of sh went through the agent.
	retry 5 0.05 grep -q '^syscall other' "$AGENT_LOG"
}

@test "seccomp notify: notifying both sendmsg and sendmmsg is refused up front" {
	requires_berth "berth's own rule: it hands the listener over with one of them"
	update_config '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/tmp/x.sock",
		"syscalls": [{"names": ["sendmsg", "sendmmsg"], "action": "SCMP_ACT_NOTIFY"}]}'
	run_berth create ctr
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"config.json: linux.seccomp.syscalls[0]: SCMP_ACT_NOTIFY cannot be used for both sendmsg and sendmmsg"* ]]
	[ -z "$(ls -A "$ROOT")" ]
}
