#!/usr/bin/env bash
# Runs the unit tests and the bats integration suite, then prints one
# summary line: "N passed, N failed, N skipped". Exit 1 if anything failed.
#   tests/run.sh [--integration-only] [bats files or dirs...]
# BERTH selects the runtime under test (default: ./berth); BERTH=runc runs
# the same integration suite against runc.
set -u
cd "$(dirname "$0")/.." || exit 1

unit=1
if [ "${1:-}" = "--integration-only" ]; then
  unit=0
  shift
fi
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(tests/integration tests/security tests/reliability tests/clients)

passed=0 failed=0 skipped=0

if [ $unit = 1 ]; then
  echo "# unit tests"
  out=$("${UNIT:-tests/unit/run_unit}" 2>&1)
  rc=$?
  echo "$out"
  line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
  p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
  f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-1}))
  [ $rc -ne 0 ] && [ "${f:-0}" = 0 ] && failed=$((failed + 1))
fi

echo "# integration tests (BERTH=${BERTH:-./berth})"
log=$(mktemp)
bats --tap "${targets[@]}" 2>&1 | tee "$log"
bats_rc=${PIPESTATUS[0]}
p=$(grep -cE '^ok [0-9]+' "$log" || true)
s=$(grep -cE '^ok [0-9]+ .*# skip' "$log" || true)
f=$(grep -cE '^not ok [0-9]+' "$log" || true)
rm -f "$log"
passed=$((passed + p - s))
skipped=$((skipped + s))
failed=$((failed + f))
# bats failing outside a test (syntax error, setup_file) counts as a failure.
[ "$bats_rc" -ne 0 ] && [ "$f" -eq 0 ] && failed=$((failed + 1))

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
