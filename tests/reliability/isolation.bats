#!/usr/bin/env bats
# Isolation between callers: a command on one --root never touches the
# containers of another root, or of another runtime (runc); two clients
# sharing one root never kill, list-mangle or delete each other's.

load ../integration/helpers
load rel_helpers

setup() {
	rel_setup
	ROOT2=$BATS_TEST_TMPDIR/root2
	RUNC_ROOT=$BATS_TEST_TMPDIR/runc-root
}

teardown() {
	local id
	for id in $("$BERTH" --root "$ROOT2" list -q 2>/dev/null); do "$BERTH" --root "$ROOT2" delete --force "$id"; done
	if [ -d "$RUNC_ROOT" ]; then
		for id in $(runc --root "$RUNC_ROOT" list -q 2>/dev/null); do runc --root "$RUNC_ROOT" delete --force "$id"; done
	fi
	teardown_bundle
}

@test "the same ID under two roots: the second create is refused in one line, the first container untouched" {
	set_args sleep 100
	local pid cg before err=$BATS_TEST_TMPDIR/err rc=0
	b run -d "$PREFIX" || fail "run -d"
	pid=$(b state "$PREFIX" | jq -r .pid)
	before=$(rel_snapshot)
	"$BERTH" --root "$ROOT2" run -d "$PREFIX" </dev/null >/dev/null 2>"$err" 3>&- || rc=$?
	[ "$rc" -eq 1 ] && [ "$(wc -l <"$err")" -eq 1 ] || fail "second root: exit $rc: $(cat "$err")"
	grep -q "already exists" "$err" || fail "said: $(cat "$err")"
	[ -z "$(ls -A "$ROOT2" 2>/dev/null)" ] || fail "left in root2: $(ls -A "$ROOT2")"
	# The other root's verbs on that ID: nothing there.
	"$BERTH" --root "$ROOT2" delete --force "$PREFIX" || fail "delete --force on root2"
	refute "$BERTH" --root "$ROOT2" kill "$PREFIX" KILL 2>/dev/null
	assert_snapshot "$before" "root2's attempts"
	[ "$(b state "$PREFIX" | jq -r .status)" = running ] && [ "$(b state "$PREFIX" | jq -r .pid)" = "$pid" ] ||
		fail "the first container was disturbed"
}

@test "commands on one root never touch another root's containers" {
	set_args sleep 100
	local i before2
	for i in 1 2 3; do
		b run -d "$PREFIX-a$i" || fail "root1 run"
		"$BERTH" --root "$ROOT2" run -d "$PREFIX-b$i" </dev/null >/dev/null 3>&- || fail "root2 run"
	done
	before2=$("$BERTH" --root "$ROOT2" list --format json | jq -c 'map({id, pid, status})')
	[ "$(b list -q | xargs)" = "$PREFIX-a1 $PREFIX-a2 $PREFIX-a3" ] || fail "root1 lists: $(b list -q | xargs)"
	for i in 1 2 3; do
		b kill "$PREFIX-a$i" KILL
		refute b kill "$PREFIX-b$i" KILL 2>/dev/null
		b delete --force "$PREFIX-a$i"
		b delete --force "$PREFIX-b$i" # unknown here: succeeds, does nothing
	done
	[ "$("$BERTH" --root "$ROOT2" list --format json | jq -c 'map({id, pid, status})')" = "$before2" ] ||
		fail "root2 changed: $("$BERTH" --root "$ROOT2" list)"
}

@test "berth and runc with the same ID at once never touch each other's container" {
	command -v runc >/dev/null || skip "runc not installed"
	set_args sleep 100
	local rpid bpid
	runc --root "$RUNC_ROOT" run -d "$PREFIX" </dev/null >/dev/null 2>&1 3>&- || fail "runc run -d"
	rpid=$(runc --root "$RUNC_ROOT" state "$PREFIX" | jq -r .pid)
	b run -d "$PREFIX" || fail "berth run -d (runc has the ID)"
	bpid=$(b state "$PREFIX" | jq -r .pid)
	b kill --all "$PREFIX" KILL
	b delete --force "$PREFIX"
	[ "$(runc --root "$RUNC_ROOT" state "$PREFIX" | jq -r .status)" = running ] || fail "berth touched runc's container"
	kill -0 "$rpid" || fail "runc's init is gone"
	b run -d "$PREFIX" || fail "berth run -d again"
	bpid=$(b state "$PREFIX" | jq -r .pid)
	runc --root "$RUNC_ROOT" delete --force "$PREFIX"
	[ "$(b state "$PREFIX" | jq -r .status)" = running ] && [ "$(b state "$PREFIX" | jq -r .pid)" = "$bpid" ] ||
		fail "runc touched berth's container"
}

# client NAME ROUNDS: creates, lists, execs into and deletes its own
# containers (NAME-*) on the shared root; records anything wrong.
client() {
	local name=$1 rounds=$2 r i bad=$BATS_TEST_TMPDIR/bad.$1 ids
	for ((r = 0; r < rounds; r++)); do
		for i in 1 2; do
			"$BERTH" --root "$ROOT" run -d "$PREFIX-$name-$r-$i" </dev/null >/dev/null 2>>"$bad" 3>&- ||
				echo "$name: run failed" >>"$bad"
		done
		ids=$("$BERTH" --root "$ROOT" list --format json 2>>"$bad") || echo "$name: list failed" >>"$bad"
		jq -e 'type == "array"' <<<"$ids" >/dev/null 2>&1 || echo "$name: list mangled: $ids" >>"$bad"
		for i in 1 2; do
			[ "$(jq -r --arg id "$PREFIX-$name-$r-$i" '.[] | select(.id == $id) | .status' <<<"$ids")" = running ] ||
				echo "$name: own container $r-$i not running: $ids" >>"$bad"
			"$BERTH" --root "$ROOT" exec "$PREFIX-$name-$r-$i" true 2>>"$bad" || echo "$name: exec failed" >>"$bad"
			"$BERTH" --root "$ROOT" delete --force "$PREFIX-$name-$r-$i" 2>>"$bad" || echo "$name: delete failed" >>"$bad"
		done
	done
}

@test "two clients sharing one root never kill, list-mangle or delete each other's containers" {
	set_args sleep 100000
	local before pa pb n=$((REL_RANDOM_ITER / 2 + 1))
	before=$(rel_snapshot)
	# A long-lived container of a third client, which must come through.
	b run -d "$PREFIX-keeper" || fail "keeper"
	local kpid
	kpid=$(b state "$PREFIX-keeper" | jq -r .pid)
	client a "$n" &
	pa=$!
	client b "$n" &
	pb=$!
	wait "$pa" "$pb"
	[ ! -s "$BATS_TEST_TMPDIR/bad.a" ] || fail "client a: $(head "$BATS_TEST_TMPDIR/bad.a")"
	[ ! -s "$BATS_TEST_TMPDIR/bad.b" ] || fail "client b: $(head "$BATS_TEST_TMPDIR/bad.b")"
	[ "$(b state "$PREFIX-keeper" | jq -r .pid)" = "$kpid" ] || fail "keeper disturbed"
	[ "$(b list -q | xargs)" = "$PREFIX-keeper" ] || fail "left: $(b list -q | xargs)"
	b delete --force "$PREFIX-keeper"
	assert_snapshot "$before"
}
