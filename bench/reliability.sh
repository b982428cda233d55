#!/usr/bin/env bash
# bench/reliability.sh — the load of issue #16 for berth and runc in one run:
# sequential lifecycles (create, start, delete) and rounds of parallel `run`s,
# with throughput for both, their ratio, and what each left behind (state
# entries, cgroup directories, mounts, processes on the rootfs). Figures are
# printed, never asserted; exit non-zero only if a runtime fails to run.
#
# Usage: bench/reliability.sh [--markdown]
# Environment: BERTH (default <repo>/berth), RUNC (default runc),
#   RELBENCH_SEQ (1000), RELBENCH_PAR (100), RELBENCH_ROUNDS (10),
#   BENCH_STATEDIR (where the --root dirs go, default /run)
set -uo pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MARKDOWN=0
[[ ${1:-} == --markdown ]] && MARKDOWN=1
SEQ=${RELBENCH_SEQ:-1000}
PAR=${RELBENCH_PAR:-100}
ROUNDS=${RELBENCH_ROUNDS:-10}

die() { printf 'reliability.sh: %s\n' "$*" >&2; exit 1; }
declare -A BIN ROOT
BIN[berth]=$(command -v "${BERTH:-$REPO/berth}") || die "no berth binary (make berth)"
BIN[runc]=$(command -v "${RUNC:-runc}") || die "no runc (scripts/deps.sh bench)"
BUSYBOX=$(command -v busybox) || die "no busybox (busybox-static)"
RUNTIMES=(berth runc)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/berth-relbench.XXXXXX") || die "mktemp"
STATE=$(mktemp -d "${BENCH_STATEDIR:-/run}/berth-relbench-state.XXXXXX") || die "mktemp"
PREFIX=relbench$$
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local r id
  for r in "${RUNTIMES[@]}"; do
    for id in $("${BIN[$r]}" --root "${ROOT[$r]}" list -q 2>/dev/null); do
      "${BIN[$r]}" --root "${ROOT[$r]}" delete --force "$id" >/dev/null 2>&1
    done
  done
  rm -rf -- "$TMP" "$STATE"
}
trap cleanup EXIT

mkdir -p "$TMP/bundle/rootfs"/{bin,dev,proc,sys,tmp,etc}
cp "$BUSYBOX" "$TMP/bundle/rootfs/bin/busybox"
ln -s busybox "$TMP/bundle/rootfs/bin/true"
(cd "$TMP/bundle" && "${BIN[runc]}" spec) || die "runc spec"
jq '.process.terminal = false | .process.args = ["/bin/true"]' "$TMP/bundle/config.json" >"$TMP/c.json" &&
  mv "$TMP/c.json" "$TMP/bundle/config.json"
for r in "${RUNTIMES[@]}"; do ROOT[$r]=$STATE/$r; mkdir -p "${ROOT[$r]}"; done

rt() { "${BIN[$CUR]}" --root "${ROOT[$CUR]}" "$@" </dev/null >/dev/null 2>>"$TMP/err.$CUR" 3>&-; }

# seconds of a block: sequential lifecycles
seq_block() {
  local i t0=$EPOCHREALTIME
  for ((i = 0; i < SEQ; i++)); do
    if ! { rt create --bundle "$TMP/bundle" "$PREFIX-$i" && rt start "$PREFIX-$i" &&
      rt delete --force "$PREFIX-$i"; }; then
      echo "$CUR: lifecycle $i failed: $(tail -1 "$TMP/err.$CUR")" >&2
      return 1
    fi
  done
  awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'
}

# parallel runs, ROUNDS times PAR at once
par_block() {
  local r i p t0=$EPOCHREALTIME failed=0 pids
  for ((r = 0; r < ROUNDS; r++)); do
    pids=()
    for ((i = 0; i < PAR; i++)); do
      rt run --bundle "$TMP/bundle" "$PREFIX-p$r-$i" &
      pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
  done
  ((failed == 0)) || { echo "$CUR: $failed parallel runs failed: $(sort "$TMP/err.$CUR" | uniq -c | head -3)" >&2; return 1; }
  awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'
}

# leftovers: state entries, cgroup dirs and mounts named after the runs, processes on the rootfs
leftovers() {
  local s c m p want
  s=$(ls -A "${ROOT[$CUR]}" | wc -l)
  c=$(find /sys/fs/cgroup -maxdepth 9 -type d -name "$PREFIX-*" 2>/dev/null | wc -l)
  m=$(grep -c "$TMP" /proc/self/mountinfo)
  want=$(stat -L -c %d:%i "$TMP/bundle/rootfs")
  p=$(stat -L -c '%d:%i' /proc/[0-9]*/root 2>/dev/null | grep -c "^$want\$")
  echo "$s/$c/$m/$p"
}

declare -A T_SEQ T_PAR LEFT
status=0
for CUR in "${RUNTIMES[@]}"; do
  T_SEQ[$CUR]=$(seq_block) || status=1
  T_PAR[$CUR]=$(par_block) || status=1
  sleep 0.5
  LEFT[$CUR]=$(leftovers)
done

ratio() { [[ -n $1 && -n $2 ]] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
rate() { [[ -n $2 ]] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
n_par=$((PAR * ROUNDS))
rows=(
  "$SEQ sequential lifecycles (create, start, delete --force), total s|${T_SEQ[berth]}|${T_SEQ[runc]}|$(ratio "${T_SEQ[berth]}" "${T_SEQ[runc]}")x"
  "  lifecycles per second|$(rate "$SEQ" "${T_SEQ[berth]}")|$(rate "$SEQ" "${T_SEQ[runc]}")|"
  "$PAR parallel run x $ROUNDS rounds, total s|${T_PAR[berth]}|${T_PAR[runc]}|$(ratio "${T_PAR[berth]}" "${T_PAR[runc]}")x"
  "  runs per second|$(rate "$n_par" "${T_PAR[berth]}")|$(rate "$n_par" "${T_PAR[runc]}")|"
  "left behind: state entries/cgroups/mounts/processes|${LEFT[berth]}|${LEFT[runc]}|"
)
echo "Command: bench/reliability.sh (RELBENCH_SEQ=$SEQ RELBENCH_PAR=$PAR RELBENCH_ROUNDS=$ROUNDS)"
echo "Host: $(uname -sr), $(nproc) CPUs; berth: ${BIN[berth]}; runc: $("${BIN[runc]}" --version | head -1)"
if ((MARKDOWN)); then
  echo
  echo "| load | berth | runc | berth/runc |"
  echo "|---|--:|--:|--:|"
  for r in "${rows[@]}"; do echo "| ${r//|/ | } |"; done
else
  for r in "${rows[@]}"; do IFS='|' read -r a b c d <<<"$r"; printf '%-58s %10s %10s %8s\n' "$a" "$b" "$c" "$d"; done
fi
exit $status
