#!/bin/sh
# The process tests/integration/corpus.bats runs in each replayed fixture, in
# place of the caller's command: it prints what the process sees, section by
# section, for the host to normalise and compare between berth and runc.
# busybox sh; reads /proc/self/* through the shell's own redirections where the
# value belongs to this process (a child would have had its caps recomputed
# by execve). Always exits 0: a difference shows in the output, not the status.

echo "== id"
id
echo "== status"
while IFS= read -r l; do
	case $l in
	Cap* | NoNewPrivs* | Seccomp* | Groups* | Umask*) echo "$l" ;;
	esac
done </proc/self/status
echo "== cwd"
pwd
echo "== hostname"
hostname
cat /proc/sys/kernel/domainname
echo "== personality"
uname -m
read -r p </proc/self/personality && echo "personality $p"
echo "== env"
env | grep -vE '^(PWD|SHLVL|_)=' | sort
echo "== limits"
cat /proc/self/limits
echo "== oom_score_adj"
cat /proc/self/oom_score_adj
echo "== cgroup limits"
for f in memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes \
	memory/memory.soft_limit_in_bytes memory/memory.swappiness memory/memory.kmem.limit_in_bytes \
	memory/memory.kmem.tcp.limit_in_bytes memory/memory.oom_control pids/pids.max \
	cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us cpu/cpu.shares cpuset/cpuset.cpus \
	blkio/blkio.weight net_cls/net_cls.classid net_prio/net_prio.ifpriomap \
	memory.max memory.swap.max pids.max cpu.max cpu.weight; do
	if [ -r "/sys/fs/cgroup/$f" ]; then
		echo "$f: $(tr '\n' ' ' <"/sys/fs/cgroup/$f")"
	fi
done
echo "== cgroup namespace"
# With a cgroup namespace every line ends in "/"; without, the host path.
while IFS=: read -r _ ctl path; do
	case $path in /) echo "$ctl: /" ;; *) echo "$ctl: (host path)" ;; esac
done </proc/self/cgroup | sort
echo "== dev"
for f in /dev/* /dev/*/*; do
	[ -e "$f" ] || [ -L "$f" ] || continue
	if [ -L "$f" ]; then
		echo "$f -> $(readlink "$f")"
	else
		stat -c '%n %F %a %u:%g %t:%T' "$f"
	fi
done
echo "== sysctl"
for f in net/ipv4/ping_group_range net/ipv4/ip_unprivileged_port_start kernel/shmmax; do
	echo "$f: $(cat "/proc/sys/$f" 2>&1)"
done
echo "== rootfs"
if touch /.corpus-probe-w 2>/dev/null; then echo "/ writable"; rm -f /.corpus-probe-w; else echo "/ read-only"; fi
echo "== syscalls"
for s in keyctl add_key unshare mount personality ptrace bpf; do
	echo "$s: $(/bin/syscall-probe "$s" 2>&1)"
done
echo "== mountinfo"
cat /proc/self/mountinfo
exit 0
