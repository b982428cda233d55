#!/bin/sh
# make check-v2: berth's own cgroup integration tests, with the linux
# backend, inside a microVM guest on a pure cgroup v2 hierarchy
# (cgroup_no_v1=all; this host's hybrid layout never lets the v2 code
# enforce anything). The guest's rootfs is the host's / (bound in a
# private mount namespace, read-only over virtio-fs) with tmpfs /tmp and
# /run, so it runs this worktree's berth, bats and fixtures. The process stays in the guest's root cgroup
# (cgroupsPath "/") so berth can nest controllers below it.
# Usage: scripts/check-v2.sh [BATS FILES...]   (default: the three cgroup files)
# CHECK_V2_FILTER=REGEX runs only the tests whose names match (bats -f):
# make check runs a bounded subset that way (tests/integration/microvm.bats).
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
files=${*:-tests/integration/cgroups.bats tests/integration/cgroups_resources.bats tests/integration/cgroups_verbs.bats}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bundle"
cd "$tmp/bundle"
"$src/berth" spec
filter=
case ${CHECK_V2_FILTER:-} in
*\'*) echo "check-v2: CHECK_V2_FILTER must not hold a single quote" >&2; exit 1 ;;
?*) filter="-f '$CHECK_V2_FILTER'" ;;
esac
script="cd $src && BERTH=$src/berth TMPDIR=/tmp bats $filter $files"
# The tests run as the guest's full root (berth's test suite needs every
# capability: chown, mounts, namespaces), as they run on the host.
caps='CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_FSETID CAP_KILL CAP_SETGID CAP_SETUID CAP_SETPCAP CAP_LINUX_IMMUTABLE CAP_NET_BIND_SERVICE CAP_NET_BROADCAST CAP_NET_ADMIN CAP_NET_RAW CAP_IPC_LOCK CAP_IPC_OWNER CAP_SYS_MODULE CAP_SYS_RAWIO CAP_SYS_CHROOT CAP_SYS_PTRACE CAP_SYS_PACCT CAP_SYS_ADMIN CAP_SYS_BOOT CAP_SYS_NICE CAP_SYS_RESOURCE CAP_SYS_TIME CAP_SYS_TTY_CONFIG CAP_MKNOD CAP_LEASE CAP_AUDIT_WRITE CAP_AUDIT_CONTROL CAP_SETFCAP CAP_MAC_OVERRIDE CAP_MAC_ADMIN CAP_SYSLOG CAP_WAKE_ALARM CAP_BLOCK_SUSPEND CAP_AUDIT_READ CAP_PERFMON CAP_BPF CAP_CHECKPOINT_RESTORE'
jq --arg s "$script" --arg caps "$caps" '
  ($caps | split(" ")) as $all
  | .root = {"path": "rootfs", "readonly": true}
  | .process.capabilities = {"bounding": $all, "effective": $all, "permitted": $all}
  | .process.noNewPrivileges = false
  | del(.linux.seccomp)
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
