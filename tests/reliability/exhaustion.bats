#!/usr/bin/env bats
# Running out: a --root on a tiny tmpfs that fills up, pids exhausted on the
# host side (a pids cgroup made for the test, around the runtime), and a low
# fd limit. Each attempt either works or fails with one clear line, leaving
# nothing behind.

load ../integration/helpers
load rel_helpers

setup() {
	rel_setup
	TINY=
	LIMIT_CG=
}

teardown() {
	if [ -n "$TINY" ]; then
		for id in $("$BERTH" --root "$TINY" list -q 2>/dev/null); do "$BERTH" --root "$TINY" delete --force "$id"; done
		umount "$TINY" 2>/dev/null || true
	fi
	if [ -n "$LIMIT_CG" ] && [ -d "$LIMIT_CG" ]; then
		find "$LIMIT_CG" -depth -type d -exec rmdir {} \; 2>/dev/null || true
	fi
	teardown_bundle
}

# attempt_ok_or_one_line WHAT ERRFILE RC: exit 0, or exit 1 with one line.
attempt_ok_or_one_line() {
	[ "$3" -eq 0 ] && return 0
	[ "$3" -eq 1 ] || fail "$1: exit $3: $(cat "$2")"
	[ "$(wc -l <"$2")" -eq 1 ] || fail "$1: not one line: $(cat "$2")"
}

@test "--root on a tiny tmpfs that fills up: create works or fails in one line with nothing left; delete works on a full root" {
	set_args sleep 100
	TINY=$BATS_TEST_TMPDIR/tiny
	mkdir -p "$TINY"
	mount -t tmpfs -o size=256k,nr_inodes=64,mode=0700 tmpfs "$TINY"
	local saved_root=$ROOT before free rc fails=0 ok=0 err=$BATS_TEST_TMPDIR/err
	ROOT=$TINY
	before=$(rel_snapshot)
	for free in 0 1 2 3 4 5 6 8 10 16; do
		rm -f "$TINY/.fill"
		# Leave FREE pages of 4 KiB.
		dd if=/dev/zero of="$TINY/.fill" bs=4k count=$((64 - free)) 2>/dev/null || true
		rc=0
		"$BERTH" --root "$TINY" create "$PREFIX" </dev/null >/dev/null 2>"$err" 3>&- || rc=$?
		attempt_ok_or_one_line "create with $free pages free" "$err" "$rc"
		if [ "$rc" -eq 0 ]; then
			ok=$((ok + 1))
			# Full to the last page: delete must still work.
			dd if=/dev/zero of="$TINY/.fill2" bs=4k count=64 2>/dev/null || true
			"$BERTH" --root "$TINY" update --pids-limit 50 "$PREFIX" 2>"$err" || attempt_ok_or_one_line update "$err" 1
			jq -e .id "$TINY/$PREFIX/state.json" >/dev/null || fail "state.json torn by a failed update"
			"$BERTH" --root "$TINY" delete --force "$PREFIX" 2>"$err" || fail "delete on a full root: $(cat "$err")"
			rm -f "$TINY/.fill2"
		else
			fails=$((fails + 1))
			grep -qi "no space\|too many\|No such" "$err" || echo "# $free pages: $(cat "$err")"
		fi
		rm -f "$TINY/.fill"
		assert_snapshot "$before" "create with $free pages free: $(cat "$err")"
	done
	echo "# $fails failed, $ok worked"
	[ "$fails" -gt 0 ] || fail "the root never filled up"
	[ "$ok" -gt 0 ] || fail "create never worked"
	# Out of inodes instead of pages.
	local i=0
	rm -f "$TINY"/.f*
	while touch "$TINY/.f$i" 2>/dev/null; do i=$((i + 1)); done
	rm -f "$TINY/.f$((i - 1))" "$TINY/.f$((i - 2))"
	rc=0
	"$BERTH" --root "$TINY" create "$PREFIX" </dev/null >/dev/null 2>"$err" 3>&- || rc=$?
	[ "$rc" -eq 1 ] || fail "create with 2 inodes: exit $rc"
	attempt_ok_or_one_line "create with 2 inodes free" "$err" "$rc"
	rm -f "$TINY"/.f*
	assert_snapshot "$before" "out of inodes"
	ROOT=$saved_root
}

@test "pids exhausted on the host side: create and run work or fail in one line, nothing left" {
	requires_cgroup pids
	local mnt own rc n err=$BATS_TEST_TMPDIR/err before fails=0
	mnt=$(cgroup_mount pids)
	own=$(pid_cgroup_dir pids $$)
	LIMIT_CG=$own/$PREFIX-limit
	mkdir "$LIMIT_CG"
	set_args true
	# Under `make asan`, LeakSanitizer needs a thread of its own at exit,
	# which the limit may deny ("LeakSanitizer has encountered a fatal
	# error", exit 134): ASan itself stays on.
	local san=${ASAN_OPTIONS:-}
	[[ $(basename "$BERTH") != berth-asan ]] || san=${san:+$san:}detect_leaks=0
	before=$(rel_snapshot)
	for n in 1 2 3 4 5 6 8; do
		echo "$n" >"$LIMIT_CG/pids.max"
		for verb in create run; do
			rc=0
			# The shell moves itself in, then becomes the runtime.
			ASAN_OPTIONS=$san sh -c 'echo $$ > "$1/cgroup.procs" && exec "$2" --root "$3" "$4" "$5"' sh \
				"$LIMIT_CG" "$BERTH" "$ROOT" "$verb" "$PREFIX" </dev/null >/dev/null 2>"$err" 3>&- || rc=$?
			attempt_ok_or_one_line "$verb with pids.max $n" "$err" "$rc"
			[ "$rc" -eq 0 ] || fails=$((fails + 1))
			[ "$rc" -eq 0 ] || echo "# pids.max $n, $verb: $(cat "$err")"
			b delete --force "$PREFIX" 2>/dev/null || true
			rmdir "$LIMIT_CG/berth" 2>/dev/null || true
			assert_snapshot "$before" "$verb with pids.max $n"
		done
	done
	[ "$fails" -gt 0 ] || fail "pids were never exhausted"
}

@test "a low fd limit: run works or fails in one line, nothing left" {
	set_args true
	# The default spec asks for nofile 1024, above any of these hard limits.
	update_config 'del(.process.rlimits)'
	local n rc err=$BATS_TEST_TMPDIR/err before fails=0 ok=0
	before=$(rel_snapshot)
	for n in 4 6 8 10 12 16 20 32; do
		rc=0
		(ulimit -n "$n" && exec "$BERTH" --root "$ROOT" run "$PREFIX") </dev/null >/dev/null 2>"$err" 3>&- || rc=$?
		attempt_ok_or_one_line "run with ulimit -n $n" "$err" "$rc"
		if [ "$rc" -eq 0 ]; then ok=$((ok + 1)); else fails=$((fails + 1)); echo "# ulimit -n $n: $(cat "$err")"; fi
		b delete --force "$PREFIX" 2>/dev/null || true
		assert_snapshot "$before" "ulimit -n $n"
	done
	[ "$ok" -gt 0 ] || fail "never worked"
}
