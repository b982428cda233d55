#!/usr/bin/env bats
# Damaged state: a truncated or garbage state.json, a rootfs removed after
# create, a bundle deleted under a running container. Each gives clear
# one-line errors, and delete --force still removes everything. A state
# write interrupted at any point leaves the old state.json or the new one.

load ../integration/helpers
load rel_helpers

setup() {
	rel_setup
}

teardown() {
	teardown_bundle
}

# one_line_error ARGS...: the verb exits 1 with one line on stderr, nothing on stdout.
one_line_error() {
	local out err rc=0
	out=$(b "$@" 2>"$BATS_TEST_TMPDIR/err") || rc=$?
	err=$(cat "$BATS_TEST_TMPDIR/err")
	[ "$rc" -eq 1 ] || fail "$*: exit $rc (want 1): $err"
	[ -z "$out" ] || fail "$*: stdout: $out"
	[ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "$*: not one line: $err"
	echo "# $*: $err"
	LAST_ERR=$err
}

@test "a truncated, garbage or non-object state.json: one-line errors, delete --force still removes everything" {
	set_args sleep 100
	local before kind pid cg
	before=$(rel_snapshot)
	for kind in truncated garbage array empty; do
		b run -d "$PREFIX" || fail "run -d"
		pid=$(b state "$PREFIX" | jq -r .pid)
		cg=$(find /sys/fs/cgroup -maxdepth 9 -type d -name "$PREFIX" | head -1)
		[ -n "$cg" ] || fail "no cgroup of $PREFIX"
		local f=$ROOT/$PREFIX/state.json
		case $kind in
		truncated) head -c "$(($(stat -c %s "$f") / 2))" "$f" >"$f.new" ;;
		garbage) head -c 300 /dev/urandom >"$f.new" ;;
		array) echo '[1, 2]' >"$f.new" ;;
		empty) : >"$f.new" ;;
		esac
		chmod 600 "$f.new"
		mv "$f.new" "$f"
		one_line_error state "$PREFIX"
		[[ $LAST_ERR == *corrupt* ]] || fail "state: $LAST_ERR"
		one_line_error start "$PREFIX"
		one_line_error kill "$PREFIX"
		one_line_error delete "$PREFIX"
		[ -d "$cg" ] && [ -e "/proc/$pid" ] || fail "$kind: a failed verb removed something"
		b delete --force "$PREFIX" 2>"$BATS_TEST_TMPDIR/err" || fail "$kind: delete --force: $(cat "$BATS_TEST_TMPDIR/err")"
		retry 5 0.05 eval "[ ! -e /proc/$pid ] || grep -q '^State:.*Z' /proc/$pid/status" ||
			fail "$kind: the init $pid is still alive"
		[ ! -d "$cg" ] || fail "$kind: cgroup $cg left"
		assert_snapshot "$before" "$kind state.json"
	done
}

@test "a rootfs removed after create, and a bundle deleted under a running container: verbs answer, delete --force cleans up" {
	set_args sleep 100
	local before pid
	before=$(rel_snapshot)
	# rootfs moved away after create.
	b create "$PREFIX" || fail "create"
	mv "$BUNDLE/rootfs" "$BUNDLE/rootfs.away"
	[ "$(b state "$PREFIX" | jq -r .status)" = created ]
	b start "$PREFIX" || true # the init already holds its root: start may well work
	b list >/dev/null || fail "list"
	b delete --force "$PREFIX" || fail "delete --force (rootfs gone)"
	mv "$BUNDLE/rootfs.away" "$BUNDLE/rootfs"
	assert_snapshot "$before" "rootfs removed"
	# The whole bundle deleted (a copy: the test's own stays for teardown).
	cp -a "$BUNDLE" "$BATS_TEST_TMPDIR/b2"
	(cd "$BATS_TEST_TMPDIR/b2" && b run -d "$PREFIX") || fail "run -d"
	pid=$(b state "$PREFIX" | jq -r .pid)
	rm -rf "$BATS_TEST_TMPDIR/b2"
	[ "$(b state "$PREFIX" | jq -r .status)" = running ] || fail "state after bundle removal"
	# The rootfs went with it (the init still holds the deleted directory):
	# exec fails, in one line (255, as runc), and changes nothing.
	local rc=0
	b exec "$PREFIX" true 2>"$BATS_TEST_TMPDIR/err" || rc=$?
	[ "$rc" -eq 255 ] && [ "$(wc -l <"$BATS_TEST_TMPDIR/err")" -eq 1 ] ||
		fail "exec after bundle removal: $rc $(cat "$BATS_TEST_TMPDIR/err")"
	echo "# exec: $(cat "$BATS_TEST_TMPDIR/err")"
	[ "$(b state "$PREFIX" | jq -r .status)" = running ] || fail "state after exec"
	b kill "$PREFIX" KILL || fail "kill"
	b delete --force "$PREFIX" || fail "delete --force (bundle gone)"
	[ ! -e "/proc/$pid" ] || grep -q '^State:.*Z' "/proc/$pid/status" || fail "init $pid alive"
	assert_snapshot "$before" "bundle removed"
}

@test "a state write killed at any point leaves the old state.json or the new one, never a torn one" {
	requires_hooks
	set_args sleep 100
	local before n phase
	before=$(rel_snapshot)
	# Every atomic write create makes, the Nth of each.
	for phase in write:state.json#1 write:state.json#2 write:cgroup.json#1 write:config.json; do
		kill_at "$phase" create "$PREFIX"
		if [ -e "$ROOT/$PREFIX/state.json" ]; then
			jq -e 'type == "object"' "$ROOT/$PREFIX/state.json" >/dev/null || fail "$phase: torn state.json"
		fi
		# No temp file renamed half way: whatever is there parses.
		for f in "$ROOT/$PREFIX"/*.json; do
			[ -e "$f" ] || continue
			jq -e . "$f" >/dev/null || fail "$phase: torn $(basename "$f")"
		done
		recover "$PREFIX" "$before" "killed at $phase"
	done
	# update rewrites the state of a running container.
	b run -d "$PREFIX" || fail "run -d"
	kill_at write:state.json update --pids-limit 100 "$PREFIX"
	jq -e '.pid > 0' "$ROOT/$PREFIX/state.json" >/dev/null || fail "update: torn state.json"
	[ "$(b state "$PREFIX" | jq -r .status)" = running ] || fail "update killed: not running"
	recover "$PREFIX" "$before" "update killed while writing"
}
