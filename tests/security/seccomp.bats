#!/usr/bin/env bats
# The default seccomp profile (the one `berth spec` writes; with runc under
# test, the same profile taken from this tree's berth) against the calls
# container escapes are built from. tests/integration/seccomp.bats covers the
# mechanics (every action, errnoRet, argument operators, architectures) with
# hand-written profiles; here the question is whether the profile a user gets
# by default really stops the attack, even from a root with CAP_SYS_ADMIN.
# Every probe is harmless when allowed (see tests/fixtures/syscall_probe.c).
# sec_teardown checks the host is untouched.

load ../integration/helpers
load security_helpers

setup() {
	sec_setup
	default_seccomp
}

teardown() {
	sec_teardown
}

# probes CALL...: run `syscall-probe CALL` for each (a CALL is "name args"),
# printing "CALL: result" lines; sets $output.
probes() {
	local script='for p in "$@"; do echo "$p: $(syscall-probe $p)"; done'
	set_args sh -c "$script" sh "$@"
	run_berth run ctr
	[ "$status" -eq 0 ] || fail "run failed: $output"
}

# expect CALL RESULT: the line for CALL in $output says RESULT.
expect() {
	grep -qxF "$1: $2" <<<"$output" || fail "$1: wanted '$2', got '$(grep -F "$1:" <<<"$output")'"
}

@test "default profile: keyctl, add_key and request_key fail with EPERM (keyring isolation, CVE-2016-0728 class)" {
	probes keyctl add_key "raw 249" getpid
	expect keyctl "err EPERM"
	expect add_key "err EPERM"
	expect "raw 249" "err EPERM" # request_key
	grep -q '^getpid: ok [0-9]' <<<"$output"
}

@test "default profile: new namespaces are refused even with CAP_SYS_ADMIN, plain fork still works (CVE-2022-0492)" {
	grant_caps CAP_SYS_ADMIN
	# The CVE-2022-0492 escape starts with unshare(CLONE_NEWUSER|CLONE_NEWNS|
	# CLONE_NEWCGROUP) to mount a cgroup v1 hierarchy and write release_agent.
	probes "unshare 0x10000000" "unshare 0x12020000" "unshare 0x20000" "unshare 0x2000000" \
		"clone 0x10000011" "clone 0x20011" "setns" "clone 17"
	expect "unshare 0x10000000" "err EPERM"
	expect "unshare 0x12020000" "err EPERM"
	expect "unshare 0x20000" "err EPERM"
	expect "unshare 0x2000000" "err EPERM"
	# clone with a namespace flag is not in the allow list: refused with the
	# profile's default errno (ENOSYS for berth's profile; Docker's gives EPERM).
	grep -Eqx 'clone 0x10000011: err (EPERM|ENOSYS)' <<<"$output"
	grep -Eqx 'clone 0x20011: err (EPERM|ENOSYS)' <<<"$output"
	expect setns "err EPERM"
	grep -Eq '^clone 17: ok [0-9]+$' <<<"$output"
}

@test "default profile: mount family, open_by_handle_at, ptrace, bpf, userfaultfd, io_uring, kexec refused with CAP_SYS_ADMIN and CAP_SYS_PTRACE (CVE-2022-0185, shocker)" {
	grant_caps CAP_SYS_ADMIN CAP_SYS_PTRACE CAP_DAC_READ_SEARCH
	# fsopen(430) is CVE-2022-0185's entry point; open_by_handle_at(304) is
	# the "shocker" host-file read; 155 pivot_root, 298 perf_event_open,
	# 310 process_vm_readv, 311 process_vm_writev.
	probes mount umount2 ptrace bpf userfaultfd io_uring_setup kexec_load \
		"raw 430" "raw 304" "raw 155" "raw 298" "raw 310" "raw 311"
	local c
	for c in mount umount2 ptrace bpf userfaultfd io_uring_setup kexec_load \
		"raw 430" "raw 304" "raw 155" "raw 298" "raw 310" "raw 311"; do
		expect "$c" "err EPERM"
	done
}

@test "default profile: the same calls through the i386 and x32 entries are refused too (seccomp arch bypass, cf. CVE-2009-0835)" {
	[ "$(uname -m)" = x86_64 ] || skip "x86_64 only"
	requires ia32
	grant_caps CAP_SYS_ADMIN
	# i386: keyctl 288, unshare 310, mount 21, open_by_handle_at 342;
	# x32: the x86_64 number | 0x40000000.
	probes "raw32 288 0 -1 0" "raw32 310 0x10000000" "raw32 21" "raw32 342" \
		"raw $((0x40000000 + 250)) 0 -1 0" "raw $((0x40000000 + 272)) 0x10000000" "raw32 20"
	expect "raw32 288 0 -1 0" "err EPERM"
	expect "raw32 310 0x10000000" "err EPERM"
	expect "raw32 21" "err EPERM"
	expect "raw32 342" "err EPERM"
	expect "raw $((0x40000000 + 250)) 0 -1 0" "err EPERM"
	expect "raw $((0x40000000 + 272)) 0x10000000" "err EPERM"
	# An allowed i386 call (getpid) still works: the refusals come from the rules.
	grep -Eq '^raw32 20: ok [0-9]+$' <<<"$output"
}
