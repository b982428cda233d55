#!/usr/bin/env bash
# Shared helpers for berth's bats-core integration suite.
#
# The runtime under test is $BERTH (default: the repository's ./berth); the same
# suite runs against runc with `BERTH=runc bats tests/integration`.
#
# Per test: a fresh bundle in $BUNDLE ($BATS_TEST_TMPDIR/bundle) whose rootfs is a
# copy of a busybox-static fixture built once per bats run, config.json from
# `$BERTH spec` made non-interactive, and a private state root $ROOT passed as
# --root on every call. teardown force-deletes whatever is left in $ROOT and then
# fails the test if container processes or mounts were left behind.

BERTH_SRC_DIR=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
BERTH=${BERTH:-$BERTH_SRC_DIR/berth}
# Tests cd into the bundle, so a relative path must be made absolute now.
if [[ $BERTH == */* && $BERTH != /* ]]; then
	BERTH=$PWD/$BERTH
fi
FIXTURE_DIR=${BERTH_FIXTURE_DIR:-$BATS_RUN_TMPDIR/fixture}
# Longest a single runtime command may take before the test gives up on it.
BERTH_TIMEOUT=${BERTH_TIMEOUT:-20}

BG_PIDS=()
TEST_NETNS=()
BERTH_CALLS=0

# --- small utilities ---------------------------------------------------------

fail() {
	echo "FAIL: $*" >&2
	return 1
}

# refute CMD...: fail if CMD succeeds. (A bare `! CMD` does not fail a bats test
# unless it is the test's last command: set -e ignores negated pipelines.)
refute() {
	if "$@"; then
		fail "unexpectedly succeeded: $*"
	fi
}

# The runtime with this test's state root. Plain invocation: no timeout, no capture.
berth() {
	"$BERTH" --root "$ROOT" "$@"
}

# is_berth: true when the runtime under test is berth (not runc).
is_berth() {
	if [ -z "${_BERTH_IS_BERTH:-}" ]; then
		_BERTH_IS_BERTH=yes
		if "$BERTH" --version 2>/dev/null | head -n 1 | grep -q '^runc'; then
			_BERTH_IS_BERTH=no
		fi
	fi
	[ "$_BERTH_IS_BERTH" = yes ]
}

# runc_older_than X.Y: true when the runtime under test is runc older than X.Y
# (for features runc only gained later; never true for berth).
runc_older_than() {
	is_berth && return 1
	local v
	v=$("$BERTH" --version | sed -n 's/^runc version \([0-9]*\.[0-9]*\).*/\1/p')
	[ -n "$v" ] || return 1
	[ "$(printf '%s\n%s\n' "$v" "$1" | sort -V | head -n 1)" != "$1" ]
}

# The runtime's `features` JSON, cached per test.
runtime_features() {
	if [ -z "${_BERTH_FEATURES:-}" ]; then
		_BERTH_FEATURES=$("$BERTH" features 2>/dev/null) || _BERTH_FEATURES='{}'
	fi
	printf '%s\n' "$_BERTH_FEATURES"
}

# requires FEATURE...: skip the test, with a reason, unless every feature is available.
#   root    running as uid 0
#   berth   the runtime under test is berth
#   runc    the runtime under test is runc
#   timens  the kernel has time namespaces and the runtime lists "time" in features
#   netns   `ip netns` is usable to make throwaway network namespaces
#   ia32    the host can make i386 system calls (int 0x80)
requires() {
	local feature
	for feature in "$@"; do
		case $feature in
		root)
			[ "$(id -u)" -eq 0 ] || skip "test requires root"
			;;
		berth)
			is_berth || skip "test requires berth (runtime under test: $BERTH)"
			;;
		runc)
			is_berth && skip "test requires runc (runtime under test: $BERTH)"
			;;
		timens)
			[ -e /proc/self/ns/time ] || skip "kernel has no time namespace"
			runtime_features | jq -e '.linux.namespaces // [] | index("time")' >/dev/null ||
				skip "runtime does not list the time namespace in 'features'"
			;;
		netns)
			command -v ip >/dev/null || skip "test requires iproute2 (ip netns)"
			;;
		ia32)
			# Some virtual machines (PVM-backed nested guests among them) fault
			# on int 0x80 before the kernel's syscall entry, outside any
			# container too: no i386 call reaches seccomp there, so there is
			# nothing for a filter to get right or wrong.
			"$FIXTURE_DIR/rootfs/bin/syscall-probe" raw32 20 >/dev/null 2>&1 ||
				skip "this machine cannot make i386 system calls at all (int 0x80 faults on the host itself)"
			;;
		*)
			fail "requires: unknown feature '$feature'"
			;;
		esac
	done
}

# requires_berth REASON: skip unless the runtime under test is berth, saying why.
requires_berth() {
	is_berth || skip "berth only: $*"
}

# retry TIMEOUT_SECONDS INTERVAL CMD...: rerun CMD until it succeeds or time runs out.
retry() {
	local timeout=$1 interval=$2
	shift 2
	local end=$((SECONDS + timeout))
	until "$@"; do
		if [ "$SECONDS" -ge "$end" ]; then
			echo "retry: '$*' still failing after ${timeout}s"
			return 1
		fi
		sleep "$interval"
	done
}

# --- running the runtime -----------------------------------------------------

# run_berth ARGS...: like bats' `run`, for the runtime with this test's --root.
# Sets $status, $output and $lines; prints the command and its output, which bats
# shows only when the test fails. Output goes through a file, not a pipe, so a
# container that inherits stdout (create, run -d) cannot hold the call open.
# The file stays in $BERTH_OUT, where a detached container's output keeps landing.
run_berth() {
	BERTH_CALLS=$((BERTH_CALLS + 1))
	BERTH_OUT=$BATS_TEST_TMPDIR/berth.out.$BERTH_CALLS
	status=0
	timeout -k 5 "$BERTH_TIMEOUT" "$BERTH" --root "$ROOT" "$@" \
		>"$BERTH_OUT" 2>&1 </dev/null 3>&- || status=$?
	output=$(cat "$BERTH_OUT")
	lines=()
	[ -z "$output" ] || mapfile -t lines <<<"$output"
	echo "# $(basename "$BERTH") --root \$ROOT $* => status $status"
	[ -z "$output" ] || printf '%s\n' "$output"
	[ "$status" -ne 124 ] || echo "# (timed out after ${BERTH_TIMEOUT}s)"
}

# run_sh SCRIPT [ID]: run `sh -c SCRIPT` in a new container with `berth run`.
# The script's stderr is merged into its stdout inside the container: the
# runtime relays the two streams separately, so their relative order would
# otherwise be lost.
run_sh() {
	set_args sh -c "exec 2>&1
$1"
	run_berth run "${2:-ctr}"
}

# bg_run ID OUTFILE [EXTRA run ARGS...]: start `berth run ID` in the background,
# stdout+stderr to OUTFILE. Sets BG_PID (the runtime's pid); teardown reaps it.
bg_run() {
	local id=$1 out=$2
	shift 2
	"$BERTH" --root "$ROOT" run "$@" "$id" >"$out" 2>&1 </dev/null 3>&- &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
}

# wait_bg [TIMEOUT]: wait for $BG_PID to exit and set $status to its exit status.
wait_bg() {
	local timeout=${1:-$BERTH_TIMEOUT}
	local end=$((SECONDS + timeout))
	while kill -0 "$BG_PID" 2>/dev/null; do
		# A zombie counts as exited; wait below collects it.
		[ "$(awk '{print $3}' "/proc/$BG_PID/stat" 2>/dev/null)" = Z ] && break
		if [ "$SECONDS" -ge "$end" ]; then
			echo "wait_bg: runtime pid $BG_PID still running after ${timeout}s"
			return 1
		fi
		sleep 0.02
	done
	status=0
	wait "$BG_PID" || status=$?
	# Reaped: forget the pid so teardown never signals a reused one.
	local i
	for i in "${!BG_PIDS[@]}"; do
		[ "${BG_PIDS[$i]}" != "$BG_PID" ] || unset "BG_PIDS[$i]"
	done
}

# wait_for_file_line FILE PATTERN [TIMEOUT]: wait until FILE has a line matching PATTERN.
wait_for_file_line() {
	retry "${3:-10}" 0.02 grep -q -- "$2" "$1" 2>/dev/null
}

# container_status ID: the status field of `berth state ID`, or nothing.
container_status() {
	berth state "$1" 2>/dev/null | jq -r '.status' 2>/dev/null
}

# container_pid ID: the pid field of `berth state ID`.
container_pid() {
	berth state "$1" | jq -r '.pid'
}

# wait_for_status ID STATUS [TIMEOUT]: poll `state` until the container has STATUS.
wait_for_status() {
	local id=$1 want=$2 timeout=${3:-10}
	local end=$((SECONDS + timeout)) got
	while :; do
		got=$(container_status "$id")
		[ "$got" = "$want" ] && return 0
		if [ "$SECONDS" -ge "$end" ]; then
			echo "wait_for_status: container $id is '$got', wanted '$want' after ${timeout}s"
			return 1
		fi
		sleep 0.02
	done
}

# --- the bundle --------------------------------------------------------------

# ensure_fixture: build the busybox rootfs fixture once per bats run.
ensure_fixture() {
	[ -x "$FIXTURE_DIR/rootfs/bin/busybox" ] && return 0
	mkdir -p "$(dirname "$FIXTURE_DIR")"
	(
		flock 9
		if [ ! -x "$FIXTURE_DIR/rootfs/bin/busybox" ]; then
			local tmp=$FIXTURE_DIR.tmp.$$
			rm -rf "$tmp"
			"$BERTH_SRC_DIR/tests/fixtures/busybox-rootfs.sh" "$tmp/rootfs" || exit 1
			mkdir -p "$FIXTURE_DIR"
			mv "$tmp/rootfs" "$FIXTURE_DIR/rootfs"
			rmdir "$tmp"
		fi
	) 9>"$FIXTURE_DIR.lock"
}

# setup_bundle: fresh bundle ($BUNDLE, cwd) and state root ($ROOT) for this test.
setup_bundle() {
	ensure_fixture
	BUNDLE=$BATS_TEST_TMPDIR/bundle
	ROOT=$BATS_TEST_TMPDIR/root
	mkdir -p "$BUNDLE" "$ROOT"
	cp -a "$FIXTURE_DIR/rootfs" "$BUNDLE/rootfs"
	(cd "$BUNDLE" && "$BERTH" spec) || fail "'$BERTH spec' failed in $BUNDLE"
	update_config '.process.terminal = false'
	cd "$BUNDLE"
}

# update_config [JQ OPTIONS...] FILTER: edit the bundle's config.json in place.
#   update_config --arg s "$x" '.hostname = $s'
update_config() {
	local cfg=$BUNDLE/config.json
	jq "$@" "$cfg" >"$cfg.new" && mv "$cfg.new" "$cfg"
}

# set_args ARG...: set process.args. (Not jq --args: jq would parse "-c" as its own option.)
set_args() {
	local i=0 filter='' arg
	local -a jqargs=()
	for arg in "$@"; do
		jqargs+=(--arg "a$i" "$arg")
		filter+="${filter:+, }\$a$i"
		i=$((i + 1))
	done
	update_config "${jqargs[@]}" ".process.args = [$filter]"
}

# add_mount JSON: append one entry to .mounts.
add_mount() {
	update_config --argjson m "$1" '.mounts += [$m]'
}

# ns_remove TYPE...: drop namespaces from linux.namespaces.
ns_remove() {
	local t
	for t in "$@"; do
		update_config --arg t "$t" '.linux.namespaces |= map(select(.type != $t))'
	done
}

# ns_add TYPE [PATH]: set a namespace (joining PATH if given), replacing any
# entry of that type already there (spec templates differ, e.g. on cgroup).
ns_add() {
	update_config --arg t "$1" --arg p "${2:-}" '.linux.namespaces |= map(select(.type != $t))
		+ [{"type": $t} + (if $p != "" then {"path": $p} else {} end)]'
}

# make_netns: create a throwaway network namespace; sets NETNS_NAME and NETNS_PATH.
# `ip netns add` may also create /run/netns and bind-mount it onto itself;
# teardown undoes that when it was this test that did it and nothing else uses it.
make_netns() {
	if [ ${#TEST_NETNS[@]} -eq 0 ]; then
		NETNS_DIR_EXISTED=no
		[ -d /run/netns ] && NETNS_DIR_EXISTED=yes
		NETNS_DIR_MOUNTED=no
		mountpoint -q /run/netns 2>/dev/null && NETNS_DIR_MOUNTED=yes
	fi
	NETNS_NAME=berth-test-$$-${#TEST_NETNS[@]}
	ip netns add "$NETNS_NAME" || return 1
	TEST_NETNS+=("$NETNS_NAME")
	NETNS_PATH=/run/netns/$NETNS_NAME
}

# delete_test_netns: remove this test's network namespaces (teardown).
delete_test_netns() {
	local name
	[ ${#TEST_NETNS[@]} -gt 0 ] || return 0
	for name in "${TEST_NETNS[@]}"; do
		ip netns delete "$name" 2>/dev/null || true
	done
	TEST_NETNS=()
	if [ "$NETNS_DIR_MOUNTED" = no ] && [ -z "$(ls -A /run/netns 2>/dev/null)" ]; then
		umount /run/netns 2>/dev/null || true
		[ "$NETNS_DIR_EXISTED" = yes ] || rmdir /run/netns 2>/dev/null || true
	fi
}

# --- host state snapshots ----------------------------------------------------

# host_mountinfo: the host's mount table (this shell's mount namespace).
host_mountinfo() {
	cat /proc/self/mountinfo
}

# assert_mountinfo_unchanged BEFORE: the host mount table equals the snapshot BEFORE.
assert_mountinfo_unchanged() {
	local now
	now=$(host_mountinfo)
	if [ "$1" != "$now" ]; then
		echo "host mountinfo changed:"
		diff <(printf '%s\n' "$1") <(printf '%s\n' "$now") || true
		return 1
	fi
}

# root_entries: what is in the state root ($ROOT), one name per line.
root_entries() {
	ls -A "$ROOT" 2>/dev/null || true
}

# fd_count PID: number of open file descriptors of PID.
fd_count() {
	ls "/proc/$1/fd" | wc -l
}

# ns_id PID TYPE: namespace identity of PID, e.g. "net:[4026531833]".
ns_id() {
	readlink "/proc/$1/ns/$2"
}

# rootfs_pids DIR: pids of live processes whose root directory is DIR (same
# device and inode), i.e. the processes of containers running on that rootfs.
rootfs_pids() {
	local want
	want=$(stat -L -c %d:%i "$1" 2>/dev/null) || return 0
	stat -L -c '%d:%i %n' /proc/[0-9]*/root 2>/dev/null |
		awk -v w="$want" '$1 == w { split($2, p, "/"); print p[3] }'
	return 0
}

# no_rootfs_pids DIR: true when no live process has DIR as its root.
no_rootfs_pids() {
	[ -z "$(rootfs_pids "$1")" ]
}

# test_mounts: host mount points under this test's temp dir, deepest first.
test_mounts() {
	awk -v d="$BATS_TEST_TMPDIR" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

# --- host <-> container handshakes through the bundle's rootfs ---------------
# The rootfs is the same directory on the host and in the container (even when
# mounted read-only inside), so the host can signal a container by creating a
# file in $BUNDLE/rootfs.

# A container script that blocks until release_container is called.
WAIT_FOR_GO='until [ -e /go ]; do sleep 0.02; done'

release_container() {
	touch "$BUNDLE/rootfs/go"
}

# --- teardown ----------------------------------------------------------------

# teardown_bundle: delete every container left in $ROOT, reap background
# runtimes and throwaway namespaces, then fail if processes or mounts leaked.
teardown_bundle() {
	local rc=0 id pid leaked m
	cd "$BATS_TEST_TMPDIR" 2>/dev/null || cd /

	for pid in "${BG_PIDS[@]}"; do
		[ -n "$pid" ] || continue
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done

	if [ -n "${ROOT:-}" ] && [ -d "$ROOT" ]; then
		for id in $(timeout -k 5 "$BERTH_TIMEOUT" "$BERTH" --root "$ROOT" list -q 2>/dev/null); do
			timeout -k 5 "$BERTH_TIMEOUT" "$BERTH" --root "$ROOT" delete --force "$id" >/dev/null 2>&1 || true
		done
	fi

	if [ -n "${BUNDLE:-}" ] && [ -d "$BUNDLE/rootfs" ]; then
		# Processes die asynchronously after SIGKILL; give them a moment.
		if ! retry 3 0.05 no_rootfs_pids "$BUNDLE/rootfs" >/dev/null; then
			leaked=$(rootfs_pids "$BUNDLE/rootfs")
			echo "teardown: container processes left behind: $(echo $leaked)" >&2
			for pid in $leaked; do kill -9 "$pid" 2>/dev/null || true; done
			rc=1
		fi
	fi

	leaked=$(test_mounts)
	if [ -n "$leaked" ]; then
		echo "teardown: mounts left behind on the host: $(echo $leaked)" >&2
		for m in $leaked; do umount -l "$m" 2>/dev/null || true; done
		rc=1
	fi

	delete_test_netns
	return $rc
}

# Default per-test hooks; a .bats file may define its own and call these.
setup() {
	setup_bundle
}

teardown() {
	teardown_bundle
}


# --- cgroups -------------------------------------------------------------------
# Paths come from /proc/PID/cgroup and the host's mount table, never hard-coded:
# with a relative or absent cgroupsPath both runtimes nest the container under
# their own cgroup, which is the test shell's.
#
# Three layouts are handled (cgroup_layout): v1 (controllers in separate v1
# hierarchies), hybrid (v1 controllers plus an empty cgroup2 mount at
# /sys/fs/cgroup/unified) and v2 (/sys/fs/cgroup is cgroup2 and every
# controller lives in the one unified hierarchy). Tests name the controller
# they care about ("memory", "cpu", "pids", ...) and read its values through
# the cg_* accessors below, which know each layout's file names; on v2 every
# controller name resolves to the container's one unified directory.

# The v1 controllers every container is expected to get a cgroup of its own in,
# where the host mounts them.
CGROUP_V1_CONTROLLERS="cpu cpuacct cpuset memory devices freezer blkio pids"

# cgroup_layout: print v2 when /sys/fs/cgroup is a cgroup2 mount, hybrid when
# /sys/fs/cgroup/unified is, v1 otherwise. CGROUP_LAYOUT=v1|hybrid|v2 in the
# environment overrides the detection; it exists so that the cg_* accessors'
# parsing of each layout's files can be unit-tested against a fake directory
# on any host (do not set it for a real run of the suite).
cgroup_layout() {
	_cgroup_layout_detect
	echo "${CGROUP_LAYOUT:-$_CGROUP_LAYOUT}"
}

# _cgroup_layout_detect: set _CGROUP_LAYOUT to the host's layout, once per
# shell (the detection forks; the accessors run in tight sampling loops).
_cgroup_layout_detect() {
	[ -z "${_CGROUP_LAYOUT:-}" ] || return 0
	if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
		_CGROUP_LAYOUT=v2
	elif [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
		_CGROUP_LAYOUT=hybrid
	else
		_CGROUP_LAYOUT=v1
	fi
}

# cgroup_is_v2: true on a pure cgroup v2 host (honours CGROUP_LAYOUT too).
cgroup_is_v2() {
	_cgroup_layout_detect
	[ "${CGROUP_LAYOUT:-$_CGROUP_LAYOUT}" = v2 ]
}

# cgroup_key CTRL: the cgroup_mount/pid_cgroup_dir key of the hierarchy that
# holds controller CTRL: "unified" for every controller on a v2 host, CTRL
# itself otherwise.
cgroup_key() {
	if cgroup_is_v2; then echo unified; else echo "$1"; fi
}

# cgroup_mount CTRL: the host mount point of the hierarchy holding CTRL: a v1
# controller ("memory"), a named v1 hierarchy ("name=systemd"), or "unified"
# (the cgroup2 mount: /sys/fs/cgroup/unified on hybrid hosts, /sys/fs/cgroup
# on v2 hosts). Prints nothing when there is no such hierarchy. This reads the
# mount table only: on v2 a v1 controller name prints nothing (see cgroup_key).
cgroup_mount() {
	awk -v want="$1" '{
		for (i = 7; $i != "-"; i++) {}
		fstype = $(i + 1); opts = "," $(i + 3) ","
		if (want == "unified" && fstype == "cgroup2") { print $5; exit }
		if (want != "unified" && fstype == "cgroup" && index(opts, "," want ",")) { print $5; exit }
	}' /proc/self/mountinfo
}

# requires_cgroup_v1: skip unless the memory controller is a v1 hierarchy (for
# a test that reads v1 files directly; the cgroup tests use requires_cgroup
# and the cg_* accessors instead).
requires_cgroup_v1() {
	[ -n "$(cgroup_mount memory)" ] || skip "test reads cgroup v1 files; this host has no v1 memory hierarchy"
}

# cgroup_has CTRL: true when controller CTRL (v1 name) is available: a mounted
# v1 hierarchy, or on v2 listed in the root's cgroup.controllers. On v2,
# cpuacct (cpu.stat usage_usec) and devices (eBPF) are always there, the
# freezer (cgroup.freeze) from Linux 5.2, and blkio is called io.
cgroup_has() {
	local c=$1
	if ! cgroup_is_v2; then
		[ -n "$(cgroup_mount "$c")" ]
		return
	fi
	case $c in
	cpuacct | devices) return 0 ;;
	freezer)
		[ "$(printf '%s\n%s\n' 5.2 "$(uname -r)" | sort -V | head -n 1)" = 5.2 ]
		return
		;;
	blkio) c=io ;;
	esac
	grep -qw -- "$c" "$(cgroup_mount unified)/cgroup.controllers" 2>/dev/null
}

# requires_cgroup CTRL...: skip unless every controller CTRL is available
# (cgroup_has), whatever the layout.
requires_cgroup() {
	local c
	for c in "$@"; do
		cgroup_has "$c" || skip "this host has no $c cgroup controller ($(cgroup_layout) layout)"
	done
}

# requires_berth_exec: skip unless the runtime under test has an `exec` verb.
requires_berth_exec() {
	"$BERTH" exec --help >/dev/null 2>&1 </dev/null || skip "runtime under test has no 'exec' yet"
}

# cgroup_hierarchies: one key per hierarchy the test shell is in: the first
# controller of each v1 line ("memory", "name=systemd") and "unified" for the
# cgroup2 line when cgroup2 is mounted.
cgroup_hierarchies() {
	local hid ctrls path
	while IFS=: read -r hid ctrls path; do
		if [ -z "$ctrls" ]; then
			[ -z "$(cgroup_mount unified)" ] || echo unified
		else
			echo "${ctrls%%,*}"
		fi
	done <"/proc/$BASHPID/cgroup"
}

# cgroup_path CTRL FILE: the cgroup path ("/a/b") of controller CTRL's
# hierarchy (CTRL as for pid_cgroup_dir) in FILE, a copy of some
# /proc/PID/cgroup: the "0::PATH" line for "unified" and for any controller on
# a v2 host, else the v1 line listing CTRL. Fails when there is no such line.
cgroup_path() {
	local want hid ctrls path
	want=$(cgroup_key "$1")
	while IFS=: read -r hid ctrls path; do
		if [ "$want" = unified ]; then
			[ -z "$ctrls" ] || continue
		else
			case ",$ctrls," in *",$want,"*) ;; *) continue ;; esac
		fi
		printf '%s\n' "$path"
		return 0
	done <"$2"
	return 1
}

# pid_cgroup_dir CTRL PID: host directory of PID's cgroup in CTRL's hierarchy
# (CTRL as for cgroup_mount; on a v2 host any controller name gives the
# unified directory); fails when PID or the hierarchy is not there.
pid_cgroup_dir() {
	local want pid=$2 mnt path
	want=$(cgroup_key "$1")
	mnt=$(cgroup_mount "$want")
	[ -n "$mnt" ] || return 1
	path=$(cgroup_path "$want" "/proc/$pid/cgroup" 2>/dev/null) || return 1
	[ "$path" != / ] || path=
	printf '%s%s\n' "$mnt" "$path"
}

# container_cgroup_dir CTRL ID: host directory of container ID's cgroup in
# CTRL's hierarchy, read from /proc/<init pid>/cgroup (init must be alive).
container_cgroup_dir() {
	local pid
	pid=$(container_pid "$2") || return 1
	[ "${pid:-0}" -gt 0 ] 2>/dev/null || return 1
	pid_cgroup_dir "$1" "$pid"
}

# save_cgroup_dirs ID: record container ID's cgroups (init must be alive) in
# the associative array CG_DIR (controller or hierarchy key -> host directory)
# for every hierarchy in which the container is not in the test shell's own
# cgroup. On a v2 host CG_DIR[unified] is the container's group and every v1
# controller name (CG_DIR[memory], CG_DIR[cpu], ...) is an alias of it. Every
# saved directory that is strictly below the test shell's cgroup is also
# queued for teardown_cgroups, which fails the test if it still exists.
save_cgroup_dirs() {
	local pid key theirs mine c ctrls hid path
	pid=$(container_pid "$1") || return 1
	[ "${pid:-0}" -gt 0 ] 2>/dev/null || return 1
	declare -gA CG_DIR=()
	for key in $(cgroup_hierarchies); do
		theirs=$(pid_cgroup_dir "$key" "$pid") || continue
		mine=$(pid_cgroup_dir "$key" "$BASHPID") || continue
		[ "$theirs" != "$mine" ] || continue
		CG_DIR[$key]=$theirs
		# Co-mounted controllers ("cpu,cpuacct") share the directory.
		if [ "$key" != unified ]; then
			ctrls=$(awk -F: -v k="$key" '$2 != "" { n = split($2, c, ","); if (c[1] == k) print $2 }' \
				"/proc/$BASHPID/cgroup")
			for c in ${ctrls//,/ }; do CG_DIR[$c]=$theirs; done
		fi
		[[ $theirs != "$mine"/* ]] || CG_SAVED+=("$theirs")
	done
	if cgroup_is_v2 && [ -n "${CG_DIR[unified]:-}" ]; then
		for c in $CGROUP_V1_CONTROLLERS; do CG_DIR[$c]=${CG_DIR[unified]}; done
	fi
	[ "${#CG_DIR[@]}" -gt 0 ] || { echo "save_cgroup_dirs: container $1 has no cgroup of its own"; return 1; }
}

# assert_own_cgroups: after save_cgroup_dirs, the container has a cgroup of
# its own in every v1 controller the host mounts (v1 and hybrid layouts), or
# in the unified hierarchy on a v2 host.
assert_own_cgroups() {
	local c
	if cgroup_is_v2; then
		[ -n "${CG_DIR[unified]:-}" ] || fail "container has no cgroup2 group of its own"
		[ -d "${CG_DIR[unified]}" ] || fail "container's cgroup2 group ${CG_DIR[unified]} is not a directory"
		return
	fi
	# berth joins cpuset and blkio only when a setting needs them (membership
	# without settings changes nothing there); runc joins every controller.
	local wanted=$CGROUP_V1_CONTROLLERS
	if is_berth; then
		wanted=$(echo "$CGROUP_V1_CONTROLLERS" | tr ' ' '\n' | grep -vx 'cpuset\|blkio' | xargs)
	fi
	for c in $wanted; do
		[ -n "$(cgroup_mount "$c")" ] || continue
		[ -n "${CG_DIR[$c]:-}" ] || fail "container has no $c cgroup of its own"
		[ -d "${CG_DIR[$c]}" ] || fail "container's $c cgroup ${CG_DIR[$c]} is not a directory"
	done
}

# --- cgroup file accessors -------------------------------------------------------
# Each takes DIR, the container's directory for the controller concerned (its
# memory/cpu/cpuacct/freezer/pids directory on v1, the one unified directory
# on v2), and prints one value in a layout-independent form; it fails, printing
# nothing on stdout, when the file or field is missing. pids.* files are the
# same in both versions and are read directly.

# cg_field KEY FILE: the value of the "KEY VALUE" line in FILE (memory.events,
# cpu.stat, memory.oom_control, cgroup.events, pids.events).
cg_field() {
	local k v
	while read -r k v || [ -n "$k" ]; do
		if [ "$k" = "$1" ]; then
			printf '%s\n' "$v"
			return 0
		fi
	done <"$2" || return 1
	return 1
}

# cg_memory_limit DIR: the memory limit in bytes, or "max" when there is none
# (v2 memory.max "max"; v1 memory.limit_in_bytes at its ceiling, LONG_MAX
# rounded down to the page size, 9223372036854771712 with 4 KiB pages).
cg_memory_limit() {
	local v page
	if cgroup_is_v2; then
		v=$(cat "$1/memory.max") || return 1
	else
		v=$(cat "$1/memory.limit_in_bytes") || return 1
		page=$(getconf PAGESIZE 2>/dev/null) || page=4096
		((v <= 9223372036854775807 - page)) || v=max
	fi
	printf '%s\n' "$v"
}

# cg_memory_usage DIR: current memory usage in bytes (v1 memory.usage_in_bytes,
# v2 memory.current).
cg_memory_usage() {
	if cgroup_is_v2; then cat "$1/memory.current"; else cat "$1/memory.usage_in_bytes"; fi
}

# cg_oom_kills DIR: processes the OOM killer killed in the cgroup ("oom_kill N"
# of v1 memory.oom_control or of v2 memory.events).
cg_oom_kills() {
	if cgroup_is_v2; then cg_field oom_kill "$1/memory.events"; else cg_field oom_kill "$1/memory.oom_control"; fi
}

# cg_memory_failcnt DIR: times usage hit the limit (v1 memory.failcnt; v2
# memory.events "max N").
cg_memory_failcnt() {
	if cgroup_is_v2; then cg_field max "$1/memory.events"; else cat "$1/memory.failcnt"; fi
}

# cg_cpu_usage_ns DIR: CPU time used by the cgroup in nanoseconds (v1
# cpuacct.usage; v2 cpu.stat usage_usec * 1000).
cg_cpu_usage_ns() {
	local us
	if cgroup_is_v2; then
		us=$(cg_field usage_usec "$1/cpu.stat") || return 1
		echo $((us * 1000))
	else
		cat "$1/cpuacct.usage"
	fi
}

# cg_cpu_quota DIR: CFS quota in microseconds per period, -1 for none (v1
# cpu.cfs_quota_us; v2 first field of cpu.max, "max" -> -1).
cg_cpu_quota() {
	local quota period
	if cgroup_is_v2; then
		read -r quota period <"$1/cpu.max" || return 1
		[ -n "$quota" ] || return 1
		[ "$quota" != max ] || quota=-1
		echo "$quota"
	else
		cat "$1/cpu.cfs_quota_us"
	fi
}

# cg_cpu_period DIR: CFS period in microseconds (v1 cpu.cfs_period_us; v2
# second field of cpu.max).
cg_cpu_period() {
	local quota period
	if cgroup_is_v2; then
		read -r quota period <"$1/cpu.max" || return 1
		[ -n "$period" ] || return 1
		echo "$period"
	else
		cat "$1/cpu.cfs_period_us"
	fi
}

# cg_cpu_throttled DIR: periods in which the cgroup was throttled ("nr_throttled
# N" of cpu.stat, in both versions).
cg_cpu_throttled() {
	cg_field nr_throttled "$1/cpu.stat"
}

# cg_frozen DIR: 1 when the cgroup is frozen, else 0 (v1 freezer.state FROZEN;
# v2 cgroup.events "frozen 1", or cgroup.freeze where there is no such line).
cg_frozen() {
	local v
	if cgroup_is_v2; then
		v=$(cg_field frozen "$1/cgroup.events" 2>/dev/null) || v=$(cat "$1/cgroup.freeze") || return 1
		[ "$v" = 1 ] && echo 1 || echo 0
	else
		v=$(cat "$1/freezer.state") || return 1
		[ "$v" = FROZEN ] && echo 1 || echo 0
	fi
}

# cg_tasks DIR: the cgroup's thread ids, one a line (v1 tasks, v2 cgroup.threads).
cg_tasks() {
	if cgroup_is_v2; then cat "$1/cgroup.threads"; else cat "$1/tasks"; fi
}

# cg_task_count DIR: the number of threads in the cgroup (lines of cg_tasks;
# no fork, for sampling loops).
cg_task_count() {
	local f=$1/tasks a
	! cgroup_is_v2 || f=$1/cgroup.threads
	mapfile -t a <"$f" || return 1
	echo "${#a[@]}"
}

# cgroup_dirs_left: print the directories in CG_DIR that still exist.
cgroup_dirs_left() {
	local d
	for d in "${CG_DIR[@]}"; do
		[ ! -d "$d" ] || echo "$d"
	done | sort -u
}

# no_cgroup_dirs_left: true when none of the directories in CG_DIR exists.
no_cgroup_dirs_left() {
	[ -z "$(cgroup_dirs_left)" ]
}

# cgroup_tree: every cgroup directory on the host down to a reasonable depth.
cgroup_tree() {
	find /sys/fs/cgroup -maxdepth 7 -type d 2>/dev/null | sort
}

# teardown_cgroups: fail if a cgroup queued by save_cgroup_dirs is still there
# after teardown_bundle, and remove it (rmdir only: an empty cgroup the test's
# container had, strictly below the test shell's own cgroup).
teardown_cgroups() {
	local rc=0 d left=()
	[ "${#CG_SAVED[@]}" -gt 0 ] || return 0
	for d in "${CG_SAVED[@]}"; do
		[ -d "$d" ] && left+=("$d")
	done
	if [ "${#left[@]}" -gt 0 ]; then
		# Removal may trail the runtime's exit by a moment.
		sleep 0.5
		left=()
		for d in "${CG_SAVED[@]}"; do
			[ -d "$d" ] && left+=("$d")
		done
	fi
	if [ "${#left[@]}" -gt 0 ]; then
		echo "teardown: cgroups left behind: ${left[*]}" >&2
		rc=1
		printf '%s\n' "${left[@]}" | sort -ru | while read -r d; do rmdir "$d" 2>/dev/null || true; done
	fi
	CG_SAVED=()
	return $rc
}
CG_SAVED=()
