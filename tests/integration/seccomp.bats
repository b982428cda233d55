#!/usr/bin/env bats
# linux.seccomp: every test asserts the real effect on the container process
# through /bin/syscall-probe (tests/fixtures/syscall_probe.c), which makes one
# raw system call and prints `ok RET` or `err ERRNO_NAME`; a seccomp kill or
# trap shows as death by SIGSYS, exit status 159 (128 + 31).
#
# Covered: ERRNO with the default and an explicit errnoRet; defaultAction
# ERRNO with defaultErrnoRet over an allowlist; KILL, KILL_PROCESS,
# KILL_THREAD and TRAP (SIGSYS, 159); LOG and TRACE without a tracer;
# argument conditions (every operator; several conditions on one argument,
# which runc ORs; conditions on different arguments, which are ANDed);
# unknown syscall names (ignored); invalid actions, architectures, operators,
# argument indexes and flags (refused at create, nothing left behind);
# architectures and foreign-ABI calls; flags; noNewPrivileges false and a
# non-root user; the filter covering the user's process only (the runtime's
# own setup never hits it); Seccomp/Seccomp_filters in /proc/PID/status.
#
# Bug classes guarded against:
# - arch confusion (cf. CVE-2009-0835): a filter that does not check
#   seccomp_data.arch lets a 64-bit process reach a blocked syscall through
#   the i386 entry (int $0x80, other numbers) or the x32 ABI (nr | 0x40000000).
#   syscall-probe raw32 makes i386 calls.
# - a filter loaded too late (after the runtime dropped the privilege needed
#   to load it: a non-root user without noNewPrivileges) or too early (the
#   profile breaking the runtime's own setup).
#
# runc 1.1.5 behaviour these tests pin (berth is expected to match):
# - unknown names in names[] are skipped silently (the rest of the profile
#   applies);
# - several conditions on the SAME argument index in one rule become one rule
#   per condition, i.e. they are ORed (runc's "revert to old behavior");
#   conditions on different indexes stay one rule and are ANDed;
# - KILL (= KILL_THREAD), KILL_PROCESS and TRAP all end a single-threaded
#   probe with SIGSYS: exit status 159, through `run` and through a shell;
# - a call from an ABI not in architectures (i386 via int $0x80, x32) is
#   killed (libseccomp's default bad-arch action): 159; the native
#   architecture is always included, whatever architectures says;
# - defaultAction ERRNO gives defaultErrnoRet (EPERM without it) for every
#   unlisted syscall, including numbers no kernel has (no ENOSYS stub);
# - flags: runc 1.1 refuses every seccomp flag ("not yet supported"); the
#   test accepting SECCOMP_FILTER_FLAG_LOG is skipped for runc < 1.2.

load helpers

# Syscall numbers and errnos used below (x86_64; i386 numbers for raw32).
X32_BIT=0x40000000
NR_KEYCTL=250      # x86_64 and x32
NR32_KEYCTL=288    # i386
NR32_GETPID=20     # i386
NR32_UNAME=122     # i386 (newuname)
NR_GETPID_X32=$((0x40000000 + 39))
EXDEV=18 # an errno no probed call returns by itself: unmistakably the filter's

setup() {
	setup_bundle
	[ -x "$BUNDLE/rootfs/bin/syscall-probe" ] ||
		fail "the fixture has no /bin/syscall-probe (tests/fixtures/busybox-rootfs.sh builds it)"
	HOST_MOUNTS_BEFORE=$(host_mountinfo)
}

# set_seccomp JSON: linux.seccomp = JSON.
set_seccomp() {
	update_config --argjson s "$1" '.linux.seccomp = $s'
}

# allow_except RULES: defaultAction SCMP_ACT_ALLOW with RULES (JSON list of
# linux.seccomp.syscalls entries).
allow_except() {
	set_seccomp "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": $1}"
}

# deny_rule NAMES ACTION [ERRNO]: one syscalls entry as JSON.
deny_rule() {
	jq -cn --argjson n "$1" --arg a "$2" --arg e "${3:-}" \
		'{names: $n, action: $a} + (if $e != "" then {errnoRet: ($e | tonumber)} else {} end)'
}

# probe ARG...: run syscall-probe ARG... as the container process itself.
probe() {
	set_args /bin/syscall-probe "$@"
	run_berth run ctr
}

# no_core_dumps: RLIMIT_CORE 0 for tests whose probe dies of SIGSYS (which
# dumps core by default).
no_core_dumps() {
	update_config '.process.rlimits = ((.process.rlimits // []) | map(select(.type != "RLIMIT_CORE")))
		+ [{"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]'
}

# expect_refused FRAGMENT...: `create bad` exits 1 and leaves nothing behind;
# for berth also exactly one line, naming config.json: linux.seccomp and
# containing each FRAGMENT. (As validation.bats' expect_invalid.)
expect_refused() {
	local fragment out n
	set_args true
	run_berth create bad
	out=$output
	n=${#lines[@]}
	[ "$status" -eq 1 ] || fail "create exited $status, wanted 1"
	[ -z "$(root_entries)" ] || fail "left in \$ROOT: $(root_entries)"
	no_rootfs_pids "$BUNDLE/rootfs" || fail "container processes left: $(rootfs_pids "$BUNDLE/rootfs")"
	assert_mountinfo_unchanged "$HOST_MOUNTS_BEFORE"
	run_berth state bad
	[ "$status" -ne 0 ] || fail "state of the refused container succeeds"
	is_berth || return 0

	[ "$n" -eq 1 ] || fail "wanted exactly one line of output, got $n"
	[[ "$out" == *"config.json: linux.seccomp"* ]] || fail "message does not name 'config.json: linux.seccomp'"
	for fragment in "$@"; do
		[[ "$out" == *"$fragment"* ]] || fail "message lacks '$fragment'"
	done
}

# own_seccomp_filters: Seccomp_filters of this test shell (a filter the test
# runs under is inherited by the container on top of the runtime's).
own_seccomp_filters() {
	awk '$1 == "Seccomp_filters:" { print $2; f = 1 } END { if (!f) print 0 }' "/proc/$BASHPID/status"
}

# --- the probe itself ----------------------------------------------------------

@test "without linux.seccomp every probed call reaches the kernel" {
	# (berth spec writes a default profile; runc spec none.)
	update_config 'del(.linux.seccomp)'
	run_sh 'for p in keyctl uname getpid personality "unshare 0" nosys; do echo "$p: $(syscall-probe $p)"; done
grep ^Seccomp: /proc/self/status'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "keyctl: err ENOKEY" ]
	[ "${lines[1]}" = "uname: ok 0" ]
	[[ "${lines[2]}" =~ ^getpid:\ ok\ [0-9]+$ ]]
	[ "${lines[3]}" = "personality: ok 0" ]
	[ "${lines[4]}" = "unshare 0: ok 0" ]
	[ "${lines[5]}" = "nosys: err ENOSYS" ]
	# No filter of the runtime's (mode 2 only when the test shell has one).
	if [ "$(own_seccomp_filters)" -eq 0 ]; then
		[ "$(echo ${lines[6]})" = "Seccomp: 0" ]
	fi
}

# --- actions -------------------------------------------------------------------

@test "SCMP_ACT_ERRNO without errnoRet: EPERM; other syscalls unaffected" {
	allow_except "[$(deny_rule '["keyctl"]' SCMP_ACT_ERRNO)]"
	run_sh 'syscall-probe keyctl; syscall-probe getpid; syscall-probe uname'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "err EPERM" ]
	[[ "${lines[1]}" =~ ^ok\ [0-9]+$ ]]
	[ "${lines[2]}" = "ok 0" ]
}

@test "SCMP_ACT_ERRNO with errnoRet: the given errno (38 ENOSYS, 13 EACCES)" {
	allow_except "[$(deny_rule '["uname"]' SCMP_ACT_ERRNO 38), $(deny_rule '["keyctl"]' SCMP_ACT_ERRNO 13)]"
	run_sh 'syscall-probe uname; syscall-probe keyctl; syscall-probe getpid'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "err ENOSYS" ]
	[ "${lines[1]}" = "err EACCES" ]
	[[ "${lines[2]}" =~ ^ok\ [0-9]+$ ]]
}

@test "one rule names several syscalls: all of them get the action" {
	allow_except "[$(deny_rule '["keyctl", "uname", "personality"]' SCMP_ACT_ERRNO $EXDEV)]"
	run_sh 'syscall-probe keyctl; syscall-probe uname; syscall-probe personality; syscall-probe getpid'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "err EXDEV" ]
	[ "${lines[1]}" = "err EXDEV" ]
	[ "${lines[2]}" = "err EXDEV" ]
	[[ "${lines[3]}" =~ ^ok\ [0-9]+$ ]]
}

# KILL is KILL_THREAD; with one thread both end the process with SIGSYS.
@test "SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD: SIGSYS, exit status 159" {
	local action
	no_core_dumps
	for action in SCMP_ACT_KILL SCMP_ACT_KILL_PROCESS SCMP_ACT_KILL_THREAD; do
		allow_except "[$(deny_rule '["keyctl"]' "$action")]"
		probe keyctl
		[ "$status" -eq 159 ] || fail "$action: run exited $status, wanted 159 (SIGSYS)"
		[ -z "$output" ] || fail "$action: the probe printed '$output': the call returned"
		run_berth delete ctr

		# Only the caller dies: the shell sees 159 and goes on.
		run_sh 'syscall-probe keyctl >/dev/null 2>&1; echo "rc=$?"; syscall-probe getpid'
		[ "$status" -eq 0 ] || fail "$action: shell container exited $status"
		[ "${lines[0]}" = rc=159 ] || fail "$action: got '${lines[0]}', wanted rc=159"
		[[ "${lines[1]}" =~ ^ok\ [0-9]+$ ]]
		run_berth delete ctr
	done
}

@test "SCMP_ACT_TRAP: SIGSYS (unhandled), exit status 159" {
	no_core_dumps
	allow_except "[$(deny_rule '["keyctl"]' SCMP_ACT_TRAP)]"
	probe keyctl
	[ "$status" -eq 159 ]
	[ -z "$output" ]
	run_berth delete ctr
	run_sh 'syscall-probe keyctl >/dev/null 2>&1; echo "rc=$?"; syscall-probe getpid'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = rc=159 ]
}

@test "SCMP_ACT_LOG: the syscall still runs" {
	allow_except "[$(deny_rule '["keyctl", "uname"]' SCMP_ACT_LOG)]"
	run_sh 'syscall-probe keyctl; syscall-probe uname'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "err ENOKEY" ]
	[ "${lines[1]}" = "ok 0" ]
}

@test "SCMP_ACT_TRACE with no tracer attached: the syscall fails with ENOSYS" {
	allow_except "[$(deny_rule '["keyctl"]' SCMP_ACT_TRACE)]"
	run_sh 'syscall-probe keyctl; syscall-probe getpid'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "err ENOSYS" ]
	[[ "${lines[1]}" =~ ^ok\ [0-9]+$ ]]
}

@test "SCMP_ACT_ALLOW rules under defaultAction SCMP_ACT_ALLOW change nothing" {
	allow_except "[$(deny_rule '["keyctl"]' SCMP_ACT_ALLOW)]"
	probe keyctl
	[ "$status" -eq 0 ]
	[ "$output" = "err ENOKEY" ]
}

# --- defaultAction SCMP_ACT_ERRNO over an allowlist -------------------------------

# What the static probe calls from execve to exit_group (strace of
# `syscall-probe getpid` on glibc 2.36: execve brk arch_prctl set_tid_address
# set_robust_list rseq prlimit64 readlink getrandom brk mprotect getpid
# newfstatat write exit_group; ioctl when stdout is a terminal).
PROBE_SYSCALLS='"execve", "brk", "arch_prctl", "set_tid_address", "set_robust_list",
	"rseq", "prlimit64", "readlink", "getrandom", "mprotect", "newfstatat", "fstat",
	"ioctl", "write", "exit_group", "getpid"'
# What the runtime itself may still call between loading the filter and
# execve. runc 1.1 (Go), strace -f: close openat write read futex nanosleep
# sched_yield getpid epoll_ctl epoll_pwait fstatfs getdents64 fcntl execve;
# plus what its Go runtime may need at any moment (memory, signals, threads).
# None of keyctl, uname, personality or unshare is here.
RUNTIME_TAIL_SYSCALLS='"close", "openat", "read", "write", "futex", "nanosleep",
	"sched_yield", "epoll_ctl", "epoll_pwait", "fstatfs", "getdents64", "fcntl",
	"mmap", "munmap", "madvise", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
	"sigaltstack", "gettid", "tgkill", "exit", "clone", "clone3"'

# allowlist_profile [DEFAULT-ERRNO]: defaultAction SCMP_ACT_ERRNO (with
# defaultErrnoRet when given), allowing only the probe's and the runtime's
# needs.
allowlist_profile() {
	set_seccomp "{\"defaultAction\": \"SCMP_ACT_ERRNO\"${1:+, \"defaultErrnoRet\": $1},
		\"syscalls\": [{\"names\": [$PROBE_SYSCALLS, $RUNTIME_TAIL_SYSCALLS], \"action\": \"SCMP_ACT_ALLOW\"}]}"
}

@test "defaultAction SCMP_ACT_ERRNO without defaultErrnoRet: EPERM for everything not allowed" {
	allowlist_profile
	probe getpid
	[ "$status" -eq 0 ]
	[ "$output" = "ok 1" ] # pid 1 of its pid namespace
	run_berth delete ctr
	probe keyctl
	[ "$status" -eq 0 ]
	[ "$output" = "err EPERM" ]
	run_berth delete ctr
	probe nosys
	[ "$status" -eq 0 ]
	[ "$output" = "err EPERM" ]
}

@test "defaultAction SCMP_ACT_ERRNO with defaultErrnoRet 1: EPERM, also for a number no kernel has" {
	allowlist_profile 1
	probe getpid
	[ "$status" -eq 0 ]
	[ "$output" = "ok 1" ]
	run_berth delete ctr
	probe keyctl
	[ "$status" -eq 0 ]
	[ "$output" = "err EPERM" ]
	run_berth delete ctr
	probe nosys
	[ "$status" -eq 0 ]
	[ "$output" = "err EPERM" ]
}

@test "defaultAction SCMP_ACT_ERRNO with defaultErrnoRet 18: EXDEV for everything not allowed" {
	allowlist_profile $EXDEV
	probe getpid
	[ "$status" -eq 0 ]
	[ "$output" = "ok 1" ]
	run_berth delete ctr
	local p
	for p in keyctl uname personality nosys; do
		probe $p
		[ "$status" -eq 0 ] || fail "$p: run exited $status"
		[ "$output" = "err EXDEV" ] || fail "$p: got '$output', wanted 'err EXDEV'"
		run_berth delete ctr
	done
}

# --- argument conditions -------------------------------------------------------------

# cond_rule NAME ARGS-JSON [ERRNO]: an ERRNO rule for NAME with conditions.
cond_rule() {
	jq -cn --arg n "$1" --argjson a "$2" --arg e "${3:-}" \
		'{names: [$n], action: "SCMP_ACT_ERRNO", args: $a} + (if $e != "" then {errnoRet: ($e | tonumber)} else {} end)'
}

# personality_answers: run personality(V) for each V in PERSONALITY_VALUES
# and print "V RESULT" lines (personality just records any value; the probe
# exits right after).
PERSONALITY_VALUES="4 7 8 9 16 0xffffffff"
personality_answers() {
	run_sh "for v in $PERSONALITY_VALUES; do echo \"\$v \$(syscall-probe personality \$v)\"; done"
}

@test "SCMP_CMP_MASKED_EQ: unshare with CLONE_NEWUTS refused, other flags allowed" {
	# CAP_SYS_ADMIN so that an unfiltered unshare(CLONE_NEWUTS) succeeds: the
	# EPERM can only come from the filter.
	update_config '.process.capabilities.bounding += ["CAP_SYS_ADMIN"]
		| .process.capabilities.effective += ["CAP_SYS_ADMIN"]
		| .process.capabilities.permitted += ["CAP_SYS_ADMIN"]'
	allow_except "[$(cond_rule unshare '[{"index": 0, "value": 536870912, "valueTwo": 536870912, "op": "SCMP_CMP_MASKED_EQ"}]')]"
	run_sh 'for f in 0x20000000 0 0x08000000 0x28000000 0x20020000 0x00020000; do echo "$f $(syscall-probe unshare $f)"; done'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "0x20000000 err EPERM" ] # CLONE_NEWUTS
	[ "${lines[1]}" = "0 ok 0" ]
	[ "${lines[2]}" = "0x08000000 ok 0" ]         # CLONE_NEWIPC
	[ "${lines[3]}" = "0x28000000 err EPERM" ] # NEWUTS|NEWIPC
	[ "${lines[4]}" = "0x20020000 err EPERM" ] # NEWUTS|NEWNS
	[ "${lines[5]}" = "0x00020000 ok 0" ]      # NEWNS
}

@test "SCMP_CMP_MASKED_EQ without CAP_SYS_ADMIN: the filter's errno wins over the kernel's EPERM" {
	allow_except "[$(cond_rule unshare '[{"index": 0, "value": 536870912, "valueTwo": 536870912, "op": "SCMP_CMP_MASKED_EQ"}]' $EXDEV)]"
	run_sh 'for f in 0x20000000 0 0x08000000; do echo "$f $(syscall-probe unshare $f)"; done'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "0x20000000 err EXDEV" ]
	[ "${lines[1]}" = "0 ok 0" ]
	[ "${lines[2]}" = "0x08000000 err EPERM" ] # the kernel's: no CAP_SYS_ADMIN
}

# check_personality OP EXPECTED: personality(arg0 OP 8) refused; EXPECTED
# lists the answers for 4 7 8 9 16 0xffffffff, E for EPERM and o for ok.
check_personality() {
	local op=$1 want=$2 v i=0 got
	allow_except "[$(cond_rule personality "[{\"index\": 0, \"value\": 8, \"op\": \"$op\"}]")]"
	personality_answers
	[ "$status" -eq 0 ] || fail "$op: run exited $status"
	for v in $PERSONALITY_VALUES; do
		case ${want:i:1} in
		E) got="$v err EPERM" ;;
		o) got="$v ok 0" ;;
		esac
		[ "${lines[$i]}" = "$got" ] || fail "$op 8: got '${lines[$i]}', wanted '$got'"
		i=$((i + 1))
	done
	run_berth delete ctr
}

@test "SCMP_CMP_EQ, NE, GT, LT, GE, LE on personality's argument" {
	#                            4 7 8 9 16 0xffffffff
	check_personality SCMP_CMP_EQ ooEooo
	check_personality SCMP_CMP_NE EEoEEE
	check_personality SCMP_CMP_GT oooEEE
	check_personality SCMP_CMP_LT EEoooo
	check_personality SCMP_CMP_GE ooEEEE
	check_personality SCMP_CMP_LE EEEooo
}

@test "SCMP_CMP_EQ compares all 64 bits; an i386 call sees 32-bit arguments" {
	requires ia32
	allow_except "[$(cond_rule personality '[{"index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ"}]' $EXDEV)]"
	update_config '.linux.seccomp.architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]'
	run_sh 'syscall-probe personality 0xffffffff; syscall-probe personality -1; syscall-probe personality 0x1ffffffff; syscall-probe raw32 136 0xffffffff'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "err EXDEV" ]
	[ "${lines[1]}" = "ok 0" ] # 0xffffffffffffffff != 0xffffffff
	[ "${lines[2]}" = "ok 0" ]
	[ "${lines[3]}" = "err EXDEV" ]
}

# runc ORs conditions that share an argument index (one rule per condition):
# arg0 >= 8 OR arg0 <= 16 matches every value. (ANDed, only 8..16 would.)
@test "several conditions on ONE argument in one rule are ORed (runc)" {
	allow_except "[$(cond_rule personality '[{"index": 0, "value": 8, "op": "SCMP_CMP_GE"}, {"index": 0, "value": 16, "op": "SCMP_CMP_LE"}]')]"
	run_sh 'for v in 4 8 12 16 20; do echo "$v $(syscall-probe personality $v)"; done; syscall-probe getpid'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "4 err EPERM" ]
	[ "${lines[1]}" = "8 err EPERM" ]
	[ "${lines[2]}" = "12 err EPERM" ]
	[ "${lines[3]}" = "16 err EPERM" ]
	[ "${lines[4]}" = "20 err EPERM" ]
	[[ "${lines[5]}" =~ ^ok\ [0-9]+$ ]]
}

@test "several conditions on ONE argument: EQ 4 and EQ 16 refuse both values (ORed)" {
	allow_except "[$(cond_rule personality '[{"index": 0, "value": 4, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 16, "op": "SCMP_CMP_EQ"}]')]"
	run_sh 'for v in 4 8 16 0xffffffff; do echo "$v $(syscall-probe personality $v)"; done'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "4 err EPERM" ]
	[ "${lines[1]}" = "8 ok 0" ]
	[ "${lines[2]}" = "16 err EPERM" ]
	[ "${lines[3]}" = "0xffffffff ok 0" ]
}

@test "conditions on different arguments in one rule are ANDed" {
	# socket(AF_UNIX=1, SOCK_DGRAM=2, 0) refused; AF_UNIX/SOCK_STREAM and
	# AF_INET/SOCK_DGRAM still work.
	allow_except "[$(cond_rule socket '[{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]')]"
	run_sh 'for a in "1 1" "1 2" "2 2" "2 1"; do echo "$a $(syscall-probe socket $a 0)"; done'
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^1\ 1\ ok\ [0-9]+$ ]]
	[ "${lines[1]}" = "1 2 err EPERM" ]
	[[ "${lines[2]}" =~ ^2\ 2\ ok\ [0-9]+$ ]]
	[[ "${lines[3]}" =~ ^2\ 1\ ok\ [0-9]+$ ]]
}

@test "two rules for the same syscall with different conditions both apply" {
	allow_except "[$(cond_rule personality '[{"index": 0, "value": 4, "op": "SCMP_CMP_EQ"}]' $EXDEV),
		$(cond_rule personality '[{"index": 0, "value": 16, "op": "SCMP_CMP_EQ"}]' 13)]"
	run_sh 'for v in 4 8 16; do echo "$v $(syscall-probe personality $v)"; done'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "4 err EXDEV" ]
	[ "${lines[1]}" = "8 ok 0" ]
	[ "${lines[2]}" = "16 err EACCES" ]
}

# --- names ---------------------------------------------------------------------

@test "an unknown syscall name is ignored; the rest of the profile applies" {
	allow_except "[$(deny_rule '["no_such_syscall", "keyctl"]' SCMP_ACT_ERRNO),
		$(deny_rule '["also_not_a_syscall"]' SCMP_ACT_KILL),
		$(deny_rule '["uname"]' SCMP_ACT_ERRNO 38)]"
	run_sh 'syscall-probe keyctl; syscall-probe uname; syscall-probe getpid'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "err EPERM" ]
	[ "${lines[1]}" = "err ENOSYS" ]
	[[ "${lines[2]}" =~ ^ok\ [0-9]+$ ]]
}

# --- bad input -----------------------------------------------------------------

@test "refused: unknown action" {
	allow_except '[{"names": ["keyctl"], "action": "SCMP_ACT_FOO"}]'
	expect_refused SCMP_ACT_FOO
}

@test "refused: unknown defaultAction" {
	set_seccomp '{"defaultAction": "SCMP_ACT_FOO"}'
	expect_refused SCMP_ACT_FOO
}

@test "refused: unknown architecture" {
	set_seccomp '{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_FOO"],
		"syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO"}]}'
	expect_refused SCMP_ARCH_FOO
}

@test "refused: unknown operator" {
	allow_except '[{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
		"args": [{"index": 0, "value": 8, "op": "SCMP_CMP_FOO"}]}]'
	expect_refused SCMP_CMP_FOO
}

@test "refused: argument index 6 (syscalls have 6 arguments, 0 to 5)" {
	# runc refuses it only in its init, still within create.
	allow_except '[{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
		"args": [{"index": 6, "value": 8, "op": "SCMP_CMP_EQ"}]}]'
	expect_refused
}

@test "refused: unknown flag" {
	# runc 1.1 refuses every flag, 1.2 this one for being unknown.
	set_seccomp '{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_FOO"],
		"syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO"}]}'
	expect_refused
}

# --- architectures and flags ------------------------------------------------------

@test "architectures X86_64, X86, X32: accepted; rules apply to every ABI" {
	requires ia32
	set_seccomp "{\"defaultAction\": \"SCMP_ACT_ALLOW\",
		\"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"],
		\"syscalls\": [$(deny_rule '["keyctl", "uname"]' SCMP_ACT_ERRNO $EXDEV)]}"
	run_sh "syscall-probe keyctl
syscall-probe uname
syscall-probe raw32 $NR32_KEYCTL 0 -1 0
syscall-probe raw32 $NR32_UNAME 0
syscall-probe raw32 $NR32_GETPID
syscall-probe raw $((X32_BIT + NR_KEYCTL)) 0 -1 0
syscall-probe getpid"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "err EXDEV" ]
	[ "${lines[1]}" = "err EXDEV" ]
	[ "${lines[2]}" = "err EXDEV" ] # i386 keyctl: same rule, other number
	[ "${lines[3]}" = "err EXDEV" ] # i386 uname
	[[ "${lines[4]}" =~ ^ok\ [0-9]+$ ]]
	[ "${lines[5]}" = "err EXDEV" ] # x32 keyctl (x32 or not in the kernel)
	[[ "${lines[6]}" =~ ^ok\ [0-9]+$ ]]
}

@test "a call from an ABI not in architectures is killed, never let through (arch confusion)" {
	requires ia32
	local arches
	no_core_dumps
	for arches in null '["SCMP_ARCH_X86_64"]'; do
		set_seccomp "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": $arches,
			\"syscalls\": [$(deny_rule '["keyctl"]' SCMP_ACT_ERRNO $EXDEV)]}"
		# i386 keyctl is 288; as a 64-bit number 288 is accept4: a filter
		# that ignores seccomp_data.arch would get it wrong either way.
		run_sh "syscall-probe keyctl
syscall-probe raw32 $NR32_KEYCTL 0 -1 0 >/dev/null 2>&1; echo \"i386 keyctl rc=\$?\"
syscall-probe raw32 $NR32_GETPID >/dev/null 2>&1; echo \"i386 getpid rc=\$?\"
syscall-probe raw $NR_GETPID_X32 >/dev/null 2>&1; echo \"x32 getpid rc=\$?\""
		[ "$status" -eq 0 ] || fail "architectures $arches: exited $status"
		[ "${lines[0]}" = "err EXDEV" ]
		[ "${lines[1]}" = "i386 keyctl rc=159" ] || fail "architectures $arches: ${lines[1]}"
		[ "${lines[2]}" = "i386 getpid rc=159" ] || fail "architectures $arches: ${lines[2]}"
		[ "${lines[3]}" = "x32 getpid rc=159" ] || fail "architectures $arches: ${lines[3]}"
		run_berth delete ctr
	done
}

@test "architectures without the native one: the native ABI is still filtered" {
	requires ia32
	set_seccomp "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_X86\"],
		\"syscalls\": [$(deny_rule '["keyctl"]' SCMP_ACT_ERRNO $EXDEV)]}"
	run_sh "syscall-probe keyctl; syscall-probe raw32 $NR32_KEYCTL 0 -1 0; syscall-probe getpid"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "err EXDEV" ]
	[ "${lines[1]}" = "err EXDEV" ]
	[[ "${lines[2]}" =~ ^ok\ [0-9]+$ ]]
}

@test "flags: SECCOMP_FILTER_FLAG_LOG accepted; rules apply" {
	if runc_older_than 1.2; then
		skip "runc < 1.2 refuses every seccomp flag (\"seccomp flags are not yet supported by runc\")"
	fi
	set_seccomp "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": [\"SECCOMP_FILTER_FLAG_LOG\"],
		\"syscalls\": [$(deny_rule '["keyctl"]' SCMP_ACT_ERRNO)]}"
	run_sh 'syscall-probe keyctl; syscall-probe getpid; grep ^Seccomp: /proc/self/status'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "err EPERM" ]
	[[ "${lines[1]}" =~ ^ok\ [0-9]+$ ]]
	[ "$(echo ${lines[2]})" = "Seccomp: 2" ]
}

# --- when and for whom the filter is loaded -------------------------------------------

@test "noNewPrivileges false: the filter still loads (before privileges are dropped)" {
	update_config '.process.noNewPrivileges = false'
	allow_except "[$(deny_rule '["keyctl"]' SCMP_ACT_ERRNO $EXDEV)]"
	run_sh 'syscall-probe keyctl; syscall-probe getpid; grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "err EXDEV" ]
	[[ "${lines[1]}" =~ ^ok\ [0-9]+$ ]]
	[ "$(echo ${lines[2]})" = "NoNewPrivs: 0" ]
	[ "$(echo ${lines[3]})" = "Seccomp: 2" ]
}

@test "non-root user with noNewPrivileges true: the filter applies" {
	update_config '.process.user = {"uid": 1000, "gid": 1000} | .process.noNewPrivileges = true'
	allow_except "[$(deny_rule '["keyctl"]' SCMP_ACT_ERRNO $EXDEV)]"
	run_sh 'id -u; syscall-probe keyctl; syscall-probe getpid; grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1000 ]
	[ "${lines[1]}" = "err EXDEV" ]
	[[ "${lines[2]}" =~ ^ok\ [0-9]+$ ]]
	[ "$(echo ${lines[3]})" = "NoNewPrivs: 1" ]
	[ "$(echo ${lines[4]})" = "Seccomp: 2" ]
}

# Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: the runtime must
# load it while still privileged, before switching to the user.
@test "non-root user with noNewPrivileges false: the filter applies" {
	update_config '.process.user = {"uid": 1000, "gid": 1000} | .process.noNewPrivileges = false'
	allow_except "[$(deny_rule '["keyctl"]' SCMP_ACT_ERRNO $EXDEV)]"
	run_sh 'id -u; syscall-probe keyctl; grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1000 ]
	[ "${lines[1]}" = "err EXDEV" ]
	[ "$(echo ${lines[2]})" = "CapEff: 0000000000000000" ]
	[ "$(echo ${lines[3]})" = "NoNewPrivs: 0" ]
	[ "$(echo ${lines[4]})" = "Seccomp: 2" ]
}

# The filter is loaded as late as possible: a profile refusing what a runtime
# needs to set a container up (hostname, mounts, pivot_root, cwd, rlimits,
# user and groups, capabilities, keyring, prctl) must not stop the container
# from starting, and only the user's process sees the errors.
@test "the runtime's own setup is not subject to the profile" {
	update_config '.process.user = {"uid": 1000, "gid": 1000, "additionalGids": [1001]}
		| .hostname = "seccomp-host" | .process.cwd = "/tmp" | .process.noNewPrivileges = true
		| .process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 512}]'
	allow_except "[$(deny_rule '["uname", "mount", "umount2", "pivot_root", "chroot", "sethostname",
		"setdomainname", "setgroups", "setresuid", "setresgid", "setuid", "setgid", "capset",
		"setns", "unshare", "keyctl", "prctl", "chdir", "fchdir", "mknodat", "symlinkat",
		"mkdirat", "setrlimit", "prlimit64"]' SCMP_ACT_ERRNO $EXDEV)]"
	# (The shell's own ulimit would call the blocked prlimit64: read /proc.)
	run_sh 'id -u; id -G; pwd; cat /proc/sys/kernel/hostname; grep "^Max open files" /proc/self/limits
syscall-probe uname; syscall-probe mount; syscall-probe unshare 0; syscall-probe getpid
grep -E "^(CapEff|Seccomp):" /proc/self/status'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1000 ]
	[ "$(tr ' ' '\n' <<<"${lines[1]}" | sort -n | xargs)" = "1000 1001" ]
	[ "${lines[2]}" = /tmp ]
	[ "${lines[3]}" = seccomp-host ]
	[ "$(echo ${lines[4]})" = "Max open files 512 512 files" ]
	[ "${lines[5]}" = "err EXDEV" ]
	[ "${lines[6]}" = "err EXDEV" ]
	[ "${lines[7]}" = "err EXDEV" ]
	[[ "${lines[8]}" =~ ^ok\ [0-9]+$ ]]
	[ "$(echo ${lines[9]})" = "CapEff: 0000000000000000" ]
	[ "$(echo ${lines[10]})" = "Seccomp: 2" ]
}

@test "/proc/PID/status of the container process: Seccomp 2, exactly one more filter" {
	local base
	base=$(own_seccomp_filters)
	allow_except "[$(deny_rule '["keyctl"]' SCMP_ACT_ERRNO)]"
	run_sh 'grep -E "^Seccomp(_filters)?:" /proc/self/status; grep -E "^Seccomp(_filters)?:" /proc/1/status'
	[ "$status" -eq 0 ]
	[ "$(echo ${lines[0]})" = "Seccomp: 2" ]
	[ "$(echo ${lines[1]})" = "Seccomp_filters: $((base + 1))" ]
	# pid 1 is the container process itself (sh), the one the runtime started.
	[ "$(echo ${lines[2]})" = "Seccomp: 2" ]
	[ "$(echo ${lines[3]})" = "Seccomp_filters: $((base + 1))" ]
}

@test "the filter is in place while the container process runs (seen from the host)" {
	allow_except "[$(deny_rule '["keyctl"]' SCMP_ACT_ERRNO)]"
	set_args sh -c "$WAIT_FOR_GO; syscall-probe keyctl"
	bg_run ctr "$BATS_TEST_TMPDIR/out"
	wait_for_status ctr running
	local pid
	pid=$(container_pid ctr)
	[ "$(awk '$1 == "Seccomp:" { print $2 }' "/proc/$pid/status")" = 2 ]
	release_container
	wait_bg
	[ "$status" -eq 0 ]
	[ "$(cat "$BATS_TEST_TMPDIR/out")" = "err EPERM" ]
}

@test "exec: the container's filter applies to an exec'd process too" {
	allow_except "[$(deny_rule '["keyctl"]' SCMP_ACT_ERRNO $EXDEV)]"
	set_args sleep 100
	run_berth run --detach ctr
	[ "$status" -eq 0 ]
	run_berth exec ctr /bin/syscall-probe keyctl
	[ "$status" -eq 0 ]
	[ "$output" = "err EXDEV" ]
	run_berth exec ctr sh -c 'grep ^Seccomp: /proc/self/status'
	[ "$status" -eq 0 ]
	[ "$(echo $output)" = "Seccomp: 2" ]
}

# --- nothing the runtime does after the filter may be refusable by it ---------

@test "a profile refusing what the runtime's last steps use (close_range, setresuid, capset, prctl, umask, fcntl, signals): the process still starts, under the filter" {
	requires_berth "runc 1.1 closes its log pipe after loading the filter: 'close log pipe fd 4: invalid cross-device link'"
	local nnp
	for nnp in true false; do
		update_config --argjson n "$nnp" '.process.user = {"uid": 1000, "gid": 1000} | .process.noNewPrivileges = $n'
		set_seccomp "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [$(deny_rule '["close_range", "setresuid",
			"setresgid", "setgroups", "capset", "capget", "prctl", "umask", "fcntl", "rt_sigaction",
			"rt_sigprocmask", "sendmsg", "close", "personality", "getrlimit", "prlimit64", "getdents64"]' SCMP_ACT_ERRNO $EXDEV)]}"
		# The probe is the process itself: a shell would need some of these.
		set_args /bin/syscall-probe raw 436 1000 1000 0
		run_berth run "c-$nnp"
		[ "$status" -eq 0 ] || fail "noNewPrivileges $nnp: status $status"
		[ "$output" = "err EXDEV" ]
	done
}

@test "defaultAction ERRNO (EPERM) and close_range not listed: the runtime does not depend on it" {
	# berth's default profile (as `berth spec` writes it) without close_range.
	local d=$BATS_TEST_TMPDIR/spec
	mkdir "$d"
	(cd "$d" && "$BERTH_SRC_DIR/berth" spec)
	update_config --slurpfile c "$d/config.json" '.linux.seccomp = ($c[0].linux.seccomp
		| .defaultAction = "SCMP_ACT_ERRNO" | del(.defaultErrnoRet)
		| .syscalls |= map(.names -= ["close_range"]))'
	# Without no_new_privs the filter cannot simply come last.
	update_config '.process.noNewPrivileges = false'
	run_sh 'syscall-probe raw 436 1000 1000 0; echo ran'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "err EPERM" ]
	[ "${lines[1]}" = ran ]
}

@test "a syscall newer than every one the profile names gets ENOSYS, not the default errno (libc falls back, as with runc)" {
	# berth's default profile with an EPERM default, as Docker's and podman's
	# profiles are written: syscalls it does not name but that are older than
	# its newest keep EPERM; numbers past its newest get ENOSYS.
	local d=$BATS_TEST_TMPDIR/spec
	mkdir "$d"
	(cd "$d" && "$BERTH_SRC_DIR/berth" spec)
	update_config --slurpfile c "$d/config.json" '.linux.seccomp = ($c[0].linux.seccomp
		| .defaultAction = "SCMP_ACT_ERRNO" | del(.defaultErrnoRet))'
	# 1000: no such syscall yet; 155: pivot_root, not in the profile.
	run_sh 'syscall-probe raw 1000; syscall-probe raw 155 0 0'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "err ENOSYS" ]
	[ "${lines[1]}" = "err EPERM" ]
}
