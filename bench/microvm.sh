#!/usr/bin/env bash
# bench/microvm.sh — cold `berth run /bin/true` with the microvm backend, split
# into phases, against the linux backend measured in the same run.
#
# Usage: bench/microvm.sh [--help]
#
# Environment:
#   BERTH          berth binary (default: <repo>/berth)
#   BENCH_VM_N     runs per backend (default 5), alternating microvm and linux
#   BENCH_TMPDIR   where the bundle and state go (default: $TMPDIR or /tmp)
#
# Needs root and the guest assets (`make vm-assets`). The phases come from the
# supervisor's trace (BERTH_VM_TRACE: host CLOCK_MONOTONIC marks plus the guest
# init's CLOCK_BOOTTIME stamps sent over the control channel):
#   vmm start   QEMU spawned -> the guest clock starts: QEMU setup, loading the
#               kernel, and the kernel's earliest boot (before its TSC clock runs)
#               = host "guest ready" - guest boottime at ready - QEMU spawn
#   kernel boot guest clock start -> guest init's first instruction (guest clock)
#   init        guest init start -> READY (modules, control channel; guest clock)
#   prepare     READY -> PREPARED (virtio-fs mount, mounts, cgroup v2; host clock)
#   start       berth start -> the process exec'd in the guest (host clock)
#   workload    exec'd -> EXIT received (host clock)
#   rest        berth before QEMU, teardown after EXIT: total - all of the above
# Medians are printed, with the ratio of the microvm total to the linux one; the
# accelerator is named on every row (TCG figures are TCG). Never asserted.
set -uo pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case "${1:-}" in -h | --help) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;; esac
BERTH=${BERTH:-$REPO/berth}
N=${BENCH_VM_N:-5}
TMP=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/berth-vmbench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

[ "$(id -u)" -eq 0 ] || { echo "microvm.sh: needs root" >&2; exit 1; }
[ -e /var/cache/berth/vm/vmlinux ] || { echo "microvm.sh: no guest assets: make vm-assets" >&2; exit 1; }

mkdir -p "$TMP/bundle" "$TMP/root"
"$REPO/tests/fixtures/busybox-rootfs.sh" "$TMP/bundle/rootfs" >/dev/null || exit 1
(cd "$TMP/bundle" && "$BERTH" spec) || exit 1
jq '.process.terminal = false | .process.args = ["/bin/true"]' "$TMP/bundle/config.json" \
  >"$TMP/c" && mv "$TMP/c" "$TMP/bundle/config.json"

# run_one BACKEND I: prints the wall time in ms; the trace lands in $TMP/trace.I
run_one() {
  local t0 t1 rc=0
  t0=$EPOCHREALTIME
  BERTH_VM_TRACE=$TMP/trace.$2 "$BERTH" --root "$TMP/root" run -b "$TMP/bundle" \
    --backend "$1" "b$2" </dev/null >"$TMP/out" 2>&1 || rc=$?
  t1=$EPOCHREALTIME
  if [ "$rc" -ne 0 ]; then
    echo "microvm.sh: $1 run failed (exit $rc):" >&2
    cat "$TMP/out" >&2
    exit 1
  fi
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# phases TRACE TOTAL: one line of the phase figures for that run.
phases() {
  awk -v total="$2" '{ t[$1] = $2 } END {
    vmm = t["guest_ready"] - t["guest_ready_at"] - t["qemu_spawned"]
    kernel = t["guest_init"]; init = t["guest_ready_at"] - t["guest_init"]
    prep = t["guest_prepared"] - t["guest_ready"]; start = t["started"] - t["start"]
    work = t["exited"] - t["started"]
    rest = total - vmm - kernel - init - prep - start - work
    printf "%.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f %d %s\n", total, vmm, kernel, init, prep, start,
      work, rest, t["qemu_maxrss_kib"], t["accel"] }' "$1"
}

: >"$TMP/vm" && : >"$TMP/linux"
for i in $(seq "$N"); do
  total=$(run_one microvm "$i") || exit 1
  phases "$TMP/trace.$i" "$total" >>"$TMP/vm"
  run_one linux "l$i" >>"$TMP/linux" || exit 1
done

accel=$(awk 'NR == 1 { print toupper($10) }' "$TMP/vm")
col() { awk -v c="$1" '{ print $c }' "$TMP/vm" | median; }
linux=$(median <"$TMP/linux")
echo "berth microvm cold start, $N runs each, medians (accelerator: $accel; $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg))"
printf '%-34s %10s\n' "phase ($accel)" "ms"
names=("total: run /bin/true" "vmm start + early kernel" "kernel boot" "init (modules, channel)" \
  "prepare (virtio-fs, cgroup v2)" "start -> exec'd" "workload (/bin/true -> EXIT)" "rest (berth, teardown)")
for c in 1 2 3 4 5 6 7 8; do
  printf '%-34s %10.1f\n' "${names[$((c - 1))]}" "$(col "$c")"
done
printf '%-34s %10.1f\n' "linux backend: run /bin/true" "$linux"
printf '%-34s %10.1fx\n' "ratio microvm ($accel) / linux" "$(awk -v a="$(col 1)" -v b="$linux" 'BEGIN { print a / b }')"
printf '%-34s %10d KiB\n' "QEMU peak RSS ($accel)" "$(col 9)"
