#!/usr/bin/env bats
# OCI lifecycle hooks (runtime-spec config.md "POSIX-platform Hooks"): each of
# the six kinds runs at its point of the lifecycle, in the right namespaces,
# with the state JSON on stdin, its args (args[0] is argv[0]) and env; a
# failing prestart/createRuntime/createContainer hook makes `create` fail and
# leaves nothing behind, startContainer stops the process from running,
# poststart/poststop failures are warnings; timeouts kill the hook; bad
# hooks config is refused before anything exists.
#
# The recorder ($REC, a sh script) writes what a hook saw into $HKLOG, a
# directory inside the bundle's rootfs: the host-side hooks and createContainer
# (before pivot_root) reach it as $BUNDLE/rootfs/hklog, startContainer (in the
# container) as /hklog. For each hook NAME it writes NAME.state (stdin),
# NAME.argv and NAME.env (its own /proc cmdline and environ, one entry a
# line), NAME.mnt and NAME.pidns (its namespaces), and appends NAME to
# "order". Container IDs start with hk-.

load helpers

setup() {
	setup_bundle
	ID=hk-$BATS_TEST_NUMBER-$$
	# The startContainer hook writes into the rootfs.
	update_config '.root.readonly = false'
	update_config '.annotations = {"org.example.hk": "v1", "org.example.empty": ""}'
	HKLOG=$BUNDLE/rootfs/hklog
	mkdir -p "$HKLOG"
	REC=$BATS_TEST_TMPDIR/rec.sh
	# /proc/self/stat read by the shell itself (a builtin, no fork) gives the
	# shell's pid as this /proc counts it: $$ would be wrong for
	# createContainer, which runs in the container's pid namespace while /proc
	# is still the host's.
	cat >"$REC" <<-'EOF'
		d=$1 n=$2
		read -r p _ </proc/self/stat
		cat >"$d/$n.state"
		tr '\0' '\n' <"/proc/$p/cmdline" >"$d/$n.argv"
		tr '\0' '\n' <"/proc/$p/environ" >"$d/$n.env"
		readlink /proc/self/ns/mnt >"$d/$n.mnt"
		readlink /proc/self/ns/pid >"$d/$n.pidns"
		echo "$n" >>"$d/order"
	EOF
	# The same recorder inside the rootfs, for startContainer.
	cp "$REC" "$BUNDLE/rootfs/hk-rec.sh"
	HOST_MNT=$(readlink /proc/$$/ns/mnt)
	HOST_PIDNS=$(readlink /proc/$$/ns/pid)
}

# json_strings ARG...: a JSON array of the arguments as strings.
json_strings() {
	if [ $# -eq 0 ]; then
		echo '[]'
		return
	fi
	local i=0 filter='' arg
	local -a jqargs=()
	for arg in "$@"; do
		jqargs+=(--arg "a$i" "$arg")
		filter+="${filter:+, }\$a$i"
		i=$((i + 1))
	done
	jq -cn "${jqargs[@]}" "[$filter]"
}

# add_hook KIND JSON: append one hook object to hooks.KIND.
add_hook() {
	update_config --arg k "$1" --argjson h "$2" '.hooks[$k] += [$h]'
}

# add_hook_cmd KIND PATH ARG...: append {path, args: [ARG...]} to hooks.KIND.
add_hook_cmd() {
	local kind=$1 path=$2
	shift 2
	add_hook "$kind" "$(jq -cn --arg p "$path" --argjson a "$(json_strings "$@")" '{path: $p, args: $a}')"
}

# rec_hook KIND [NAME]: the recorder as a KIND hook, recording as NAME
# (default KIND), with argv[0] "sh-NAME". startContainer runs the copy in the
# rootfs, with argv[0] "sh", and writes to /hklog.
rec_hook() {
	local kind=$1 name=${2:-$1}
	if [ "$kind" = startContainer ]; then
		# The rootfs's /bin/sh is busybox: argv[0] must name the applet.
		add_hook_cmd "$kind" /bin/sh sh /hk-rec.sh /hklog "$name"
	else
		add_hook_cmd "$kind" /bin/sh "sh-$name" "$REC" "$HKLOG" "$name"
	fi
}

# order: the recorded order, space-separated.
order() {
	[ ! -e "$HKLOG/order" ] || paste -sd' ' "$HKLOG/order"
}

# mark WORD: append a test-side marker to the order file.
mark() {
	echo "$1" >>"$HKLOG/order"
}

# assert_state NAME STATUS: NAME.state is this container's state with STATUS,
# its bundle and annotations.
assert_state() {
	local f=$HKLOG/$1.state
	cat "$f"
	jq -e --arg s "$2" '.status == $s' "$f"
	jq -e --arg id "$ID" '.id == $id' "$f"
	jq -e --arg b "$(realpath "$BUNDLE")" '.bundle == $b' "$f"
	jq -e '.ociVersion | type == "string" and startswith("1.")' "$f"
	jq -e '.annotations == {"org.example.hk": "v1", "org.example.empty": ""}' "$f"
}

# cgroup_named NAME: cgroup directories called NAME anywhere under /sys/fs/cgroup.
cgroup_named() {
	find /sys/fs/cgroup -maxdepth 8 -type d -name "$1" 2>/dev/null
}

# assert_nothing_left CGNAME: no state, no container, no cgroup CGNAME.
assert_nothing_left() {
	[ -z "$(root_entries)" ] || fail "state left in \$ROOT: $(root_entries)"
	run_berth state "$ID"
	[ "$status" -eq 1 ]
	retry 3 0.05 no_rootfs_pids "$BUNDLE/rootfs"
	[ -z "$(cgroup_named "$1")" ] || fail "cgroup left: $(cgroup_named "$1")"
}

# --- each kind succeeding ----------------------------------------------------

@test "prestart and createRuntime run during create, in the runtime namespaces, with the creating state" {
	rec_hook prestart
	rec_hook createRuntime
	set_args sleep 100
	run_berth create "$ID"
	[ "$status" -eq 0 ]
	local pid
	pid=$(container_pid "$ID")
	local k
	for k in prestart createRuntime; do
		assert_state "$k" creating
		jq -e --argjson p "$pid" '.pid == $p' "$HKLOG/$k.state"
		[ "$(cat "$HKLOG/$k.mnt")" = "$HOST_MNT" ]
		[ "$(cat "$HKLOG/$k.mnt")" != "$(ns_id "$pid" mnt)" ]
		[ "$(cat "$HKLOG/$k.pidns")" = "$HOST_PIDNS" ]
		# args[0] is argv[0], the rest follow in order.
		[ "$(paste -sd" " "$HKLOG/$k.argv")" = "sh-$k $REC $HKLOG $k" ]
	done
	[ "$(order)" = "prestart createRuntime" ]
}

@test "createContainer runs in the container's namespaces, its path resolved on the host" {
	# $REC is not in the rootfs: only the host's filesystem (before pivot_root) has it.
	[ ! -e "$BUNDLE/rootfs$REC" ]
	rec_hook createContainer
	set_args sleep 100
	run_berth create "$ID"
	[ "$status" -eq 0 ]
	local pid
	pid=$(container_pid "$ID")
	assert_state createContainer creating
	[ "$(cat "$HKLOG/createContainer.mnt")" = "$(ns_id "$pid" mnt)" ]
	[ "$(cat "$HKLOG/createContainer.mnt")" != "$HOST_MNT" ]
	[ "$(cat "$HKLOG/createContainer.pidns")" = "$(ns_id "$pid" pid)" ]
	[ "$(cat "$HKLOG/createContainer.pidns")" != "$HOST_PIDNS" ]
	[ "$(paste -sd" " "$HKLOG/createContainer.argv")" = "sh-createContainer $REC $HKLOG createContainer" ]
}

@test "startContainer runs in the container after start, before the process, its path resolved in the rootfs" {
	# A script that exists only in the container's rootfs.
	printf '#!/bin/sh\nexec /bin/sh /hk-rec.sh "$@"\n' >"$BUNDLE/rootfs/hk-only-in-rootfs.sh"
	chmod +x "$BUNDLE/rootfs/hk-only-in-rootfs.sh"
	[ ! -e /hk-only-in-rootfs.sh ]
	add_hook_cmd startContainer /hk-only-in-rootfs.sh whatever /hklog startContainer
	set_args sh -c 'echo process >>/hklog/order'
	run_berth create "$ID"
	[ "$status" -eq 0 ]
	local pid mnt pidns
	pid=$(container_pid "$ID")
	mnt=$(ns_id "$pid" mnt)
	pidns=$(ns_id "$pid" pid)
	# Not yet: only start runs it.
	[ ! -e "$HKLOG/startContainer.state" ]
	run_berth start "$ID"
	[ "$status" -eq 0 ]
	wait_for_status "$ID" stopped
	assert_state startContainer created
	[ "$(cat "$HKLOG/startContainer.mnt")" = "$mnt" ]
	[ "$(cat "$HKLOG/startContainer.pidns")" = "$pidns" ]
	[ "$(order)" = "startContainer process" ]
}

@test "createContainer and startContainer get the container's pid as the host sees it" {
	requires_berth "runc 1.1 passes pid 1 (its getpid() in the container) to createContainer and startContainer"
	rec_hook createContainer
	rec_hook startContainer
	set_args true
	run_berth create "$ID"
	[ "$status" -eq 0 ]
	local pid
	pid=$(container_pid "$ID")
	run_berth start "$ID"
	[ "$status" -eq 0 ]
	wait_for_status "$ID" stopped
	jq -e --argjson p "$pid" '.pid == $p' "$HKLOG/createContainer.state"
	jq -e --argjson p "$pid" '.pid == $p' "$HKLOG/startContainer.state"
}

@test "poststart runs after start (not during create) in the runtime namespace, with the running state" {
	requires_berth "runc 1.1 runs poststart during create, with status created (fixed in runc 1.2)"
	rec_hook poststart
	set_args sleep 100
	run_berth create "$ID"
	[ "$status" -eq 0 ]
	[ ! -e "$HKLOG/poststart.state" ]
	local pid
	pid=$(container_pid "$ID")
	run_berth start "$ID"
	[ "$status" -eq 0 ]
	assert_state poststart running
	jq -e --argjson p "$pid" '.pid == $p' "$HKLOG/poststart.state"
	[ "$(cat "$HKLOG/poststart.mnt")" = "$HOST_MNT" ]
	[ "$(paste -sd" " "$HKLOG/poststart.argv")" = "sh-poststart $REC $HKLOG poststart" ]
}

@test "poststart runs once the process has been executed, before start returns" {
	requires_berth "runc 1.1 runs poststart during create"
	# The hook reads the init's comm: "sleep" once the process was executed.
	add_hook_cmd poststart /bin/sh sh -c 'pid=$(jq -r .pid); cat /proc/$pid/comm >"$1"' sh "$HKLOG/comm"
	# Slow down what precedes the execve.
	add_hook_cmd startContainer /bin/sh sh -c 'sleep 0.3'
	set_args sleep 100
	run_berth create "$ID"
	[ "$status" -eq 0 ]
	run_berth start "$ID"
	[ "$status" -eq 0 ]
	# start has returned: poststart has run.
	[ -e "$HKLOG/comm" ]
	echo "init's comm during poststart: $(cat "$HKLOG/comm")"
	[ "$(cat "$HKLOG/comm")" = sleep ]
}

@test "poststop runs on delete, after the container is gone, with the stopped state and no pid" {
	rec_hook poststop
	# What the state root holds while poststop runs.
	add_hook_cmd poststop /bin/sh sh -c 'ls -A "$1" >"$2"' sh "$ROOT" "$HKLOG/root-at-poststop"
	set_args true
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	wait_for_status "$ID" stopped
	[ ! -e "$HKLOG/poststop.state" ]
	run_berth delete "$ID"
	[ "$status" -eq 0 ]
	assert_state poststop stopped
	jq -e 'has("pid") | not' "$HKLOG/poststop.state"
	[ "$(cat "$HKLOG/poststop.mnt")" = "$HOST_MNT" ]
	[ -e "$HKLOG/root-at-poststop" ]
	[ ! -s "$HKLOG/root-at-poststop" ] || fail "state still there during poststop: $(cat "$HKLOG/root-at-poststop")"
}

@test "delete --force of a running container runs poststop" {
	rec_hook poststop
	set_args sleep 100
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	run_berth delete --force "$ID"
	[ "$status" -eq 0 ]
	assert_state poststop stopped
	[ -z "$(root_entries)" ]
}

@test "the order of all six kinds across create, start and delete" {
	requires_berth "runc 1.1 runs poststart during create (fixed in runc 1.2)"
	local k
	for k in poststop poststart createContainer createRuntime prestart; do
		rec_hook "$k"
	done
	# A slow startContainer: poststart must still come after it (it runs once
	# the process has been executed, which startContainer precedes).
	add_hook_cmd startContainer /bin/sh sh -c 'sleep 0.3; exec sh /hk-rec.sh /hklog startContainer'
	set_args sh -c 'echo process >>/hklog/order'
	run_berth create "$ID"
	[ "$status" -eq 0 ]
	mark created
	run_berth start "$ID"
	[ "$status" -eq 0 ]
	mark started
	wait_for_status "$ID" stopped
	run_berth delete "$ID"
	[ "$status" -eq 0 ]
	mark deleted
	echo "order: $(order)"
	# poststart and the process race: only "after startContainer" is defined.
	local o
	o=$(order | sed 's/ process//')
	[ "$o" = "prestart createRuntime createContainer created startContainer poststart started poststop deleted" ]
	[[ "$(order)" == *"startContainer "*process*" deleted" ]]
}

@test "create runs prestart, createRuntime, createContainer in order; start runs startContainer; delete poststop" {
	local k
	for k in poststop startContainer createContainer createRuntime prestart; do
		rec_hook "$k"
	done
	set_args sh -c 'echo process >>/hklog/order'
	run_berth create "$ID"
	[ "$status" -eq 0 ]
	mark created
	run_berth start "$ID"
	[ "$status" -eq 0 ]
	wait_for_status "$ID" stopped
	mark stopped
	run_berth delete "$ID"
	[ "$status" -eq 0 ]
	mark deleted
	[ "$(order)" = "prestart createRuntime createContainer created startContainer process stopped poststop deleted" ]
}

@test "several hooks of one kind run in the order of the config" {
	rec_hook createRuntime one
	rec_hook createRuntime two
	rec_hook createRuntime three
	set_args true
	run_berth create "$ID"
	[ "$status" -eq 0 ]
	[ "$(order)" = "one two three" ]
}

@test "run runs every hook, poststop included, once the process has exited" {
	local k
	for k in prestart createRuntime createContainer startContainer poststart poststop; do
		rec_hook "$k"
	done
	set_args true
	run_berth run "$ID"
	[ "$status" -eq 0 ]
	for k in prestart createRuntime createContainer startContainer poststart poststop; do
		[ -s "$HKLOG/$k.state" ] || fail "$k did not run"
	done
	assert_state poststop stopped
	[ -z "$(root_entries)" ]
}

@test "a prestart hook writes into the container's mounts; the process sees it, the host does not" {
	# The hook reaches the container's /dev/shm (a tmpfs of its own mount
	# namespace) through the init's /proc/PID/root: before pivot_root the
	# init's root is still the host's /, with the mounts made below the rootfs.
	cat >"$BATS_TEST_TMPDIR/pre.sh" <<-'EOF'
		pid=$(jq -r .pid)
		echo "from-prestart" >"/proc/$pid/root$1/dev/shm/from-hook"
	EOF
	add_hook_cmd prestart /bin/sh sh "$BATS_TEST_TMPDIR/pre.sh" "$(realpath "$BUNDLE")/rootfs"
	set_args cat /dev/shm/from-hook
	run_berth run "$ID"
	[ "$status" -eq 0 ]
	[ "$output" = from-prestart ]
	[ ! -e "$BUNDLE/rootfs/dev/shm/from-hook" ]
}

@test "a hook's stdout and stderr do not reach the runtime's output" {
	add_hook_cmd createRuntime /bin/sh sh -c 'echo hook-stdout-text; echo hook-stderr-text >&2'
	add_hook_cmd poststart /bin/sh sh -c 'echo hook-stdout-text; echo hook-stderr-text >&2'
	set_args echo process-output
	run_berth run "$ID"
	[ "$status" -eq 0 ]
	[ "$output" = process-output ]
}

# --- env and args -------------------------------------------------------------

@test "a hook with env gets exactly that environment" {
	local env='["HK_ONE=1", "HK_TWO=two words", "PATH=/bin:/usr/bin"]'
	local k
	for k in prestart createRuntime createContainer startContainer poststart poststop; do
		rec_hook "$k"
		update_config --arg k "$k" --argjson e "$env" '.hooks[$k][-1].env = $e'
	done
	set_args true
	HK_CALLER=should-not-leak run_berth run "$ID"
	[ "$status" -eq 0 ]
	for k in prestart createRuntime createContainer startContainer poststart poststop; do
		cat "$HKLOG/$k.env"
		[ "$(cat "$HKLOG/$k.env")" = "$(printf '%s\n' HK_ONE=1 'HK_TWO=two words' PATH=/bin:/usr/bin)" ] ||
			fail "$k's environment is not exactly the configured one"
	done
}

@test "a hook without env gets the caller's environment" {
	rec_hook prestart
	rec_hook createRuntime
	rec_hook poststop
	set_args true
	HK_CALLER="caller value" run_berth run "$ID"
	[ "$status" -eq 0 ]
	local k
	for k in prestart createRuntime poststop; do
		grep -qx 'HK_CALLER=caller value' "$HKLOG/$k.env" || fail "$k did not get the caller's environment"
	done
}

@test "an empty env gives the hook an empty environment" {
	rec_hook createRuntime
	update_config '.hooks.createRuntime[0].env = []'
	set_args true
	HK_CALLER=x run_berth create "$ID"
	[ "$status" -eq 0 ]
	[ ! -s "$HKLOG/createRuntime.env" ] || fail "environment: $(cat "$HKLOG/createRuntime.env")"
}

@test "a hook's args[0] is its argv[0], not its path" {
	# busybox picks the applet from argv[0]: "touch" touches, "busybox" would not.
	add_hook_cmd createRuntime /bin/busybox touch "$HKLOG/touched"
	set_args true
	run_berth create "$ID"
	[ "$status" -eq 0 ]
	[ -e "$HKLOG/touched" ]
}

# --- failures during create ----------------------------------------------------

# create_hook_fails KIND: hooks.KIND = [/bin/true, a hook printing two lines
# and exiting 3]; create fails with one line naming KIND[1] and nothing is left.
create_hook_fails() {
	local kind=$1 cg=hk-cg-$BATS_TEST_NUMBER-$$
	update_config --arg c "$cg" '.linux.cgroupsPath = $c'
	add_hook_cmd "$kind" /bin/true true
	add_hook_cmd "$kind" /bin/sh sh -c 'echo first line; echo "last words" >&2; exit 3'
	set_args sleep 100
	run_berth create "$ID"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	if is_berth; then
		[ "$output" = "berth: hook ${kind}[1] /bin/sh: exited with status 3: last words" ]
	fi
	assert_nothing_left "$cg"
	# (Not the whole mount table: other suites' containers come and go.)
	[ -z "$(test_mounts)" ] || fail "mounts left: $(test_mounts)"
}

@test "a failing prestart hook fails create and leaves nothing" {
	create_hook_fails prestart
}

@test "a failing createRuntime hook fails create and leaves nothing" {
	create_hook_fails createRuntime
}

@test "a failing createContainer hook fails create and leaves nothing" {
	create_hook_fails createContainer
}

@test "a failing createRuntime hook stops the hooks after it" {
	add_hook_cmd createRuntime /bin/false false
	rec_hook createRuntime after
	rec_hook createContainer
	set_args true
	run_berth create "$ID"
	[ "$status" -eq 1 ]
	[ -z "$(order)" ]
	[ -z "$(root_entries)" ]
}

@test "a failing createRuntime hook fails run too, and leaves nothing" {
	local cg=hk-cg-$BATS_TEST_NUMBER-$$
	update_config --arg c "$cg" '.linux.cgroupsPath = $c'
	add_hook_cmd createRuntime /bin/sh sh -c 'exit 5'
	set_args touch /ran
	run_berth run "$ID"
	[ "$status" -ne 0 ]
	[ "${#lines[@]}" -eq 1 ]
	if is_berth; then
		[ "$status" -eq 1 ]
		[ "$output" = "berth: hook createRuntime[0] /bin/sh: exited with status 5" ]
	fi
	[ ! -e "$BUNDLE/rootfs/ran" ]
	assert_nothing_left "$cg"
}

@test "a hook that does not exist fails create, naming it" {
	add_hook_cmd prestart /nonexistent/hk-hook hk-hook
	set_args true
	run_berth create "$ID"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"/nonexistent/hk-hook"* ]]
	if is_berth; then
		[[ "$output" == "berth: hook prestart[0] /nonexistent/hk-hook: "* ]]
	fi
	[ -z "$(root_entries)" ]
}

@test "a hook killed by a signal fails create, naming the signal" {
	add_hook_cmd createRuntime /bin/sh sh -c 'kill -KILL $$'
	set_args true
	run_berth create "$ID"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	if is_berth; then
		[ "$output" = "berth: hook createRuntime[0] /bin/sh: killed by signal 9" ]
	fi
	[ -z "$(root_entries)" ]
}

# --- startContainer, poststart, poststop failures ------------------------------

@test "a failing startContainer hook keeps the process from running; run reports it" {
	add_hook_cmd startContainer /bin/sh sh -c 'echo "start hook says no" >&2; exit 4'
	set_args touch /ran
	run_berth run "$ID"
	[ "$status" -ne 0 ]
	[[ "$output" == *"start hook says no"* ]]
	if is_berth; then
		[ "$status" -eq 1 ]
		[ "$output" = "berth: hook startContainer[0] /bin/sh: exited with status 4: start hook says no" ]
	fi
	[ ! -e "$BUNDLE/rootfs/ran" ]
	[ -z "$(root_entries)" ]
}

@test "a failing startContainer hook after create+start: the process never runs, the container stops" {
	add_hook_cmd startContainer /bin/false false
	set_args touch /ran
	run_berth create "$ID"
	[ "$status" -eq 0 ]
	run_berth start "$ID"
	wait_for_status "$ID" stopped
	[ ! -e "$BUNDLE/rootfs/ran" ]
	run_berth delete "$ID"
	[ "$status" -eq 0 ]
	[ -z "$(root_entries)" ]
}

@test "a failing poststart hook is a warning: start exits 0, the next hook runs, the container runs" {
	requires_berth "runc 1.1 fails create and kills the container when poststart fails (runtime-spec 1.2: a warning)"
	add_hook_cmd poststart /bin/false false
	rec_hook poststart next
	set_args sleep 100
	run_berth create "$ID"
	[ "$status" -eq 0 ]
	run_berth start "$ID"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[ "$output" = "berth: warning: hook poststart[0] /bin/false: exited with status 1" ]
	assert_state next running
	[ "$(container_status "$ID")" = running ]
}

@test "a failing poststop hook is a warning: delete exits 0, the next hook runs, nothing is left" {
	add_hook_cmd poststop /bin/true true
	add_hook_cmd poststop /bin/false false
	rec_hook poststop next
	set_args true
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	wait_for_status "$ID" stopped
	run_berth delete "$ID"
	[ "$status" -eq 0 ]
	[ -z "$(root_entries)" ]
	if is_berth; then
		# runc 1.1 logs an error and skips the hooks after the failing one.
		[ "${#lines[@]}" -eq 1 ]
		[ "$output" = "berth: warning: hook poststop[1] /bin/false: exited with status 1" ]
		assert_state next stopped
	fi
}

# --- timeouts ---------------------------------------------------------------------

# unique_sleep: a sleep duration no other process on the host is likely to use.
unique_sleep() {
	echo "$((30 + RANDOM % 60)).$$$BATS_TEST_NUMBER"
}

@test "a hook past its timeout is killed and create fails within seconds" {
	local secs
	secs=$(unique_sleep)
	add_hook prestart "$(jq -cn --arg s "$secs" '{path: "/bin/sleep", args: ["sleep", $s], timeout: 1}')"
	set_args true
	local t0=$SECONDS
	run_berth create "$ID"
	[ "$status" -eq 1 ]
	[ $((SECONDS - t0)) -le 3 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *timeout* || "$output" == *"timed out"* ]]
	if is_berth; then
		[ "$output" = "berth: hook prestart[0] /bin/sleep: timed out after 1 s" ]
	fi
	retry 2 0.05 test -z "$(pgrep -f -x "sleep $secs")"
	[ -z "$(root_entries)" ]
}

@test "a timeout kills the hook's whole process group" {
	requires_berth "runc 1.1 kills only the hook and waits for its children to close the output pipe"
	local secs
	secs=$(unique_sleep)
	add_hook "createRuntime" "$(jq -cn --arg s "$secs" \
		'{path: "/bin/sh", args: ["sh", "-c", "sleep \($s) & sleep \($s); wait"], timeout: 1}')"
	set_args true
	local t0=$SECONDS
	run_berth create "$ID"
	[ "$status" -eq 1 ]
	[ $((SECONDS - t0)) -le 3 ]
	[ "$output" = "berth: hook createRuntime[0] /bin/sh: timed out after 1 s" ]
	retry 2 0.05 test -z "$(pgrep -f -x "sleep $secs")"
	[ -z "$(root_entries)" ]
}

@test "a poststop hook past its timeout is a warning, and delete still finishes" {
	requires_berth "runc 1.1 reports a poststop failure as an error"
	local secs
	secs=$(unique_sleep)
	add_hook poststop "$(jq -cn --arg s "$secs" '{path: "/bin/sleep", args: ["sleep", $s], timeout: 1}')"
	set_args true
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	wait_for_status "$ID" stopped
	local t0=$SECONDS
	run_berth delete "$ID"
	[ "$status" -eq 0 ]
	[ $((SECONDS - t0)) -le 3 ]
	[ "$output" = "berth: warning: hook poststop[0] /bin/sleep: timed out after 1 s" ]
	retry 2 0.05 test -z "$(pgrep -f -x "sleep $secs")"
	[ -z "$(root_entries)" ]
}

@test "a hook that finishes within its timeout succeeds" {
	add_hook createRuntime "$(jq -cn --arg f "$HKLOG/done" \
		'{path: "/bin/sh", args: ["sh", "-c", "sleep 0.3; touch \($f)"], timeout: 5}')"
	set_args true
	run_berth create "$ID"
	[ "$status" -eq 0 ]
	[ -e "$HKLOG/done" ]
}

# --- bad hooks config -------------------------------------------------------------

@test "bad hooks config is refused with the JSON path, and nothing is left" {
	# KIND|HOOKS JSON|berth's path in the message
	local cases=(
		'{"prestart": [{"path": "bin/true"}]}|hooks.prestart[0].path'
		'{"createRuntime": [{"path": "/bin/true", "timeout": 0}]}|hooks.createRuntime[0].timeout'
		'{"createContainer": [{"path": "/bin/true", "timeout": -1}]}|hooks.createContainer[0].timeout'
		'{"poststop": [{"path": "/bin/true", "args": ["true", 1]}]}|hooks.poststop[0].args[1]'
		'{"startContainer": [{"path": "/bin/true", "env": [1]}]}|hooks.startContainer[0].env[0]'
		'{"poststart": [{"path": "/bin/true", "timeout": "1"}]}|hooks.poststart[0].timeout'
		'{"prestart": [{"args": ["true"]}]}|hooks.prestart[0].path'
		'{"prestart": {}}|hooks.prestart'
		'{"createRuntime": [{"path": "/bin/true"}, "x"]}|hooks.createRuntime[1]'
	)
	# Only berth checks these at create (runc would fail only when they run).
	if is_berth; then
		cases+=(
			'{"poststop": [{"path": "relative/hook"}]}|hooks.poststop[0].path'
			'{"poststart": [{"path": "/bin/true", "timeout": 0}]}|hooks.poststart[0].timeout'
			'{"poststop": [{"path": "/bin/true", "args": "true"}]}|hooks.poststop[0].args'
			'[]|hooks'
		)
	fi
	set_args sleep 100
	cp "$BUNDLE/config.json" "$BATS_TEST_TMPDIR/good.json"
	local c hooks where
	for c in "${cases[@]}"; do
		hooks=${c%|*} where=${c##*|}
		jq --argjson h "$hooks" '.hooks = $h' "$BATS_TEST_TMPDIR/good.json" >"$BUNDLE/config.json"
		run_berth create "$ID"
		[ "$status" -eq 1 ] || fail "hooks $hooks: create exited $status"
		[ "${#lines[@]}" -eq 1 ] || fail "hooks $hooks: ${#lines[@]} lines"
		if is_berth; then
			[[ "$output" == "berth: config.json: $where: "* ]] || fail "hooks $hooks: message does not name $where"
		fi
		[ -z "$(root_entries)" ] || fail "hooks $hooks: state left"
		[ -z "$(rootfs_pids "$BUNDLE/rootfs")" ] || fail "hooks $hooks: process left"
	done
}

@test "unknown hook kinds and null lists are ignored" {
	rec_hook createRuntime
	update_config '.hooks.org_example_unknown = [{"path": "relative"}] | .hooks.poststop = null'
	set_args true
	run_berth create "$ID"
	[ "$status" -eq 0 ]
	[ "$(order)" = createRuntime ]
}

@test "issue9: createContainer runs with the container's root directory as its working directory" {
	add_hook_cmd createContainer /bin/sh sh -c "pwd >$HKLOG/cwd; ls >$HKLOG/ls"
	set_args true
	run_berth run "$ID"
	[ "$status" -eq 0 ]
	[ "$(cat "$HKLOG/cwd")" = "$(realpath "$BUNDLE/rootfs")" ]
	grep -qx bin "$HKLOG/ls"
	grep -qx hklog "$HKLOG/ls"
}

@test "startContainer runs as the process will: its user, its capabilities, under its seccomp filter (as runc)" {
	chmod 0777 "$HKLOG"
	add_hook_cmd startContainer /bin/sh sh -c \
		'grep -E "^(Seccomp|CapEff):" /proc/self/status >/hklog/start.status; id -u >>/hklog/start.status'
	update_config '.process.user = {"uid": 1000, "gid": 1000}'
	update_config '.process.capabilities = {"bounding": ["CAP_KILL"], "effective": [], "permitted": [], "inheritable": []}'
	update_config '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO"}]}'
	set_args true
	run_berth run "$ID"
	[ "$status" -eq 0 ]
	run cat "$HKLOG/start.status"
	[ "${lines[0]}" = "CapEff:	0000000000000000" ]
	[ "${lines[1]}" = "Seccomp:	2" ]
	[ "${lines[2]}" = 1000 ]
}
