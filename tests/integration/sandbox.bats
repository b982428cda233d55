#!/usr/bin/env bats
# `berth sandbox`: one command in a throwaway, limited, isolated container on
# the host's root (read-only), removed afterwards on every path. Each test
# checks what really happened (exit statuses, files on the host, processes,
# the kernel's cgroup figures) and that nothing is left: no state dir, no
# cgroup, no mount, no link, no scratch directory, no process.
#
# The sandbox's scratch directory follows $TMPDIR: each test points it at its
# own directory, which must be empty afterwards.

# shellcheck disable=SC2016 # scripts for the sandbox and eval, expanded there
load helpers

# A marker argument no other process on the machine has.
MARK=86399.25

setup() {
	requires root berth
	ROOT=$BATS_TEST_TMPDIR/root
	SCRATCH=$BATS_TEST_TMPDIR/scratch
	PROJECT=$BATS_TEST_TMPDIR/project
	mkdir -p "$ROOT" "$SCRATCH" "$PROJECT"
	export TMPDIR=$SCRATCH
	printf 'test content\n' >"$PROJECT/file.txt"
	mkdir -p "$PROJECT/sub"
	printf 'nested\n' >"$PROJECT/sub/nested.txt"
	cd "$PROJECT"
	MOUNTS_BEFORE=$(mount_points)
	LINKS_BEFORE=$(ip -o link show | awk -F': ' '{ print $2 }' | sort)
	CGROUPS_BEFORE=$(sbx_cgroups)
}

teardown() {
	pkill -9 -f "^sleep $MARK$" 2>/dev/null || true
	if [ -n "${SUBMOUNT:-}" ] && [ -d "$SUBMOUNT" ]; then
		umount "$SUBMOUNT" 2>/dev/null || true
		rmdir "$SUBMOUNT"
	fi
	if [ -n "${HOST_NS:-}" ]; then net_teardown; else teardown_bundle; fi
}

# run_sbx ARGS...: `berth sandbox ARGS` like bats' run (stdin /dev/null).
run_sbx() {
	run_berth sandbox "$@"
}

# sbx ARGS...: `berth sandbox ARGS`, plain (for pipes and backgrounding).
sbx() {
	"$BERTH" --root "$ROOT" sandbox "$@"
}

# Mount points a sandbox could leak on the host: this test's directories and
# anything named after a sandbox (other suites may mount elsewhere meanwhile).
mount_points() {
	awk -v t="$BATS_TEST_TMPDIR" 'index($5, t) == 1 || $5 ~ /sbx/ || $4 ~ /sbx/ { print $4, $5 }' \
		/proc/self/mountinfo | sort
}

# Every sandbox cgroup directory on the machine, in any hierarchy.
sbx_cgroups() {
	find /sys/fs/cgroup -mindepth 1 -maxdepth 8 -type d -name 'sbx-*' 2>/dev/null | sort
}

tree_hash() {
	(cd "$1" && find . -printf '%p %m %s\n' | sort && find . -type f -exec sha256sum {} + | sort) |
		sha256sum
}

# assert_nothing_left: no state dir, scratch dir, cgroup, mount, link or
# process of a sandbox.
assert_nothing_left() {
	local left
	left=$(ls -A "$ROOT")
	[ -z "$left" ] || fail "state left in the root: $left"
	left=$(ls -A "$SCRATCH")
	[ -z "$left" ] || fail "scratch left: $left"
	retry 2 0.05 eval '[ "$(sbx_cgroups)" = "$CGROUPS_BEFORE" ]' ||
		fail "cgroups left: $(comm -13 <(echo "$CGROUPS_BEFORE") <(sbx_cgroups) | xargs)"
	[ "$(mount_points)" = "$MOUNTS_BEFORE" ] ||
		fail "mounts changed: $(diff <(echo "$MOUNTS_BEFORE") <(mount_points) | xargs)"
	retry 2 0.05 eval '[ "$(ip -o link show | awk -F": " "{ print \$2 }" | sort)" = "$LINKS_BEFORE" ]' ||
		fail "links changed: $(ip -o link show | awk -F': ' '{ print $2 }' | xargs)"
	retry 2 0.05 eval '! pgrep -f "^sleep $MARK$" >/dev/null' || fail "processes left: $(pgrep -af "^sleep $MARK$")"
}

# stat_field FILE KEY: one field of a --stats file.
stat_field() {
	jq -r ".$2" "$1"
}

# --- exit status ---------------------------------------------------------------

@test "sandbox exits with the command's status: 0, 42" {
	run_sbx -- true
	[ "$status" -eq 0 ]
	run_sbx -- sh -c 'exit 42'
	[ "$status" -eq 42 ]
	assert_nothing_left
}

@test "sandbox exits 128+N when the command dies of signal N (SIGSEGV from a stack overflow: 139; SIGKILL: 137)" {
	run_sbx -- sh -c 'ulimit -s 256; f() { f; }; f'
	[ "$status" -eq 139 ]
	timeout -k 5 "$BERTH_TIMEOUT" "$BERTH" --root "$ROOT" sandbox -- sleep "$MARK" </dev/null 3>&- &
	local bg=$! pid
	BG_PIDS+=("$bg")
	retry 5 0.05 pgrep -f "^sleep $MARK$" >/dev/null || fail "the command never started"
	pid=$(pgrep -f "^sleep $MARK$")
	kill -KILL "$pid"
	local rc=0
	wait "$bg" || rc=$?
	[ "$rc" -eq 137 ] || fail "exit status $rc, wanted 137"
	assert_nothing_left
}

@test "sandbox exits 127 for a missing command, 126 for one that is not executable, one line each" {
	run_sbx -- no-such-command-here
	[ "$status" -eq 127 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == *no-such-command-here* ]]
	run_sbx -- /etc/passwd
	[ "$status" -eq 126 ]
	[ "${#lines[@]}" -eq 1 ]
	assert_nothing_left
}

@test "--timeout: everything is killed, exit 124, nothing left" {
	local t0=$SECONDS
	run_sbx --timeout 1s --stats "$BATS_TEST_TMPDIR/s.json" -- sh -c "sleep $MARK & sleep $MARK & sleep $MARK"
	[ "$status" -eq 124 ]
	[ $((SECONDS - t0)) -lt 10 ] || fail "took $((SECONDS - t0))s"
	[ "$(stat_field "$BATS_TEST_TMPDIR/s.json" timed_out)" = true ]
	[ "$(stat_field "$BATS_TEST_TMPDIR/s.json" exit_status)" = 124 ]
	assert_nothing_left
}

@test "SIGINT to berth mid-run: the command and its children are gone, exit 130, nothing left" {
	# berth in the background under timeout(1), which passes the signal on (a
	# subshell would take it itself).
	timeout -k 5 "$BERTH_TIMEOUT" "$BERTH" --root "$ROOT" sandbox --grace 500ms -- sh -c "sleep $MARK & sleep $MARK" </dev/null 3>&- &
	local bg=$!
	BG_PIDS+=("$bg")
	retry 5 0.05 eval '[ "$(pgrep -fc "^sleep $MARK$")" -eq 2 ]' || fail "the command never started"
	kill -INT "$bg"
	local rc=0
	wait "$bg" || rc=$?
	[ "$rc" -eq 130 ] || fail "exit status $rc, wanted 130"
	assert_nothing_left
}

@test "SIGTERM to berth reaches the command, whose own exit status is kept" {
	# A pid 1 with a handler gets the forwarded signal and exits as it likes.
	timeout -k 5 "$BERTH_TIMEOUT" "$BERTH" --root "$ROOT" sandbox -- sh -c "trap 'exit 7' TERM; sleep $MARK & wait" </dev/null 3>&- &
	local bg=$!
	BG_PIDS+=("$bg")
	retry 5 0.05 pgrep -f "^sleep $MARK$" >/dev/null || fail "the command never started"
	kill -TERM "$bg"
	local rc=0
	wait "$bg" || rc=$?
	[ "$rc" -eq 7 ] || fail "exit status $rc, wanted 7"
	assert_nothing_left
}

# sbx_bg ARGS...: `berth sandbox ARGS` in the background; SBX_PID is berth's pid.
sbx_bg() {
	"$BERTH" --root "$ROOT" sandbox "$@" </dev/null >/dev/null 2>&1 3>&- &
	SBX_PID=$!
	BG_PIDS+=("$SBX_PID")
}

# sbx_ids: the sandboxes with a state directory in the root.
sbx_ids() {
	find "$ROOT" -mindepth 1 -maxdepth 1 -type d -name 'sbx-*' -printf '%f\n' | sort
}

# kill_berth_mid_run ARGS...: a sandbox running `sleep $MARK`, its berth
# SIGKILLed; checks that it did leave its state, claim and cgroup behind
# (what a later sandbox must clean up). Sets STALE_ID.
kill_berth_mid_run() {
	local before
	before=$(sbx_ids)
	sbx_bg "$@" -- sleep "$MARK"
	local berth=$SBX_PID
	retry 5 0.05 pgrep -f "^sleep $MARK$" >/dev/null || fail "the command never started"
	STALE_ID=$(comm -13 <(echo "$before") <(sbx_ids))
	[ -n "$STALE_ID" ] || fail "no state directory while the sandbox runs"
	kill -KILL "$berth"
	wait "$berth" || true
	# The command dies with its berth; what berth would have removed stays.
	retry 5 0.05 eval '! pgrep -f "^sleep $MARK$" >/dev/null' || fail "the command outlived berth"
	[ -d "$ROOT/$STALE_ID" ] || fail "SIGKILLed berth left no state (nothing to test)"
	[ -e "$ROOT/.$STALE_ID.sandbox" ] || fail "no claim left"
	[ -n "$(sbx_cgroups | grep -F "$STALE_ID")" ] || fail "no cgroup left"
}

@test "berth SIGKILLed mid-run: the next sandbox removes what it left, not a live sandbox of another caller" {
	# Another caller's sandbox, alive throughout; it exits 7 on SIGTERM.
	sbx_bg -- sh -c 'trap "exit 7" TERM; while :; do sleep 0.05; done'
	local live=$SBX_PID live_id
	retry 5 0.05 eval '[ -n "$(sbx_ids)" ]' || fail "the live sandbox never started"
	live_id=$(sbx_ids)
	kill_berth_mid_run --overlay . --memory 64M
	[ -n "$(ls -A "$SCRATCH")" ] || fail "no scratch directory left"
	run_sbx -- true
	[ "$status" -eq 0 ] || fail "status $status: $output"
	[ ! -e "$ROOT/$STALE_ID" ] || fail "stale state left"
	[ ! -e "$ROOT/.$STALE_ID.sandbox" ] || fail "stale claim left"
	[ -z "$(sbx_cgroups | grep -F "$STALE_ID")" ] || fail "stale cgroups left: $(sbx_cgroups | grep -F "$STALE_ID")"
	[ -z "$(ls -A "$SCRATCH")" ] || fail "stale scratch left: $(ls -A "$SCRATCH")"
	# The live one is untouched: still running, and its command still answers.
	[ "$("$BERTH" --root "$ROOT" state "$live_id" | jq -r .status)" = running ] || fail "live sandbox disturbed"
	kill -TERM "$live"
	local rc=0
	wait "$live" || rc=$?
	[ "$rc" -eq 7 ] || fail "live sandbox exit status $rc, wanted 7"
	assert_nothing_left
}

@test "sandbox --gc removes stale sandboxes and names them; with a command it is refused" {
	kill_berth_mid_run --pids 32
	run_sbx --gc
	[ "$status" -eq 0 ]
	[ "$output" = "removed stale sandbox $STALE_ID" ] || fail "output: $output"
	run_sbx --gc
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run_sbx --gc -- true
	[ "$status" -eq 125 ]
	[[ $output == *"--gc takes no command"* ]]
	assert_nothing_left
}

@test "stdin is piped through, stdout and stderr stay apart" {
	local out
	out=$(printf 'line1\nline2\n' | sbx -- sh -c 'cat; echo to-stderr >&2' 2>"$BATS_TEST_TMPDIR/err")
	[ "$out" = "$(printf 'line1\nline2')" ]
	[ "$(cat "$BATS_TEST_TMPDIR/err")" = to-stderr ]
}

# --- the host's root ---------------------------------------------------------

@test "--host: /etc, /usr and the checkout are read-only; the command runs in the checkout" {
	local before
	before=$(tree_hash "$PROJECT")
	run_sbx -- sh -c 'pwd; for f in /etc/berth-sbx /usr/berth-sbx ./new "$PWD/file.txt"; do
		if (echo x >"$f") 2>/dev/null; then echo "wrote $f"; fi; done'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$PROJECT" ]
	[ "${#lines[@]}" -eq 1 ] || fail "a write went through: $output"
	[ ! -e /etc/berth-sbx ] && [ ! -e /usr/berth-sbx ]
	[ "$(tree_hash "$PROJECT")" = "$before" ]
	assert_nothing_left
}

@test "--host: a host mount below / is read-only too (the whole tree, not just the top)" {
	SUBMOUNT=$(mktemp -d /var/tmp/berth-sbx-sub.XXXXXX)
	mount -t tmpfs -o size=1m berth-sbx-test "$SUBMOUNT"
	echo host >"$SUBMOUNT/f"
	cd /
	run_sbx -- sh -c "cat $SUBMOUNT/f; if (echo x >$SUBMOUNT/f) 2>/dev/null; then echo wrote; fi"
	local f
	f=$(cat "$SUBMOUNT/f")
	umount "$SUBMOUNT" && rmdir "$SUBMOUNT"
	[ "$status" -eq 0 ]
	[ "$output" = host ] || fail "inside: $output"
	[ "$f" = host ]
}

@test "--overlay .: the command writes freely, the checkout is unchanged afterwards" {
	local before
	before=$(tree_hash "$PROJECT")
	run_sbx --overlay . -- sh -c 'echo changed >file.txt && rm sub/nested.txt && mkdir d && echo n >d/new &&
		cat file.txt && ls -A sub | wc -l && cat d/new'
	[ "$status" -eq 0 ]
	[ "${lines[*]}" = "changed 0 n" ] || fail "inside: $output"
	[ "$(tree_hash "$PROJECT")" = "$before" ]
	[ "$(cat "$PROJECT/file.txt")" = "test content" ]
	assert_nothing_left
}

@test "--bind DIR: writes land in DIR; --bind DIR:ro refuses them" {
	local out=$BATS_TEST_TMPDIR/out
	mkdir "$out"
	run_sbx --bind "$out" -- sh -c "echo result >$out/r.txt"
	[ "$status" -eq 0 ]
	[ "$(cat "$out/r.txt")" = result ]
	run_sbx --bind "$out:$PROJECT/sub" -- sh -c "cat $PROJECT/sub/r.txt && echo two >$PROJECT/sub/two"
	[ "$status" -eq 0 ]
	[ "$output" = result ]
	[ "$(cat "$out/two")" = two ]
	run_sbx --bind "$out:ro" -- sh -c "echo x >$out/r.txt"
	[ "$status" -ne 0 ]
	[[ $output == *"Read-only file system"* ]]
	[ "$(cat "$out/r.txt")" = result ]
	run_sbx --bind . -- sh -c 'echo w >written'
	[ "$(cat "$PROJECT/written")" = w ]
	assert_nothing_left
}

@test "/tmp, /run and /dev/shm are private and empty; /dev is minimal; a new hostname" {
	touch "/tmp/berth-sbx-host-marker.$$"
	# From a directory outside /tmp and /run (the current directory is bound
	# at its own path, so one inside would show there): the source tree may
	# itself be below /tmp.
	cd /usr
	run_sbx -- sh -c 'for d in /tmp /run /dev/shm; do echo "$d:$(ls -A $d | xargs)"; done
		echo tmp >/tmp/t && cat /tmp/t; ls /dev; hostname'
	rm -f "/tmp/berth-sbx-host-marker.$$"
	[ "$status" -eq 0 ]
	[[ $output != *berth-sbx-host-marker* ]] || fail "host /tmp visible: $output"
	[ "${lines[*]:0:4}" = "/tmp: /run: /dev/shm: tmp" ] || fail "not empty: $output"
	[[ $output == *null* && $output == *urandom* ]]
	[[ $output != *sda* && $output != *vda* && $output != *kmsg* ]] || fail "host devices: $output"
	[ "${lines[-1]}" = sandbox ]
	[ ! -e /tmp/t ]
}

@test "default security: no capabilities, no_new_privs, seccomp, own namespaces, root's uid" {
	run_sbx -- sh -c 'grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status; readlink /proc/self/ns/pid /proc/self/ns/mnt /proc/self/ns/net; id -u'
	[ "$status" -eq 0 ]
	[[ $output == *"CapEff:	0000000000000000"* ]]
	[[ $output == *"CapBnd:	0000000000000000"* ]]
	[[ $output == *"NoNewPrivs:	1"* ]]
	[[ $output == *"Seccomp:	2"* ]]
	local ns
	for ns in pid mnt net; do
		[[ $output != *"$(readlink /proc/self/ns/$ns)"* ]] || fail "shares the $ns namespace"
	done
	[ "${lines[-1]}" = 0 ]
	run_sbx --cap-add NET_RAW -- grep CapEff /proc/self/status
	[ "$output" = "CapEff:	0000000000002000" ]
}

# --- limits and accounting -----------------------------------------------------

@test "--memory: a memory hog is OOM-killed (137); --stats reports the kill and a peak near the limit" {
	local s=$BATS_TEST_TMPDIR/s.json
	run_sbx --memory 64M --stats "$s" -- tail /dev/zero
	[ "$status" -eq 137 ]
	cat "$s"
	[ "$(stat_field "$s" exit_status)" = 137 ]
	[ "$(stat_field "$s" oom_kills)" -ge 1 ]
	local peak limit=$((64 * 1024 * 1024))
	peak=$(stat_field "$s" memory_peak_bytes)
	[ "$peak" -le "$limit" ] || fail "peak $peak above the limit"
	[ "$peak" -ge $((limit * 8 / 10)) ] || fail "peak $peak far below the limit"
	assert_nothing_left
}

@test "--pids: a fork bomb stops at the limit; the host is untouched" {
	local s=$BATS_TEST_TMPDIR/s.json
	run_sbx --pids 32 --timeout 5s --stats "$s" -- sh -c 'b() { b | b & }; b; sleep 2'
	# Whatever the shell's fate, forks failed at the limit and it ended.
	[ "$status" -ne 124 ]
	[[ $output == *"fork"* ]] || fail "no fork ever failed: $output"
	cat "$s"
	[ "$(stat_field "$s" pids_peak)" -eq 32 ]
	assert_nothing_left
}

@test "--cpus 0.5: a busy loop gets about half of the wall time in CPU time" {
	local s=$BATS_TEST_TMPDIR/s.json
	run_sbx --cpus 0.5 --stats "$s" -- timeout 2 sh -c 'while :; do :; done'
	[ "$status" -eq 124 ] # timeout(1) inside, not the sandbox's
	cat "$s"
	local ratio
	ratio=$(jq '.cpu_total_seconds / .wall_seconds * 100 | floor' "$s")
	# At most half (plus accounting slack); a busy host may give it less.
	[ "$ratio" -ge 20 ] && [ "$ratio" -le 60 ] || fail "CPU/wall = $ratio%, wanted about 50%"
	assert_nothing_left
}

@test "--stats without limits: every field, from the cgroup" {
	local s=$BATS_TEST_TMPDIR/s.json
	run_sbx --stats "$s" -- sh -c 'sleep 0.2 & sleep 0.2 & wait; exit 3'
	[ "$status" -eq 3 ]
	cat "$s"
	jq -e '.exit_status == 3 and .timed_out == false and .signal == null and .oom_kills == 0 and
		.accounting == "cgroup" and .wall_seconds >= 0.2 and .memory_peak_bytes > 0 and
		.pids_peak >= 3 and (.cpu_user_seconds | type) == "number" and
		(.cpu_system_seconds | type) == "number" and (.id | startswith("sbx-"))' "$s"
}

# --- network -------------------------------------------------------------------

@test "no network by default: only lo, up" {
	run_sbx -- sh -c 'ls /sys/class/net; cat /proc/net/route | wc -l'
	[ "$status" -eq 0 ]
	[ "${lines[*]}" = "lo 1" ] || fail "links/routes: $output"
	run_sbx -- curl -s -m 2 http://10.88.0.1:1/
	[ "$status" -ne 0 ]
}

@test "--net bridge reaches a server in a throwaway host network namespace" {
	load net_helpers
	net_setup
	http_addr_server "$HOST_NS" 0.0.0.0:7000
	run_net sandbox --net bridge -- curl -s -m 5 http://10.88.0.1:7000/cgi-bin/addr
	[ "$status" -eq 0 ] || fail "$stderr"
	[[ $output == *10.88.* ]] || fail "the server saw '$output'"
	[ -z "$(root_entries)" ] || fail "state left: $(root_entries)"
	assert_net_clean
}

# --- scale ---------------------------------------------------------------------

@test "50 sandboxes in parallel all succeed and leave nothing" {
	local i pids=() rc fails=0
	for i in $(seq 50); do
		sbx --memory 64M --pids 64 --overlay . -- sh -c "echo $i >mine && test \$(cat mine) = $i" </dev/null \
			>"$BATS_TEST_TMPDIR/par.$i" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		rc=0
		wait "${pids[$i]}" || rc=$?
		if [ "$rc" -ne 0 ]; then
			fails=$((fails + 1))
			echo "sandbox $((i + 1)): status $rc: $(cat "$BATS_TEST_TMPDIR/par.$((i + 1))")"
		fi
	done
	[ "$fails" -eq 0 ]
	[ ! -e "$PROJECT/mine" ]
	assert_nothing_left
}

# --- refusals ------------------------------------------------------------------

@test "bad input: one line naming it, exit 125, nothing made" {
	local args
	for args in "--backend microvm -- true" "--net bogus -- true" "--memory lots -- true" \
		"--timeout soon -- true" "--bind /nonexistent-src -- true" \
		"--bind $PROJECT:/no/such/dest -- true" "--rootfs /nonexistent -- true" "--overlay ." \
		"--user x -- true" "--host --rootfs / -- true"; do
		# shellcheck disable=SC2086 # words on purpose
		run_sbx $args
		[ "$status" -eq 125 ] || fail "$args: status $status"
		[ "${#lines[@]}" -eq 1 ] || fail "$args: ${#lines[@]} lines: $output"
		[[ ${lines[0]} == "berth: "* ]]
	done
	# (sandbox_microvm.bats runs it; from a directory below /tmp it cannot.)
	run_sbx --backend microvm -- true
	[[ $output == *"microvm"*"below a private mount"* ]]
	assert_nothing_left
}

@test "a failure half way through the setup (cgroup and scratch made, a mount refused) leaves nothing" {
	local s=$BATS_TEST_TMPDIR/s.json
	run_sbx --overlay . --memory 64M --stats "$s" --tmpfs /proc/sys -- true
	[ "$status" -eq 125 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ ${lines[0]} == *"/proc/sys"* ]]
	jq -e '.exit_status == 125 and (.error | test("proc/sys"))' "$s"
	assert_nothing_left
}

@test "--rootfs DIR: the command sees DIR as its root, read-only" {
	ensure_fixture
	run_sbx --rootfs "$FIXTURE_DIR/rootfs" -- sh -c 'ls /bin/busybox && pwd && touch /x'
	[ "$status" -ne 0 ]
	[ "${lines[0]}" = /bin/busybox ]
	[ "${lines[1]}" = / ]
	[[ $output == *"Read-only file system"* ]]
	assert_nothing_left
}

@test "--image REF: the image's root, writable and thrown away; its bundle is removed" {
	local fx=$BATS_TEST_TMPDIR/fx
	"$BERTH_SRC_DIR/tests/image/make-fixtures.sh" "$fx" >/dev/null 2>&1 || skip "image fixtures could not be made"
	cd /
	run_berth --image-root "$BATS_TEST_TMPDIR/images" sandbox --image "oci:$fx/oci" -- \
		sh -c 'ls /bin/busybox && echo x >/new && cat /new && pwd'
	[ "$status" -eq 0 ]
	[[ $output == *$'/bin/busybox\nx\n/'* ]] || fail "inside: $output"
	run_berth --image-root "$BATS_TEST_TMPDIR/images" sandbox --image "oci:$fx/oci" -- cat /new
	[ "$status" -ne 0 ] # the first run's write is gone
	assert_nothing_left
}

@test "--image REF, berth SIGKILLed mid-run: --gc unmounts and removes its bundle and scratch" {
	local fx=$BATS_TEST_TMPDIR/fx
	"$BERTH_SRC_DIR/tests/image/make-fixtures.sh" "$fx" >/dev/null 2>&1 || skip "image fixtures could not be made"
	cd /
	local -a img=(--image-root "$BATS_TEST_TMPDIR/images")
	"$BERTH" --root "$ROOT" "${img[@]}" sandbox --image "oci:$fx/oci" -- \
		sh -c "ln -s busybox /bin/sleep && exec sleep $MARK" </dev/null >/dev/null 2>&1 3>&- &
	local berth=$!
	BG_PIDS+=("$berth")
	retry 10 0.05 pgrep -f "^sleep $MARK$" >/dev/null || fail "the command never started"
	kill -KILL "$berth"
	wait "$berth" || true
	[ "$(mount_points)" != "$MOUNTS_BEFORE" ] || fail "SIGKILLed berth left no bundle mount (nothing to test)"
	run_berth "${img[@]}" sandbox --gc
	[ "$status" -eq 0 ] || fail "status $status: $output"
	[[ $output == "removed stale sandbox sbx-"* ]] || fail "output: $output"
	assert_nothing_left
}
