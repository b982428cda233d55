#!/usr/bin/env bats
# Rootless mode: the runtime run by an ordinary user. A throwaway user (berthrl)
# is made for this file, with /etc/subuid and /etc/subgid ranges and a private
# XDG_RUNTIME_DIR; its bundle comes from `spec --rootless` run as that user.
# Root inside must be the user outside: the container can do nothing the user
# cannot. Bad mappings fail with one line, exit 1, and leave nothing behind.
#
# The runtime binary is copied to a world-readable directory (the repository
# may not be traversable by the user). Everything the user runs goes through
# as_user (setpriv, a clean environment, XDG_RUNTIME_DIR set explicitly).

load helpers

RL_USER=berthrl
RL_PREFERRED_UID=2468
# The user's subordinate range (distinct from the 100000 range userns.bats
# uses as root, so that ownership checks cannot be confused).
RL_SUB=300000
RL_SUB_SIZE=65536

# --- per-file setup ------------------------------------------------------------

# rl_free_id: the preferred uid if free (as uid and gid), else the first free
# id from 2000 on.
rl_free_id() {
	local id=$RL_PREFERRED_UID
	while getent passwd "$id" >/dev/null || getent group "$id" >/dev/null; do
		id=$((id + 1))
	done
	echo "$id"
}

# rl_user_pids: processes owned by the test user (real or effective uid).
rl_user_pids() {
	[ -n "${RL_UID:-}" ] || return 0
	ps -eo pid=,ruid=,euid= | awk -v u="$RL_UID" '$2 == u || $3 == u { print $1 }'
}

rl_kill_user_pids() {
	local pid
	for pid in $(rl_user_pids); do
		kill -9 "$pid" 2>/dev/null || true
	done
}

# rl_drop_line FILE LINE: remove exactly LINE from FILE (keeping the file itself).
rl_drop_line() {
	local rest
	[ -f "$1" ] || return 0
	rest=$(grep -vxF -- "$2" "$1" || true)
	if [ -n "$rest" ]; then printf '%s\n' "$rest" >"$1"; else : >"$1"; fi
}

setup_file() {
	[ "$(id -u)" -eq 0 ] || skip "rootless tests create a user: run as root"
	command -v setpriv >/dev/null || skip "needs setpriv (util-linux)"
	command -v useradd >/dev/null || skip "needs useradd (passwd)"
	ensure_fixture

	# A previous run that crashed may have left the user: recreate it.
	if getent passwd "$RL_USER" >/dev/null; then
		RL_UID=$(id -u "$RL_USER")
		rl_kill_user_pids
		userdel -r -f "$RL_USER" >/dev/null 2>&1 || userdel -f "$RL_USER"
	fi
	RL_UID=$(rl_free_id)
	RL_DIR=$(mktemp -d /tmp/berth-rootless.XXXXXX)
	chmod 0755 "$RL_DIR"
	useradd -u "$RL_UID" -U -m -d "$RL_DIR/home" -s /bin/sh "$RL_USER"
	RL_GID=$(id -g "$RL_USER")

	local line=$RL_USER:$RL_SUB:$RL_SUB_SIZE f
	for f in /etc/subuid /etc/subgid; do
		touch "$f"
		grep -qxF -- "$line" "$f" || echo "$line" >>"$f"
	done

	# The runtime, where the user can run it.
	mkdir -m 0755 "$RL_DIR/bin"
	local src=$BERTH
	[[ $src == */* ]] || src=$(command -v "$BERTH")
	RL_RUNTIME_NAME=berth
	is_berth || RL_RUNTIME_NAME=runc
	cp "$src" "$RL_DIR/bin/$RL_RUNTIME_NAME"
	chmod 0755 "$RL_DIR/bin/$RL_RUNTIME_NAME"
	RL_BERTH=$RL_DIR/bin/$RL_RUNTIME_NAME

	# A private XDG_RUNTIME_DIR, and the runtime's default state root in it.
	RL_XDG=$RL_DIR/xdg
	mkdir -m 0700 "$RL_XDG"
	chown "$RL_UID:$RL_GID" "$RL_XDG"
	RL_STATE=$RL_XDG/$RL_RUNTIME_NAME

	# Host files bound into containers.
	mkdir -m 0755 "$RL_DIR/host"

	# The bundle template: the fixture's rootfs owned by the user, config
	# from `spec --rootless` run as the user.
	mkdir "$RL_DIR/template"
	cp -a "$FIXTURE_DIR/rootfs" "$RL_DIR/template/rootfs"
	chown -R "$RL_UID:$RL_GID" "$RL_DIR/template"
	export RL_UID RL_GID RL_DIR RL_XDG RL_STATE RL_BERTH RL_RUNTIME_NAME
	(cd "$RL_DIR/template" && as_user "$RL_BERTH" spec --rootless) ||
		fail "'$RL_RUNTIME_NAME spec --rootless' as $RL_USER failed"
	local cfg=$RL_DIR/template/config.json
	jq '.process.terminal = false' "$cfg" >"$cfg.new" && mv "$cfg.new" "$cfg"
	chown "$RL_UID:$RL_GID" "$cfg"
}

teardown_file() {
	[ -n "${RL_UID:-}" ] || return 0
	rl_kill_user_pids
	userdel -r -f "$RL_USER" >/dev/null 2>&1 || true
	local line=$RL_USER:$RL_SUB:$RL_SUB_SIZE
	rl_drop_line /etc/subuid "$line"
	rl_drop_line /etc/subgid "$line"
	[ -z "${RL_DIR:-}" ] || rm -rf "$RL_DIR"
}

# --- running as the user ---------------------------------------------------------

# as_user CMD...: run CMD as the test user, with a clean environment.
as_user() {
	setpriv --reuid="$RL_UID" --regid="$RL_GID" --init-groups \
		env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME="$RL_DIR/home" \
		XDG_RUNTIME_DIR="$RL_XDG" "$@"
}

# run_rl ARGS...: the runtime as the user, with its default state root (no
# --root), in the current directory. Sets $status, $output (stdout), $stderr,
# $lines (stdout lines) and $err_lines (stderr lines).
run_rl() {
	BERTH_CALLS=$((BERTH_CALLS + 1))
	local out=$BATS_TEST_TMPDIR/rl.out.$BERTH_CALLS errf=$BATS_TEST_TMPDIR/rl.err.$BERTH_CALLS
	status=0
	timeout -k 5 "$BERTH_TIMEOUT" setpriv --reuid="$RL_UID" --regid="$RL_GID" --init-groups \
		env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME="$RL_DIR/home" \
		XDG_RUNTIME_DIR="$RL_XDG" "$RL_BERTH" "$@" >"$out" 2>"$errf" </dev/null 3>&- || status=$?
	output=$(cat "$out")
	stderr=$(cat "$errf")
	lines=() err_lines=()
	[ -z "$output" ] || mapfile -t lines <<<"$output"
	[ -z "$stderr" ] || mapfile -t err_lines <<<"$stderr"
	echo "# (as $RL_USER) $RL_RUNTIME_NAME $* => status $status"
	[ -z "$output" ] || printf '%s\n' "$output"
	[ -z "$stderr" ] || printf 'stderr: %s\n' "$stderr"
	[ "$status" -ne 124 ] || echo "# (timed out after ${BERTH_TIMEOUT}s)"
}

# rl_sh SCRIPT [ID]: `run ID` of `sh -c SCRIPT` (stderr merged into stdout inside).
rl_sh() {
	set_args sh -c "exec 2>&1
$1"
	run_rl run "${2:-ctr}"
}

# rl_ok: the last run_rl succeeded; berth also printed nothing on stderr
# (runc warns about cgroups it cannot remove).
rl_ok() {
	[ "$status" -eq 0 ] || fail "exit status $status"
	! is_berth || [ -z "$stderr" ] || fail "unexpected stderr: $stderr"
}

# rl_one_line_error: the last run_rl failed with exit 1; for berth, exactly one
# line, on stderr.
rl_one_line_error() {
	[ "$status" -eq 1 ] || fail "exit status $status, wanted 1"
	is_berth || return 0
	[ -z "$output" ] || fail "unexpected stdout: $output"
	[ "${#err_lines[@]}" -eq 1 ] || fail "wanted one line on stderr, got ${#err_lines[@]}"
}

# rl_state_entries: what is in the user's state root.
rl_state_entries() {
	ls -A "$RL_STATE" 2>/dev/null || true
}

# rl_nothing_left ID: no state for ID, no process of the user, no cgroup named ID.
rl_nothing_left() {
	[ -z "$(rl_state_entries)" ] || fail "left in the state root: $(rl_state_entries)"
	retry 3 0.05 eval '[ -z "$(rl_user_pids)" ]' || fail "processes of $RL_USER left: $(rl_user_pids)"
	no_rootfs_pids "$BUNDLE/rootfs" || fail "container processes left: $(rootfs_pids "$BUNDLE/rootfs")"
	local cg
	cg=$(find /sys/fs/cgroup -mindepth 1 -maxdepth 7 -type d -name "$1" 2>/dev/null)
	[ -z "$cg" ] || fail "cgroups left: $cg"
}

# host_file NAME MODE CONTENT [OWNER]: a host file in $RL_DIR/host.
host_file() {
	local f=$RL_DIR/host/$1
	printf '%s\n' "$3" >"$f"
	chown "${4:-0:0}" "$f"
	chmod "$2" "$f"
	echo "$f"
}

bind_file() {
	update_config --arg s "$1" --arg d "$2" '.mounts += [{"destination": $d, "type": "bind",
		"source": $s, "options": ["bind", "rw"]}]'
}

add_caps() {
	local c
	for c in "$@"; do
		update_config --arg c "$c" '.process.capabilities |= with_entries(
			if .key == "inheritable" then . else .value = ((.value // []) + [$c] | unique) end)'
	done
}

# --- per-test setup ----------------------------------------------------------------

setup() {
	BUNDLE=$RL_DIR/bundle-$BATS_TEST_NUMBER
	ROOT=$RL_STATE
	mkdir "$BUNDLE"
	cp -a "$RL_DIR/template/rootfs" "$RL_DIR/template/config.json" "$BUNDLE/"
	chown "$RL_UID:$RL_GID" "$BUNDLE"
	RL_BUNDLE=$BUNDLE
	cd "$BUNDLE"
}

# use_root_bundle: this test runs as root (helpers' setup_bundle).
use_root_bundle() {
	setup_bundle
	HOST_MOUNTS_BEFORE=$(host_mountinfo)
}

teardown() {
	local rc=0 id m
	cd "$RL_DIR" || cd /
	# The user's containers, deleted by the user.
	for id in $(as_user timeout -k 5 "$BERTH_TIMEOUT" "$RL_BERTH" list -q 2>/dev/null); do
		as_user timeout -k 5 "$BERTH_TIMEOUT" "$RL_BERTH" delete --force "$id" >/dev/null 2>&1 || true
	done
	teardown_bundle || rc=1
	if [ -n "${RL_BUNDLE:-}" ] && [ "$RL_BUNDLE" != "$BUNDLE" ] &&
		! retry 3 0.05 no_rootfs_pids "$RL_BUNDLE/rootfs" >/dev/null; then
		echo "teardown: container processes left behind: $(rootfs_pids "$RL_BUNDLE/rootfs")" >&2
		rc=1
	fi
	if ! retry 3 0.05 eval '[ -z "$(rl_user_pids)" ]'; then
		echo "teardown: processes of $RL_USER left behind: $(echo $(rl_user_pids))" >&2
		rl_kill_user_pids
		rc=1
	fi
	for m in $(awk -v d="$RL_DIR" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
		echo "teardown: mount left behind on the host: $m" >&2
		umount -l "$m" 2>/dev/null || true
		rc=1
	done
	rm -rf "$RL_BUNDLE" "$RL_DIR"/host/*
	return $rc
}

# --- spec --rootless -------------------------------------------------------------------

@test "spec --rootless as root: a user namespace mapping uid and gid 0" {
	cd "$BATS_TEST_TMPDIR"
	"$BERTH" spec --rootless
	jq -e '.linux.namespaces | map(.type) | index("user")' config.json
	[ "$(jq -c .linux.uidMappings config.json)" = '[{"containerID":0,"hostID":0,"size":1}]' ]
	[ "$(jq -c .linux.gidMappings config.json)" = '[{"containerID":0,"hostID":0,"size":1}]' ]
}

@test "spec --rootless as the user: its uid and gid mapped to root, /sys bound, no resources" {
	cd "$RL_DIR/template"
	[ "$(jq -c .linux.uidMappings config.json)" = "[{\"containerID\":0,\"hostID\":$RL_UID,\"size\":1}]" ]
	[ "$(jq -c .linux.gidMappings config.json)" = "[{\"containerID\":0,\"hostID\":$RL_GID,\"size\":1}]" ]
	jq -e '.linux.namespaces | map(.type) | index("user")' config.json
	[ "$(jq -r '.linux.resources // "none"' config.json)" = none ]
	[ "$(jq -r '.mounts[] | select(.destination == "/sys") | .type' config.json)" = none ]
	jq -e '.mounts[] | select(.destination == "/sys") | .options | index("rbind") and index("ro")' config.json
	[ -z "$(jq -r '.mounts[] | select(.destination == "/dev/pts") | .options[] | select(. == "gid=5")' config.json)" ]
	if is_berth; then
		# runc keeps a read-only /sys/fs/cgroup.
		[ -z "$(jq -r '.mounts[] | select(.destination == "/sys/fs/cgroup")' config.json)" ]
	fi
	# Written by the user: no root-owned file in its bundle.
	[ "$(stat -c %u config.json)" = "$RL_UID" ]
}

# --- running as the user -------------------------------------------------------------------

@test "as the user: root inside, the user's uid and gid outside" {
	rl_sh 'id -u; id -g; cat /proc/self/uid_map; cat /proc/self/gid_map; readlink /proc/self/ns/user; stat -c %u /bin/busybox'
	rl_ok
	[ "${lines[0]}" = 0 ]
	[ "${lines[1]}" = 0 ]
	[ "$(echo ${lines[2]})" = "0 $RL_UID 1" ]
	[ "$(echo ${lines[3]})" = "0 $RL_GID 1" ]
	[ "${lines[4]}" != "$(readlink /proc/self/ns/user)" ]
	# The user's files are root's inside.
	[ "${lines[5]}" = 0 ]
	[ "${#lines[@]}" -eq 6 ]
	rl_nothing_left ctr
}

@test "as the user: files made inside belong to the user on the host, and so does the process" {
	update_config '.root.readonly = false'
	set_args sh -c 'touch /made-inside && mkdir /dir-inside && exec sleep 100'
	run_rl run -d ctr
	rl_ok
	retry 5 0.02 test -d "$BUNDLE/rootfs/dir-inside"
	[ "$(stat -c %u:%g "$BUNDLE/rootfs/made-inside")" = "$RL_UID:$RL_GID" ]
	[ "$(stat -c %u:%g "$BUNDLE/rootfs/dir-inside")" = "$RL_UID:$RL_GID" ]
	local pid
	pid=$(as_user "$RL_BERTH" state ctr | jq -r .pid)
	[ "$pid" -gt 0 ]
	[ "$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")" = "$RL_UID $RL_UID $RL_UID $RL_UID" ]
	[ "$(awk '/^Gid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")" = "$RL_GID $RL_GID $RL_GID $RL_GID" ]
	run_rl delete --force ctr
	rl_ok
}

@test "as the user: state lives in \$XDG_RUNTIME_DIR, owned by the user, and goes with delete" {
	set_args sleep 100
	run_rl run -d ctr
	rl_ok
	[ -d "$RL_STATE/ctr" ]
	[ "$(stat -c %u "$RL_STATE/ctr")" = "$RL_UID" ]
	[ "$(stat -c %u "$RL_STATE")" = "$RL_UID" ]
	# Not the system-wide root.
	[ ! -e "/run/$RL_RUNTIME_NAME/ctr" ]
	run_rl state ctr
	rl_ok
	[ "$(jq -r .status <<<"$output")" = running ]
	run_rl kill ctr KILL
	rl_ok
	retry 5 0.05 eval '[ "$(as_user "$RL_BERTH" state ctr 2>/dev/null | jq -r .status)" = stopped ]'
	run_rl delete ctr
	rl_ok
	[ ! -e "$RL_STATE/ctr" ]
	rl_nothing_left ctr
}

@test "as the user without XDG_RUNTIME_DIR: state under /run/user/UID/berth" {
	requires_berth "runc falls back to /run/runc, which the user cannot write"
	[ ! -e "/run/user/$RL_UID" ] || skip "/run/user/$RL_UID already exists"
	mkdir -p /run/user
	mkdir -m 0700 "/run/user/$RL_UID"
	chown "$RL_UID:$RL_GID" "/run/user/$RL_UID"
	set_args sleep 100
	local st=0 dir_seen=no
	setpriv --reuid="$RL_UID" --regid="$RL_GID" --init-groups env -i PATH=/usr/bin:/bin \
		"$RL_BERTH" run -d ctr >/dev/null 2>"$BATS_TEST_TMPDIR/err" </dev/null || st=$?
	[ -d "/run/user/$RL_UID/berth/ctr" ] && dir_seen=yes
	setpriv --reuid="$RL_UID" --regid="$RL_GID" --init-groups env -i PATH=/usr/bin:/bin \
		"$RL_BERTH" delete --force ctr 2>>"$BATS_TEST_TMPDIR/err" || st=$((st + 100))
	local left
	left=$(ls -A "/run/user/$RL_UID/berth" 2>/dev/null || true)
	rm -rf "/run/user/$RL_UID"
	cat "$BATS_TEST_TMPDIR/err"
	[ "$st" -eq 0 ]
	[ "$dir_seen" = yes ]
	[ -z "$left" ]
	[ ! -s "$BATS_TEST_TMPDIR/err" ]
	[ -z "$(rl_state_entries)" ]
}

@test "as the user: create, start, state, kill, delete" {
	set_args sh -c 'trap "exit 7" TERM; echo up >/tmp/up 2>/dev/null; while :; do sleep 0.05; done'
	run_rl create ctr
	rl_ok
	run_rl state ctr
	rl_ok
	[ "$(jq -r .status <<<"$output")" = created ]
	local pid
	pid=$(jq -r .pid <<<"$output")
	[ "$pid" -gt 0 ]
	[ -d "/proc/$pid" ]
	# Waiting for start: the user's command has not run yet.
	[ "$(rootfs_pids "$BUNDLE/rootfs")" = "$pid" ]
	[ "$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")" = "$RL_UID" ]

	run_rl start ctr
	rl_ok
	run_rl state ctr
	[ "$(jq -r .status <<<"$output")" = running ]
	[ "$(jq -r .pid <<<"$output")" = "$pid" ]

	run_rl delete ctr
	[ "$status" -ne 0 ]
	[ -d "/proc/$pid" ]

	run_rl kill ctr TERM
	rl_ok
	retry 5 0.05 eval '[ "$(as_user "$RL_BERTH" state ctr 2>/dev/null | jq -r .status)" = stopped ]'
	run_rl delete ctr
	rl_ok
	run_rl state ctr
	[ "$status" -ne 0 ]
	rl_nothing_left ctr
}

@test "as the user: exec runs as root of the container's user namespace, with its exit status" {
	set_args sleep 100
	run_rl run -d ctr
	rl_ok
	run_rl exec ctr sh -c 'id -u; cat /proc/self/uid_map; readlink /proc/1/ns/user; readlink /proc/self/ns/user; exit 5'
	[ "$status" -eq 5 ]
	[ "${lines[0]}" = 0 ]
	[ "$(echo ${lines[1]})" = "0 $RL_UID 1" ]
	[ "${lines[2]}" = "${lines[3]}" ]
	[ "${lines[2]}" != "$(readlink /proc/self/ns/user)" ]

	run_rl exec ctr echo hello
	rl_ok
	[ "$output" = hello ]

	# With a terminal, under script(1) for a pty.
	local out=$BATS_TEST_TMPDIR/script.out st=0
	as_user env SHELL=/bin/bash timeout -k 5 "$BERTH_TIMEOUT" script -qec \
		"$RL_BERTH exec -t ctr sh -c 'tty; id -u; exit 3'" /dev/null >"$out" 2>&1 </dev/null || st=$?
	cat "$out"
	[ "$st" -eq 3 ]
	# script(1) passes its stdin's EOF on as a VEOF byte, which the
	# container's terminal may echo as "^@" (runc's too).
	tr -d '\r' <"$out" | sed 's/\^@//g' | grep -qx '/dev/pts/[0-9]*'
	tr -d '\r' <"$out" | sed 's/\^@//g' | grep -qx 0
	run_rl delete --force ctr
	rl_ok
	rl_nothing_left ctr
}

@test "as the user: a root-owned host file bound in cannot be written, though the user's own can" {
	local theirs mine
	theirs=$(host_file hostname-root 0644 host-root-data)
	mine=$(host_file hostname-user 0644 user-data "$RL_UID:$RL_GID")
	bind_file "$theirs" /etc/theirs
	bind_file "$mine" /etc/mine
	rl_sh 'id -u
		echo evil >/etc/theirs && echo wrote-theirs || echo denied-theirs
		echo changed >/etc/mine && echo wrote-mine || echo denied-mine'
	rl_ok
	[ "${lines[0]}" = 0 ]
	[[ "$output" == *denied-theirs* ]]
	[[ "$output" == *"Permission denied"* || "$output" == *"Read-only file system"* ]]
	[[ "$output" == *wrote-mine* ]]
	[ "$(cat "$theirs")" = host-root-data ]
	[ "$(stat -c %u:%a "$theirs")" = 0:644 ]
	# The control: the same way in, the user's own file did change.
	[ "$(cat "$mine")" = changed ]
	rl_nothing_left ctr
}

@test "as the user: a host file only root may read, bound in, cannot be read" {
	local secret
	secret=$(host_file secret 0600 top-secret-data)
	bind_file "$secret" /secret
	rl_sh 'id -u; cat /secret && echo read-it || echo denied; stat -c %u /secret'
	rl_ok
	[ "${lines[0]}" = 0 ]
	[[ "$output" != *top-secret-data* ]]
	[[ "$output" == *denied* ]]
	[[ "$output" == *"Permission denied"* ]]
	# Host root is not mapped: it shows as the overflow uid.
	[ "${lines[-1]}" = "$(cat /proc/sys/kernel/overflowuid)" ]
	rl_nothing_left ctr
}

@test "as the user: sethostname inside its own uts namespace, the host's untouched" {
	local before
	before=$(hostname)
	update_config '.hostname = "rl-box"'
	add_caps CAP_SYS_ADMIN
	rl_sh 'hostname; hostname rl-other && hostname; readlink /proc/self/ns/uts'
	rl_ok
	[ "${lines[0]}" = rl-box ]
	[ "${lines[1]}" = rl-other ]
	[ "${lines[2]}" != "$(readlink /proc/self/ns/uts)" ]
	[ "$(hostname)" = "$before" ]
	rl_nothing_left ctr
}

@test "as the user: no cgroup is made without a delegated one, and none is left" {
	set_args sleep 100
	run_rl run -d rl-nocg-$$
	rl_ok
	local pid
	pid=$(as_user "$RL_BERTH" state "rl-nocg-$$" | jq -r .pid)
	[ "$pid" -gt 0 ]
	# The container stays in the cgroups of the process that started it.
	diff <(cat "/proc/$BASHPID/cgroup") "/proc/$pid/cgroup"
	[ -z "$(find /sys/fs/cgroup -mindepth 1 -maxdepth 7 -type d -name "rl-nocg-$$")" ]
	run_rl delete --force "rl-nocg-$$"
	rl_ok
	rl_nothing_left "rl-nocg-$$"
}

# --- wider mappings through newuidmap/newgidmap ------------------------------------------------

@test "as the user: a wider mapping through newuidmap; a file chowned to 1000 inside is the subordinate base+999 outside" {
	command -v newuidmap >/dev/null && command -v newgidmap >/dev/null || skip "needs newuidmap/newgidmap (uidmap)"
	update_config --argjson u "$RL_UID" --argjson g "$RL_GID" --argjson s "$RL_SUB" '
		.root.readonly = false
		| .linux.uidMappings = [{"containerID": 0, "hostID": $u, "size": 1}, {"containerID": 1, "hostID": $s, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": $g, "size": 1}, {"containerID": 1, "hostID": $s, "size": 65536}]'
	add_caps CAP_CHOWN
	rl_sh 'cat /proc/self/uid_map; cat /proc/self/gid_map
		touch /chowned && chown 1000:1000 /chowned && stat -c %u:%g /chowned'
	rl_ok
	[ "$(echo ${lines[0]})" = "0 $RL_UID 1" ]
	[ "$(echo ${lines[1]})" = "1 $RL_SUB 65536" ]
	[ "$(echo ${lines[2]})" = "0 $RL_GID 1" ]
	[ "$(echo ${lines[3]})" = "1 $RL_SUB 65536" ]
	[ "${lines[4]}" = 1000:1000 ]
	[ "$(stat -c %u:%g "$BUNDLE/rootfs/chowned")" = "$((RL_SUB + 999)):$((RL_SUB + 999))" ]
	rl_nothing_left ctr
}

@test "as the user: a mapping to ids outside /etc/subuid fails: one line, exit 1, nothing left" {
	command -v newuidmap >/dev/null || skip "needs newuidmap (uidmap)"
	set_args true
	update_config --argjson u "$RL_UID" '.linux.uidMappings = [{"containerID": 0, "hostID": $u, "size": 1},
		{"containerID": 1, "hostID": 500000, "size": 1000}]'
	run_rl run rl-badmap-$$
	rl_one_line_error
	if is_berth; then
		[[ "$stderr" == *newuidmap* ]]
		[[ "$stderr" == *subuid* ]]
	fi
	rl_nothing_left "rl-badmap-$$"
}

@test "as the user: a gid mapping outside /etc/subgid fails: one line, exit 1, nothing left" {
	command -v newgidmap >/dev/null || skip "needs newgidmap (uidmap)"
	set_args true
	update_config --argjson g "$RL_GID" '.linux.gidMappings = [{"containerID": 0, "hostID": $g, "size": 1},
		{"containerID": 1, "hostID": 500000, "size": 1000}]'
	run_rl create rl-badmap-$$
	rl_one_line_error
	if is_berth; then
		[[ "$stderr" == *newgidmap* ]]
		[[ "$stderr" == *subgid* ]]
	fi
	rl_nothing_left "rl-badmap-$$"
}

@test "as the user: mapping host root fails: one line, exit 1, nothing left" {
	set_args true
	update_config '.linux.uidMappings = [{"containerID": 0, "hostID": 0, "size": 1}]'
	run_rl run rl-badmap-$$
	rl_one_line_error
	! is_berth || [[ "$stderr" == *linux.uidMappings* ]]
	rl_nothing_left "rl-badmap-$$"
}

@test "as the user: a memory limit without a delegated cgroup fails: one line, exit 1, nothing left" {
	set_args true
	update_config '.linux.resources.memory.limit = 104857600'
	run_rl run rl-limit-$$
	rl_one_line_error
	! is_berth || [[ "$stderr" == *"cgroup limits need a cgroup delegated to uid $RL_UID"* ]]
	rl_nothing_left "rl-limit-$$"

	update_config 'del(.linux.resources) | .linux.resources.pids.limit = 100'
	run_rl create rl-limit-$$
	rl_one_line_error
	! is_berth || [[ "$stderr" == *"cgroup limits need a cgroup delegated"* ]]
	rl_nothing_left "rl-limit-$$"
}

# --- bad mappings as root ------------------------------------------------------------------

# expect_bad_mapping FRAGMENT: as root, `create` of the current config exits 1
# with (for berth) one line containing FRAGMENT, and leaves nothing behind.
expect_bad_mapping() {
	local id=rl-rootbad-$$ cg
	run_berth create "$id"
	[ "$status" -eq 1 ] || fail "create exited $status, wanted 1"
	[ -z "$(root_entries)" ] || fail "left in \$ROOT: $(root_entries)"
	retry 3 0.05 no_rootfs_pids "$BUNDLE/rootfs" || fail "container processes left: $(rootfs_pids "$BUNDLE/rootfs")"
	assert_mountinfo_unchanged "$HOST_MOUNTS_BEFORE"
	cg=$(find /sys/fs/cgroup -mindepth 1 -maxdepth 7 -type d -name "$id" 2>/dev/null)
	[ -z "$cg" ] || fail "cgroups left: $cg"
	is_berth || return 0
	[ "${#lines[@]}" -eq 1 ] || fail "wanted exactly one line of output, got ${#lines[@]}"
	[[ "$output" == *"$1"* ]] || fail "message lacks '$1'"
}

root_userns() {
	use_root_bundle
	set_args true
	chown -R 100000:100000 "$BUNDLE/rootfs"
	update_config '.linux.namespaces += [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
}

@test "as root: bad mappings: overlapping container ranges" {
	root_userns
	update_config '.linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 100},
		{"containerID": 50, "hostID": 200000, "size": 100}]'
	expect_bad_mapping linux.uidMappings
	update_config '.linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536},
		{"containerID": 0, "hostID": 300000, "size": 10}]'
	expect_bad_mapping linux.gidMappings
}

@test "as root: bad mappings: overlapping host ranges" {
	root_userns
	update_config '.linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 100},
		{"containerID": 200, "hostID": 100050, "size": 100}]'
	expect_bad_mapping linux.uidMappings
}

@test "as root: bad mappings: gid size 0, container range past 2^32, more than 340 entries, an empty list" {
	requires_berth "runc passes these to the kernel, which refuses them its own way"
	root_userns
	update_config '.linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 0}]'
	expect_bad_mapping "linux.gidMappings[0].size"
	update_config '.linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.uidMappings = [{"containerID": 4294967290, "hostID": 100000, "size": 100}]'
	expect_bad_mapping "linux.uidMappings[0]"
	update_config '.linux.uidMappings = [range(341) as $i | {"containerID": $i, "hostID": (100000 + $i), "size": 1}]'
	expect_bad_mapping "linux.uidMappings"
	update_config '.linux.uidMappings = []'
	expect_bad_mapping "uidMappings"
}

@test "as root: bad mappings: container root not mapped" {
	root_userns
	update_config '.linux.uidMappings = [{"containerID": 1, "hostID": 100000, "size": 65536}]'
	expect_bad_mapping ""
}

@test "as the user: run works every time (30 runs on one CPU)" {
	# The uid/gid maps are written by the runtime while the new init waits;
	# nothing the init does first may close its /proc files to the user.
	command -v taskset >/dev/null || skip "needs taskset"
	set_args true
	local i fails=0 st
	for i in $(seq 30); do
		st=0
		as_user timeout -k 5 "$BERTH_TIMEOUT" taskset -c 0 "$RL_BERTH" run "rl-rep-$i" \
			>"$BATS_TEST_TMPDIR/rep.out" 2>&1 </dev/null || st=$?
		if [ "$st" -ne 0 ]; then
			fails=$((fails + 1))
			echo "run $i: status $st: $(cat "$BATS_TEST_TMPDIR/rep.out")"
		fi
	done
	[ "$fails" -eq 0 ]
	rl_nothing_left rl-rep-30
}

# --- images (issue #12): pull and bundle create as the user ------------------------------

# rl_image_fixtures: in $RL_DIR/img, readable by the user: the fixture images
# (tests/image/make-fixtures.sh) and an OCI layout "rl" of their two layers
# plus one only root can unpack as is: a device node, a file owned by
# 1234:5678 with a trusted.* xattr, a read-only directory with a file in it.
rl_image_fixtures() {
	local img=$RL_DIR/img l3=$RL_DIR/img/l3 h
	[ -f "$img/rl/index.json" ] && return 0
	"$BERTH_SRC_DIR/tests/image/make-fixtures.sh" "$img/fx" >/dev/null 2>&1 || fail "make-fixtures.sh"
	for h in gz1 gz2; do
		cp "$img/fx/oci/blobs/sha256/$(sed -n "s/^$h=sha256://p" "$img/fx/facts")" "$img/$h.tar.gz"
	done
	mkdir -p "$l3/dev" "$l3/ro"
	mknod "$l3/dev/null" c 1 3
	echo theirs >"$l3/owned"
	chown 1234:5678 "$l3/owned"
	setfattr -n trusted.berth -v 1 "$l3/owned"
	echo inside >"$l3/ro/inside"
	chmod 0555 "$l3/ro"
	tar -C "$l3" --xattrs --xattrs-include='*' --numeric-owner -cf "$img/l3.tar" . || fail "tar"
	"$BERTH_SRC_DIR/tests/image/make_layout.sh" "$img/rl" rl "$img/gz1.tar.gz" "$img/gz2.tar.gz" \
		"$img/l3.tar" >/dev/null || fail "make_layout.sh"
	chmod -R a+rX "$img"
}

# rl_berth_image: berth-image beside the user's berth (berth runs it for pull and bundle).
rl_berth_image() {
	requires_berth "images are berth's own verbs"
	[ -x "$BERTH_SRC_DIR/berth-image" ] || skip "berth-image not built"
	install -m 0755 "$BERTH_SRC_DIR/berth-image" "$RL_DIR/bin/berth-image"
	rl_image_fixtures
}

@test "as the user: pull an oci-archive into the default root, bundle create, run it" {
	rl_berth_image
	local store=$RL_DIR/home/.local/share/berth b=$RL_DIR/home/img-bundle
	run_rl pull -q "oci-archive:$RL_DIR/img/fx/oci.tar"
	rl_ok
	[ "$output" = "$(sed -n 's/^manifest=//p' "$RL_DIR/img/fx/facts")" ]
	# The default root of an ordinary user, owned by the user; no overlay
	# trees in its layer cache (they would need root), the diff_ids checked.
	[ "$(stat -c %u "$store/blobs")" -eq "$RL_UID" ]
	[ "$(ls "$store"/layers/sha256/*/diff_id | wc -l)" -eq 2 ]
	[ -z "$(find "$store/layers" -name rootfs)" ]
	run_rl bundle create -q --image "oci-archive:$RL_DIR/img/fx/oci.tar" "$b" -- sh -c 'id -u; cat /etc/extra; cat /etc/motd 2>&1 || true'
	rl_ok
	findmnt "$b/rootfs" >/dev/null && fail "an overlay: a copy was expected"
	[ "$(jq -c '.linux.uidMappings' "$b/config.json")" = "[{\"containerID\":0,\"hostID\":$RL_UID,\"size\":1}]" ]
	run_rl run -b "$b" rl-img
	rl_ok
	[ "${lines[0]}" = 0 ]
	[ "${lines[1]}" = "second layer" ]
	[[ "${lines[2]}" == *"No such file"* ]] # the whiteout of layer 2 applied
	run_rl bundle rm "$b"
	rl_ok
	[ ! -e "$b" ]
}

@test "as the user: --image-root in a user dir; devices, owners, trusted xattrs as umoci --rootless" {
	rl_berth_image
	local root=$RL_DIR/home/images b=$RL_DIR/home/rl-bundle
	run_rl --image-root "$root" bundle create -q --image "oci:$RL_DIR/img/rl:rl" "$b" -- sh -c 'cat /owned; cat /ro/inside'
	rl_ok
	[ "$(ls "$root/images" | wc -l)" -eq 1 ] && [ "$(stat -c %u "$root/blobs")" -eq "$RL_UID" ]
	# No device node (no CAP_MKNOD), everything owned by the user, the image's
	# owner in user.rootlesscontainers (protobuf: uid 1234 = 08 d2 09, gid
	# 5678 = 10 ae 2c), no trusted.* xattr, the read-only directory u+rwx.
	[ ! -e "$b/rootfs/dev/null" ]
	[ -z "$(find "$b/rootfs" ! -user "$RL_UID")" ]
	[ "$(getfattr --absolute-names -e hex -n user.rootlesscontainers "$b/rootfs/owned" |
		sed -n 's/^user.rootlesscontainers=//p')" = 0x08d20910ae2c ]
	[ -z "$(getfattr --absolute-names -m - -d "$b/rootfs/owned" | grep trusted)" ]
	[ "$(stat -c %a "$b/rootfs/ro")" = 755 ]
	run_rl run -b "$b" rl-img2
	rl_ok
	[ "${lines[0]}" = theirs ] && [ "${lines[1]}" = inside ]
	run_rl bundle rm "$b"
	rl_ok
}
