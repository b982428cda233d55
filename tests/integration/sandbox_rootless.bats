#!/usr/bin/env bats
# `berth sandbox` run by an ordinary user (as CI runners often are): a user
# namespace mapping only the user's own ids, the host's root read-only, and
# every case of sandbox.bats that needs no cgroup. Limits without a
# delegated cgroup are refused with one line. A throwaway user (berthsbx) is
# made for this file with a private XDG_RUNTIME_DIR, as rootless.bats does;
# no /etc/subuid range is needed.

# shellcheck disable=SC2016 # scripts for the sandbox and eval, expanded there
load helpers

SB_USER=berthsbx
SB_PREFERRED_UID=2480
MARK=86398.75

sb_free_id() {
	local id=$SB_PREFERRED_UID
	while getent passwd "$id" >/dev/null || getent group "$id" >/dev/null; do
		id=$((id + 1))
	done
	echo "$id"
}

sb_user_pids() {
	[ -n "${SB_UID:-}" ] || return 0
	ps -eo pid=,ruid=,euid= | awk -v u="$SB_UID" '$2 == u || $3 == u { print $1 }'
}

setup_file() {
	[ "$(id -u)" -eq 0 ] || skip "makes a user: run as root"
	command -v setpriv >/dev/null || skip "needs setpriv (util-linux)"
	ensure_fixture
	if getent passwd "$SB_USER" >/dev/null; then
		SB_UID=$(id -u "$SB_USER")
		for pid in $(sb_user_pids); do kill -9 "$pid" 2>/dev/null || true; done
		userdel -r -f "$SB_USER" >/dev/null 2>&1 || userdel -f "$SB_USER"
	fi
	SB_UID=$(sb_free_id)
	SB_DIR=$(mktemp -d /tmp/berth-sbx-rootless.XXXXXX)
	chmod 0755 "$SB_DIR"
	useradd -u "$SB_UID" -U -m -d "$SB_DIR/home" -s /bin/sh "$SB_USER"
	SB_GID=$(id -g "$SB_USER")
	mkdir -m 0755 "$SB_DIR/bin"
	cp "$BERTH" "$SB_DIR/bin/berth"
	chmod 0755 "$SB_DIR/bin/berth"
	SB_XDG=$SB_DIR/xdg
	mkdir -m 0700 "$SB_XDG"
	chown "$SB_UID:$SB_GID" "$SB_XDG"
	export SB_UID SB_GID SB_DIR SB_XDG
}

teardown_file() {
	[ -n "${SB_UID:-}" ] || return 0
	for pid in $(sb_user_pids); do kill -9 "$pid" 2>/dev/null || true; done
	userdel -r -f "$SB_USER" >/dev/null 2>&1 || true
	[ -z "${SB_DIR:-}" ] || rm -rf "$SB_DIR"
}

setup() {
	requires berth
	# Where the user can reach it (the bats directories are root's alone).
	WORK=$SB_DIR/work.$BATS_TEST_NUMBER
	SCRATCH=$WORK/scratch
	PROJECT=$WORK/project
	mkdir -p "$SCRATCH" "$PROJECT/sub"
	printf 'test content\n' >"$PROJECT/file.txt"
	printf 'nested\n' >"$PROJECT/sub/nested.txt"
	chown -R "$SB_UID:$SB_GID" "$WORK"
	cd "$PROJECT"
}

teardown() {
	for pid in $(sb_user_pids); do kill -9 "$pid" 2>/dev/null || true; done
	cd /
	rm -rf "$WORK"
}

# as_user CMD...: CMD as the test user, clean environment, scratch in $SCRATCH.
as_user() {
	setpriv --reuid="$SB_UID" --regid="$SB_GID" --init-groups \
		env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME="$SB_DIR/home" \
		XDG_RUNTIME_DIR="$SB_XDG" TMPDIR="$SCRATCH" "$@"
}

# run_sbx ARGS...: `berth sandbox ARGS` as the user, like bats' run; stdout
# in $output/$lines, stderr in $stderr.
run_sbx() {
	local out=$BATS_TEST_TMPDIR/out errf=$BATS_TEST_TMPDIR/err
	status=0
	timeout -k 5 "$BERTH_TIMEOUT" setpriv --reuid="$SB_UID" --regid="$SB_GID" --init-groups \
		env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME="$SB_DIR/home" \
		XDG_RUNTIME_DIR="$SB_XDG" TMPDIR="$SCRATCH" "$SB_DIR/bin/berth" sandbox "$@" \
		>"$out" 2>"$errf" </dev/null 3>&- || status=$?
	output=$(cat "$out")
	stderr=$(cat "$errf")
	lines=()
	[ -z "$output" ] || mapfile -t lines <<<"$output"
	echo "# (as $SB_USER) berth sandbox $* => status $status"
	[ -z "$output" ] || printf '%s\n' "$output"
	[ -z "$stderr" ] || printf 'stderr: %s\n' "$stderr"
}

tree_hash() {
	(cd "$1" && find . -printf '%p %m %s\n' | sort && find . -type f -exec sha256sum {} + | sort) |
		sha256sum
}

# Nothing of a sandbox left: state, scratch, processes of the user, cgroups.
assert_nothing_left() {
	local left
	left=$(ls -A "$SB_XDG/berth" 2>/dev/null || true)
	[ -z "$left" ] || fail "state left: $left"
	left=$(ls -A "$SCRATCH")
	[ -z "$left" ] || fail "scratch left: $left"
	retry 3 0.05 eval '[ -z "$(sb_user_pids)" ]' || fail "processes left: $(sb_user_pids)"
	left=$(find /sys/fs/cgroup -mindepth 1 -maxdepth 8 -type d -name 'sbx-*' -user "$SB_UID" 2>/dev/null)
	[ -z "$left" ] || fail "cgroups left: $left"
}

@test "rootless: exit statuses pass through (0, 42, 139 for SIGSEGV, 127)" {
	run_sbx -- true
	[ "$status" -eq 0 ]
	run_sbx -- sh -c 'exit 42'
	[ "$status" -eq 42 ]
	run_sbx -- sh -c 'ulimit -s 256; f() { f; }; f'
	[ "$status" -eq 139 ]
	run_sbx -- no-such-command-here
	[ "$status" -eq 127 ]
	assert_nothing_left
}

@test "rootless: the user's own ids inside, no capabilities, its own namespaces" {
	run_sbx -- sh -c 'id -u; id -g; cat /proc/self/uid_map; grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status; readlink /proc/self/ns/user'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$SB_UID" ]
	[ "${lines[1]}" = "$SB_GID" ]
	[ "$(echo "${lines[2]}" | xargs)" = "$SB_UID $SB_UID 1" ]
	[[ $output == *"CapEff:	0000000000000000"* ]]
	[[ $output == *"NoNewPrivs:	1"* ]]
	[[ $output == *"Seccomp:	2"* ]]
	[ "${lines[-1]}" != "$(readlink /proc/self/ns/user)" ]
}

@test "rootless: --timeout kills everything, exit 124, nothing left" {
	run_sbx --timeout 1s -- sh -c "sleep $MARK & sleep $MARK"
	[ "$status" -eq 124 ]
	assert_nothing_left
}

@test "rootless: SIGINT to berth mid-run: the command is gone, exit 130, nothing left" {
	timeout -k 5 "$BERTH_TIMEOUT" setpriv --reuid="$SB_UID" --regid="$SB_GID" --init-groups env -i PATH=/usr/bin:/bin \
		XDG_RUNTIME_DIR="$SB_XDG" TMPDIR="$SCRATCH" "$SB_DIR/bin/berth" sandbox --grace 300ms -- sh -c "sleep $MARK & sleep $MARK" </dev/null 3>&- &
	local bg=$! rc=0
	retry 5 0.05 eval '[ "$(pgrep -fc "^sleep $MARK$")" -eq 2 ]' || fail "never started"
	kill -INT "$bg"
	wait "$bg" || rc=$?
	[ "$rc" -eq 130 ] || fail "exit status $rc"
	assert_nothing_left
}

@test "rootless: stdin is piped through" {
	local out
	out=$(printf 'a\nb\n' | as_user "$SB_DIR/bin/berth" sandbox -- cat)
	[ "$out" = "$(printf 'a\nb')" ]
}

@test "rootless: /etc, /usr and the checkout are read-only" {
	local before
	before=$(tree_hash "$PROJECT")
	run_sbx -- sh -c 'for f in /etc/x /usr/x ./new file.txt; do
		if (echo x >>"$f") 2>/dev/null; then echo "wrote $f"; fi; done; echo done'
	[ "$status" -eq 0 ]
	[ "$output" = done ] || fail "got: $output"
	[ "$(tree_hash "$PROJECT")" = "$before" ]
	assert_nothing_left
}

@test "rootless: /tmp is private and empty" {
	cd /
	run_sbx -- sh -c 'ls -A /tmp; echo t >/tmp/t && cat /tmp/t'
	[ "$status" -eq 0 ]
	[ "$output" = t ] || fail "got: $output"
	[ ! -e /tmp/t ]
}

@test "rootless: --overlay . lets the command write, the checkout is unchanged" {
	local before
	before=$(tree_hash "$PROJECT")
	run_sbx --overlay . -- sh -c 'echo changed >file.txt && rm sub/nested.txt && echo n >new && cat file.txt new'
	[ "$status" -eq 0 ]
	[ "${lines[*]}" = "changed n" ]
	[ "$(tree_hash "$PROJECT")" = "$before" ]
	assert_nothing_left
}

@test "rootless: --bind DIR writes land" {
	run_sbx --bind "$PROJECT/sub" -- sh -c "echo r >$PROJECT/sub/r"
	[ "$status" -eq 0 ]
	[ "$(cat "$PROJECT/sub/r")" = r ]
	[ "$(stat -c %u "$PROJECT/sub/r")" = "$SB_UID" ]
}

@test "rootless: no network but lo" {
	run_sbx -- sh -c 'ls /sys/class/net; tail -n +3 /proc/net/dev | cut -d: -f1 | xargs'
	[ "$status" -eq 0 ]
	[ "${lines[*]}" = "lo lo" ] || fail "links: $output"
}

@test "rootless: limits without a delegated cgroup are refused in one line (125), nothing left" {
	local flag
	for flag in "--memory 64M" "--pids 10" "--cpus 0.5"; do
		# shellcheck disable=SC2086 # words on purpose
		run_sbx $flag -- true
		[ "$status" -eq 125 ] || fail "$flag: status $status"
		[ -z "$output" ]
		[ "$(echo "$stderr" | wc -l)" -eq 1 ]
		[[ $stderr == *"cgroup"*"delegated"* ]] || fail "$flag: $stderr"
	done
	assert_nothing_left
}

@test "rootless: --stats without limits falls back to rusage" {
	run_sbx --stats "$PROJECT/../s.json" -- sh -c 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; exit 5'
	[ "$status" -eq 5 ]
	cat "$WORK/s.json"
	jq -e '.exit_status == 5 and .accounting == "rusage" and .cpu_user_seconds > 0 and
		.memory_peak_bytes > 0 and .timed_out == false' "$WORK/s.json"
	assert_nothing_left
}
