#!/usr/bin/env bash
# bench/bench.sh — time berth against runc in one run, on one bundle, and print ratios.
#
# Usage: bench/bench.sh [--markdown] [--help]
#
# Environment:
#   BERTH        berth binary (default: <repo>/berth). BERTH=runc gives a runc-vs-runc dry run.
#   RUNC         runc binary (default: runc from PATH)
#   BENCH_N      iterations per latency row (default 50)
#   BENCH_SEQ    runs in the "sequential runs" block (default 100)
#   BENCH_RSS_N  iterations for the peak-RSS row (default 10)
#   BENCH_TMPDIR where the bundle goes (default: $TMPDIR or /tmp)
#   BENCH_STATEDIR where the --root dirs go (default: /run, the tmpfs both runtimes
#                use by default: /run/runc and /run/berth)
#   BENCH_NET_N  iterations per row of the networking section (default BENCH_N; 0 skips it)
#   RELBENCH_SEQ/RELBENCH_PAR/RELBENCH_ROUNDS  the load section (bench/reliability.sh; SEQ=0 skips it)
#   BENCH_SANDBOX_N iterations per row of the sandbox section (default BENCH_N; 0 skips it)
#   BENCH_IMAGE  0 skips the images section (bench/image.sh; its own variables, e.g.
#                BENCH_IMAGE_SCALE=25 for a quicker, smaller image, are passed through)
#
# Every figure is measured for both runtimes in the same run, alternating berth and runc each
# iteration (and swapping which goes first), so both see the same machine conditions. Ratios are
# printed, never asserted: the exit status is 0 whatever the figures, non-zero only when a
# runtime fails to run the container (its output is printed).
#
# Adding a row: see the "rows" section at the bottom. A latency row is one call:
#   bench_pair "exec /bin/true" --setup start_sleeper --teardown stop_sleeper -- \
#       '{RUNTIME}' exec '{CID}' /bin/true
# Placeholders (quote them, as in the rows below), expanded per runtime and iteration:
#   {RUNTIME} -> the runtime binary followed by --root DIR (several words)
#   {BIN} {ROOT} {BUNDLE} {ID} (fresh per iteration) {CID} (set by a --setup hook) {RT} (berth|runc)
# The command may also be a shell function; inside it, `rt ARGS...` runs the current runtime
# with its --root, and $CUR_RT / $CUR_ID / $BUNDLE are set.

# shellcheck disable=SC2317,SC2016 # SC2317: functions passed as commands look unreachable; SC2016: Markdown backticks
set -uo pipefail
export LC_ALL=C # EPOCHREALTIME must use '.' as the decimal separator

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MARKDOWN=0
CMDLINE="bench/bench.sh${*:+ $*}"

usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

for arg in "$@"; do
  case "$arg" in
    --markdown) MARKDOWN=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

N=${BENCH_N:-50}
SEQ=${BENCH_SEQ:-100}
RSS_N=${BENCH_RSS_N:-10}
for v in N SEQ RSS_N; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: BENCH_$v must be a positive integer" >&2; exit 2; }
done

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench.sh: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- dependencies and runtimes

if [[ -x $REPO/scripts/deps.sh ]]; then
  "$REPO/scripts/deps.sh" bench >&2 || log "warning: scripts/deps.sh bench failed; continuing with what is installed"
elif [[ -f $REPO/scripts/deps.sh ]]; then
  sh "$REPO/scripts/deps.sh" bench >&2 || log "warning: scripts/deps.sh bench failed; continuing with what is installed"
fi

resolve() { # resolve NAME-OR-PATH -> absolute path of an executable, or nothing
  local p
  p=$(command -v -- "$1" 2>/dev/null) || return 1
  [[ $p == /* && -x $p ]] || return 1
  printf '%s\n' "$p"
}

declare -A BIN=([reference]='') ROOT=([reference]='')
BIN[berth]=$(resolve "${BERTH:-$REPO/berth}") ||
  die "berth binary '${BERTH:-$REPO/berth}' not found or not executable (build it with make, or try BERTH=runc for a dry run)"
BIN[runc]=$(resolve "${RUNC:-runc}") || die "runc '${RUNC:-runc}' not found (scripts/deps.sh bench installs it)"
BUSYBOX=$(resolve busybox) || die "busybox not found (apt-get install busybox-static)"
GNU_TIME=/usr/bin/time
[[ -x $GNU_TIME ]] || die "$GNU_TIME not found (apt-get install time)"
for tool in jq unshare; do resolve "$tool" >/dev/null || die "$tool not found"; done
[[ -n ${EPOCHREALTIME:-} ]] || die "bash ${BASH_VERSION} has no \$EPOCHREALTIME (bash >= 5 needed)"
[[ $(id -u) -eq 0 ]] || log "warning: not root; the runtimes will probably fail"

RUNTIMES=(berth runc)

# ---------------------------------------------------------------- temp dir, bundle, cleanup

TMP=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/berth-bench.XXXXXX") || die "mktemp failed"
OUT=$TMP/out # output of the last timed command (overwritten each time)
ROOTFS=$TMP/rootfs
BUNDLE=$TMP/bundle
STATE=$(mktemp -d "${BENCH_STATEDIR:-/run}/berth-bench-state.XXXXXX") || die "mktemp failed"
for r in "${RUNTIMES[@]}"; do ROOT[$r]=$STATE/root-$r; mkdir -p "${ROOT[$r]}"; done

cleanup() {
  local r dir
  trap - EXIT INT TERM HUP
  declare -F podman_cleanup >/dev/null && podman_cleanup
  for r in "${RUNTIMES[@]}"; do
    # Both runtimes keep one state directory per container under --root, named by its ID.
    for dir in "${ROOT[$r]}"/*/; do
      [[ -d $dir ]] || continue
      dir=${dir%/}
      "${BIN[$r]}" --root "${ROOT[$r]}" delete --force "${dir##*/}" </dev/null >/dev/null 2>&1 || true
    done
  done
  rm -rf -- "$TMP" "$STATE"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

# make_rootfs DIR: a busybox-static root filesystem
make_rootfs() {
  local d=$1 a
  mkdir -p "$d"/{bin,dev,proc,sys,tmp,etc,root}
  cp "$BUSYBOX" "$d/bin/busybox"
  for a in true false sh sleep echo cat ls ps; do ln -sf busybox "$d/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$d/etc/passwd"
  echo 'root:x:0:' >"$d/etc/group"
}

# make_bundle DIR [JQ-FILTER]: config.json from `runc spec`, terminal off, args /bin/true,
# root.path pointing at the shared $ROOTFS; the optional jq filter adjusts it further (e.g.
# '.linux.resources.memory.limit = 67108864' for a cgroup-limits row).
make_bundle() {
  local d=$1 extra=${2:-.}
  mkdir -p "$d"
  (cd "$d" && "${BIN[runc]}" spec) || die "runc spec failed in $d"
  jq --arg root "$ROOTFS" \
    ".process.terminal = false | .process.args = [\"/bin/true\"] | .root.path = \$root | $extra" \
    "$d/config.json" >"$d/config.json.new" || die "jq failed on $d/config.json"
  mv "$d/config.json.new" "$d/config.json"
}

make_rootfs "$ROOTFS"
make_bundle "$BUNDLE"
# The same with memory, cpu and pids limits (issue: cgroup setup cost).
LIMITS=$TMP/bundle-limits
make_bundle "$LIMITS" '.linux.resources.memory = {"limit": 268435456}
  | .linux.resources.cpu = {"quota": 50000, "period": 100000, "shares": 512}
  | .linux.resources.pids = {"limit": 128}'

# A long-running container to exec into.
SLEEPER=$TMP/bundle-sleeper
make_bundle "$SLEEPER" '.process.args = ["/bin/sleep", "100000"]'

# ---------------------------------------------------------------- measurement core

CUR_RT='' CUR_ID='' SEQNO=0 US=0
CMD=() ORD=()
declare -A CIDS=() # per-runtime container ID a --setup hook may create (exposed as {CID})

# rt ARGS...: run the current runtime with its own --root
rt() { "${BIN[$CUR_RT]}" --root "${ROOT[$CUR_RT]}" "$@"; }

# expand WORDS... -> CMD array, placeholders replaced for $CUR_RT / $CUR_ID
expand() {
  local w
  CMD=()
  for w in "$@"; do
    case "$w" in
      '{RUNTIME}') CMD+=("${BIN[$CUR_RT]}" --root "${ROOT[$CUR_RT]}") ;;
      *'{'*'}'*)
        w=${w//'{BIN}'/${BIN[$CUR_RT]}}
        w=${w//'{ROOT}'/${ROOT[$CUR_RT]}}
        w=${w//'{BUNDLE}'/$BUNDLE}
        w=${w//'{ID}'/$CUR_ID}
        w=${w//'{CID}'/${CIDS[$CUR_RT]:-}}
        w=${w//'{RT}'/$CUR_RT}
        CMD+=("$w")
        ;;
      *) CMD+=("$w") ;;
    esac
  done
}

# fail LABEL STATUS: print the failing command and its output, then exit 1 (cleanup runs)
fail() {
  {
    printf '\nbench.sh: "%s" failed (exit %s) with %s\n' "$1" "$2" "${CUR_RT:-?}"
    printf '  command:'; printf ' %q' "${CMD[@]}"; printf '\n'
    printf '  output:\n'; sed 's/^/    /' "$OUT"
  } >&2
  exit 1
}

# set_rt RT: select the runtime and a fresh container ID for the next operation
set_rt() {
  CUR_RT=$1
  SEQNO=$((SEQNO + 1))
  CUR_ID=bench-$$-$1-$SEQNO
}

# run_cmd LABEL: run CMD once, stdin /dev/null, output to $OUT; exit via fail() if it fails
run_cmd() {
  "${CMD[@]}" </dev/null >"$OUT" 2>&1 || fail "$1" "$?"
}

# time_cmd LABEL WORDS...: expand and run once; US = wall time in microseconds, taken from
# $EPOCHREALTIME around the command only (no fork for the clock)
time_cmd() {
  local label=$1 t0 t1 rc
  shift
  expand "$@"
  t0=$EPOCHREALTIME
  "${CMD[@]}" </dev/null >"$OUT" 2>&1
  rc=$?
  t1=$EPOCHREALTIME
  ((rc == 0)) || fail "$label" "$rc"
  US=$((10#${t1/./} - 10#${t0/./}))
}

# stats NUMBERS...: print "median p90" (median averages the middle pair; p90 by nearest rank)
stats() {
  printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 }
    END { if (NR == 0) { print "nan nan"; exit }
          m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
          k = int(0.9 * NR); if (k < 0.9 * NR) k++
          print m, v[k] }'
}

# scale VALUE DIVISOR DECIMALS: VALUE / DIVISOR, formatted
scale() { awk -v v="$1" -v d="$2" -v p="$3" 'BEGIN { printf "%.*f", p, v / d }'; }

ROW_NAME=() ROW_B=() ROW_R=() ROW_UNIT=() ROW_NOTE=()
# add_row NAME UNIT BERTH RUNC [NOTE]   (RUNC empty: reference row, no ratio)
add_row() { ROW_NAME+=("$1"); ROW_UNIT+=("$2"); ROW_B+=("$3"); ROW_R+=("$4"); ROW_NOTE+=("${5:-}"); }

# order I: set ORD to the runtimes in the order to use on iteration I (swapped every iteration)
order() { if (($1 % 2)); then ORD=(runc berth); else ORD=(berth runc); fi; }

# bench_pair NAME [--n N] [--p90] [--warmup K] [--setup FN] [--teardown FN] [--] WORDS...
#   Times WORDS (placeholders expanded; may be a shell function) N times per runtime (default
#   BENCH_N), berth and runc alternating every iteration, after K untimed warm-up rounds
#   (default 1). Adds a "NAME, median" row (and "NAME, p90" with --p90), in ms.
#   --setup/--teardown FN run once per runtime, untimed, with $CUR_RT set and rt() usable; a
#   setup hook may set CIDS[$CUR_RT] for {CID}. Leftover containers are removed at exit anyway.
bench_pair() {
  local name=$1 n=$N p90=0 warm=1 setup='' teardown='' i r
  local -a sb=() sr=() mb mr
  shift
  while (($#)); do
    case "$1" in
      --n) n=$2; shift 2 ;;
      --p90) p90=1; shift ;;
      --warmup) warm=$2; shift 2 ;;
      --setup) setup=$2; shift 2 ;;
      --teardown) teardown=$2; shift 2 ;;
      --) shift; break ;;
      *) break ;;
    esac
  done
  log "$name: $n iterations per runtime"
  if [[ -n $setup ]]; then for r in "${RUNTIMES[@]}"; do set_rt "$r"; "$setup"; done; fi
  for ((i = 0; i < warm; i++)); do
    order "$i"
    for r in "${ORD[@]}"; do set_rt "$r"; time_cmd "$name" "$@"; done
  done
  for ((i = 0; i < n; i++)); do
    order "$i"
    for r in "${ORD[@]}"; do
      set_rt "$r"
      time_cmd "$name" "$@"
      if [[ $r == berth ]]; then sb+=("$US"); else sr+=("$US"); fi
    done
  done
  if [[ -n $teardown ]]; then for r in "${RUNTIMES[@]}"; do set_rt "$r"; "$teardown"; done; fi
  read -r -a mb < <(stats "${sb[@]}")
  read -r -a mr < <(stats "${sr[@]}")
  add_row "$name, median" ms "$(scale "${mb[0]}" 1000 2)" "$(scale "${mr[0]}" 1000 2)" "n=$n"
  if ((p90)); then
    add_row "$name, p90" ms "$(scale "${mb[1]}" 1000 2)" "$(scale "${mr[1]}" 1000 2)" "n=$n"
  fi
}

# bench_block NAME COUNT WORDS...: total wall time of COUNT back-to-back WORDS per runtime, in s.
#   Runs in halves, ABBA (berth, runc, runc, berth), so drift hits both runtimes alike; each
#   half follows one untimed warm-up run.
bench_block() {
  local name=$1 count=$2 k r j half t0 t1
  shift 2
  log "$name: $count back-to-back runs per runtime"
  local -A total=([berth]=0 [runc]=0)
  local -a abba=(berth runc runc berth)
  for k in 0 1 2 3; do
    r=${abba[k]}
    if ((k < 2)); then half=$(((count + 1) / 2)); else half=$((count / 2)); fi
    ((half > 0)) || continue
    set_rt "$r"; time_cmd "$name" "$@"
    t0=$EPOCHREALTIME
    for ((j = 0; j < half; j++)); do
      set_rt "$r"; expand "$@"; run_cmd "$name"
    done
    t1=$EPOCHREALTIME
    total[$r]=$((total[$r] + 10#${t1/./} - 10#${t0/./}))
  done
  add_row "$name, total" s "$(scale "${total[berth]}" 1e6 2)" "$(scale "${total[runc]}" 1e6 2)" "n=$count"
}

# bench_rss NAME WORDS...: peak RSS from GNU time %M (the largest process among the command and
#   the descendants it waited for), median of BENCH_RSS_N, in MiB. WORDS must be an executable.
bench_rss() {
  local name=$1 i r
  local -a sb=() sr=() mb mr
  shift
  log "$name: $RSS_N iterations per runtime"
  for ((i = 0; i < RSS_N; i++)); do
    order "$i"
    for r in "${ORD[@]}"; do
      set_rt "$r"; expand "$@"
      CMD=("$GNU_TIME" -f %M -o "$TMP/rss" "${CMD[@]}")
      run_cmd "$name"
      if [[ $r == berth ]]; then sb+=("$(tail -n 1 "$TMP/rss")"); else sr+=("$(tail -n 1 "$TMP/rss")"); fi
    done
  done
  read -r -a mb < <(stats "${sb[@]}")
  read -r -a mr < <(stats "${sr[@]}")
  add_row "$name, median" MiB "$(scale "${mb[0]}" 1024 1)" "$(scale "${mr[0]}" 1024 1)" "n=$RSS_N"
}

# bench_ref NAME WORDS...: a reference row with no runtime (e.g. the namespace floor), median
#   ms of BENCH_N after one warm-up run.
bench_ref() {
  local name=$1 i
  local -a s=() m
  shift
  log "$name: $N iterations"
  CUR_RT=reference
  time_cmd "$name" "$@"
  for ((i = 0; i < N; i++)); do time_cmd "$name" "$@"; s+=("$US"); done
  read -r -a m < <(stats "${s[@]}")
  add_row "$name, median" ms "$(scale "${m[0]}" 1000 2)" "" "n=$N"
}

# ---------------------------------------------------------------- operations

# create + start + delete --force of a /bin/true container, timed as one sequence
op_lifecycle() {
  rt create --bundle "$BUNDLE" "$CUR_ID" || return
  rt start "$CUR_ID" || return
  rt delete --force "$CUR_ID"
}

# --setup/--teardown for exec rows: one running container per runtime
start_sleeper() {
  rt run -d --bundle "$SLEEPER" "$CUR_ID" </dev/null >/dev/null 2>&1 || die "$CUR_RT: run -d of the exec target failed"
  CIDS[$CUR_RT]=$CUR_ID
}
stop_sleeper() { rt delete --force "${CIDS[$CUR_RT]}" </dev/null >/dev/null 2>&1; }

# ---------------------------------------------------------------- podman (end to end)

# podman_env: a private podman (vfs storage, no network, no registry) with both runtimes
# defined, and the bench rootfs loaded as an image. Returns 1 when podman is missing.
PODMAN_OK=0 LIBPOD_PARENT_WAS_THERE=0
podman_env() {
  command -v podman >/dev/null || return 1
  compgen -G '/sys/fs/cgroup/*/libpod_parent' >/dev/null && LIBPOD_PARENT_WAS_THERE=1
  local P=$TMP/podman nproc
  mkdir -p "$P"/{storage,run,tmp,net}
  nproc=$(ulimit -Hu)
  [[ $nproc == unlimited || $nproc -gt 4096 ]] && nproc=4096
  printf '[storage]\ndriver = "vfs"\ngraphroot = "%s/storage"\nrunroot = "%s/run"\n' "$P" "$P" >"$P/storage.conf"
  printf 'unqualified-search-registries = []\n' >"$P/registries.conf"
  cat >"$P/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=$nproc:$nproc"]
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
runtime_supports_json = ["berth", "runc"]
[engine.runtimes]
berth = ["${BIN[berth]}"]
runc = ["${BIN[runc]}"]
CONF
  export CONTAINERS_CONF=$P/containers.conf CONTAINERS_STORAGE_CONF=$P/storage.conf
  export CONTAINERS_REGISTRIES_CONF=$P/registries.conf TMPDIR=$P/tmp
  "$REPO/tests/clients/make-oci-image.sh" "$ROOTFS" "$P/image.tar" localhost/bench:latest >/dev/null 2>&1 &&
    podman load -i "$P/image.tar" >/dev/null 2>&1
}

# podman run --rm with the current runtime (podman's storage stays private via CONTAINERS_*)
op_podman() { podman --runtime "$CUR_RT" run --rm localhost/bench:latest /bin/true; }

podman_cleanup() {
  ((PODMAN_OK)) || return 0
  podman rm -a -f -t 0 >/dev/null 2>&1
  podman rmi -a -f >/dev/null 2>&1
  # podman's cgroupfs parent, if the bench's containers made it (empty groups only)
  ((LIBPOD_PARENT_WAS_THERE)) ||
    find /sys/fs/cgroup/*/libpod_parent -depth -type d -exec rmdir {} + 2>/dev/null
  return 0
}

# ---------------------------------------------------------------- report

# print_report: the table on stdout, plain text or (--markdown) Markdown for the README
print_report() {
  local i w=6 name berth_ver runc_ver host cpu
  local -a ratio=()
  for i in "${!ROW_NAME[@]}"; do
    ratio[i]=''
    if [[ -n ${ROW_R[i]} ]]; then
      ratio[i]=$(awk -v b="${ROW_B[i]}" -v r="${ROW_R[i]}" \
        'BEGIN { if (r > 0) printf "%.2fx", b / r; else print "n/a" }')
    fi
    name="${ROW_NAME[i]} (${ROW_UNIT[i]})"
    ((${#name} > w)) && w=${#name}
  done
  berth_ver=$("${BIN[berth]}" --version 2>/dev/null | head -n 1)
  runc_ver=$("${BIN[runc]}" --version 2>/dev/null | head -n 1)
  cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  host="$(uname -sr), $(nproc) CPUs${cpu:+, $cpu}"

  if ((MARKDOWN)); then
    printf '### berth vs runc, %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'Command: `%s`  \n' "$CMDLINE"
    printf 'Host: %s  \n' "$host"
    printf 'berth: `%s` (%s)  \n' "${BIN[berth]}" "${berth_ver:-no --version output}"
    printf 'runc: `%s` (%s)  \n' "${BIN[runc]}" "${runc_ver:-no --version output}"
    printf 'One busybox-static bundle running `/bin/true` for both; berth and runc alternate every iteration. Lower is better.\n\n'
    printf '| metric | berth | runc | berth/runc |\n|---|--:|--:|--:|\n'
    for i in "${!ROW_NAME[@]}"; do
      if [[ -n ${ROW_R[i]} ]]; then
        printf '| %s (%s, %s) | %s | %s | %s |\n' "${ROW_NAME[i]}" "${ROW_UNIT[i]}" \
          "${ROW_NOTE[i]}" "${ROW_B[i]}" "${ROW_R[i]}" "${ratio[i]}"
      else
        printf '| %s (%s, %s), reference | %s | | |\n' "${ROW_NAME[i]}" "${ROW_UNIT[i]}" \
          "${ROW_NOTE[i]}" "${ROW_B[i]}"
      fi
    done
  else
    printf '\nberth: %s (%s)\nrunc:  %s (%s)\nhost:  %s\n\n' \
      "${BIN[berth]}" "${berth_ver:-no --version output}" "${BIN[runc]}" "${runc_ver:-no --version output}" "$host"
    printf "%-${w}s  %10s  %10s  %10s\n" metric berth runc berth/runc
    printf "%-${w}s  %10s  %10s  %10s\n" "$(printf '%*s' "$w" '' | tr ' ' -)" ---------- ---------- ----------
    for i in "${!ROW_NAME[@]}"; do
      name="${ROW_NAME[i]} (${ROW_UNIT[i]})"
      if [[ -n ${ROW_R[i]} ]]; then
        printf "%-${w}s  %10s  %10s  %10s  %s\n" "$name" "${ROW_B[i]}" "${ROW_R[i]}" "${ratio[i]}" "${ROW_NOTE[i]}"
      else
        printf "%-${w}s  %10s  %10s  %10s  %s\n" "$name" "${ROW_B[i]}" "" "" "${ROW_NOTE[i]}, reference (no runtime)"
      fi
    done
    printf '\nLower is better; a ratio below 1.00x means berth is faster or smaller than runc.\n'
  fi
}

# ---------------------------------------------------------------- rows
# Add new rows here. Each call measures both runtimes, interleaved, and appends table rows.

bench_pair "run /bin/true" --p90 -- '{RUNTIME}' run --bundle '{BUNDLE}' '{ID}'
bench_pair "run /bin/true, memory+cpu+pids limits" -- '{RUNTIME}' run --bundle "$LIMITS" '{ID}'
bench_pair "create+start+delete --force" -- op_lifecycle
bench_pair "exec /bin/true into a running container" --setup start_sleeper --teardown stop_sleeper -- \
  '{RUNTIME}' exec '{CID}' /bin/true
if podman_env; then
  PODMAN_OK=1
  bench_pair "podman run --rm /bin/true (end to end)" --n "${BENCH_PODMAN_N:-10}" -- op_podman
else
  log "podman not available or its image failed to load: no podman row (scripts/deps.sh clients installs it)"
fi
bench_block "$SEQ x run /bin/true" "$SEQ" '{RUNTIME}' run --bundle '{BUNDLE}' '{ID}'
bench_rss "peak RSS of run /bin/true" '{RUNTIME}' run --bundle '{BUNDLE}' '{ID}'
bench_ref "namespace floor: unshare -pmnui --fork true" unshare -pmnui --fork /bin/true

print_report

# Networking: berth's --net bridge and CNI plugin against ip commands and the reference CNI
# plugins (no runc equivalent: runc has no networking); its own table, from bench/net.sh.
NET_N=${BENCH_NET_N:-$N}
if [[ $NET_N == 0 ]]; then
  log "networking section skipped (BENCH_NET_N=0)"
elif "${BIN[berth]}" --version 2>/dev/null | head -n 1 | grep -q '^runc'; then
  log "networking section skipped: BERTH is runc (no --net)"
else
  net_args=()
  ((MARKDOWN)) && net_args+=(--markdown)
  BERTH=${BIN[berth]} N=$NET_N "$REPO/bench/net.sh" "${net_args[@]}" || log "warning: bench/net.sh failed"
fi

# Load (issue #16): 1,000 sequential lifecycles and 100 parallel runs x 10 rounds, berth and
# runc, with what each left behind; its own table, from bench/reliability.sh.
if [[ ${RELBENCH_SEQ:-1000} != 0 ]]; then
  rel_args=()
  ((MARKDOWN)) && rel_args+=(--markdown)
  echo
  BERTH=${BIN[berth]} RUNC=${BIN[runc]} "$REPO/bench/reliability.sh" "${rel_args[@]}" ||
    log "warning: bench/reliability.sh failed"
fi

# berth sandbox against bubblewrap, unshare and podman run --rm; its own table, from
# bench/sandbox.sh.
SANDBOX_N=${BENCH_SANDBOX_N:-$N}
if [[ $SANDBOX_N == 0 ]]; then
  log "sandbox section skipped (BENCH_SANDBOX_N=0)"
elif "${BIN[berth]}" --version 2>/dev/null | head -n 1 | grep -q '^runc'; then
  log "sandbox section skipped: BERTH is runc (no sandbox)"
else
  sandbox_args=()
  ((MARKDOWN)) && sandbox_args+=(--markdown)
  BERTH=${BIN[berth]} N=$SANDBOX_N "$REPO/bench/sandbox.sh" "${sandbox_args[@]}" ||
    log "warning: bench/sandbox.sh failed"
fi

# Images: unpack, pull and a second container from the cached image, against tar, umoci and
# skopeo; its own table, from bench/image.sh.
if [[ ${BENCH_IMAGE:-1} == 0 ]]; then
  log "images section skipped (BENCH_IMAGE=0)"
elif "${BIN[berth]}" --version 2>/dev/null | head -n 1 | grep -q '^runc'; then
  log "images section skipped: BERTH is runc (no images)"
else
  image_args=()
  ((MARKDOWN)) && image_args+=(--markdown)
  BERTH=${BIN[berth]} "$REPO/bench/image.sh" "${image_args[@]}" || log "warning: bench/image.sh failed"
fi
exit 0
