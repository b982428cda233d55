#!/usr/bin/env bats
# The container process: capabilities, no_new_privs, file descriptors, the
# runtime's own binary and processes. Each case names the CVE class it
# defends against, checks the real effect (reads /proc/PID/status, makes the
# call, opens the file) and, through sec_teardown, that the host is untouched:
# mount table identical, the host marker directory $MARK as it was, nothing
# left in --root.

load ../integration/helpers
load security_helpers

setup() {
	sec_setup
}

teardown() {
	sec_teardown
}

CAP_FIELDS="CapInh CapPrm CapEff CapBnd CapAmb"

# container_caps: run the bundle printing /proc/self/status; sets STATUS.
container_caps() {
	set_args cat /proc/self/status
	run_berth run "${1:-ctr}"
	[ "$status" -eq 0 ] || fail "run failed: $output"
	STATUS=$output
}

# assert_caps INH PRM EFF BND AMB: the five masks of $STATUS.
assert_caps() {
	local want=("$@") f i=0 got
	for f in $CAP_FIELDS; do
		got=$(status_field "$f" "$STATUS")
		[ "$got" = "${want[$i]}" ] || fail "$f is $got, expected ${want[$i]}"
		i=$((i + 1))
	done
}

# --- capabilities -----------------------------------------------------------------

@test "default spec: CapInh and CapAmb are 0, CapPrm/CapEff/CapBnd exactly the configured set (runc CVE-2022-29162, crun CVE-2022-27650)" {
	local set
	set=$(cap_mask $(config_caps bounding))
	# The spec's default: AUDIT_WRITE, KILL, NET_BIND_SERVICE and nothing else.
	[ "$set" = 0000000020000420 ]
	[ "$(cap_mask $(config_caps effective))" = "$set" ]
	[ "$(cap_mask $(config_caps permitted))" = "$set" ]
	[ -z "$(config_caps inheritable)" ]
	container_caps
	assert_caps 0000000000000000 "$set" "$set" "$set" 0000000000000000
}

@test "inheritable and ambient capabilities of the runtime's caller do not reach the container (crun CVE-2022-27650 class)" {
	command -v setpriv >/dev/null || skip "needs setpriv (util-linux)"
	set_args cat /proc/self/status
	# The caller holds SYS_ADMIN and NET_RAW as inheritable and ambient: with
	# a runtime that keeps its own inheritable set, execve would hand them on.
	setpriv --inh-caps +sys_admin,+net_raw --ambient-caps +sys_admin,+net_raw -- \
		"$BERTH" --root "$ROOT" run ctr >"$BATS_TEST_TMPDIR/out" 2>&1 </dev/null
	STATUS=$(cat "$BATS_TEST_TMPDIR/out")
	echo "$STATUS" | grep ^Cap
	assert_caps 0000000000000000 0000000020000420 0000000020000420 0000000020000420 0000000000000000
}

@test "non-root user with all five sets configured: each set is exactly what execve makes of the config (runc CVE-2022-29162 class)" {
	update_config '.process.user = {"uid": 1000, "gid": 1000}
		| .process.capabilities = {
			"bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN", "CAP_SYS_CHROOT"],
			"permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"],
			"effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
			"inheritable": ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
			"ambient": ["CAP_NET_BIND_SERVICE"]}'
	container_caps
	# execve by a non-root user of a file without capabilities: inheritable
	# and bounding stay, permitted and effective become the ambient set.
	assert_caps "$(cap_mask $(config_caps inheritable))" "$(cap_mask $(config_caps ambient))" \
		"$(cap_mask $(config_caps ambient))" "$(cap_mask $(config_caps bounding))" \
		"$(cap_mask $(config_caps ambient))"
	[ "$(status_field Uid "$STATUS")" = 1000 ]
}

# A copy of busybox with file capabilities, run as uid 1000 through an applet
# symlink; prints its own CapPrm/CapEff.
filecap_status() {
	cp "$BUNDLE/rootfs/bin/busybox" "$BUNDLE/rootfs/bin/capbox"
	setcap "$1" "$BUNDLE/rootfs/bin/capbox" || skip "setcap failed (no xattrs on $BUNDLE?)"
	mkdir -p "$BUNDLE/rootfs/capbin"
	ln -sf ../bin/capbox "$BUNDLE/rootfs/capbin/grep"
	update_config --argjson nnp "$2" '.process.noNewPrivileges = $nnp | .process.user = {"uid": 1000, "gid": 1000}'
	set_args /capbin/grep -E '^(CapPrm|CapEff|NoNewPrivs):' /proc/self/status
	run_berth run "ctr-$2"
	[ "$status" -eq 0 ] || fail "run failed: $output"
	STATUS=$output
}

@test "no_new_privs stops file capabilities; the bounding set caps them (file-capability escalation class)" {
	command -v setcap >/dev/null || skip "needs setcap (libcap2-bin)"
	update_config '.process.capabilities.bounding += ["CAP_CHOWN"]'
	filecap_status cap_chown+ep true
	[ "$(status_field NoNewPrivs "$STATUS")" = 1 ]
	[ "$(status_field CapEff "$STATUS")" = 0000000000000000 ] || fail "with no_new_privs the file capability was granted"
	# Control: without no_new_privs the same binary does get CAP_CHOWN ...
	filecap_status cap_chown+ep false
	[ "$(status_field CapEff "$STATUS")" = "$(cap_mask CAP_CHOWN)" ]
	# ... but never one outside the bounding set (permitted only: with the
	# effective bit the kernel would refuse the execve instead).
	filecap_status cap_sys_admin+p false
	[ "$(status_field CapPrm "$STATUS")" = 0000000000000000 ] || fail "a file capability outside the bounding set was granted"
}

@test "without CAP_SYS_ADMIN root cannot mount, remount / read-write or unshare a mount namespace (root.readonly bypass class)" {
	# No seccomp profile: the capability sets alone must stop it.
	update_config 'del(.linux.seccomp)'
	set_args sh -c 'mount -t tmpfs tmpfs /mnt 2>/dev/null && echo MOUNTED || echo mount-refused
mount -o remount,rw / 2>/dev/null && echo REMOUNTED || echo remount-refused
touch /newfile 2>/dev/null && echo WROTE || echo write-refused
unshare -m true 2>/dev/null && echo UNSHARED || echo unshare-refused
grep -c " /mnt " /proc/self/mountinfo; true'
	run_berth run ctr
	[ "$status" -eq 0 ]
	[ "$output" = "mount-refused
remount-refused
write-refused
unshare-refused
0" ]
	[ ! -e "$BUNDLE/rootfs/newfile" ]
}

# --- file descriptors ------------------------------------------------------------------

# bg_run_fds FIRST ID OUTFILE [run ARGS...]: bg_run with fds FIRST..9 of the
# runtime open on host objects: the marker directory (3, 5, 8, 9), the marker
# file (4, read; 6, append) and / (7). Fds 3..FIRST-1 are harmless files of
# this test instead (the ones a test preserves on purpose).
bg_run_fds() {
	local first=$1 id=$2 out=$3 p3=$MARK p4=$MARK/marker
	shift 3
	echo preserved-3 >"$BATS_TEST_TMPDIR/p3"
	echo preserved-4 >"$BATS_TEST_TMPDIR/p4"
	[ "$first" -le 3 ] || p3=$BATS_TEST_TMPDIR/p3
	[ "$first" -le 4 ] || p4=$BATS_TEST_TMPDIR/p4
	"$BERTH" --root "$ROOT" run "$@" "$id" >"$out" 2>&1 </dev/null \
		3<"$p3" 4<"$p4" 5<"$MARK" 6>>"$MARK/marker" 7</ 8<"$MARK" 9<"$MARK" &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
}

# host_fd_list PID: the fd numbers of PID, space-separated, sorted.
host_fd_list() {
	ls "/proc/$1/fd" | sort -n | xargs
}

# The container: wait for /go, then try every fd 3..9 through /proc.
FD_PROBE='until [ -e /go ]; do sleep 0.02; done
for n in 3 4 5 6 7 8 9; do
	if cat /proc/self/fd/$n/marker 2>/dev/null || cat /proc/1/fd/$n 2>/dev/null; then echo "READ via $n"; fi
	if (echo pwned >>/proc/1/fd/$n) 2>/dev/null; then echo "WROTE via $n"; fi
	if cd /proc/1/fd/$n 2>/dev/null; then echo "ENTERED via $n: $(pwd)"; cd /; fi
done
echo probe-done'

@test "fds 3-9 open in the runtime's caller on host files and directories do not reach the container (CVE-2024-21626 class)" {
	set_args sh -c "$FD_PROBE"
	bg_run_fds 3 ctr "$BATS_TEST_TMPDIR/out"
	wait_for_status ctr running
	local pid
	pid=$(container_pid ctr)
	[ "$(host_fd_list "$pid")" = "0 1 2" ] || fail "container init holds fds: $(ls -l "/proc/$pid/fd")"
	release_container
	wait_bg
	[ "$status" -eq 0 ]
	[ "$(cat "$BATS_TEST_TMPDIR/out")" = probe-done ]
	assert_host_untouched
}

@test "--preserve-fds 2 passes exactly fds 3 and 4; fds 5-9 of the caller stay out (CVE-2024-21626 class)" {
	set_args sh -c "$FD_PROBE"
	bg_run_fds 5 ctr "$BATS_TEST_TMPDIR/out" --preserve-fds 2
	wait_for_status ctr running
	local pid
	pid=$(container_pid ctr)
	[ "$(host_fd_list "$pid")" = "0 1 2 3 4" ] || fail "container init holds fds: $(ls -l "/proc/$pid/fd")"
	[ "$(readlink "/proc/$pid/fd/3")" = "$BATS_TEST_TMPDIR/p3" ]
	[ "$(readlink "/proc/$pid/fd/4")" = "$BATS_TEST_TMPDIR/p4" ]
	release_container
	wait_bg
	[ "$status" -eq 0 ]
	cat "$BATS_TEST_TMPDIR/out"
	# The preserved ones are reachable (that is what preserving means) ...
	grep -qx 'READ via 3' "$BATS_TEST_TMPDIR/out"
	grep -qx 'READ via 4' "$BATS_TEST_TMPDIR/out"
	# ... and nothing else.
	! grep -q 'via [5-9]' "$BATS_TEST_TMPDIR/out" || fail "reached a fd that was not preserved"
	[ "$(tail -n 1 "$BATS_TEST_TMPDIR/out")" = probe-done ]
	assert_host_untouched
}

@test "cwd /proc/self/fd/7 with fd 7 a host directory in the caller, preserved or not: never a host cwd (CVE-2024-21626)" {
	local preserve
	update_config '.process.cwd = "/proc/self/fd/7"'
	set_args sh -c 'pwd; ls; echo pwned >marker && echo WROTE; true'
	for preserve in 0 5; do
		(
			exec 3</dev/null 4</dev/null 5</dev/null 6</dev/null 7<"$MARK"
			status=0
			timeout -k 5 "$BERTH_TIMEOUT" "$BERTH" --root "$ROOT" run --preserve-fds $preserve ctr \
				>"$BATS_TEST_TMPDIR/out" 2>&1 </dev/null || status=$?
			echo "$status" >"$BATS_TEST_TMPDIR/status"
		)
		cat "$BATS_TEST_TMPDIR/out"
		if [ "$(cat "$BATS_TEST_TMPDIR/status")" -eq 0 ]; then
			! grep -q -e WROTE -e marker "$BATS_TEST_TMPDIR/out" || fail "preserve $preserve: the host directory was reached"
		fi
		assert_host_untouched
		[ -z "$(root_entries)" ]
	done
}

# --- the runtime's processes and binary ----------------------------------------------------

@test "the container sees only its own processes, not the runtime or the test shell (CVE-2019-5736 precondition)" {
	set_args sh -c 'cat /proc/[0-9]*/comm; true'
	run_berth run ctr
	[ "$status" -eq 0 ]
	# The glob is expanded by sh (pid 1) before it starts cat: sh alone,
	# nothing of the host's.
	[ "$output" = sh ]
}

@test "another container in the same pid namespace cannot open the /proc files of a created init (CVE-2016-9962, CVE-2019-5736)" {
	local b=$BATS_TEST_TMPDIR/bundle-b apid bpid target
	# A: the attacker, waiting for the pid of B's init in A's pid namespace.
	set_args sh -c 'until [ -s /go ]; do sleep 0.02; done; p=$(cat /go)
[ -e /proc/$p/status ] && echo visible
readlink /proc/$p/exe >/dev/null 2>&1 && echo "EXE $(readlink /proc/$p/exe)"
(exec 3</proc/$p/exe) 2>/dev/null && echo "OPENED exe"
for f in /proc/$p/fd/*; do
	readlink $f >/dev/null 2>&1 && echo "FD $f -> $(readlink $f)"
	(exec 5<$f) 2>/dev/null && echo "OPENED $f"
done
cat /proc/$p/environ >/dev/null 2>&1 && echo ENVIRON
ls /proc/$p/root/ >/dev/null 2>&1 && echo ROOT
cat /proc/$p/mem >/dev/null 2>&1 && echo MEM
syscall-probe raw 101 16 $p'
	bg_run a "$BATS_TEST_TMPDIR/a.out"
	wait_for_status a running
	apid=$(container_pid a)
	# B joins A's pid namespace and stays created: its init is the runtime.
	second_bundle "$b"
	update_config_in "$b" --arg p "/proc/$apid/ns/pid" \
		'.process.args = ["true"] | .linux.namespaces |= map(if .type == "pid" then .path = $p else . end)'
	run_berth create --bundle "$b" b
	[ "$status" -eq 0 ]
	bpid=$(container_pid b)
	target=$(awk '$1 == "NSpid:" { print $NF }' "/proc/$bpid/status")
	echo "$target" >"$BUNDLE/rootfs/go.tmp"
	mv "$BUNDLE/rootfs/go.tmp" "$BUNDLE/rootfs/go"
	wait_bg
	cat "$BATS_TEST_TMPDIR/a.out"
	[ "$status" -eq 0 ]
	# B's init is there to see, but none of its files open, and ptrace fails.
	# (Root may list /proc/PID/fd of a non-dumpable process: only the numbers.)
	[ "$(cat "$BATS_TEST_TMPDIR/a.out")" = "visible
err EPERM" ]
	run_berth delete --force b
}

@test "writing /proc/self/exe or /proc/1/exe from the container fails; the runtime binary is unchanged (CVE-2019-5736)" {
	local sha bb
	sha=$(runtime_sha)
	bb=$(sha256sum <"$BUNDLE/rootfs/bin/busybox")
	update_config '.root.readonly = false'
	set_args sh -c 'for f in /proc/self/exe /proc/1/exe; do if (echo x >>$f) 2>/dev/null; then echo "WROTE $f"; else (echo x >>$f) 2>&1 | sed "s/.*: //"; fi; done; true'
	run_berth run ctr
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "Text file busy" ]
	[ "${lines[1]}" = "Text file busy" ]
	[ "$(sha256sum <"$BUNDLE/rootfs/bin/busybox")" = "$bb" ]
	[ "$(runtime_sha)" = "$sha" ]
}

@test "exec: a container overwriting /proc/PID/exe of every process while the runtime execs into it never reaches the runtime binary (CVE-2019-5736)" {
	requires_berth_exec
	local sha i orig=$BERTH
	sha=$(runtime_sha)
	# On a copy of the runtime: a broken one would have the copy overwritten.
	runtime_copy
	update_config '.root.readonly = false'
	set_args sh -c 'seen=" 1 $$ "; while :; do for d in /proc/[0-9]*; do
	p=${d#/proc/}
	case $seen in *" $p "*) ;; *) seen="$seen$p "; echo "PID $p";; esac
	[ "$p" = 1 ] && continue; [ "$p" = $$ ] && continue
	if (echo PWNED >>$d/exe) 2>/dev/null; then echo "WROTE $p"; fi
	if [ -n "$(readlink $d/exe 2>/dev/null | grep -v busybox)" ]; then echo "SAW $p $(readlink $d/exe)"; fi
done; done'
	bg_run ctr "$BATS_TEST_TMPDIR/out" --detach
	wait_bg
	wait_for_status ctr running
	for i in $(seq 1 50); do
		run_berth exec ctr sleep 0.05
	done
	run_berth kill ctr KILL
	echo "# what the container saw:"
	sed 's/ [0-9]*$//' "$BATS_TEST_TMPDIR/out" | sort | uniq -c
	# The attacker did run alongside the execs (it saw their processes) ...
	[ "$(grep -c '^PID ' "$BATS_TEST_TMPDIR/out")" -ge 10 ] || fail "the container saw too few exec'd processes"
	! grep -q WROTE "$BATS_TEST_TMPDIR/out" || fail "the container wrote to a runtime process's exe"
	[ "$(sha256sum <"$BERTH" | cut -d' ' -f1)" = "$RT_SHA" ] || fail "the runtime binary was modified"
	BERTH=$orig
	[ "$(runtime_sha)" = "$sha" ]
}
