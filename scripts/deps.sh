#!/bin/sh
# Installs, with apt-get, only the Debian packages berth needs that are missing.
# Usage: scripts/deps.sh [build|test|bench|parity|lint|clients|corpus|fuzz|all]   (default: all)
set -eu
want="${1:-all}"

build_pkgs="gcc libc6-dev make pkg-config libjansson-dev libcap-dev libseccomp-dev libmnl-dev libnftnl-dev curl libarchive-dev libcurl4-openssl-dev libssl-dev"
# qemu-system-x86 (with qemu-system-common's C virtiofsd), cpio and kmod
# (depmod), lz4 (the kernel payload): the microVM backend and `make vm-assets`.
test_pkgs="bats jq busybox-static util-linux iproute2 procps time nftables containernetworking-plugins slirp4netns zstd umoci attr docker-registry skopeo apache2-utils socat openssl python3 qemu-system-x86 cpio kmod lz4"
bench_pkgs="runc time containernetworking-plugins iptables bubblewrap"
lint_pkgs="clang-format clang-tidy cppcheck"
# Real clients for tests/clients: podman 4.3 (with conmon), containerd 1.6
# (ctr, containerd-shim-runc-v2), docker 20.10 (dockerd, docker; its managed
# containerd is the containerd package's) and buildah 1.28 (vfs storage, so
# no fuse-overlayfs); runc for parity; bsdutils has script(1), which gives
# `run -t` a controlling terminal. The CRI suite (tests/clients/cri.bats)
# talks gRPC from Debian's python3 (python3-grpcio, python3-protobuf) through
# stubs that protoc and grpc_python_plugin (protobuf-compiler,
# protobuf-compiler-grpc) generate at test time. slurm-wlm (slurmctld, slurmd, srun) and
# munge: tests/clients/slurm.bats and bench/slurm.sh run a private one-node
# Slurm 22.05 cluster (the packages' services are never started).
clients_pkgs="podman conmon containerd docker.io buildah runc uidmap bsdutils slurm-wlm munge python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc"
# tests/corpus/capture.sh (run by hand, not by make check): the real callers
# whose configs are captured. docker.io brings dockerd and docker-init (tini);
# catatonit is podman's --init; buildah calls the runtime for `buildah run`.
# The replay test (tests/integration/corpus.bats) needs only runc and jq.
corpus_pkgs="podman conmon containerd runc docker.io tini catatonit buildah uidmap"
# libFuzzer harnesses (make fuzz): clang 14, its fuzzer/sanitizer runtimes
# (libclang-rt-14-dev is only recommended by clang) and llvm-symbolizer.
fuzz_pkgs="clang-14 libclang-rt-14-dev llvm-14"

case "$want" in
  build) pkgs="$build_pkgs" ;;
  test) pkgs="$build_pkgs $test_pkgs $clients_pkgs" ;;
  bench) pkgs="$build_pkgs $test_pkgs $bench_pkgs $clients_pkgs" ;;
  parity) pkgs="$build_pkgs $test_pkgs runc" ;;
  lint) pkgs="$lint_pkgs" ;;
  clients) pkgs="$build_pkgs $test_pkgs $clients_pkgs" ;;
  corpus) pkgs="$build_pkgs $test_pkgs $corpus_pkgs" ;;
  fuzz) pkgs="$build_pkgs $fuzz_pkgs" ;;
  all) pkgs="$build_pkgs $test_pkgs $bench_pkgs" ;;
  *) echo "deps.sh: unknown set '$want' (build|test|bench|parity|lint|clients|corpus|fuzz|all)" >&2; exit 1 ;;
esac

missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: missing packages:$missing (run as root to install them)" >&2
  exit 1
fi
echo "deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || apt-get update
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null || \
  apt-get install -y --no-install-recommends $missing
