#!/usr/bin/env bash
# bench/image.sh — berth's images against the tools people use for the same jobs, one run, ratios.
#
# Usage: bench/image.sh [--markdown] [--help]      (root: drop_caches, overlay mounts)
#
# Environment:
#   BERTH             berth binary (default: <repo>/berth; berth-image beside it)
#   BENCH_IMAGE_SCALE size of the synthetic image in percent (default 100: 3 gzip layers,
#                     ~46,000 entries, ~240 MB compressed); smaller for a quick run
#   BENCH_IMAGE_N     iterations of the "second container" row (default 20)
#   BENCH_IMAGE_CACHE keep the generated layers in this directory and reuse them next time
#   BENCH_TMPDIR      where the work directory goes (default: $TMPDIR or /var/tmp)
#
# The image is synthetic and deterministic (bench/synth_layers.py, seeded; half random, half
# text-like content, so it compresses ~1.6x like real layers): layer 1 a tree of small and
# large files, symlinks and hardlinks; layers 2 and 3 their own trees plus overwrites,
# whiteouts and an opaque directory over layer 1. Rows, each measured once, every unpack from
# an empty directory after sync + drop_caches with the blobs read back into the page cache
# (the final writeback is not counted, for any tool):
#   unpack, 3 layers in order onto one directory:
#     tar -xzf of each layer; umoci unpack of the OCI layout; berth bundle create --copy of the
#     image in berth's store (the same work: every layer applied in order, whiteouts removing);
#     and berth's layers applied one after the other without decompressing the next ones
#     meanwhile (tests/image/unpack_layers, UNPACK_TMPDIR=none), which shows what the prefetch
#     brings
#   berth pull oci:LAYOUT into an empty image root (blobs copied and verified, every layer
#     unpacked into the layer cache, layers in parallel) against umoci unpack
#   pull from a local docker-registry on 127.0.0.1 (started here): berth pull (download, verify,
#     unpack into the cache) against skopeo copy docker://... oci:DIR (download and verify only)
#   second container from the cached image: berth bundle create (overlay) until the rootfs is
#     mounted and config.json written, median of BENCH_IMAGE_N, against the 5 ms target (berth
#     does it itself, without starting berth-image); beside it `berth --version`, berth's start
#   run --image of the (cached) busybox fixture against run -b of a bundle made from it, end to
#     end (create, start, wait, delete), median of BENCH_IMAGE_N each
# Ratios are printed, never asserted: exit 0 whatever the figures, non-zero only when a command
# fails (its output is printed).

# shellcheck disable=SC2016,SC2317 # SC2016: Markdown backticks; SC2317: cleanup runs from a trap
set -uo pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MARKDOWN=0
for arg in "$@"; do
  case "$arg" in
    --markdown) MARKDOWN=1 ;;
    -h | --help) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "image.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

SCALE=${BENCH_IMAGE_SCALE:-100}
N=${BENCH_IMAGE_N:-20}
for v in SCALE N; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "image.sh: BENCH_IMAGE_$v must be a positive integer" >&2; exit 2; }
done

log() { printf 'bench-image: %s\n' "$*" >&2; }
die() { printf 'image.sh: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "needs root (drop_caches, overlay mounts)"
BERTH=$(command -v "${BERTH:-$REPO/berth}") || die "berth '${BERTH:-$REPO/berth}' not found (make berth berth-image)"
[[ -x $(dirname "$BERTH")/berth-image ]] || die "no berth-image beside $BERTH (make berth-image)"
for tool in python3 gzip tar jq sha256sum umoci skopeo docker-registry curl; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/deps.sh bench installs it)"
done
[[ -n ${EPOCHREALTIME:-} ]] || die "bash ${BASH_VERSION} has no \$EPOCHREALTIME (bash >= 5 needed)"
make -C "$REPO" --no-print-directory tests/image/unpack_layers >/dev/null || die "make tests/image/unpack_layers failed"

W=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/var/tmp}}/berth-bench-image.XXXXXX") || die "mktemp failed"
REG_PID=''
cleanup() {
  trap - EXIT INT TERM HUP
  [[ -n $REG_PID ]] && kill -- "$REG_PID" 2>/dev/null && wait "$REG_PID" 2>/dev/null
  for b in "$W"/bundle-*; do [[ -d $b ]] && "$BERTH" bundle rm "$b" >/dev/null 2>&1; done
  rm -rf -- "$W"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP
OUT=$W/out.log

# ---------------------------------------------------------------- the image

LAYERS=${BENCH_IMAGE_CACHE:-$W/layers}/scale-$SCALE
mkdir -p "$LAYERS"
gen() {
  [[ -s $LAYERS/l$1.tar.gz ]] && return 0
  python3 "$REPO/bench/synth_layers.py" "$1" "$SCALE" | gzip -6n >"$LAYERS/l$1.tar.gz.new" &&
    mv "$LAYERS/l$1.tar.gz.new" "$LAYERS/l$1.tar.gz"
}
log "generating the synthetic image (scale $SCALE%) in $LAYERS"
gen 1 & gen 2 & gen 3 & wait
for l in 1 2 3; do [[ -s $LAYERS/l$l.tar.gz ]] || die "generating layer $l failed"; done
L=("$LAYERS"/l1.tar.gz "$LAYERS"/l2.tar.gz "$LAYERS"/l3.tar.gz)
"$REPO/tests/image/make_layout.sh" "$W/layout" bench "${L[@]}" || die "make_layout.sh failed"
SIZE_MB=$(du -cb "${L[@]}" | awk 'END { printf "%.0f", $1 / 1e6 }')
ENTRIES=$(for l in "${L[@]}"; do tar -tzf "$l"; done | wc -l)
log "image: 3 gzip layers, $SIZE_MB MB compressed, $ENTRIES entries"

# ---------------------------------------------------------------- measurement

# fresh: empty target directories, dirty data written back, caches dropped, blobs read back
fresh() {
  rm -rf "$W/out" "$W/umoci-bundle" "$W/bundle-copy" "$W/root-pull" "$W/skopeo-oci"
  mkdir "$W/out"
  sync
  echo 3 >/proc/sys/vm/drop_caches
  cat "${L[@]}" "$W"/layout/blobs/sha256/* "$W"/root/blobs/sha256/* >/dev/null 2>&1
}

# timed VAR CMD...: run once, VAR = wall seconds (3 decimals); exit with the output on failure
timed() {
  local var=$1 t0 t1 rc
  shift
  t0=$EPOCHREALTIME
  "$@" </dev/null >"$OUT" 2>&1
  rc=$?
  t1=$EPOCHREALTIME
  if ((rc != 0)); then
    printf 'image.sh: failed (exit %s):' "$rc" >&2; printf ' %q' "$@" >&2; printf '\n' >&2
    sed 's/^/    /' "$OUT" >&2
    exit 1
  fi
  printf -v "$var" '%s' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
}

untar_all() { local l; for l in "${L[@]}"; do tar -xzf "$l" -C "$W/out" || return; done; }
bi() { "$BERTH" --image-root "$@"; }

# The image in berth's store for the copy and overlay rows (not timed).
bi "$W/root" pull -q "oci:$W/layout:bench" >"$OUT" 2>&1 || { cat "$OUT"; die "berth pull failed"; }

log "unpack: tar -xzf"
fresh; timed T_TAR untar_all
log "unpack: umoci unpack"
fresh; timed T_UMOCI umoci unpack --image "$W/layout:bench" "$W/umoci-bundle"
log "unpack: berth bundle create --copy"
fresh; timed T_COPY bi "$W/root" bundle create --copy --image "oci:$W/layout:bench" "$W/bundle-copy"
log "unpack: berth, one layer after the other (no prefetch)"
fresh; timed T_SEQ env UNPACK_TMPDIR=none "$REPO/tests/image/unpack_layers" "$W/out" "${L[@]}"
log "pull oci:LAYOUT into an empty image root"
fresh; timed T_PULL bi "$W/root-pull" pull -q "oci:$W/layout:bench"
rm -rf "$W/out" "$W/umoci-bundle" "$W/bundle-copy" "$W/root-pull"

# ---------------------------------------------------------------- registry

T_RPULL=n/a T_SKOPEO=n/a WHY_REG=''
PORT=$((20000 + RANDOM % 20000))
printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n  secret: berth-bench\n' \
  "$W/registry" "$PORT" >"$W/registry.yml"
docker-registry serve "$W/registry.yml" >"$W/registry.log" 2>&1 &
REG_PID=$!
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/v2/" && break; sleep 0.1; done
if ! curl -s -o /dev/null "http://127.0.0.1:$PORT/v2/"; then
  WHY_REG="docker-registry did not start: $(head -c 200 "$W/registry.log")"
elif ! skopeo copy -q --dest-tls-verify=false "oci:$W/layout:bench" "docker://127.0.0.1:$PORT/bench:1" >"$OUT" 2>&1; then
  WHY_REG="skopeo push failed: $(head -c 200 "$OUT")"
else
  log "pull from the local registry: berth pull"
  fresh; timed T_RPULL bi "$W/root-pull" pull -q "127.0.0.1:$PORT/bench:1"
  log "pull from the local registry: skopeo copy"
  fresh; timed T_SKOPEO skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$PORT/bench:1" "oci:$W/skopeo-oci:bench"
  rm -rf "$W/root-pull" "$W/skopeo-oci"
fi

# ---------------------------------------------------------------- second container

log "second container from the cached image: bundle create (overlay), $N iterations"
declare -a MS=() LS=() RI=() RB=()
for ((i = 0; i <= N; i++)); do
  timed t bi "$W/root" bundle create --image "oci:$W/layout:bench" "$W/bundle-$i"
  findmnt "$W/bundle-$i/rootfs" >/dev/null || die "bundle-$i: rootfs is not mounted"
  ((i > 0)) && MS+=("$t") # the first one warms the caches
  "$BERTH" bundle rm "$W/bundle-$i" >"$OUT" 2>&1 || { cat "$OUT"; die "bundle rm failed"; }
  # The floor under it: berth starting, for a command that does nothing (the cached path
  # runs in berth itself, berth-image is not started).
  timed t "$BERTH" --version
  ((i > 0)) && LS+=("$t")
done

# End to end: run --image of the cached busybox fixture against run -b of a bundle made
# from it beforehand (the same rootfs, an overlay; both create, start, wait and delete).
log "run --image against run -b, $N iterations each"
"$REPO/tests/image/make-fixtures.sh" "$W/fx" >"$OUT" 2>&1 || { cat "$OUT"; die "make-fixtures.sh failed"; }
bi "$W/root" pull -q "oci:$W/fx/oci" >"$OUT" 2>&1 || { cat "$OUT"; die "pull of the fixture failed"; }
bi "$W/root" bundle create --rw --image "oci:$W/fx/oci" "$W/bundle-run" -- sh -c true >"$OUT" 2>&1 ||
  { cat "$OUT"; die "bundle create of the fixture failed"; }
for ((i = 0; i <= N; i++)); do
  timed t bi "$W/root" --root "$W/state" run --image "oci:$W/fx/oci" "ri$i" -- sh -c true
  ((i > 0)) && RI+=("$t")
  timed t "$BERTH" --root "$W/state" run -b "$W/bundle-run" "rb$i"
  ((i > 0)) && RB+=("$t")
done
median_ms() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f", m * 1000 }'; }
T_SECOND=$(median_ms "${MS[@]}")
T_FLOOR=$(median_ms "${LS[@]}")
T_RUNI=$(median_ms "${RI[@]}")
T_RUNB=$(median_ms "${RB[@]}")

# ---------------------------------------------------------------- report

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a" || b <= 0) print "n/a"; else printf "%.2fx", a / b }'; }
ROWS=(
  "unpack: tar -xzf, 3 layers in order|$T_TAR s||"
  "unpack: umoci unpack|$T_UMOCI s||"
  "unpack: berth bundle create --copy (next layers prefetched)|$T_COPY s|$(ratio "$T_TAR" "$T_COPY") tar, $(ratio "$T_UMOCI" "$T_COPY") umoci|target: >= 1x tar, >= 1.75x umoci"
  "unpack: berth, layers one after the other (no prefetch)|$T_SEQ s|$(ratio "$T_SEQ" "$T_COPY") of it, vs prefetch|what the prefetch brings"
  "berth pull oci:LAYOUT (copy+verify blobs, unpack into the cache)|$T_PULL s|$(ratio "$T_UMOCI" "$T_PULL") umoci|umoci unpack as the peer"
  "pull from local registry: skopeo copy docker:// oci:DIR|$T_SKOPEO s||download + verify only${WHY_REG:+; $WHY_REG}"
  "pull from local registry: berth pull|$T_RPULL s|$(ratio "$T_SKOPEO" "$T_RPULL") skopeo|berth also unpacks every layer"
  "second container from the cached image: rootfs ready|$T_SECOND ms|$(ratio 5 "$T_SECOND") target|target <= 5 ms; median of $N, bundle create (overlay)"
  "  of which the floor: berth --version (berth's start)|$T_FLOOR ms||median of $N; the rest is the work itself"
  "run --image of the cached busybox fixture, end to end|$T_RUNI ms|$(ratio "$T_RUNB" "$T_RUNI") run -b|median of $N"
  "run -b of a bundle made from it beforehand, end to end|$T_RUNB ms||median of $N; the peer"
)
HEAD="berth images, $(date -u '+%Y-%m-%d %H:%M UTC'): synthetic image of 3 gzip layers, $SIZE_MB MB compressed, $ENTRIES entries (scale $SCALE%); $(nproc) CPUs"
if ((MARKDOWN)); then
  printf '\n### %s\n\nCommand: `bench/image.sh`; berth: `%s`. One run per row. A ratio above 1.00x means berth is faster.\n\n' "$HEAD" "$BERTH"
  printf '| metric | time | peer/berth | note |\n|---|--:|--:|---|\n'
  for r in "${ROWS[@]}"; do IFS='|' read -r n t ra no <<<"$r"; printf '| %s | %s | %s | %s |\n' "$n" "$t" "$ra" "$no"; done
else
  printf '\n%s\n\n' "$HEAD"
  printf '%-66s  %10s  %-26s  %s\n' metric time peer/berth note
  printf '%-66s  %10s  %-26s  %s\n' "$(printf '%66s' '' | tr ' ' -)" ---------- -------------------------- ----
  for r in "${ROWS[@]}"; do
    IFS='|' read -r n t ra no <<<"$r"
    printf '%-66s  %10s  %-26s  %s\n' "$n" "$t" "$ra" "$no"
  done
  printf '\nOne run per row; a ratio above 1.00x means berth is faster than the peer.\n'
fi
exit 0
