#!/bin/sh
# make check-v2: berth's own cgroup integration tests, with the linux
# backend, inside a microVM guest on a pure cgroup v2 hierarchy
# (cgroup_no_v1=all; this host's hybrid layout never lets the v2 code
# enforce anything). The guest's rootfs is the host's / (bound in a
# private mount namespace, read-only over virtio-fs) with tmpfs /tmp and
# /run, so it runs this worktree's berth, bats and fixtures. The process stays in the guest's root cgroup
# (cgroupsPath "/") so berth can nest controllers below it.
# Usage: scripts/check-v2.sh [BATS FILES...]   (default: the three cgroup files)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
files=${*:-tests/integration/cgroups.bats tests/integration/cgroups_resources.bats tests/integration/cgroups_verbs.bats}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bundle"
cd "$tmp/bundle"
"$src/berth" spec
script="cd $src && BERTH=$src/berth TMPDIR=/tmp bats $files"
jq --arg s "$script" '
  .root = {"path": "rootfs", "readonly": true}
  | .process.terminal = false
  | .process.args = ["/bin/sh", "-c", $s]
  | .process.env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"]
  | .linux.cgroupsPath = "/"
  | del(.linux.resources)
  | .mounts = [
      {"destination": "/proc", "type": "proc", "source": "proc"},
      {"destination": "/dev", "type": "devtmpfs", "source": "devtmpfs"},
      {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
       "options": ["newinstance", "ptmxmode=0666", "mode=0620"]},
      {"destination": "/dev/shm", "type": "tmpfs", "source": "shm"},
      {"destination": "/sys", "type": "sysfs", "source": "sysfs"},
      {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup"},
      {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"},
      {"destination": "/run", "type": "tmpfs", "source": "tmpfs"}]
  | .annotations = {"dev.berth.backend": "microvm", "dev.berth.vm.memory": "2048",
      "dev.berth.vm.cpus": "2", "dev.berth.vm.append": "cgroup_no_v1=all",
      "dev.berth.vm.boot_timeout": "120"}' config.json >config.new
mv config.new config.json
echo "check-v2: $files in a microVM (pure cgroup v2)"
mkdir rootfs
# The namespace goes with the run: nothing to unmount on the host.
rc=0
unshare -m --propagation private sh -c \
  'mount --rbind / rootfs && exec "$1" --root "$2" run "$3"' sh "$src/berth" "$tmp/state" \
  "check-v2-$$" || rc=$?
exit $rc
