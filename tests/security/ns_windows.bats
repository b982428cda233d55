#!/usr/bin/env bats
# Windows in which a process the runtime makes is already in the container's
# pid namespace (so the container sees it in its /proc) but still holds the
# host's file tree: its root and cwd, or fds of the runtime's. A container
# process with CAP_SYS_PTRACE may open /proc/N/root, /proc/N/cwd and
# /proc/N/fd/K of any process in its pid namespace, non-dumpable or not, so
# it reaches the host through such a process (issue #10, findings 1 and 2).
#
# The attacker is tests/security/pid_watch.c, built statically at test time
# and run as the container's init: it loops over /proc and attacks each new
# pid at once (see the file). sec_teardown fails the test if anything was
# created in $MARK, the host directory it aims at.
#
# Each case is bounded by SEC_ITER iterations and SEC_SECONDS seconds
# (defaults 200 and 50, so `make check` stays short); raise both for a
# longer soak (SEC_ITER=5000 SEC_SECONDS=1200).

load ../integration/helpers
load security_helpers

SEC_ITER=${SEC_ITER:-200}
SEC_SECONDS=${SEC_SECONDS:-50}

setup() {
	sec_setup
	WATCH=$BATS_RUN_TMPDIR/pid-watch
	if [ ! -x "$WATCH" ]; then
		(
			flock 9
			[ -x "$WATCH" ] || ${CC:-cc} -static -O2 -Wall -Wextra -o "$WATCH.tmp" \
				"$BATS_TEST_DIRNAME/pid_watch.c" && mv "$WATCH.tmp" "$WATCH"
		) 9>"$WATCH.lock" || fail "cannot build $BATS_TEST_DIRNAME/pid_watch.c (static libc needed)"
	fi
	WATCH_OUT=$BATS_TEST_TMPDIR/watch.out
}

teardown() {
	sec_teardown
}

# start_watcher: run pid-watch as the init of container "watcher" ($BUNDLE),
# with CAP_SYS_PTRACE, aiming at $MARK; wait until it has taken its first
# look at /proc. WATCHER_PID is its host pid.
start_watcher() {
	cp "$WATCH" "$BUNDLE/rootfs/bin/pid-watch"
	grant_caps CAP_SYS_PTRACE
	set_args /bin/pid-watch "$MARK"
	bg_run watcher "$WATCH_OUT"
	wait_for_file_line "$WATCH_OUT" '^ready$' || fail "watcher did not start: $(cat "$WATCH_OUT")"
	WATCHER_PID=$(container_pid watcher)
}

# bare CMD...: run CMD with only fds 0-2 open, so every other fd a process
# of the runtime holds is the runtime's own (bats keeps a few open). Call it
# in a subshell.
bare() {
	local fd
	for fd in "/proc/$BASHPID/fd/"*; do
		fd=${fd##*/}
		[ "$fd" -le 2 ] || eval "exec $fd>&-"
	done
	"$@"
}

# host_fds [ALLOWED]: the watcher's "fd" findings (fds of a process of the
# runtime's, seen through the container's pid namespace) that are on a mount
# of the host's mount namespace (mount ids are global, so the test shell's
# mount table tells), less the host's /dev/null and targets matching the
# regex ALLOWED.
host_fds() {
	awk 'NR == FNR { host[$1] = 1; next }
		$1 == "fd" { split($4, m, "="); if (m[2] in host) print }' /proc/self/mountinfo "$WATCH_OUT" |
		grep -v ' /dev/null$' | grep -Ev -- "${1:-^$}" || true
}

# escaped: true once the watcher reports an escape or $MARK holds one of its files.
escaped() {
	grep -q '^escape ' "$WATCH_OUT" || compgen -G "$MARK/escape-*" >/dev/null
}

# report_escape WHAT N: fail with the evidence after N iterations of WHAT.
report_escape() {
	echo "# escaped after $2 $1; watcher's findings:"
	grep -E '^(escape|fd) ' "$WATCH_OUT" | head -n 20
	echo "# host directory $MARK now holds:"
	ls -la "$MARK"
	local f
	for f in "$MARK"/escape-*; do
		[ -e "$f" ] && echo "# $f: $(cat "$f")"
	done
	fail "a process of the runtime, visible in the container's pid namespace, let the container write into the host directory $MARK after $2 $1"
}

# seen_pids: how many new pids the watcher has reported.
seen_pids() {
	grep -c '^pid ' "$WATCH_OUT" || true
}

# The exec'd process is born in the container's pid namespace (berth exec
# enters it before cloning) but joins the mount namespace only later, in the
# child: until then its root and cwd are the host's, and it holds berth's
# fds (the container's cgroup2 directory among them) until its execve.
@test "exec: the new process is never reachable in the container's pid namespace with the host's root, cwd or fds ($SEC_ITER execs)" {
	requires root
	runtime_copy
	start_watcher
	local i=0 end=$((SECONDS + SEC_SECONDS)) rc out
	while [ "$i" -lt "$SEC_ITER" ] && [ "$SECONDS" -lt "$end" ]; do
		i=$((i + 1))
		# From $MARK: the runtime's cwd is what /proc/N/cwd shows until the
		# process enters the container's mount namespace.
		rc=0
		out=$(cd "$MARK" && bare timeout -k 5 "$BERTH_TIMEOUT" "$BERTH" --root "$ROOT" exec watcher /bin/true 2>&1 </dev/null) || rc=$?
		# A refusal is fine; a hang or a crash is not.
		[ "$rc" -ne 124 ] && [ "$rc" -lt 128 ] || fail "exec $i: exit status $rc: $out"
		if escaped; then
			report_escape execs "$i"
		fi
	done
	# Give the watcher a moment for the last pid, then look once more.
	sleep 0.2
	escaped && report_escape execs "$i"
	local seen
	seen=$(seen_pids)
	echo "# $i execs in $((SECONDS - end + SEC_SECONDS))s, the watcher saw $seen new pids"
	# The attack was live: the watcher saw (most of) the exec'd processes.
	[ "$seen" -ge $((i / 2)) ] || fail "the watcher saw only $seen of $i exec'd processes: the race was not exercised"
	# No fd of the runtime's naming a host path reached the container.
	out=$(host_fds)
	[ -z "$out" ] || fail "an exec'd process showed the container fds of the runtime's naming host paths:
$out"
}

# The init of a container that joins another container's pid namespace (by
# linux.namespaces path) is born there, in a new mount namespace that is a
# copy of the host's, and stays there until pivot_root: all that time the
# other container sees it with the host's root. runc 1.1.5 falls at the
# first create; berth fell after ~80.
@test "create joining another container's pid namespace: the new init is never reachable there with the host's root, cwd or fds ($SEC_ITER creates)" {
	requires root
	requires_berth "runc 1.1.5 falls at the first create: its init sits in the joined pid namespace with the host's root until pivot_root (issue #10 finding 2)"
	runtime_copy
	start_watcher
	local b=$BATS_TEST_TMPDIR/b i=0 end=$((SECONDS + SEC_SECONDS)) rc out created=0
	second_bundle "$b"
	update_config_in "$b" --arg p "/proc/$WATCHER_PID/ns/pid" \
		'.linux.namespaces |= map(if .type == "pid" then .path = $p else . end) | .process.args = ["/bin/true"]'
	while [ "$i" -lt "$SEC_ITER" ] && [ "$SECONDS" -lt "$end" ]; do
		i=$((i + 1))
		rc=0
		# Output to a file: the created init holds its stdout open.
		(cd "$MARK" && bare timeout -k 5 "$BERTH_TIMEOUT" "$BERTH" --root "$ROOT" create --bundle "$b" "b$i" \
			>"$BATS_TEST_TMPDIR/create.out" 2>&1 </dev/null) || rc=$?
		out=$(cat "$BATS_TEST_TMPDIR/create.out")
		[ "$rc" -ne 124 ] && [ "$rc" -lt 128 ] || fail "create $i: exit status $rc: $out"
		[ "$rc" -ne 0 ] || created=$((created + 1))
		# Deleted right away: the next create is the next chance.
		"$BERTH" --root "$ROOT" delete -f "b$i" >/dev/null 2>&1 </dev/null || true
		if escaped; then
			report_escape creates "$i"
		fi
	done
	sleep 0.2
	escaped && report_escape creates "$i"
	local seen
	seen=$(seen_pids)
	echo "# $i creates ($created succeeded) in $((SECONDS - end + SEC_SECONDS))s, the watcher saw $seen new pids"
	[ "$created" -ge $((i / 2)) ] || fail "only $created of $i creates succeeded: the attack means nothing"
	[ "$seen" -ge $((i / 2)) ] || fail "the watcher saw only $seen of $i inits: the race was not exercised"
	# The exec fifo is the one host file a created init holds by design
	# (`start` writes it through the state directory, as with runc).
	out=$(host_fds '/exec\.fifo$')
	[ -z "$out" ] || fail "a created init showed the container fds of the runtime's naming host paths:
$out"
}
