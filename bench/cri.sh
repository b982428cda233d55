#!/usr/bin/env bash
# bench/cri.sh — end-to-end latency of a Kubernetes pod start through containerd's CRI, with
# berth's runtime handler and runc's, measured in one run, and the ratio.
#
# Usage: bench/cri.sh [--markdown] [--help]
#
# Environment:
#   BERTH   berth binary (default: <repo>/berth); BERTH=runc gives a runc-vs-runc dry run
#   N       pod starts per handler (default: BENCH_N, else 10)
#
# The environment is tests/clients/cri.bats's (tests/clients/cri/cri_env.bash): a private
# containerd 1.6 with the CRI plugin in a throwaway network namespace and a mount namespace of
# its own, pods on berth-bridge, the pause image built from tests/clients/cri/pause.c; the
# handlers call the runtimes directly (no argv-logging wrapper). One pod start is what a kubelet
# waits for: RunPodSandbox (pause container + CNI ADD) + CreateContainer + StartContainer of one
# busybox container, until ContainerStatus says RUNNING. The pod is then stopped and removed
# (not timed). The handlers alternate every iteration, swapping which goes first. Printed,
# never asserted: the exit status is non-zero only when something fails to run.
set -uo pipefail
export LC_ALL=C

case ${1:-} in
--help | -h)
	sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 0
	;;
esac
markdown=no
[ "${1:-}" = --markdown ] && markdown=yes

repo=$(cd "$(dirname "$0")/.." && pwd)
n=${N:-${BENCH_N:-10}}
berth=${BERTH:-$repo/berth}
[ "$berth" = runc ] && berth=$(command -v runc)
runc_bin=$(command -v runc || echo /usr/sbin/runc)

# client_helpers.bash is written for bats: give it the variables it reads.
# shellcheck disable=SC2034
{
	BATS_TEST_DIRNAME=$repo/tests/clients
	BATS_RUN_TMPDIR=$(mktemp -d /tmp/berth-bench-cri.XXXXXX)
	RUNTIME=$berth
}
skip() {
	echo "bench/cri.sh: $*" >&2
	exit 1
}
# shellcheck source=tests/clients/client_helpers.bash
. "$repo/tests/clients/client_helpers.bash"
# shellcheck source=tests/clients/cri/cri_env.bash
. "$repo/tests/clients/cri/cri_env.bash"

cleanup() {
	cri_stop
	kill_ct_pids
	remove_pod_cgroups
	remove_ct
	rm -rf "$BATS_RUN_TMPDIR"
}

clients_setup_file containerd ctr containerd-shim-runc-v2 protoc grpc_python_plugin
trap cleanup EXIT
RUNTIME_WRAPPER=$berth
CRI_RUNC_WRAPPER=$runc_bin
export RUNTIME_WRAPPER CRI_RUNC_WRAPPER
cri_start || exit 1

pod=$(jq -cn --arg l "$CT/logs" --arg cg "$CRI_CG_PARENT/pod-@N@" '{
	metadata: {name: "bench-@N@", uid: "uid-@N@", namespace: "default"},
	hostname: "bench", log_directory: $l,
	linux: {cgroup_parent: $cg, security_context: {namespace_options: {pid: "CONTAINER"}}}}')
ctr=$(jq -cn --arg i "$IMAGE" '{metadata: {name: "app"}, image: {image: $i},
	command: ["sleep", "3600"], log_path: "app.log",
	linux: {security_context: {namespace_options: {pid: "CONTAINER"}}}}')
result=$("$CRI_BIN" bench-pod-start "$n" "$CRI_HANDLER" runc "$pod" "$ctr") || exit 1

b=$(jq -r --arg h "$CRI_HANDLER" '.median_ms[$h]' <<<"$result")
r=$(jq -r '.median_ms.runc' <<<"$result")
ratio=$(jq -r --arg h "$CRI_HANDLER" '.["ratio_to_" + $h].runc' <<<"$result")
bmin=$(jq -r --arg h "$CRI_HANDLER" '.min_ms[$h]' <<<"$result")
rmin=$(jq -r '.min_ms.runc' <<<"$result")
if [ "$markdown" = yes ]; then
	echo "Command: \`bench/cri.sh --markdown\` (N=$n)  "
	echo "berth: \`$berth\` ($("$berth" --version | head -n 1)), runc: \`$runc_bin\` ($("$runc_bin" --version | head -n 1))  "
	echo "containerd: $(containerd --version | awk '{ print $3 }'), handlers \`$CRI_HANDLER\` and \`runc\` (runc shim), pods on berth-bridge"
	echo
	echo "| pod start (RunPodSandbox + Create + Start, until RUNNING) | $CRI_HANDLER | runc | runc/$CRI_HANDLER |"
	echo "|---|--:|--:|--:|"
	echo "| median, ms | $b | $r | $ratio |"
	echo "| min, ms | $bmin | $rmin | |"
else
	echo "pod start through CRI (N=$n, handlers alternating): $CRI_HANDLER median ${b} ms (min ${bmin}), runc median ${r} ms (min ${rmin}); runc/$CRI_HANDLER = $ratio (above 1: berth faster)"
fi
