#!/usr/bin/env bash
# bench/slurm.sh — end-to-end latency of `srun --container=BUNDLE /bin/true`
# through Slurm 22.05 with berth and with runc, measured in the same run.
#
# Usage: bench/slurm.sh            (as root; BENCH_N iterations per runtime, default 10)
#
# Two private one-node clusters (tests/clients/slurm-cluster.sh: own munge,
# ports in their own network namespace, slurmd in a cgroup namespace below
# this shell's cgroup), one calling berth, one runc, both through the
# oci.conf of README.md. The calls alternate between them (swapping which
# goes first each iteration), so both see the same machine. Prints mean and
# median per runtime and the ratio berth/runc; nothing is asserted.
set -euo pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${BENCH_N:-10}
BERTH=${BERTH:-$REPO/berth}
RUNC=${RUNC:-$(command -v runc || echo /usr/sbin/runc)}
CLUSTER=$REPO/tests/clients/slurm-cluster.sh

WORK=$(mktemp -d /tmp/berth-bench-slurm.XXXXXX)
chmod 755 "$WORK"
cleanup() {
	"$CLUSTER" stop "$WORK/berth" || true
	"$CLUSTER" stop "$WORK/runc" || true
	rm -rf "$WORK"
}
trap cleanup EXIT

"$REPO/tests/fixtures/busybox-rootfs.sh" "$WORK/bundle/rootfs" >/dev/null
(cd "$WORK/bundle" && "$BERTH" spec)
jq '.process.terminal = false' "$WORK/bundle/config.json" >"$WORK/c" && mv "$WORK/c" "$WORK/bundle/config.json"
mkdir "$WORK/berth" "$WORK/runc"
"$CLUSTER" start "$WORK/berth" "$BERTH"
"$CLUSTER" start "$WORK/runc" "$RUNC"

# one RT: milliseconds of one srun --container /bin/true on RT's cluster.
one() {
	local t0 t1
	t0=$EPOCHREALTIME
	"$CLUSTER" client "$WORK/$1" srun --container="$WORK/bundle" /bin/true </dev/null >/dev/null 2>&1 ||
		{ echo "srun with $1 failed" >&2; exit 1; }
	t1=$EPOCHREALTIME
	echo "$t0 $t1" | awk '{ printf "%.1f\n", ($2 - $1) * 1000 }'
}

one berth >/dev/null # warm-up: caches, first job of each cluster
one runc >/dev/null
for i in $(seq "$N"); do
	if [ $((i % 2)) -eq 1 ]; then
		one berth >>"$WORK/berth.ms"
		one runc >>"$WORK/runc.ms"
	else
		one runc >>"$WORK/runc.ms"
		one berth >>"$WORK/berth.ms"
	fi
done

stats() {
	sort -n "$1" | awk '{ v[NR] = $1; s += $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.1f %.1f\n", s / NR, m }'
}
read -r bm bmed < <(stats "$WORK/berth.ms")
read -r rm rmed < <(stats "$WORK/runc.ms")
echo "srun --container /bin/true, N=$N each, alternating (ms):"
printf '  %-6s mean %7.1f  median %7.1f\n' berth "$bm" "$bmed" runc "$rm" "$rmed"
awk -v a="$bm" -v b="$rm" -v c="$bmed" -v d="$rmed" \
	'BEGIN { printf "  ratio berth/runc: mean %.2f, median %.2f\n", a / b, c / d }'
