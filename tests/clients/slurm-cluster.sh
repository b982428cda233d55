#!/bin/sh
# A one-node Slurm 22.05 cluster (munged, slurmctld, slurmd) in a private
# directory, calling an OCI runtime through oci.conf (tests/clients/slurm.bats).
#
#   slurm-cluster.sh start DIR RUNTIME   write the configs, start the daemons
#   slurm-cluster.sh client DIR CMD...   run a Slurm client (srun, sbatch, ...)
#   slurm-cluster.sh stop DIR            stop the daemons, remove their cgroups;
#                                        exits 1 naming whatever was left
#
# Everything lives under DIR: configs (DIR/etc: slurm.conf, cgroup.conf,
# oci.conf), munge key and socket, slurmctld state, slurmd spool, logs, pid
# files and the runtime's state root (DIR/oci-root/USER). Nothing of the host
# changes:
# - the daemons run in a network namespace of their own with only loopback
#   and a veth pair (their ports exist nowhere else; clients join it
#   with nsenter);
# - slurmd puts its cgroups at the top of each hierarchy, so the daemons run
#   in a cgroup namespace rooted at DIR's own cgroup (berth-slurm-<hash of DIR>,
#   made below the caller's cgroup in every v1 hierarchy) with the
#   hierarchies mounted again in a mount namespace of their own
#   (tests/fixtures/cgroup-remount.sh): slurmd's /slurm is really
#   <caller's cgroup>/berth-slurm-<hash>/slurm.
# Needs root, slurmctld, slurmd, slurm-client and munge (scripts/deps.sh
# clients) and a v1 or hybrid cgroup layout (Slurm 22.05's cgroup/v2 plugin
# needs systemd).
# SC2013: the cgroup paths listed in run/cgroups have no blanks.
# shellcheck disable=SC2013
set -eu

here=$(cd "$(dirname "$0")" && pwd)

die() {
	echo "slurm-cluster.sh: $*" >&2
	exit 1
}

# The v1 hierarchies: "MOUNTPOINT OWN-PATH" (the caller's group in each).
hierarchies() {
	awk '{
		for (i = 7; $i != "-"; i++) ;
		if ($(i + 1) == "cgroup" && $5 ~ "^/sys/fs/cgroup/[^/]+$") print $5, $(i + 3)
	}' /proc/self/mountinfo | while read -r mnt opts; do
		own=$(awk -F: -v o="$opts" '
			BEGIN { n = split(o, w, ","); for (i = 1; i <= n; i++) want[w[i]] = 1 }
			$2 != "" { m = split($2, c, ","); ok = 1
				for (i = 1; i <= m; i++) if (!(c[i] in want)) ok = 0
				if (ok) print $3 }' /proc/self/cgroup | head -n 1)
		echo "$mnt ${own%/}"
	done
}

write_configs() {
	dir=$1 runtime=$2 host=$(hostname -s)
	cat >"$dir/etc/slurm.conf" <<EOF
ClusterName=berthtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=6817
SlurmdPort=6818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/cgroup
TaskPlugin=task/cgroup
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
KillWait=2
InactiveLimit=0
MinJobAge=10
DefMemPerCPU=100
NodeName=$host NodeAddr=127.0.0.1 CPUs=2 RealMemory=1024 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
	cat >"$dir/etc/cgroup.conf" <<EOF
CgroupPlugin=cgroup/v1
CgroupMountpoint=/sys/fs/cgroup
CgroupAutomount=no
ConstrainCores=no
ConstrainDevices=no
ConstrainRAMSpace=yes
ConstrainSwapSpace=no
EOF
	# The runtime's commands, as Slurm's containers guide writes runc's
	# (README.md has this block, with /usr/local/bin/berth and /run/berth-slurm).
	cat >"$dir/etc/oci.conf" <<EOF
RunTimeQuery="$runtime --root=$dir/oci-root/%u state %n.%u.%j.%s.%t"
RunTimeKill="$runtime --root=$dir/oci-root/%u kill -a %n.%u.%j.%s.%t"
RunTimeDelete="$runtime --root=$dir/oci-root/%u delete --force %n.%u.%j.%s.%t"
RunTimeRun="$runtime --root=$dir/oci-root/%u run %n.%u.%j.%s.%t -b %b"
EOF
}

# Inside the namespaces (see start): the daemons, in the foreground.
daemons() {
	dir=$1
	ip link set lo up
	# getaddrinfo(AI_ADDRCONFIG), which Slurm binds its ports with, finds
	# nothing without an address besides loopback: a veth pair with both
	# ends in this namespace (no dummy driver on every kernel).
	ip link add slurm0 type veth peer name slurm1
	ip addr add 10.88.254.1/24 dev slurm0
	ip link set slurm0 up
	ip link set slurm1 up
	echo $$ >"$dir/run/holder.pid"
	/usr/sbin/munged -F --socket="$dir/munge/munge.sock" --key-file="$dir/munge/munge.key" \
		--log-file="$dir/log/munged.log" --pid-file="$dir/run/munged.pid" \
		--seed-file="$dir/munge/munged.seed" </dev/null >>"$dir/log/munged.out" 2>&1 &
	i=0
	until [ -S "$dir/munge/munge.sock" ] || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
	slurmctld -D -f "$dir/etc/slurm.conf" </dev/null >>"$dir/log/slurmctld.out" 2>&1 &
	slurmd -D -f "$dir/etc/slurm.conf" </dev/null >>"$dir/log/slurmd.out" 2>&1 &
	wait
}

munged_died() {
	[ -s "$1/run/munged.pid" ] && ! kill -0 "$(cat "$1/run/munged.pid")" 2>/dev/null
}

start() {
	dir=$1 runtime=$2
	[ -d "$dir" ] || die "$dir: no such directory"
	for b in munged slurmctld slurmd srun; do
		command -v "$b" >/dev/null || [ -x "/usr/sbin/$b" ] || die "$b is not installed"
	done
	[ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ] || die "needs a v1 or hybrid cgroup layout"
	# munged wants every directory above its socket searchable by all.
	chmod 755 "$dir"
	mkdir -p "$dir/etc" "$dir/munge" "$dir/state" "$dir/spool" "$dir/log" "$dir/run" "$dir/oci-root"
	head -c 1024 /dev/urandom >"$dir/munge/munge.key"
	chmod 600 "$dir/munge/munge.key"
	write_configs "$dir" "$runtime"
	name=berth-slurm-$(printf %s "$dir" | md5sum | cut -c1-8)
	: >"$dir/run/cgroups"
	hierarchies | while read -r mnt own; do
		cg=$mnt$own/$name
		mkdir "$cg"
		echo "$cg" >>"$dir/run/cgroups"
		if [ -f "$cg/cpuset.cpus" ]; then
			cat "$mnt$own/cpuset.cpus" >"$cg/cpuset.cpus"
			cat "$mnt$own/cpuset.mems" >"$cg/cpuset.mems"
		fi
	done
	# Into those cgroups, then the namespaces, then the daemons.
	# shellcheck disable=SC2016 # expanded by the inner shell
	setsid sh -c 'for cg in $(cat "$1/run/cgroups"); do echo $$ >"$cg/cgroup.procs"; done
		exec unshare -n "$2" --cgroupns "$0" _daemons "$1"' \
		"$here/slurm-cluster.sh" "$dir" "$here/../fixtures/cgroup-remount.sh" </dev/null >"$dir/log/holder.out" 2>&1 &
	end=$(($(date +%s) + 60))
	until client "$dir" sinfo -h -o %T 2>/dev/null | grep -qx idle; do
		if [ "$(date +%s)" -ge "$end" ] || munged_died "$dir"; then
			die "the cluster did not come up (logs in $dir/log): $(tail -n 1 "$dir/log/munged.out")"
		fi
		sleep 0.2
	done
}

client() {
	dir=$1
	shift
	[ -s "$dir/run/holder.pid" ] || die "no cluster in $dir"
	SLURM_CONF=$dir/etc/slurm.conf exec nsenter --net="/proc/$(cat "$dir/run/holder.pid")/ns/net" "$@"
}

# Waits up to 10 s for pid to exit, then kills it.
stop_pid() {
	kill "$1" 2>/dev/null || return 0
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	kill -9 "$1" 2>/dev/null || true
}

stop() {
	dir=$1 left=""
	for d in slurmd slurmctld munged; do
		[ -s "$dir/run/$d.pid" ] && stop_pid "$(cat "$dir/run/$d.pid")"
	done
	[ -s "$dir/run/holder.pid" ] && stop_pid "$(cat "$dir/run/holder.pid")"
	rm -f "$dir/run/holder.pid"
	[ -f "$dir/run/cgroups" ] || return 0
	# Anything still in the cluster's cgroups was left behind by a job.
	for cg in $(cat "$dir/run/cgroups"); do
		[ -d "$cg" ] || continue
		pids=$(find "$cg" -name cgroup.procs -exec cat {} + | sort -u)
		for p in $pids; do
			left="$left process $p ($({ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null))"
			kill -9 "$p" 2>/dev/null || true
		done
	done
	sleep 0.2
	for cg in $(cat "$dir/run/cgroups"); do
		[ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
		[ ! -d "$cg" ] || left="$left cgroup $cg"
	done
	rm -f "$dir/run/cgroups"
	[ -z "$left" ] || die "left behind:$left"
}

cmd=${1:-}
[ $# -ge 2 ] || die "usage: slurm-cluster.sh start DIR RUNTIME | client DIR CMD... | stop DIR"
shift
case $cmd in
start) start "$@" ;;
client) client "$@" ;;
stop) stop "$@" ;;
_daemons) daemons "$@" ;;
*) die "unknown command '$cmd'" ;;
esac
