#!/bin/sh
# run-tests.sh: run every tests/*.sh of a project, each in its own berth
# sandbox, in parallel, with limits and a timeout; collect exit statuses and
# resource figures into one summary. Copy it into your CI and adjust the knobs.
#
#   run-tests.sh [PROJECT_DIR [RESULTS_DIR]]
#
# Each test runs with the project as its working directory, copy-on-write
# (--overlay .: it may write, the checkout stays as it was), no network, a
# private /tmp, no capabilities, under --memory/--pids/--cpus/--timeout.
# Results: RESULTS_DIR/NAME.log (stdout+stderr), NAME.json (berth's --stats),
# summary.json (every test's figures) and summary.txt (a table). Exit status:
# 0 when every test passed, 1 otherwise.
#
# Knobs (environment): BERTH (berth binary), JOBS (parallel sandboxes, default
# the number of CPUs), TEST_TIMEOUT (60s), TEST_MEMORY (256M), TEST_PIDS (256),
# TEST_CPUS (1). Needs jq.
set -eu

berth=${BERTH:-berth}

# One test: its sandbox's exit status is the test's (124 on timeout, 137
# when the OOM killer ended it, 128+N on signal N, 125 if berth failed).
run_one() {
	name=$(basename "$1" .sh)
	cd "$project"
	"$berth" sandbox --overlay . --net none \
		--memory "${TEST_MEMORY:-256M}" --pids "${TEST_PIDS:-256}" --cpus "${TEST_CPUS:-1}" \
		--timeout "${TEST_TIMEOUT:-60s}" --stats "$results/$name.json" \
		-- sh "$1" </dev/null >"$results/$name.log" 2>&1 || true
}

if [ "${1:-}" = --one ]; then # internal: one test, called by xargs below
	project=$2 results=$3
	run_one "$4"
	exit 0
fi

project=$(cd "${1:-.}" && pwd)
results=${2:-$project/.results}
jobs=${JOBS:-$(nproc)}
mkdir -p "$results"
results=$(cd "$results" && pwd)

ls "$project"/tests/*.sh >/dev/null 2>&1 || {
	echo "run-tests.sh: no tests/*.sh in $project" >&2
	exit 2
}
(cd "$project" && ls tests/*.sh) |
	xargs -P "$jobs" -I{} env BERTH="$berth" "$0" --one "$project" "$results" {}

# The summary: one object per test, from its --stats file.
for f in "$results"/*.json; do
	[ "$(basename "$f")" = summary.json ] && continue
	jq --arg name "$(basename "$f" .json)" '{name: $name, exit_status, timed_out, oom_kills,
		wall_seconds, cpu_seconds: .cpu_total_seconds, memory_peak_bytes, pids_peak,
		result: (if .exit_status == 0 then "pass" elif .timed_out then "timeout"
			elif .oom_kills > 0 then "oom" elif .exit_status == 125 then "error" else "fail" end)}' "$f"
done | jq -s 'sort_by(.name) | {tests: ., passed: map(select(.result == "pass")) | length,
	failed: map(select(.result != "pass")) | length}' >"$results/summary.json"

jq -r '.tests[] | [.name, .result, .exit_status, (.wall_seconds * 1000 | floor | tostring) + " ms",
	((.memory_peak_bytes // 0) / 1048576 | floor | tostring) + " MiB", .pids_peak] | @tsv' \
	"$results/summary.json" | {
	printf '%-16s %-8s %-6s %-10s %-10s %s\n' TEST RESULT STATUS WALL PEAK-MEM PEAK-PIDS
	while IFS="$(printf '\t')" read -r n r s w m p; do
		printf '%-16s %-8s %-6s %-10s %-10s %s\n' "$n" "$r" "$s" "$w" "$m" "$p"
	done
	jq -r '"\(.passed) passed, \(.failed) failed"' "$results/summary.json"
} | tee "$results/summary.txt"

[ "$(jq .failed "$results/summary.json")" -eq 0 ]
