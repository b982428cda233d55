#!/usr/bin/env bats
# Many callers at once: duplicate-ID creates, list/state during mass deletes,
# start racing delete, kill racing delete.

load ../integration/helpers
load rel_helpers

setup() {
	rel_setup
}

teardown() {
	teardown_bundle
}

@test "$((2 * REL_RACE_IDS)) concurrent creates over $REL_RACE_IDS IDs: one winner per ID, the loser told 'already exists'" {
	set_args sleep 100
	local before i id out=$BATS_TEST_TMPDIR/race pids=()
	before=$(rel_snapshot)
	mkdir -p "$out"
	for ((i = 0; i < REL_RACE_IDS; i++)); do
		for k in a b; do
			id=$PREFIX-$i
			(
				rc=0
				"$BERTH" --root "$ROOT" create "$id" </dev/null >/dev/null 2>"$out/$id.$k.err" 3>&- || rc=$?
				echo "$rc" >"$out/$id.$k.rc"
			) &
			pids+=($!)
		done
	done
	wait "${pids[@]}"
	for ((i = 0; i < REL_RACE_IDS; i++)); do
		id=$PREFIX-$i
		local wins=0 ra rb
		ra=$(cat "$out/$id.a.rc") rb=$(cat "$out/$id.b.rc")
		[ "$ra" -ne 0 ] || wins=$((wins + 1))
		[ "$rb" -ne 0 ] || wins=$((wins + 1))
		[ "$wins" -eq 1 ] || fail "$id: $wins winners (exit $ra, $rb): $(cat "$out/$id".*.err)"
		local loser=a
		[ "$ra" -ne 0 ] || loser=b
		[ "$(cat "$out/$id.$loser.rc")" -eq 1 ] || fail "$id: loser exit $(cat "$out/$id.$loser.rc")"
		[ "$(wc -l <"$out/$id.$loser.err")" -eq 1 ] || fail "$id: loser said: $(cat "$out/$id.$loser.err")"
		grep -q "already exists" "$out/$id.$loser.err" || fail "$id: loser said: $(cat "$out/$id.$loser.err")"
		[ "$(b state "$id" | jq -r .status)" = created ] || fail "$id: not created: $(b state "$id" 2>&1)"
		jq -e . "$ROOT/$id/state.json" >/dev/null || fail "$id: state.json corrupted"
	done
	[ "$(b list -q | wc -l)" -eq "$REL_RACE_IDS" ] || fail "list: $(b list -q | xargs)"
	for ((i = 0; i < REL_RACE_IDS; i++)); do b delete --force "$PREFIX-$i" || fail "delete $PREFIX-$i"; done
	assert_snapshot "$before"
}

@test "list and state during mass deletes never crash and never print a half-written state" {
	set_args sleep 100
	local before i n=$REL_RACE_IDS pids=() watcher bad=$BATS_TEST_TMPDIR/bad
	before=$(rel_snapshot)
	for ((i = 0; i < n; i++)); do b run -d "$PREFIX-$i" || fail "run $i"; done
	# Watchers: list (json), list (table) and state of every ID, in a loop.
	(
		while [ ! -e "$BATS_TEST_TMPDIR/stop" ]; do
			out=$("$BERTH" --root "$ROOT" list --format json 2>&1) ||
				echo "list exit $?: $out" >>"$bad"
			jq -e 'type == "array" and all(.[]; .id != null and .status != null)' <<<"$out" >/dev/null 2>&1 ||
				echo "list json: $out" >>"$bad"
			for ((j = 0; j < n; j++)); do
				rc=0
				out=$("$BERTH" --root "$ROOT" state "$PREFIX-$j" 2>&1) || rc=$?
				if [ $rc -eq 0 ]; then
					jq -e '.id != null and (.status | test("created|running|stopped|paused"))' <<<"$out" >/dev/null 2>&1 ||
						echo "state json: $out" >>"$bad"
				elif [ $rc -ne 1 ] || [ "$(printf '%s\n' "$out" | wc -l)" -ne 1 ] || [[ $out != *"does not exist"* ]]; then
					echo "state exit $rc: $out" >>"$bad"
				fi
			done
		done
	) &
	watcher=$!
	for ((i = 0; i < n; i++)); do
		b delete --force "$PREFIX-$i" &
		pids+=($!)
	done
	local rc=0
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	touch "$BATS_TEST_TMPDIR/stop"
	wait "$watcher"
	[ "$rc" -eq 0 ] || fail "a delete failed"
	[ ! -s "$bad" ] || fail "watchers saw: $(head -20 "$bad")"
	assert_snapshot "$before"
}

# race2 "A ARGS" "B ARGS": run both verbs at once, sets RC_A/RC_B, ERR_A/ERR_B.
race2() {
	local a=$BATS_TEST_TMPDIR/a b=$BATS_TEST_TMPDIR/b pa pb
	eval "\"$BERTH\" --root \"$ROOT\" $1" </dev/null >/dev/null 2>"$a.err" 3>&- &
	pa=$!
	eval "\"$BERTH\" --root \"$ROOT\" $2" </dev/null >/dev/null 2>"$b.err" 3>&- &
	pb=$!
	RC_A=0 RC_B=0
	wait "$pa" || RC_A=$?
	wait "$pb" || RC_B=$?
	ERR_A=$(cat "$a.err") ERR_B=$(cat "$b.err")
}

@test "start racing delete, and kill racing delete, end in a defined state" {
	set_args sleep 100
	local before i id st outcomes=""
	before=$(rel_snapshot)
	for ((i = 0; i < REL_RANDOM_ITER; i++)); do
		id=$PREFIX-s$i
		b create "$id" || fail "create"
		race2 "start $id" "delete $id"
		# Either start won (running; delete refused: running) or delete won
		# (gone; start: does not exist, or the init is gone).
		st=$(b state "$id" 2>&1) || st=gone
		if [ "$RC_A" -eq 0 ]; then
			[ "$RC_B" -eq 1 ] && [[ $ERR_B == *running* ]] || fail "start won, delete: $RC_B $ERR_B"
			[ "$(jq -r .status <<<"$st")" = running ] || fail "start won but: $st"
			outcomes+=S
		else
			[ "$RC_B" -eq 0 ] || fail "both failed: start $RC_A $ERR_A / delete $RC_B $ERR_B"
			[ "$st" = gone ] || fail "delete won but state: $st"
			[ "$(printf '%s\n' "$ERR_A" | wc -l)" -eq 1 ] || fail "start said: $ERR_A"
			outcomes+=D
		fi
		b delete --force "$id" || fail "delete --force"
	done
	for ((i = 0; i < REL_RANDOM_ITER; i++)); do
		id=$PREFIX-k$i
		b run -d "$id" || fail "run -d"
		race2 "kill $id KILL" "delete --force $id"
		[ "$RC_B" -eq 0 ] || fail "delete --force: $RC_B $ERR_B"
		# kill: delivered, or the container was already gone or stopped.
		[ "$RC_A" -eq 0 ] || { [ "$RC_A" -eq 1 ] && [[ $ERR_A == *"does not exist"* || $ERR_A == *"not running"* ]]; } ||
			fail "kill: $RC_A $ERR_A"
		refute b state "$id" 2>/dev/null
	done
	echo "# start/delete outcomes: $outcomes"
	assert_snapshot "$before"
}
