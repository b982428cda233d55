#!/usr/bin/env bats
# examples/ci: the worked CI example runs every test of its fixture project in
# its own sandbox, in parallel, with limits and a timeout, and the summary says
# what really happened to each (the kernel's OOM kill, the timeout's kill, a
# plain failure) while the project's checkout stays untouched.

load helpers

setup() {
	requires root berth
	command -v jq >/dev/null || skip "needs jq"
	ROOT=$BATS_TEST_TMPDIR/root
	mkdir -p "$ROOT"
	# A copy of the fixture project, as a user's checkout would be.
	PROJECT=$BATS_TEST_TMPDIR/project
	cp -a "$BERTH_SRC_DIR/examples/ci/project" "$PROJECT"
	export TMPDIR=$BATS_TEST_TMPDIR/scratch
	mkdir -p "$TMPDIR"
}

teardown() {
	teardown_bundle
}

tree_hash() {
	(cd "$1" && find . -printf '%p %m %s\n' | sort && find . -type f -exec sha256sum {} + | sort) |
		sha256sum
}

@test "examples/ci/run-tests.sh: each test in its own sandbox, one summary" {
	local before results=$BATS_TEST_TMPDIR/results
	before=$(tree_hash "$PROJECT")
	# A wrapper keeps the sandboxes' state in this test's root.
	printf '#!/bin/sh\nexec %s --root %s "$@"\n' "$BERTH" "$ROOT" >"$BATS_TEST_TMPDIR/berth"
	chmod +x "$BATS_TEST_TMPDIR/berth"
	run env BERTH="$BATS_TEST_TMPDIR/berth" JOBS=5 TEST_TIMEOUT=5s TEST_MEMORY=64M \
		"$BERTH_SRC_DIR/examples/ci/run-tests.sh" "$PROJECT" "$results"
	echo "$output"
	[ "$status" -eq 1 ] # some tests fail on purpose
	[[ ${lines[-1]} == "2 passed, 3 failed" ]]
	local s=$results/summary.json
	jq -e '.passed == 2 and .failed == 3' "$s"
	jq -e '[.tests[] | {(.name): .result}] | add == {"test_broken": "fail", "test_hangs": "timeout",
		"test_hog": "oom", "test_math": "pass", "test_strings": "pass"}' "$s"
	jq -e '.tests[] | select(.name == "test_broken") | .exit_status == 1' "$s"
	jq -e '.tests[] | select(.name == "test_hangs") | .exit_status == 124 and .timed_out and .wall_seconds < 10' "$s"
	jq -e '.tests[] | select(.name == "test_hog") | .exit_status == 137 and .oom_kills >= 1' "$s"
	grep -q "strings ok" "$results/test_strings.log"
	grep -q "expected 3, got 2" "$results/test_broken.log"
	# The tests wrote into the checkout (greeting.upper); the checkout is as it was.
	[ ! -e "$PROJECT/fixtures/greeting.upper" ]
	[ "$(tree_hash "$PROJECT")" = "$before" ]
	[ -z "$(ls -A "$ROOT")" ] || fail "state left: $(ls -A "$ROOT")"
	[ -z "$(ls -A "$TMPDIR")" ] || fail "scratch left: $(ls -A "$TMPDIR")"
	! pgrep -f "^sleep 1000$" || fail "a test's process survived"
}
