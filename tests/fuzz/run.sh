#!/usr/bin/env bash
# Runs each libFuzzer harness for FUZZ_TIME seconds, one at a time, on a
# working copy of its seed corpus (build/fuzz/corpus/<target>; the seeds in
# tests/fuzz/corpus are never written to). Prints one line per target:
#   fuzz_spec: ran 60 s, 123456 execs, cov 1234, 0 crashes
# and exits 1 if any target crashed, leaked, timed out or ran out of memory;
# the input is then in build/fuzz/artifacts/<target>/.
#   tests/fuzz/run.sh [SECONDS [TARGET...]]
set -u
cd "$(dirname "$0")/../.." || exit 1
time_s="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(fuzz_spec fuzz_seccomp fuzz_resources)
out=build/fuzz
[ -x /usr/lib/llvm-14/bin/llvm-symbolizer ] && export PATH="/usr/lib/llvm-14/bin:$PATH"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0}"

failed=0
for t in "${targets[@]}"; do
  bin="$out/$t"
  if [ ! -x "$bin" ]; then
    echo "$t: not built (make fuzz-build)" >&2
    failed=1
    continue
  fi
  corpus="$out/corpus/$t" art="$out/artifacts/$t/" log="$out/$t.log"
  mkdir -p "$corpus"
  cp -n tests/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null
  rm -rf "$art" && mkdir -p "$art"
  start=$(date +%s)
  "$bin" -max_total_time="$time_s" -timeout=25 -rss_limit_mb=2048 \
    -print_final_stats=1 -dict=tests/fuzz/oci.dict -artifact_prefix="$art" "$corpus" >"$log" 2>&1
  rc=$?
  secs=$(($(date +%s) - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  crashes=$(find "$art" -type f | wc -l)
  [ $rc -ne 0 ] && [ "$crashes" -eq 0 ] && crashes=1
  echo "$t: ran $secs s, ${execs:-0} execs, cov ${cov:-0}, $crashes crashes"
  if [ "$crashes" -ne 0 ]; then
    failed=1
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -5
    find "$art" -type f | sed 's/^/  input: /'
    echo "  log: $log"
  fi
done
exit $failed
