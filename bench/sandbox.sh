#!/usr/bin/env bash
# bench/sandbox.sh — `berth sandbox -- /bin/true` against bubblewrap with the same isolation,
# bare `unshare`, and `podman run --rm`, measured in one run; prints mean, median, p90 and the
# ratios of the medians against bubblewrap.
#
# Usage: bench/sandbox.sh [--markdown] [--help]
#
# Environment:
#   BERTH         berth binary (default: <repo>/berth)
#   N             iterations per row (default: BENCH_N, else 100)
#   BERTH_BEFORE  another berth binary (an older build) measured as one more row, interleaved
#                 with the others: before/after figures from one run
#   BENCH_PODMAN_N iterations of the podman row (default 10; 0 skips it)
#   BENCH_TMPDIR  where podman's private storage goes (default: $TMPDIR or /tmp)
#
# Rows (each runs /bin/true; the rows are interleaved: every iteration runs each row once, in an
# order rotated by one each time, so load on the machine affects all of them alike):
#   berth sandbox               the host's / read-only, private /tmp /dev /proc /run, pid mount net
#                               ipc uts cgroup namespaces, seccomp, no caps, a cgroup made and removed
#   berth sandbox + limits      the same with --memory 256M --pids 256 --cpus 1
#   bwrap                       --unshare-all --die-with-parent --ro-bind / / --dev /dev
#                               --proc /proc --tmpfs /tmp (no cgroup, no seccomp, no limits)
#   unshare -pmnui --fork       the namespace floor (no mounts at all)
#   podman run --rm             a local busybox image, runc, modest ulimits (skipped when podman
#                               cannot run here)
# Figures are printed, never asserted; exit status 0 unless a command fails to run.

# shellcheck disable=SC2016,SC2317 # Markdown backticks; cleanup runs from the EXIT trap
set -uo pipefail
export LC_ALL=C # EPOCHREALTIME must use '.' as the decimal separator

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MARKDOWN=0
for arg in "$@"; do
  case "$arg" in
    --markdown) MARKDOWN=1 ;;
    -h | --help) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "sandbox.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

N=${N:-${BENCH_N:-100}}
PODMAN_N=${BENCH_PODMAN_N:-10}
BERTH=${BERTH:-$REPO/berth}
log() { printf 'bench/sandbox: %s\n' "$*" >&2; }
die() { printf 'bench/sandbox.sh: %s\n' "$*" >&2; exit 1; }

[[ -x $BERTH ]] || die "berth binary '$BERTH' not found (make berth)"
BWRAP=$(command -v bwrap) || die "bwrap not found (apt-get install bubblewrap; scripts/deps.sh bench)"
TMP=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/berth-bench-sandbox.XXXXXX")
cleanup() {
  podman_cleanup
  rm -rf "$TMP"
}
trap cleanup EXIT
cd /

# ---------------------------------------------------------------- the commands

ROW_NAME=() ROW_CMD=() ROW_N=()
add_row() { ROW_NAME+=("$1"); ROW_N+=("$2"); ROW_CMD+=("$3"); }

add_row "berth sandbox -- /bin/true" "$N" "$BERTH sandbox -- /bin/true"
add_row "berth sandbox, --memory --pids --cpus limits" "$N" \
  "$BERTH sandbox --memory 256M --pids 256 --cpus 1 -- /bin/true"
add_row "bwrap, equivalent isolation (no cgroup)" "$N" \
  "$BWRAP --unshare-all --die-with-parent --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp -- /bin/true"
add_row "unshare -pmnui --fork (namespace floor)" "$N" "unshare -pmnui --fork /bin/true"
if [[ -n ${BERTH_BEFORE:-} ]]; then
  [[ -x $BERTH_BEFORE ]] || die "BERTH_BEFORE '$BERTH_BEFORE' is not an executable"
  add_row "berth sandbox -- /bin/true (BERTH_BEFORE)" "$N" "$BERTH_BEFORE sandbox -- /bin/true"
fi

PODMAN_OK=0
PODMAN_NOTE=""
podman_env() {
  command -v podman >/dev/null || { PODMAN_NOTE="podman not installed"; return 1; }
  local P=$TMP/podman busybox
  busybox=$(command -v busybox) || { PODMAN_NOTE="no busybox for the image"; return 1; }
  mkdir -p "$P"/{storage,run,tmp,net} "$TMP/rootfs/bin"
  cp "$busybox" "$TMP/rootfs/bin/busybox"
  ln -s busybox "$TMP/rootfs/bin/true"
  ln -s busybox "$TMP/rootfs/bin/sh"
  printf '[storage]\ndriver = "vfs"\ngraphroot = "%s/storage"\nrunroot = "%s/run"\n' "$P" "$P" >"$P/storage.conf"
  printf 'unqualified-search-registries = []\n' >"$P/registries.conf"
  cat >"$P/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
netns = "none"
log_driver = "k8s-file"
[network]
network_config_dir = "$P/net"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "none"
tmp_dir = "$P/tmp"
static_dir = "$P/storage/libpod"
volume_path = "$P/storage/volumes"
lock_type = "file"
pull_policy = "never"
CONF
  export CONTAINERS_CONF=$P/containers.conf CONTAINERS_STORAGE_CONF=$P/storage.conf
  export CONTAINERS_REGISTRIES_CONF=$P/registries.conf
  if ! "$REPO/tests/clients/make-oci-image.sh" "$TMP/rootfs" "$P/image.tar" localhost/bench:latest >/dev/null 2>&1 ||
    ! podman load -i "$P/image.tar" >/dev/null 2>&1 ||
    ! podman --runtime runc run --rm localhost/bench:latest /bin/true >/dev/null 2>&1; then
    PODMAN_NOTE="podman cannot run a container here"
    return 1
  fi
  PODMAN_OK=1
}
podman_cleanup() {
  ((PODMAN_OK)) || return 0
  podman rm -a -f -t 0 >/dev/null 2>&1
  podman rmi -a -f >/dev/null 2>&1
  return 0
}
if ((PODMAN_N > 0)) && podman_env; then
  add_row "podman run --rm (runc, local busybox image)" "$PODMAN_N" \
    "podman --runtime runc run --rm localhost/bench:latest /bin/true"
elif ((PODMAN_N > 0)); then
  log "podman row skipped: $PODMAN_NOTE"
fi

# ---------------------------------------------------------------- measuring

# Each row's milliseconds, one per line, in $TMP/row.I
for i in "${!ROW_NAME[@]}"; do
  # A first run outside the figures (page cache, the seccomp cache).
  eval "${ROW_CMD[i]}" >/dev/null 2>&1 || die "${ROW_NAME[i]} failed: ${ROW_CMD[i]}"
  : >"$TMP/row.$i"
done
n_rows=${#ROW_NAME[@]}
for ((it = 0; it < N; it++)); do
  for ((k = 0; k < n_rows; k++)); do
    i=$(((it + k) % n_rows))
    ((it < ROW_N[i])) || continue
    t0=$EPOCHREALTIME
    eval "${ROW_CMD[i]}" >/dev/null 2>&1 || die "${ROW_NAME[i]} failed: ${ROW_CMD[i]}"
    t1=$EPOCHREALTIME
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }' >>"$TMP/row.$i"
  done
done

# mean, median and 90th percentile (nearest rank) of a row
stats() {
  sort -n "$1" | awk '{ v[NR] = $1; s += $1 } END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    r = int(0.9 * NR); if (r < 0.9 * NR) r++; if (r < 1) r = 1
    printf "%.2f %.2f %.2f\n", s / NR, m, v[r] }'
}
BW=2 # the bwrap row
read -r _ bw_median bw_p90 < <(stats "$TMP/row.$BW")

host="$(uname -sr), $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
if ((MARKDOWN)); then
  printf '### berth sandbox vs bubblewrap, %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf 'Command: `bench/sandbox.sh --markdown` (N=%s)  \nHost: %s  \n' "$N" "$host"
  printf 'bwrap: %s; berth: `%s`  \n\n' "$("$BWRAP" --version)" "$BERTH"
  printf '| command (/bin/true) | n | mean ms | median ms | p90 ms | median / bwrap | p90 / bwrap |\n'
  printf '|---|--:|--:|--:|--:|--:|--:|\n'
else
  printf '\nhost: %s\n\n%-48s %4s %9s %9s %9s %13s %11s\n' "$host" command n mean median p90 \
    "median/bwrap" "p90/bwrap"
fi
for i in "${!ROW_NAME[@]}"; do
  read -r mean median p90 < <(stats "$TMP/row.$i")
  ratio=$(awk -v a="$median" -v b="$bw_median" 'BEGIN { printf "%.2fx", a / b }')
  ratio90=$(awk -v a="$p90" -v b="$bw_p90" 'BEGIN { printf "%.2fx", a / b }')
  if ((MARKDOWN)); then
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "${ROW_NAME[i]}" "${ROW_N[i]}" "$mean" "$median" \
      "$p90" "$ratio" "$ratio90"
  else
    printf '%-48s %4s %9s %9s %9s %13s %11s\n' "${ROW_NAME[i]}" "${ROW_N[i]}" "$mean" "$median" "$p90" \
      "$ratio" "$ratio90"
  fi
done
host_load=$(cut -d' ' -f1-3 /proc/loadavg)
if ((MARKDOWN)); then printf '\nLoad average at the end: %s\n' "$host_load"; else printf '\nload average at the end: %s\n' "$host_load"; fi
((PODMAN_N == 0 || PODMAN_OK)) || printf '\n(podman row skipped: %s)\n' "$PODMAN_NOTE"
exit 0
