#!/usr/bin/env bats
# microvm backend (dev.berth.backend=microvm, --backend microvm): the
# container's process runs in a QEMU microVM with Debian's cloud kernel,
# the rootfs over virtio-fs and berth's guest init as PID 1. Run, exit
# codes and signals match the linux backend; the guest has its own kernel
# and process table; the spec's limits hold inside the guest through
# berth's cgroup v2 code; bad input and a hung guest give one clear line;
# delete --force leaves no QEMU, virtiofsd, socket, cgroup or state.
#
# Needs the guest assets (`make vm-assets`, which downloads the kernel
# package once; BERTH_VM_ASSETS=DIR builds and uses them in DIR instead of
# /var/cache/berth/vm); skipped with the reason when they cannot be built. On
# this host guests run under TCG (~5 s a boot), so the file is kept small.

load helpers
load microvm_helpers

# A boot under TCG on a busy 2-core host can take ~10 s.
BERTH_TIMEOUT=90
MIB=1048576

setup_file() {
	microvm_requires
}

setup() {
	setup_bundle
	ID=vm-$BATS_TEST_NUMBER-$$
	microvm_config
	cat >"$BUNDLE/rootfs/alloc.sh" <<-'EOF2'
		awk 'BEGIN { s = "x"; for (i = 0; i < 26; i++) s = s s; print length(s) }'
	EOF2
}

teardown() {
	teardown_bundle
}

# linux_run ID: the same bundle with the linux backend (the peer to match).
linux_run() {
	update_config '.annotations["dev.berth.backend"] = "linux"'
	run_berth run "$1"
	update_config '.annotations["dev.berth.backend"] = "microvm"'
}

@test "microvm: run echo, exit 42 and signal deaths give the linux backend's output and status" {
	set_args sh -c 'echo "out $1"; echo err >&2; exit 42' sh hello
	run_berth run "$ID"
	[ "$status" -eq 42 ]
	[[ "$output" == *"out hello"* && "$output" == *err* ]]
	linux_run "$ID-linux"
	[ "$status" -eq 42 ]

	# The process is PID 1 of its namespace in both: its own SIGKILL is
	# ignored, one from the host (kill) is not.
	set_args sh -c 'kill -9 $$; echo survived'
	run_berth run "$ID-self"
	[ "$status" -eq 0 ] && [ "$output" = survived ]
	linux_run "$ID-self-linux"
	[ "$status" -eq 0 ] && [ "$output" = survived ]
	set_args sh -c 'sh -c "kill -9 \$\$"; echo "child $?"'
	run_berth run "$ID-child"
	[ "${lines[-1]}" = "child 137" ]
	linux_run "$ID-child-linux"
	[ "${lines[-1]}" = "child 137" ]
	[ -z "$(ls -A "$ROOT")" ] || fail "state left: $(ls "$ROOT")"
}

@test "microvm: the process sees its own kernel and no host process; stdin reaches it" {
	# Kernel threads are kthreadd's (2) children; the rest is user space.
	set_args sh -c 'uname -r; ps -o pid,ppid | awk "\$1 != 2 && \$2 != 2" | wc -l; ps -o comm; cat'
	status=0
	echo "from-stdin" | timeout -k 5 "$BERTH_TIMEOUT" "$BERTH" --root "$ROOT" run "$ID" >"$BATS_TEST_TMPDIR/out" 2>&1 || status=$?
	cat "$BATS_TEST_TMPDIR/out"
	[ "$status" -eq 0 ]
	mapfile -t lines <"$BATS_TEST_TMPDIR/out"
	[ "${lines[0]}" != "$(uname -r)" ] || fail "guest kernel is the host's"
	[[ "${lines[0]}" == *-cloud-amd64 ]]
	# Header, sh, ps, awk, wc: its own pid namespace, nothing of the host's
	# (nor the guest's init or kernel threads).
	[ "${lines[1]}" -le 5 ] || fail "${lines[1]} processes visible"
	refute grep -q -e bats -e "$(basename "$BERTH")" "$BATS_TEST_TMPDIR/out"
	grep -qx from-stdin "$BATS_TEST_TMPDIR/out"
}

@test "microvm: memory hog is OOM-killed at 32 MiB inside the guest (137), fine at 256 MiB" {
	set_args sh /alloc.sh
	update_config --argjson l $((32 * MIB)) '.linux.resources.memory = {"limit": $l}'
	run_berth run "$ID-small"
	[ "$status" -eq 137 ] || fail "under a 32 MiB limit: exit $status, wanted 137"
	update_config --argjson l $((256 * MIB)) '.linux.resources.memory = {"limit": $l}'
	run_berth run "$ID-big"
	[ "$status" -eq 0 ]
	[ "$output" = 67108864 ]
}

@test "microvm: pids.max holds in the guest's cgroup v2" {
	update_config '.linux.resources.pids = {"limit": 8}'
	set_args sh -c 'cat /sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)/pids.max
		i=0; while [ $i -lt 20 ]; do sleep 5 & i=$((i + 1)); done; echo all forked'
	run_berth run "$ID"
	[ "${lines[0]}" = 8 ]
	[[ "$output" == *"can't fork"* ]] || fail "no fork was refused"
	[[ "$output" != *"all forked"* ]]
}

@test "microvm: the CPU quota holds in the guest's cgroup v2: a busy loop is throttled to it" {
	update_config '.linux.resources.cpu = {"quota": 20000, "period": 100000}'
	set_args sh -c 'cg=/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)
		cat $cg/cpu.max
		timeout 3 sh -c "while :; do :; done"
		cat $cg/cpu.stat'
	run_berth run "$ID"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "20000 100000" ]
	local usage throttled
	usage=$(awk '$1 == "usage_usec" { print $2 }' <<<"$output")
	throttled=$(awk '$1 == "nr_throttled" { print $2 }' <<<"$output")
	# 20% of one CPU over 3 s is 0.6 s; unthrottled, the loop takes ~3 s.
	[ "${throttled:-0}" -gt 0 ] || fail "never throttled"
	[ "$usage" -le 1500000 ] || fail "the loop used $usage us of CPU in 3 s under a 20% quota"
}

# The bounded part of `make check-v2`: berth's own cgroup tests, with the
# linux backend, in a guest on pure cgroup v2 (this host is hybrid).
@test "cgroup v2 in a guest (make check-v2, bounded): OOM at the limit, CPU quota, pids.max, freeze" {
	local filter='^(memory: allocating beyond|cpu: quota 50000|pids: a fork bomb|pause freezes the container)'
	run timeout -k 5 900 env CHECK_V2_FILTER="$filter" "$BATS_TEST_DIRNAME/../../scripts/check-v2.sh" \
		tests/integration/cgroups.bats tests/integration/cgroups_verbs.bats
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -cE '^ok [0-9]+ ' <<<"$output")" -eq 4 ] || fail "4 tests expected to pass"
	! grep -q '# skip' <<<"$output" || fail "a test was skipped"
}

@test "microvm: create, state, start, kill (forwarded into the guest), delete" {
	set_args sh -c 'trap "echo got TERM > /term; exit 7" TERM; while :; do sleep 0.1; done'
	update_config '.root.readonly = false'
	run_berth create "$ID"
	[ "$status" -eq 0 ]
	[ "$(container_status "$ID")" = created ]
	[ -n "$(vm_host_procs "$ID")" ]
	run_berth start "$ID"
	[ "$status" -eq 0 ]
	[ "$(container_status "$ID")" = running ]
	run_berth kill "$ID" TERM
	[ "$status" -eq 0 ]
	wait_for_status "$ID" stopped 30
	[ "$(cat "$BUNDLE/rootfs/term")" = "got TERM" ]
	run_berth delete "$ID"
	[ "$status" -eq 0 ]
	[ ! -e "$ROOT/$ID" ]
	[ -z "$(vm_host_procs "$ID")" ]
}

@test "microvm: run forwards kill KILL as the linux backend (137); delete --force leaves nothing" {
	set_args sleep 100
	local backend
	for backend in microvm linux; do
		update_config --arg b "$backend" '.annotations["dev.berth.backend"] = $b'
		bg_run "$ID-$backend" "$BATS_TEST_TMPDIR/run.out"
		wait_for_status "$ID-$backend" running 60
		run_berth kill "$ID-$backend" KILL
		wait_bg 30
		[ "$status" -eq 137 ] || fail "$backend: exit $status"
	done
	update_config '.annotations["dev.berth.backend"] = "microvm"'

	run_berth run -d "$ID-f"
	[ "$status" -eq 0 ]
	[ "$(container_status "$ID-f")" = running ]
	local procs cg
	# The supervisor and QEMU work in the state directory; virtiofsd
	# pivots into the rootfs it serves.
	procs="$(vm_host_procs "$ID-f") $(rootfs_pids "$BUNDLE/rootfs")"
	[ "$(echo $procs | wc -w)" -ge 3 ] || fail "supervisor, qemu, virtiofsd expected: $procs"
	cg=$(awk -F: '$1 == 0 { print $3 }' "/proc/$(container_pid "$ID-f")/cgroup")
	run_berth delete --force "$ID-f"
	[ "$status" -eq 0 ]
	for p in $procs; do
		if alive "$p"; then fail "pid $p ($(cat /proc/$p/comm)) outlived delete --force"; fi
	done
	[ ! -e "$ROOT/$ID-f" ] || fail "state left: $(ls -A "$ROOT/$ID-f")"
	[ -z "$cg" ] || [ "$cg" = / ] || [ ! -d "/sys/fs/cgroup/unified$cg" ] || fail "cgroup $cg left"
	[ -z "$(ls -A "$ROOT")" ]
}

@test "microvm: bad input gives one clear line, exit 1, and leaves nothing" {
	local bad
	for bad in 'dev.berth.vm.kernel=/nonexistent/vmlinuz:guest kernel /nonexistent/vmlinuz' \
		'dev.berth.vm.accel=kvm:KVM cannot run a guest here' \
		'dev.berth.vm.memory=64:too little memory' \
		'dev.berth.vm.accel=fast:must be auto, kvm or tcg'; do
		local kv=${bad%%:*} want=${bad#*:}
		update_config --arg k "${kv%%=*}" --arg v "${kv#*=}" '.annotations[$k] = $v'
		run_berth run "$ID"
		update_config --arg k "${kv%%=*}" 'del(.annotations[$k])'
		[ "$status" -eq 1 ] || fail "$kv: exit $status"
		[ "${#lines[@]}" -eq 1 ] || fail "$kv: ${#lines[@]} lines"
		[[ "$output" == *"$want"* ]] || fail "$kv: '$output'"
		[ -z "$(ls -A "$ROOT")" ] || fail "$kv: state left"
	done
	update_config --argjson l $((512 * MIB)) '.linux.resources.memory = {"limit": $l}
		| .annotations["dev.berth.vm.memory"] = "256"'
	run_berth run "$ID"
	[ "$status" -eq 1 ]
	[[ "$output" == *"too little for the container's memory limit"* ]]
	[ -z "$(ls -A "$ROOT")" ]

	# What the guest cannot do yet is refused, not skipped.
	update_config 'del(.linux.resources.memory) | del(.annotations["dev.berth.vm.memory"])
		| .hooks = {"prestart": [{"path": "/bin/true"}]}'
	run_berth run "$ID"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"prestart hooks are not supported yet"* ]]
	[ -z "$(ls -A "$ROOT")" ]
}

@test "microvm: a guest that hangs or cannot boot is reported within its deadline" {
	# No init in the initramfs, and a panic that waits forever: a silent hang.
	update_config '.annotations["dev.berth.vm.append"] = "rdinit=/nonexistent panic=0"
		| .annotations["dev.berth.vm.boot_timeout"] = "8"'
	local t0=$SECONDS
	run_berth run "$ID"
	[ "$status" -eq 1 ]
	[ $((SECONDS - t0)) -lt 30 ] || fail "took $((SECONDS - t0)) s"
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"did not boot within 8 s"* ]]
	[ -z "$(ls -A "$ROOT")" ]

	# Not a kernel at all: QEMU refuses it.
	update_config '.annotations["dev.berth.vm.kernel"] = "/bin/true"
		| del(.annotations["dev.berth.vm.append"])'
	run_berth run "$ID"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"guest stopped before its init was ready"* ]]
	[ -z "$(ls -A "$ROOT")" ]
}

@test "microvm: a missing executable fails create like the linux backend" {
	set_args /bin/nonexistent
	run_berth run "$ID"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *'exec: "/bin/nonexistent"'* ]]
	[ -z "$(ls -A "$ROOT")" ]
}
