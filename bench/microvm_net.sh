#!/usr/bin/env bash
# bench/microvm_net.sh — what --net bridge adds to a cold microVM
# `berth run /bin/true`: the same bundle with --net none and --net bridge,
# alternating, in a throwaway network namespace (the "host": its bridge,
# taps, leases and rules go with it). Prints the medians and their ratio;
# under TCG the figures are TCG's. Never asserted.
#
# Usage: bench/microvm_net.sh [--help]
# Environment: BERTH (default <repo>/berth), BENCH_VM_N (runs each, default
# 3), BERTH_VM_ASSETS (guest assets, default /var/cache/berth/vm).
set -uo pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case "${1:-}" in -h | --help) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;; esac
BERTH=${BERTH:-$REPO/berth}
N=${BENCH_VM_N:-3}
NS=berth-vmnet-bench-$$
TMP=$(mktemp -d "${TMPDIR:-/tmp}/berth-vmnet.XXXXXX")
cleanup() {
  ip netns delete "$NS" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || { echo "microvm_net.sh: needs root" >&2; exit 1; }
ip netns add "$NS" || exit 1
mkdir -p "$TMP/bundle" "$TMP/root"
"$REPO/tests/fixtures/busybox-rootfs.sh" "$TMP/bundle/rootfs" >/dev/null || exit 1
(cd "$TMP/bundle" && "$BERTH" spec) || exit 1
jq '.process.terminal = false | .process.args = ["/bin/true"]' "$TMP/bundle/config.json" \
  >"$TMP/c" && mv "$TMP/c" "$TMP/bundle/config.json"

# run_one NET I: the wall time of one run in ms.
run_one() {
  local t0 t1
  t0=$EPOCHREALTIME
  BERTH_VM_TRACE=$TMP/trace nsenter --net="/run/netns/$NS" "$BERTH" --root "$TMP/root" run -b "$TMP/bundle" \
    --backend microvm --net "$1" "r$2" </dev/null >"$TMP/out" 2>&1 ||
    { echo "microvm_net.sh: --net $1 run failed:" >&2; cat "$TMP/out" >&2; exit 1; }
  t1=$EPOCHREALTIME
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

: >"$TMP/none" && : >"$TMP/bridge"
for i in $(seq "$N"); do
  run_one none "n$i" >>"$TMP/none" || exit 1
  run_one bridge "b$i" >>"$TMP/bridge" || exit 1
done
none=$(median <"$TMP/none")
bridge=$(median <"$TMP/bridge")
accel=$(awk '$1 == "accel" { print $2 }' "$TMP/trace")
printf 'microVM (%s) run /bin/true, median of %d (ms): --net none %s, --net bridge %s, ratio %s\n' \
  "$accel" "$N" "$none" "$bridge" "$(awk -v a="$bridge" -v b="$none" 'BEGIN { printf "%.2f", a / b }')"
