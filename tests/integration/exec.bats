#!/usr/bin/env bats
# `exec`: a new process in a running container. Output and exit status
# (128+N on a signal); the container's namespaces (pid, mnt, net, uts, ipc,
# cgroup, user) and cgroup; the container's process settings (env, cwd, user,
# capabilities, no_new_privs, rlimits, seccomp) and every flag that changes
# them; --detach/--pid-file; --process FILE (and bad ones); --preserve-fds
# (and no leaked fds without it); refusals (stopped, paused, unknown: 255,
# runc's code); signal forwarding; the process dying with the container; no
# leftovers after many execs; no hang when exec races kill/delete.
# Terminals (-t, --console-socket) are in tty.bats.

load helpers

setup() {
	setup_bundle
	# Unique per test and run: the container's cgroup is named after it.
	ID=ex-$BATS_TEST_NUMBER-$$
}

teardown() {
	local rc=0
	teardown_bundle || rc=1
	teardown_cgroups || rc=1
	return $rc
}

# start_ctr [ARG...]: `run --detach $ID` with process.args ARG... (default
# `sleep 1000`) and wait until it runs.
start_ctr() {
	[ $# -gt 0 ] || set -- sleep 1000
	set_args "$@"
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ] || fail "run --detach $ID exited $status"
	wait_for_status "$ID" running
}

# bg_exec OUTFILE ARGS...: `exec ARGS...` in the background, stdout+stderr to
# OUTFILE; sets BG_PID like bg_run (wait_bg waits for it, teardown reaps it).
bg_exec() {
	local out=$1
	shift
	"$BERTH" --root "$ROOT" exec "$@" >"$out" 2>&1 </dev/null 3>&- &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
}

# ctr_pids: the container's processes (host pids), sorted.
ctr_pids() {
	rootfs_pids "$BUNDLE/rootfs" | sort -n
}

# ctr_pid_count_is N: true when the container has exactly N processes.
ctr_pid_count_is() {
	[ "$(ctr_pids | wc -l)" -eq "$1" ]
}

# ctr_runs_n N CMDLINE: true when N of the container's processes run CMDLINE
# (args joined by spaces), i.e. have got as far as execve.
ctr_runs_n() {
	local p n=0
	for p in $(ctr_pids); do
		[ "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" != "$2 " ] || n=$((n + 1))
	done
	[ "$n" -eq "$1" ]
}

# tmpfs_tmp: a writable tmpfs on /tmp (the root stays read-only).
tmpfs_tmp() {
	add_mount '{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]}'
}

# cg_thaw DIR: thaw a frozen cgroup directly (a test's safety net, so that a
# failure leaves nothing frozen behind).
cg_thaw() {
	if cgroup_is_v2; then echo 0 >"$1/cgroup.freeze"; else echo THAWED >"$1/freezer.state"; fi
}

# --- output, status ----------------------------------------------------------

@test "exec prints the process's output and exits with its status" {
	start_ctr
	run_berth exec "$ID" sh -c 'echo out; echo err >&2'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = out ]
	[ "${lines[1]}" = err ]
	run_berth exec "$ID" sh -c 'exit 3'
	[ "$status" -eq 3 ]
	run_berth exec "$ID" false
	[ "$status" -eq 1 ]
	# The container itself is untouched.
	[ "$(container_status "$ID")" = running ]
}

@test "exec passes stdin through and keeps stdout and stderr apart" {
	start_ctr
	local out
	out=$(echo hello | timeout 20 "$BERTH" --root "$ROOT" exec "$ID" sh -c 'read l; echo "got:$l"; echo to-err >&2' \
		2>"$BATS_TEST_TMPDIR/err" 3>&-)
	[ "$out" = got:hello ]
	[ "$(cat "$BATS_TEST_TMPDIR/err")" = to-err ]
}

@test "exec exits 128+N when the process is killed by signal N" {
	start_ctr
	run_berth exec "$ID" sh -c 'kill -KILL $$'
	[ "$status" -eq 137 ]
	run_berth exec "$ID" sh -c 'kill -TERM $$'
	[ "$status" -eq 143 ]
}

@test "exec passes args verbatim and looks args[0] up in the container's PATH" {
	start_ctr
	run_berth exec "$ID" sh -c 'printf "[%s]" "$0" "$@"' argv0 'a b' 'c"d' '' '$HOME' '*'
	[ "$status" -eq 0 ]
	[ "$output" = '[argv0][a b][c"d][][$HOME][*]' ]
	# `sleep` of the rootfs's busybox, not the host's /bin/sleep.
	run_berth exec -d --pid-file "$BATS_TEST_TMPDIR/pid" "$ID" sleep 1000
	[ "$status" -eq 0 ]
	local pid
	pid=$(cat "$BATS_TEST_TMPDIR/pid")
	[ "$(stat -L -c %d:%i "/proc/$pid/exe")" = "$(stat -c %d:%i "$BUNDLE/rootfs/bin/busybox")" ]
}

# --- namespaces and cgroup -----------------------------------------------------

@test "exec joins every namespace of the init (pid, mnt, net, uts, ipc, cgroup, time)" {
	start_ctr
	local init ns mine
	init=$(container_pid "$ID")
	run_berth exec "$ID" sh -c 'for n in pid mnt net uts ipc cgroup time user; do
		[ -e /proc/self/ns/$n ] && echo "$n $(readlink /proc/self/ns/$n)"; done'
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -ge 6 ]
	local line n id
	for line in "${lines[@]}"; do
		read -r n id <<<"$line"
		[ "$id" = "$(ns_id "$init" "$n")" ] || fail "$n: exec'd process in $id, init in $(ns_id "$init" "$n")"
	done
	# ... and those are the container's own, not the host's.
	for ns in pid mnt net uts ipc; do
		mine=$(ns_id $$ "$ns")
		[ "$(ns_id "$init" "$ns")" != "$mine" ] || fail "the container shares the host's $ns namespace"
	done
}

@test "exec sees the container's processes: the init is pid 1" {
	start_ctr
	run_berth exec "$ID" sh -c 'cat /proc/1/cmdline | tr "\0" " "; echo; echo "self $$"; ls /proc | grep -c "^[0-9]*$"'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "sleep 1000 " ]
	local self=${lines[1]#self }
	[ "$self" -gt 1 ]
	# Only the container's processes: init, the exec'd sh and its children
	# (the host has far more).
	[ "${lines[2]}" -ge 2 ]
	[ "${lines[2]}" -le 5 ]
	# The host sees the exec'd process as a second-level pid in the same pid ns.
	run_berth exec -d --pid-file "$BATS_TEST_TMPDIR/pid" "$ID" sleep 1000
	local pid
	pid=$(cat "$BATS_TEST_TMPDIR/pid")
	[ "$(awk '$1 == "NSpid:" { print NF - 1 }' "/proc/$pid/status")" -eq 2 ]
	[ "$(ns_id "$pid" pid)" = "$(ns_id "$(container_pid "$ID")" pid)" ]
}

@test "exec sees the container's hostname and network (only loopback, up)" {
	update_config '.hostname = "exec-host"'
	start_ctr
	run_berth exec "$ID" sh -c 'hostname; ls /sys/class/net; cat /sys/class/net/lo/operstate; grep -c : /proc/net/dev'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = exec-host ]
	[ "${lines[1]}" = lo ]
	[ "${lines[2]}" = unknown ] # loopback's operstate when up
	# /proc/net/dev: two header lines, then one "NAME:" line per interface.
	[ "${lines[3]}" = 1 ]
}

@test "exec sees the container's mounts: a file the init wrote in its tmpfs" {
	tmpfs_tmp
	start_ctr sh -c 'echo from-init >/tmp/marker; exec sleep 1000'
	retry 5 0.05 run_berth exec "$ID" test -e /tmp/marker
	run_berth exec "$ID" cat /tmp/marker
	[ "$status" -eq 0 ]
	[ "$output" = from-init ]
	# The tmpfs exists only in the container's mount namespace.
	[ ! -e "$BUNDLE/rootfs/tmp/marker" ]
	# And the exec'd process's root is the container's rootfs.
	run_berth exec "$ID" sh -c 'grep " / " /proc/self/mountinfo | head -n 1; echo x >/tmp/from-exec'
	[ "$status" -eq 0 ]
	[ ! -e "$BUNDLE/rootfs/tmp/from-exec" ]
	run_berth exec "$ID" cat /tmp/from-exec
	[ "$output" = x ]
}

@test "exec joins the container's cgroup (seen from the host and inside)" {
	start_ctr
	save_cgroup_dirs "$ID"
	assert_own_cgroups
	run_berth exec -d --pid-file "$BATS_TEST_TMPDIR/pid" "$ID" sleep 1000
	[ "$status" -eq 0 ]
	local pid init key
	pid=$(cat "$BATS_TEST_TMPDIR/pid")
	init=$(container_pid "$ID")
	[ "$pid" != "$init" ]
	# In every hierarchy where the container has a group of its own, the
	# exec'd process is in that same group.
	for key in $(cgroup_hierarchies); do
		[ -n "${CG_DIR[$key]:-}" ] || continue
		[ "$(pid_cgroup_dir "$key" "$pid")" = "${CG_DIR[$key]}" ] ||
			fail "$key: exec'd process in $(pid_cgroup_dir "$key" "$pid"), container in ${CG_DIR[$key]}"
	done
	# /proc/PID/cgroup as a whole is the init's.
	diff "/proc/$init/cgroup" "/proc/$pid/cgroup"
	# The cgroup's process list has it (cgroup.procs: v1 and v2 alike).
	local d
	for d in "${CG_DIR[@]}"; do
		grep -qx "$pid" "$d/cgroup.procs" || fail "$pid not in $d"
	done
	# Inside, the view is the init's too.
	run_berth exec "$ID" sh -c '[ "$(cat /proc/self/cgroup)" = "$(cat /proc/1/cgroup)" ] && echo same'
	[ "$status" -eq 0 ]
	[ "$output" = same ]
}

@test "exec joins the container's user namespace" {
	chown -R 100000:100000 "$BUNDLE/rootfs"
	local d=$BUNDLE
	while [ "$d" != / ]; do
		chmod o+x "$d"
		d=$(dirname "$d")
	done
	update_config '.linux.namespaces += [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
	start_ctr
	local init
	init=$(container_pid "$ID")
	run_berth exec -d --pid-file "$BATS_TEST_TMPDIR/pid" "$ID" sleep 1000
	[ "$status" -eq 0 ]
	local pid
	pid=$(cat "$BATS_TEST_TMPDIR/pid")
	[ "$(ns_id "$pid" user)" = "$(ns_id "$init" user)" ]
	[ "$(ns_id "$pid" user)" != "$(ns_id $$ user)" ]
	# Root inside, 100000 outside.
	[ "$(awk '$1 == "Uid:" { print $2 }' "/proc/$pid/status")" = 100000 ]
	run_berth exec "$ID" sh -c 'id -u; cat /proc/self/uid_map'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 0 ]
	[ "$(echo ${lines[1]})" = "0 100000 65536" ]
}

# --- the container's process settings, and the flags that change them --------

@test "exec uses the config's env, cwd, user, capabilities and noNewPrivileges" {
	update_config '.process.env = ["PATH=/bin", "FROM_CONFIG=yes"]
		| .process.cwd = "/etc"
		| .process.user = {"uid": 1000, "gid": 1001, "additionalGids": [1002]}
		| .process.noNewPrivileges = true
		| .process.capabilities = {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}'
	start_ctr
	run_berth exec "$ID" sh -c 'echo "env $FROM_CONFIG"; pwd; id -u; id -g; grep -E "^(Groups|NoNewPrivs|CapBnd)" /proc/self/status'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "env yes" ]
	[ "${lines[1]}" = /etc ]
	[ "${lines[2]}" = 1000 ]
	[ "${lines[3]}" = 1001 ]
	[ "$(echo ${lines[4]})" = "Groups: 1002" ]
	[ "$(echo ${lines[5]})" = "CapBnd: 0000000000000020" ]
	[ "$(echo ${lines[6]})" = "NoNewPrivs: 1" ]
}

@test "exec --env adds a variable and replaces an existing one; the rest stays" {
	update_config '.process.env = ["PATH=/bin", "KEEP=kept", "OVER=config"]'
	start_ctr
	run_berth exec -e NEW=new -e OVER=flag -e 'SPACED=a b=c' "$ID" sh -c 'echo "$NEW|$OVER|$KEEP|$SPACED|$PATH"; env | grep -c ^OVER='
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "new|flag|kept|a b=c|/bin" ]
	# Replaced, not appended as a second OVER.
	[ "${lines[1]}" = 1 ]
	# The long form; the config's PATH replaced too.
	run_berth exec --env PATH=/nowhere --env OVER=long "$ID" /bin/sh -c 'echo "$OVER|$PATH"'
	[ "$status" -eq 0 ]
	[ "$output" = "long|/nowhere" ]
}

@test "exec --cwd sets the working directory" {
	update_config '.process.cwd = "/"'
	start_ctr
	run_berth exec --cwd /etc "$ID" sh -c 'pwd; ls passwd'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = /etc ]
	[ "${lines[1]}" = passwd ]
}

@test "exec --user UID:GID sets the real, effective and saved ids" {
	start_ctr
	run_berth exec --user 1000:1000 "$ID" sh -c 'id -u; id -g; grep -E "^(Uid|Gid):" /proc/self/status'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1000 ]
	[ "${lines[1]}" = 1000 ]
	[ "$(echo ${lines[2]})" = "Uid: 1000 1000 1000 1000" ]
	[ "$(echo ${lines[3]})" = "Gid: 1000 1000 1000 1000" ]
	run_berth exec -u 1001:1002 "$ID" sh -c 'echo $(id -u):$(id -g)'
	[ "$output" = 1001:1002 ]
	# The flag really dropped root: root's directory is closed to it.
	run_berth exec -u 1000:1000 "$ID" ls /root
	[ "$status" -ne 0 ]
}

@test "exec --additional-gids sets the supplementary groups (repeatable, like runc)" {
	start_ctr
	run_berth exec -u 1000:1000 --additional-gids 1005 "$ID" grep ^Groups: /proc/self/status
	[ "$status" -eq 0 ]
	[ "$(echo $output)" = "Groups: 1005" ]
	# runc's flag is an int slice: one gid per flag, repeated.
	run_berth exec -u 1000:1000 -g 1001 -g 1002 "$ID" grep ^Groups: /proc/self/status
	[ "$status" -eq 0 ]
	[ "$(echo $output)" = "Groups: 1001 1002" ]
	run_berth exec -u 1000:1000 --additional-gids 1003 --additional-gids 1004 "$ID" grep ^Groups: /proc/self/status
	[ "$status" -eq 0 ]
	[ "$(echo $output)" = "Groups: 1003 1004" ]
}

@test "exec --additional-gids takes a comma-separated list" {
	requires_berth "runc 1.1 parses each value as one integer and refuses a list"
	start_ctr
	run_berth exec -u 1000:1000 --additional-gids 1001,1002 "$ID" grep ^Groups: /proc/self/status
	[ "$status" -eq 0 ]
	[ "$(echo $output)" = "Groups: 1001 1002" ]
}

@test "exec --cap adds a capability to the bounding, effective and permitted sets" {
	update_config '.process.capabilities = {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}'
	start_ctr
	# Without the flag: CAP_KILL only, and no sethostname.
	run_berth exec "$ID" sh -c 'grep -E "^Cap(Prm|Eff|Bnd)" /proc/self/status; hostname changed 2>/dev/null || echo denied'
	[ "$status" -eq 0 ]
	[ "$(echo ${lines[0]})" = "CapPrm: 0000000000000020" ]
	[ "$(echo ${lines[1]})" = "CapEff: 0000000000000020" ]
	[ "$(echo ${lines[2]})" = "CapBnd: 0000000000000020" ]
	[ "${lines[3]}" = denied ]
	# CAP_SYS_ADMIN is bit 21.
	run_berth exec --cap CAP_SYS_ADMIN "$ID" sh -c 'grep -E "^Cap(Prm|Eff|Bnd)" /proc/self/status; hostname changed && hostname'
	[ "$status" -eq 0 ]
	[ "$(echo ${lines[0]})" = "CapPrm: 0000000000200020" ]
	[ "$(echo ${lines[1]})" = "CapEff: 0000000000200020" ]
	[ "$(echo ${lines[2]})" = "CapBnd: 0000000000200020" ]
	[ "${lines[3]}" = changed ]
	# Repeatable; CAP_CHOWN is bit 0.
	run_berth exec -c CAP_SYS_ADMIN -c CAP_CHOWN "$ID" sh -c 'grep ^CapEff /proc/self/status'
	[ "$(echo $output)" = "CapEff: 0000000000200021" ]
}

@test "exec --no-new-privs sets no_new_privs where the config does not" {
	update_config '.process.noNewPrivileges = false'
	start_ctr
	run_berth exec "$ID" grep ^NoNewPrivs: /proc/self/status
	[ "$status" -eq 0 ]
	[ "$(echo $output)" = "NoNewPrivs: 0" ]
	run_berth exec --no-new-privs "$ID" grep ^NoNewPrivs: /proc/self/status
	[ "$status" -eq 0 ]
	[ "$(echo $output)" = "NoNewPrivs: 1" ]
}

@test "exec applies the config's rlimits" {
	update_config '.process.rlimits = [
		{"type": "RLIMIT_NOFILE", "soft": 777, "hard": 888},
		{"type": "RLIMIT_NPROC", "soft": 555, "hard": 666}]'
	start_ctr
	run_berth exec "$ID" sh -c 'ulimit -n; ulimit -Hn; grep "^Max processes" /proc/self/limits'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 777 ]
	[ "${lines[1]}" = 888 ]
	[ "$(echo ${lines[2]})" = "Max processes 555 666 processes" ]
}

@test "exec applies the config's seccomp filter (mkdir denied with EXDEV)" {
	tmpfs_tmp
	update_config '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 18}]}'
	start_ctr
	run_berth exec "$ID" sh -c 'touch /tmp/file && echo touched; mkdir /tmp/dir 2>&1; echo "rc=$?"; grep ^Seccomp: /proc/self/status'
	[ "$status" -eq 0 ]
	# /tmp is writable: only the filter stops mkdir, with its errno.
	[ "${lines[0]}" = touched ]
	[[ "${lines[1]}" == *"Invalid cross-device link"* ]]
	[ "${lines[2]}" = rc=1 ]
	[ "$(echo ${lines[3]})" = "Seccomp: 2" ]
	run_berth exec "$ID" test -d /tmp/dir
	[ "$status" -ne 0 ]
}

# --- --detach, --pid-file ------------------------------------------------------

@test "exec --detach --pid-file: returns at once, the pid file holds the running process" {
	start_ctr
	local start=$SECONDS pid
	run_berth exec --detach --pid-file "$BATS_TEST_TMPDIR/pid" "$ID" sh -c 'exec sleep 1000'
	[ "$status" -eq 0 ]
	[ $((SECONDS - start)) -lt 10 ]
	pid=$(cat "$BATS_TEST_TMPDIR/pid")
	[[ "$pid" =~ ^[0-9]+$ ]]
	[ "$pid" != "$(container_pid "$ID")" ]
	# A host pid of a process in the container, still running after exec returned.
	sleep 0.3
	kill -0 "$pid"
	ctr_pids | grep -qx "$pid"
	[ "$(tr '\0' ' ' <"/proc/$pid/cmdline")" = "sleep 1000 " ]
	grep -q '^State:.*S (sleeping)' "/proc/$pid/status"
}

@test "exec --pid-file in the foreground is written while the process runs" {
	start_ctr
	bg_exec "$BATS_TEST_TMPDIR/out" --pid-file "$BATS_TEST_TMPDIR/pid" "$ID" sh -c "$WAIT_FOR_GO; exit 6"
	retry 10 0.02 test -s "$BATS_TEST_TMPDIR/pid"
	local pid
	pid=$(cat "$BATS_TEST_TMPDIR/pid")
	ctr_pids | grep -qx "$pid"
	release_container
	wait_bg
	[ "$status" -eq 6 ]
}

# --- --process FILE --------------------------------------------------------------

@test "exec --process FILE runs the process object as given" {
	update_config '.process.env = ["PATH=/bin", "FROM_CONFIG=yes"]'
	start_ctr
	cat >"$BATS_TEST_TMPDIR/process.json" <<-'EOF'
		{
			"terminal": false,
			"args": ["sh", "-c", "echo \"$FOO|${FROM_CONFIG-unset}\"; pwd; id -u; id -g; grep -E '^(Groups|NoNewPrivs)' /proc/self/status; exit 7"],
			"env": ["PATH=/bin", "FOO=from-file"],
			"cwd": "/etc",
			"user": {"uid": 1000, "gid": 1001, "additionalGids": [1003]},
			"noNewPrivileges": true
		}
	EOF
	run_berth exec --process "$BATS_TEST_TMPDIR/process.json" "$ID"
	[ "$status" -eq 7 ]
	# The file's env replaces the config's.
	[ "${lines[0]}" = "from-file|unset" ]
	[ "${lines[1]}" = /etc ]
	[ "${lines[2]}" = 1000 ]
	[ "${lines[3]}" = 1001 ]
	[ "$(echo ${lines[4]})" = "Groups: 1003" ]
	[ "$(echo ${lines[5]})" = "NoNewPrivs: 1" ]
}

@test "exec --process with a bad file is refused, naming --process (invalid JSON, array, no args)" {
	start_ctr
	local f=$BATS_TEST_TMPDIR/process.json content
	for content in '{"args": ["true"' '[{"args": ["true"]}]' '{"cwd": "/", "env": ["PATH=/bin"]}' '{"args": []}' '"args"'; do
		printf '%s\n' "$content" >"$f"
		run_berth exec -p "$f" "$ID"
		[ "$status" -ne 0 ] || fail "accepted: $content"
		if is_berth; then
			# runc: 255, and its message does not name --process.
			[ "$status" -eq 1 ] || fail "exit $status for $content"
			[ "${#lines[@]}" -eq 1 ] || fail "not one line for $content"
			[[ "$output" == *"--process $f"* ]] || fail "does not name --process $f: $output"
		fi
	done
	# Nothing was started.
	[ "$(ctr_pids)" = "$(container_pid "$ID")" ]
	run_berth exec -p "$BATS_TEST_TMPDIR/nonexistent.json" "$ID"
	[ "$status" -ne 0 ]
	! is_berth || [[ "$output" == *"--process $BATS_TEST_TMPDIR/nonexistent.json"* ]]
}

# --- file descriptors ------------------------------------------------------------

# exec_d_fds ARGS...: `exec --detach --pid-file` ARGS... with the caller's fds
# 3 and 4 open on the files f3 and f4; prints the detached process's fds as
# the host sees them, "N TARGET" a line. (Read from the host: a process
# listing its own fds would see the directory or pipe fds of the listing.)
exec_d_fds() {
	local pid fd
	rm -f "$BATS_TEST_TMPDIR/pid"
	timeout 20 "$BERTH" --root "$ROOT" exec --detach --pid-file "$BATS_TEST_TMPDIR/pid" "$@" \
		3<"$BATS_TEST_TMPDIR/f3" 4<"$BATS_TEST_TMPDIR/f4" </dev/null >"$BATS_TEST_TMPDIR/out" 2>&1 ||
		fail "exec --detach $* exited $?: $(cat "$BATS_TEST_TMPDIR/out")"
	pid=$(cat "$BATS_TEST_TMPDIR/pid")
	for fd in $(ls "/proc/$pid/fd" | sort -n); do
		echo "$fd $(readlink "/proc/$pid/fd/$fd")"
	done
}

@test "exec --preserve-fds passes the caller's fds 3.. on; without it none arrives" {
	start_ctr
	echo secret-3 >"$BATS_TEST_TMPDIR/f3"
	echo secret-4 >"$BATS_TEST_TMPDIR/f4"
	local fds out
	# Without the flag only 0, 1 and 2 are open (CVE-2024-21626: no fd of the
	# caller or of the runtime reaches the process).
	fds=$(exec_d_fds "$ID" sleep 1001)
	echo "$fds"
	[ "$(cut -d' ' -f1 <<<"$fds" | xargs)" = "0 1 2" ]
	fds=$(exec_d_fds --preserve-fds 1 "$ID" sleep 1002)
	echo "$fds"
	[ "$(cut -d' ' -f1 <<<"$fds" | xargs)" = "0 1 2 3" ]
	[ "$(sed -n 4p <<<"$fds")" = "3 $BATS_TEST_TMPDIR/f3" ]
	fds=$(exec_d_fds --preserve-fds 2 "$ID" sleep 1003)
	echo "$fds"
	[ "$(cut -d' ' -f1 <<<"$fds" | xargs)" = "0 1 2 3 4" ]
	[ "$(sed -n 5p <<<"$fds")" = "4 $BATS_TEST_TMPDIR/f4" ]

	# And the process can read them.
	out=$(timeout 20 "$BERTH" --root "$ROOT" exec --preserve-fds 2 "$ID" sh -c 'cat <&3; cat <&4' \
		3<"$BATS_TEST_TMPDIR/f3" 4<"$BATS_TEST_TMPDIR/f4" </dev/null)
	[ "$(echo $out)" = "secret-3 secret-4" ]
	out=$(timeout 20 "$BERTH" --root "$ROOT" exec "$ID" sh -c 'cat <&3 2>/dev/null || echo no-fd-3' \
		3<"$BATS_TEST_TMPDIR/f3" </dev/null)
	[ "$out" = no-fd-3 ]
}

@test "an exec'd process holds only its stdio, and its root and cwd are the container's" {
	start_ctr
	: >"$BATS_TEST_TMPDIR/f3"
	: >"$BATS_TEST_TMPDIR/f4"
	local fds pid
	fds=$(exec_d_fds "$ID" sleep 1001)
	echo "$fds"
	[ "$fds" = "0 /dev/null
1 $BATS_TEST_TMPDIR/out
2 $BATS_TEST_TMPDIR/out" ]
	pid=$(cat "$BATS_TEST_TMPDIR/pid")
	[ "$(stat -L -c %d:%i "/proc/$pid/root")" = "$(stat -c %d:%i "$BUNDLE/rootfs")" ]
	[ "$(stat -L -c %d:%i "/proc/$pid/cwd")" = "$(stat -c %d:%i "$BUNDLE/rootfs")" ]
	# Same with --cwd.
	fds=$(exec_d_fds --cwd /etc "$ID" sleep 1002)
	pid=$(cat "$BATS_TEST_TMPDIR/pid")
	[ "$(stat -L -c %d:%i "/proc/$pid/cwd")" = "$(stat -c %d:%i "$BUNDLE/rootfs/etc")" ]
}

# --- refusals --------------------------------------------------------------------

@test "exec into an unknown container exits 255: does not exist" {
	run_berth exec no-such-ctr true
	[ "$status" -eq 255 ]
	[[ "$output" == *"does not exist"* ]]
	! is_berth || [ "$output" = 'berth: container "no-such-ctr" does not exist' ]
}

@test "exec into a stopped container exits 255: cannot exec in a stopped container" {
	update_config '.root.readonly = false'
	set_args true
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	wait_for_status "$ID" stopped
	run_berth exec "$ID" sh -c 'echo ran >/ran'
	[ "$status" -eq 255 ]
	[[ "$output" == *"cannot exec in a stopped container"* ]]
	! is_berth || [ "${#lines[@]}" -eq 1 ]
	[ ! -e "$BUNDLE/rootfs/ran" ]
	[ "$(container_status "$ID")" = stopped ]
	no_rootfs_pids "$BUNDLE/rootfs"
}

@test "exec of a missing executable exits 255 and names it" {
	start_ctr
	run_berth exec "$ID" nosuch
	[ "$status" -eq 255 ]
	# (runc's log line escapes the quotes.)
	[[ "$output" == *nosuch*'executable file not found in $PATH'* ]]
	! is_berth || [ "$output" = 'berth: exec: "nosuch": executable file not found in $PATH' ]
	run_berth exec "$ID" /bin/nosuch
	[ "$status" -eq 255 ]
	[[ "$output" == */bin/nosuch* ]]
	# Nothing left behind, and the container carries on.
	[ "$(ctr_pids)" = "$(container_pid "$ID")" ]
	[ "$(container_status "$ID")" = running ]
}

@test "exec into a paused container exits 255; after resume exec works" {
	requires_cgroup freezer
	tmpfs_tmp
	start_ctr
	run_berth pause "$ID"
	[ "$status" -eq 0 ]
	run_berth exec "$ID" sh -c 'echo ran >/tmp/ran'
	[ "$status" -eq 255 ]
	[[ "$output" == *"cannot exec in a paused container"* ]]
	[ "$(container_status "$ID")" = paused ]
	run_berth resume "$ID"
	[ "$status" -eq 0 ]
	run_berth exec "$ID" cat /tmp/ran
	[ "$status" -ne 0 ] # the refused exec did not run later
	run_berth exec "$ID" sh -c 'echo ran >/tmp/ran; cat /tmp/ran'
	[ "$status" -eq 0 ]
	[ "$output" = ran ]
}

@test "exec --ignore-paused is not refused: the process runs once the container is resumed" {
	requires_cgroup freezer
	start_ctr
	save_cgroup_dirs "$ID"
	run_berth pause "$ID"
	[ "$status" -eq 0 ]
	bg_exec "$BATS_TEST_TMPDIR/out" --ignore-paused "$ID" sh -c 'echo ran; exit 4'
	# Frozen with the container: it neither fails nor runs.
	sleep 1
	cat "$BATS_TEST_TMPDIR/out"
	kill -0 "$BG_PID" || fail "exec --ignore-paused returned while the container was paused"
	[ ! -s "$BATS_TEST_TMPDIR/out" ]
	BERTH_TIMEOUT=10 run_berth resume "$ID"
	if [ "$status" -ne 0 ]; then
		cg_thaw "${CG_DIR[freezer]}"
		fail "resume exited $status while an exec --ignore-paused waited"
	fi
	wait_bg 10 || {
		cg_thaw "${CG_DIR[freezer]}"
		fail "exec --ignore-paused still waiting after resume"
	}
	cat "$BATS_TEST_TMPDIR/out"
	[ "$status" -eq 4 ]
	[ "$(cat "$BATS_TEST_TMPDIR/out")" = ran ]
}

# --- signals and lifetime ----------------------------------------------------------

@test "SIGTERM sent to exec reaches the process: exec exits 143" {
	start_ctr
	bg_exec "$BATS_TEST_TMPDIR/out" "$ID" sleep 1001
	retry 10 0.02 ctr_runs_n 1 "sleep 1001"
	kill -TERM "$BG_PID"
	wait_bg
	[ "$status" -eq 143 ]
	retry 5 0.02 ctr_pid_count_is 1
	[ "$(container_status "$ID")" = running ]
}

@test "SIGUSR1 sent to exec reaches the process's handler" {
	start_ctr
	bg_exec "$BATS_TEST_TMPDIR/out" "$ID" sh -c 'trap "echo got-usr1; exit 9" USR1; echo ready; while :; do sleep 0.05; done'
	wait_for_file_line "$BATS_TEST_TMPDIR/out" ready
	kill -USR1 "$BG_PID"
	wait_bg
	cat "$BATS_TEST_TMPDIR/out"
	[ "$status" -eq 9 ]
	grep -qx got-usr1 "$BATS_TEST_TMPDIR/out"
}

@test "delete --force kills exec'd processes, foreground and detached" {
	start_ctr
	bg_exec "$BATS_TEST_TMPDIR/out" "$ID" sleep 1001
	run_berth exec -d --pid-file "$BATS_TEST_TMPDIR/pid" "$ID" sleep 1001
	[ "$status" -eq 0 ]
	retry 10 0.02 ctr_runs_n 2 "sleep 1001"
	run_berth delete --force "$ID"
	[ "$status" -eq 0 ]
	wait_bg
	[ "$status" -eq 137 ]
	retry 5 0.05 no_rootfs_pids "$BUNDLE/rootfs"
	[ -z "$(root_entries)" ]
}

@test "delete --force kills exec'd processes of a container without a pid namespace" {
	ns_remove pid
	start_ctr
	save_cgroup_dirs "$ID"
	bg_exec "$BATS_TEST_TMPDIR/out" "$ID" sleep 1001
	run_berth exec -d --pid-file "$BATS_TEST_TMPDIR/pid" "$ID" sleep 1001
	[ "$status" -eq 0 ]
	retry 10 0.02 ctr_runs_n 2 "sleep 1001"
	run_berth delete --force "$ID"
	[ "$status" -eq 0 ]
	wait_bg
	[ "$status" -eq 137 ]
	retry 5 0.05 no_rootfs_pids "$BUNDLE/rootfs"
	retry 5 0.1 no_cgroup_dirs_left
}

@test "50 execs leave no processes, fds, mounts or state behind" {
	start_ctr
	save_cgroup_dirs "$ID"
	local init fds_before state_before mounts_before i rc
	init=$(container_pid "$ID")
	fds_before=$(ls "/proc/$init/fd" | xargs)
	state_before=$(ls -A "$ROOT" "$ROOT/$ID" 2>/dev/null)
	# (Only this test's mounts: other suites may mount things meanwhile.)
	mounts_before=$(grep -F "$BATS_TEST_TMPDIR" /proc/self/mountinfo || true)
	local ns_mounts_before
	ns_mounts_before=$(cat "/proc/$init/mountinfo")
	for i in $(seq 50); do
		rc=0
		timeout 20 "$BERTH" --root "$ROOT" exec "$ID" sh -c "exit $((i % 3))" </dev/null >/dev/null 2>&1 3>&- || rc=$?
		[ "$rc" -eq $((i % 3)) ] || fail "exec $i exited $rc"
	done
	[ "$(ctr_pids)" = "$init" ]
	[ "$(ls "/proc/$init/fd" | xargs)" = "$fds_before" ]
	[ "$(ls -A "$ROOT" "$ROOT/$ID" 2>/dev/null)" = "$state_before" ]
	[ "$(grep -F "$BATS_TEST_TMPDIR" /proc/self/mountinfo || true)" = "$mounts_before" ]
	[ "$(cat "/proc/$init/mountinfo")" = "$ns_mounts_before" ]
	local d
	for d in "${CG_DIR[@]}"; do
		[ "$(xargs <"$d/cgroup.procs")" = "$init" ] || fail "$d has processes: $(xargs <"$d/cgroup.procs")"
	done
	[ "$(container_status "$ID")" = running ]
}

@test "exec does not hang while the container is killed and deleted" {
	start_ctr
	local i
	for i in 1 2 3; do
		bg_exec "$BATS_TEST_TMPDIR/out$i" "$ID" sleep 1001
	done
	retry 10 0.02 ctr_runs_n 3 "sleep 1001"
	run_berth kill "$ID" KILL
	[ "$status" -eq 0 ]
	wait_for_status "$ID" stopped
	for pid in "${BG_PIDS[@]}"; do
		BG_PID=$pid
		wait_bg 10
		[ "$status" -eq 137 ] || fail "exec exited $status"
	done
	run_berth delete "$ID"
	[ "$status" -eq 0 ]
}

@test "execs racing delete --force all return, and nothing survives" {
	start_ctr
	save_cgroup_dirs "$ID"
	local statuses=$BATS_TEST_TMPDIR/statuses
	(
		for i in $(seq 30); do
			rc=0
			timeout -k 5 20 "$BERTH" --root "$ROOT" exec "$ID" sleep 1000 </dev/null >/dev/null 2>&1 3>&- &
			sleep 0.01
		done
		for i in $(seq 30); do
			rc=0
			wait -n || rc=$?
			echo "$rc" >>"$statuses"
		done
	) 3>&- &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
	sleep 0.15
	run_berth delete --force "$ID"
	[ "$status" -eq 0 ]
	wait_bg 30
	sort "$statuses" | uniq -c
	[ "$(wc -l <"$statuses")" -eq 30 ]
	# Killed with the container (137) or refused (255); never a timeout.
	refute grep -vxE '137|255' "$statuses"
	retry 5 0.05 no_rootfs_pids "$BUNDLE/rootfs"
	retry 5 0.1 no_cgroup_dirs_left
	[ -z "$(root_entries)" ]
}

# mk_subcgroups ID NAME: an existing sub-cgroup NAME in each of the
# container's own groups (every hierarchy it is in, but the test shell's).
mk_subcgroups() {
	local pid line path mnt key
	pid=$(container_pid "$1")
	while IFS=: read -r _ key path; do
		# The hierarchy's mount: cgroup2 for "", else the v1 one whose
		# options hold the first controller (or name=...).
		mnt=$(awk -v k="${key%%,*}" '$0 ~ / - cgroup2? / {
			split($0, a, " - "); split(a[2], f, " "); o = "," f[3] ","
			if ((k == "" && f[1] == "cgroup2") || (k != "" && f[1] == "cgroup" && index(o, "," k ","))) { print $5; exit } }' /proc/self/mountinfo)
		[ -n "$mnt" ] || continue
		[ "$path" != "$(grep -E "^[0-9]+:$key:" /proc/$$/cgroup | cut -d: -f3-)" ] || continue
		mkdir -p "$mnt$path/$2"
		if [ -e "$mnt$path/$2/cpuset.cpus" ]; then # v1 cpuset starts empty
			cat "$mnt$path/cpuset.cpus" >"$mnt$path/$2/cpuset.cpus"
			cat "$mnt$path/cpuset.mems" >"$mnt$path/$2/cpuset.mems"
		fi
		SUBCG+=("$mnt$path/$2")
	done </proc/"$pid"/cgroup
}

@test "exec --cgroup PATH puts the process in that sub-cgroup of the container's (every hierarchy)" {
	start_ctr
	SUBCG=()
	mk_subcgroups "$ID" sub1
	[ ${#SUBCG[@]} -gt 0 ] || skip "container has no cgroup of its own"
	run_berth exec --cgroup sub1 "$ID" cat /proc/self/cgroup
	[ "$status" -eq 0 ]
	local mem
	mem=$(grep -E ':memory:|^0::' <<<"$output" | head -1)
	[[ "$mem" == */sub1 ]] || fail "not in sub1: $mem"
	# Without the flag: the container's own group, not the sub-cgroup.
	run_berth exec "$ID" cat /proc/self/cgroup
	[[ "$(grep -E ':memory:|^0::' <<<"$output" | head -1)" != */sub1 ]]
	run_berth kill "$ID" KILL
	wait_for_status "$ID" stopped
	run_berth delete "$ID"
	[ "$status" -eq 0 ]
	local d
	for d in "${SUBCG[@]}"; do [ ! -d "$d" ] || fail "left $d"; done
}

@test "exec --cgroup CTL:PATH joins the sub-cgroup in that controller only; a missing one fails with 255 and one line" {
	cgroup_is_v2 && skip "CTL:PATH is for cgroup v1 controllers"
	start_ctr
	SUBCG=()
	mk_subcgroups "$ID" sub2
	[ ${#SUBCG[@]} -gt 0 ] || skip "container has no cgroup of its own"
	run_berth exec --cgroup memory:sub2 "$ID" cat /proc/self/cgroup
	[ "$status" -eq 0 ]
	[[ "$(grep ':memory:' <<<"$output")" == */sub2 ]]
	[[ "$(grep ':pids:' <<<"$output")" != */sub2 ]]
	run_berth exec --cgroup nosuch "$ID" true
	[ "$status" -eq 255 ]
	if is_berth; then
		[ "${#lines[@]}" -eq 1 ]
		[[ "$output" == *"nosuch"* ]]
	fi
}
