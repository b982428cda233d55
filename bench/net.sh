#!/usr/bin/env bash
# bench/net.sh — what berth's container networking costs, against the same wiring done by ip
# commands and by Debian's reference CNI plugins, measured in one run, and print ratios.
#
# Usage: bench/net.sh [--markdown] [--help]
#
# Environment:
#   BERTH        berth binary (default: <repo>/berth)
#   N            iterations per row (default: BENCH_N, else 30)
#   BENCH_TMPDIR where the bundle and CNI data go (default: $TMPDIR or /tmp)
#
# Everything runs inside a throwaway network namespace that plays the host (made here, deleted at
# exit; the script re-enters itself there with nsenter --net): bridges, veths, addresses and
# nftables/iptables rules never touch the machine's own namespace, and no packet leaves it.
# Rows, each the median of N, the timed commands alternating every iteration:
#   (a) berth run /bin/true without network
#   (b) berth run --net bridge /bin/true; (b-a) is what the wiring adds (target <= 3 ms)
#   (c) the same wiring by ip commands, as a CNI-style script does it, around a berth create /
#       start / delete of a container without network (only the ip commands are timed): ip link
#       add veth, set netns, addr, link up, default route, bridge master + up; then ip link del
#   (d) Debian's reference CNI plugins (/usr/lib/cni/bridge with host-local IPAM, ipMasq on),
#       ADD then DEL against a fresh network namespace, invoked as a caller does (env + stdin)
#   (e) berth's CNI plugin (berth-bridge, a link to berth) ADD then DEL the same way, with a
#       config of the same shape (type berth-bridge)
# Ratios: (c)/(b-a) and (d)/(e), higher is better for berth (target >= 5x). Printed, never
# asserted: the exit status is 0 whatever the figures, non-zero only when something fails to run.

# shellcheck disable=SC2016 # Markdown backticks
set -uo pipefail
export LC_ALL=C # EPOCHREALTIME must use '.' as the decimal separator

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF=$REPO/bench/net.sh
MARKDOWN=0
for arg in "$@"; do
  case "$arg" in
    --markdown) MARKDOWN=1 ;;
    -h | --help) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "net.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

N=${N:-${BENCH_N:-30}}
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "net.sh: N must be a positive integer" >&2; exit 2; }

log() { printf 'bench-net: %s\n' "$*" >&2; }
die() { printf 'net.sh: %s\n' "$*" >&2; exit 1; }

resolve() { # resolve NAME-OR-PATH -> absolute path of an executable, or nothing
  local p
  p=$(command -v -- "$1" 2>/dev/null) || return 1
  [[ $p == /* && -x $p ]] || return 1
  printf '%s\n' "$p"
}

# ---------------------------------------------------------------- outside: the throwaway namespace

if [[ -z ${BERTH_NET_BENCH_NS:-} ]]; then
  [[ $(id -u) -eq 0 ]] || die "needs root (it makes network namespaces, bridges and veths)"
  for tool in ip nsenter jq busybox; do resolve "$tool" >/dev/null || die "$tool not found"; done
  [[ -n ${EPOCHREALTIME:-} ]] || die "bash ${BASH_VERSION} has no \$EPOCHREALTIME (bash >= 5 needed)"
  BERTH=$(resolve "${BERTH:-$REPO/berth}") || die "berth binary '${BERTH:-$REPO/berth}' not found (make berth)"
  NS=berth-bench-net-$$
  ip netns add "$NS" || die "ip netns add $NS failed"
  NS_INO=$(stat -L -c %i "/run/netns/$NS")
  rc=0
  BERTH_NET_BENCH_NS=$NS BERTH=$BERTH N=$N nsenter --net="/run/netns/$NS" bash "$SELF" "$@" || rc=$?
  ip netns delete "$NS" 2>/dev/null
  # berth's leases for that namespace (keyed by its identity, which the kernel may reuse)
  for d in /run/berth-net/*/; do
    [[ -d $d ]] || continue
    case $(basename "$d") in # "DEV-INODE", inode in hex ("4-f0000256"), or decimal
      *-"$(printf %x "$NS_INO")" | "$NS_INO" | *-"$NS_INO") rm -rf "$d" ;;
    esac
  done
  rmdir /run/berth-net 2>/dev/null
  exit "$rc"
fi

# ---------------------------------------------------------------- inside: the bench

[[ $(readlink /proc/self/ns/net) != "$(readlink /proc/1/ns/net)" ]] ||
  die "refusing to run in the machine's own network namespace"
ip link set lo up

TMP=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/berth-bench-net.XXXXXX") || die "mktemp failed"
STATE=$(mktemp -d /run/berth-bench-net-state.XXXXXX) || die "mktemp failed"
OUT=$TMP/out
ROOTFS=$TMP/rootfs
BUNDLE=$TMP/bundle
HOLDERS=()

cleanup() {
  local dir pid
  trap - EXIT INT TERM HUP
  for dir in "$STATE"/*/; do
    [[ -d $dir ]] || continue
    dir=${dir%/}
    "$BERTH" --root "$STATE" delete --force "${dir##*/}" </dev/null >/dev/null 2>&1
  done
  for pid in "${HOLDERS[@]}"; do kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  rm -rf -- "$TMP" "$STATE"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

mkdir -p "$ROOTFS"/{bin,dev,proc,sys,tmp,etc,root} "$BUNDLE"
cp "$(resolve busybox)" "$ROOTFS/bin/busybox"
for a in true sh sleep; do ln -sf busybox "$ROOTFS/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$ROOTFS/etc/passwd"
echo 'root:x:0:' >"$ROOTFS/etc/group"
(cd "$BUNDLE" && "$BERTH" spec) || die "berth spec failed"
jq --arg root "$ROOTFS" '.process.terminal = false | .process.args = ["/bin/true"] | .root.path = $root' \
  "$BUNDLE/config.json" >"$BUNDLE/config.json.new" && mv "$BUNDLE/config.json.new" "$BUNDLE/config.json"

SEQNO=0 US=0
CMD=()
# fail LABEL STATUS: print the failing command and its output, then exit 1 (cleanup runs)
fail() {
  {
    printf '\nnet.sh: "%s" failed (exit %s)\n' "$1" "$2"
    printf '  command:'; printf ' %q' "${CMD[@]}"; printf '\n'
    printf '  output:\n'; sed 's/^/    /' "$OUT"
  } >&2
  exit 1
}
# timed LABEL CMD...: run once, stdin /dev/null (unless redirected by CMD), output to $OUT;
# adds the wall time in microseconds to US
timed() {
  local label=$1 t0 t1 rc
  shift
  CMD=("$@")
  t0=$EPOCHREALTIME
  "$@" >"$OUT" 2>&1
  rc=$?
  t1=$EPOCHREALTIME
  ((rc == 0)) || fail "$label" "$rc"
  US=$((US + 10#${t1/./} - 10#${t0/./}))
}
# untimed LABEL CMD...
untimed() {
  CMD=("${@:2}")
  "${@:2}" >"$OUT" 2>&1 || fail "$1" "$?"
}

# stats NUMBERS...: print "median p90" (as bench.sh)
stats() {
  printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 }
    END { if (NR == 0) { print "nan nan"; exit }
          m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
          k = int(0.9 * NR); if (k < 0.9 * NR) k++
          print m, v[k] }'
}
median_ms() { local -a m; read -r -a m < <(stats "$@"); awk -v v="${m[0]}" 'BEGIN { printf "%.2f", v / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "n/a" }'; }

# ---------------------------------------------------------------- (a) (b) (c)

BERTH_SUBNET=10.88.200.0/24
IP_BRIDGE=benchbr0 IP_GW=10.88.201.1
untimed "bridge for the ip commands" ip link add "$IP_BRIDGE" type bridge
untimed "bridge address" ip addr add "$IP_GW/24" dev "$IP_BRIDGE"
untimed "bridge up" ip link set "$IP_BRIDGE" up

op_a() { timed "berth run" "$BERTH" --root "$STATE" run --bundle "$BUNDLE" "bench-$SEQNO"; }
op_b() {
  timed "berth run --net bridge" "$BERTH" --root "$STATE" run --bundle "$BUNDLE" \
    --net bridge --subnet "$BERTH_SUBNET" "bench-$SEQNO"
}
# (c): only the ip commands are timed; the container is made, started and removed around them.
# The unwiring (ip link del) runs before start, while the pair is still there: a /bin/true
# container's namespace, and the pair with it, is gone by the time a DEL would come.
op_c() {
  local id=bench-$SEQNO host=bthip$SEQNO pid addr=10.88.201.$((SEQNO % 200 + 2))
  untimed "berth create" "$BERTH" --root "$STATE" create --bundle "$BUNDLE" "$id"
  pid=$("$BERTH" --root "$STATE" state "$id" | jq -r .pid)
  timed "ip link add" ip link add "$host" type veth peer name ceth0
  timed "ip link set netns" ip link set ceth0 netns "$pid"
  timed "ip addr add" nsenter -t "$pid" -n ip addr add "$addr/24" dev ceth0
  timed "ip link set up" nsenter -t "$pid" -n ip link set ceth0 up
  timed "ip route add" nsenter -t "$pid" -n ip route add default via "$IP_GW"
  timed "ip link set master" ip link set "$host" master "$IP_BRIDGE" up
  timed "ip link del" ip link del "$host"
  untimed "berth start" "$BERTH" --root "$STATE" start "$id"
  until [[ $("$BERTH" --root "$STATE" state "$id" 2>/dev/null | jq -r .status) == stopped ]]; do :; done
  untimed "berth delete" "$BERTH" --root "$STATE" delete "$id"
}

HAVE_NET=1 WHY_NET=''
SEQNO=$((SEQNO + 1))
if ! "$BERTH" --root "$STATE" run --bundle "$BUNDLE" --net bridge --subnet "$BERTH_SUBNET" \
  "bench-$SEQNO" </dev/null >"$OUT" 2>&1; then
  HAVE_NET=0 WHY_NET="berth run --net bridge failed: $(tr '\n' ' ' <"$OUT" | cut -c1-100)"
fi

log "(a) run, (b) run --net bridge, (c) ip-command wiring: $N iterations each, alternating"
declare -a SA=() SB=() SC=()
for ((i = -1; i < N; i++)); do # i = -1: warm-up (makes berth0, the table, the lease dir)
  for op in $(if ((i % 2)); then echo a b c; else echo c b a; fi); do
    [[ $op != b ]] || ((HAVE_NET)) || continue
    SEQNO=$((SEQNO + 1)) US=0
    "op_$op"
    ((i < 0)) && continue
    case $op in a) SA+=("$US") ;; b) SB+=("$US") ;; c) SC+=("$US") ;; esac
  done
done
A=$(median_ms "${SA[@]}") C=$(median_ms "${SC[@]}") B=n/a ADDED=n/a
if ((HAVE_NET)); then
  B=$(median_ms "${SB[@]}")
  ADDED=$(awk -v a="$A" -v b="$B" 'BEGIN { printf "%.2f", b - a }')
fi

# ---------------------------------------------------------------- (d) (e): CNI ADD + DEL

# fresh_netns: a new network namespace held by a sleeping process; sets NETNS_PID
fresh_netns() {
  unshare --net sleep 100000 </dev/null >/dev/null 2>&1 &
  NETNS_PID=$!
  HOLDERS+=("$NETNS_PID")
  local mine
  mine=$(readlink /proc/self/ns/net)
  while [[ $(readlink "/proc/$NETNS_PID/ns/net" 2>/dev/null) == "$mine" ]]; do :; done
}
drop_netns() { kill -9 "$NETNS_PID" 2>/dev/null; wait "$NETNS_PID" 2>/dev/null; HOLDERS=("${HOLDERS[@]/$NETNS_PID/}"); }

# cni PLUGIN CONF COMMAND: the plugin as a runtime calls it
cni() {
  CNI_COMMAND=$3 CNI_CONTAINERID=bench-$SEQNO CNI_NETNS=/proc/$NETNS_PID/ns/net CNI_IFNAME=eth0 \
    CNI_PATH=$CNI_BIN:/usr/lib/cni "$1" <"$2"
}
op_cni() { # op_cni PLUGIN CONF LABEL
  fresh_netns
  timed "$3 ADD" cni "$1" "$2" ADD
  timed "$3 DEL" cni "$1" "$2" DEL
  drop_netns
}

CNI_BIN=$TMP/cni-bin
mkdir -p "$CNI_BIN"
ln -s "$BERTH" "$CNI_BIN/berth-bridge"
cni_conf() { # cni_conf TYPE BRIDGE SUBNET DATADIR
  jq -n --arg t "$1" --arg b "$2" --arg s "$3" --arg d "$4" '{cniVersion: "1.0.0", name: ("bench-" + $t),
    type: $t, bridge: $b, isGateway: true, ipMasq: true,
    ipam: {type: "host-local", subnet: $s, dataDir: $d}}'
}
cni_conf bridge cniref0 10.88.202.0/24 "$TMP/ipam-ref" >"$TMP/ref.conf"
cni_conf berth-bridge bthcni0 10.88.203.0/24 "$TMP/ipam-berth" >"$TMP/berth.conf"

HAVE_REF=0 HAVE_BERTH=0 WHY_REF='' WHY_BERTH=''
probe_cni() { # probe_cni PLUGIN CONF -> 0 when ADD and DEL work; $OUT holds the output
  local rc=0
  fresh_netns
  SEQNO=$((SEQNO + 1))
  cni "$1" "$2" ADD >"$OUT" 2>&1 && cni "$1" "$2" DEL >>"$OUT" 2>&1 || rc=1
  drop_netns
  return $rc
}
if [[ ! -x /usr/lib/cni/bridge || ! -x /usr/lib/cni/host-local ]]; then
  WHY_REF="no /usr/lib/cni/bridge (apt-get install containernetworking-plugins)"
elif probe_cni /usr/lib/cni/bridge "$TMP/ref.conf"; then HAVE_REF=1
else WHY_REF="reference bridge failed: $(tr '\n' ' ' <"$OUT" | cut -c1-100)"; fi
if probe_cni "$CNI_BIN/berth-bridge" "$TMP/berth.conf"; then HAVE_BERTH=1
else WHY_BERTH="berth-bridge failed: $(tr '\n' ' ' <"$OUT" | cut -c1-100)"; fi

declare -a SD=() SE=()
if ((HAVE_REF || HAVE_BERTH)); then
  log "(d) reference CNI bridge, (e) berth-bridge: ADD+DEL, $N iterations each, alternating"
  for ((i = 0; i < N; i++)); do
    for op in $(if ((i % 2)); then echo d e; else echo e d; fi); do
      SEQNO=$((SEQNO + 1)) US=0
      if [[ $op == d ]]; then
        ((HAVE_REF)) || continue
        op_cni /usr/lib/cni/bridge "$TMP/ref.conf" "reference bridge"
        SD+=("$US")
      else
        ((HAVE_BERTH)) || continue
        op_cni "$CNI_BIN/berth-bridge" "$TMP/berth.conf" berth-bridge
        SE+=("$US")
      fi
    done
  done
fi
D=n/a E=n/a
((HAVE_REF)) && D=$(median_ms "${SD[@]}")
((HAVE_BERTH)) && E=$(median_ms "${SE[@]}")

# ---------------------------------------------------------------- report

ROWS=(
  "(a) run /bin/true, no network|$A||"
  "(b) run /bin/true, --net bridge|$B|||$WHY_NET"
  "(b-a) wiring added to run vs (c) the same by ip commands|$ADDED|$C|$( [[ $ADDED != n/a ]] && ratio "$C" "$ADDED" || echo n/a)|target: b-a <= 3 ms, ratio >= 5x"
  "(e) berth-bridge vs (d) reference bridge+host-local, CNI ADD+DEL|$E|$D|$( [[ $D != n/a && $E != n/a ]] && ratio "$D" "$E" || echo n/a)|target >= 5x${WHY_BERTH:+; $WHY_BERTH}${WHY_REF:+; $WHY_REF}"
)
if ((MARKDOWN)); then
  printf '\n### berth networking, %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf 'berth: `%s` (%s); median of %s, in a throwaway network namespace. Lower ms is better; reference/berth above 1.0x means berth is faster.\n\n' \
    "$BERTH" "$("$BERTH" --version 2>/dev/null | head -n 1)" "$N"
  printf '| metric (ms, median) | berth | reference | reference/berth | note |\n|---|--:|--:|--:|---|\n'
  for r in "${ROWS[@]}"; do IFS='|' read -r n b rf ra no <<<"$r"; printf '| %s | %s | %s | %s | %s |\n' "$n" "$b" "$rf" "$ra" "$no"; done
else
  printf '\nberth networking (%s), median of %s, in a throwaway network namespace\n\n' "$BERTH" "$N"
  printf '%-62s  %8s  %9s  %15s\n' "metric (ms)" berth reference reference/berth
  printf '%-62s  %8s  %9s  %15s\n' "$(printf '%62s' '' | tr ' ' -)" -------- --------- ---------------
  for r in "${ROWS[@]}"; do
    IFS='|' read -r n b rf ra no <<<"$r"
    printf '%-62s  %8s  %9s  %15s  %s\n' "$n" "$b" "$rf" "$ra" "$no"
  done
  printf '\nLower ms is better; reference/berth above 1.0x means berth is faster.\n'
fi
exit 0
