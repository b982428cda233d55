#!/usr/bin/env bats
# Slurm 22.05 (slurmctld + slurmd + munge, Debian's slurm-wlm) running
# `srun --container` and `sbatch --container` steps through the runtime under
# test (RUNTIME=berth|runc), called by slurmstepd with the command templates
# of oci.conf in run mode (RunTimeRun, and RunTimeQuery/Kill/Delete for the
# cleanup). tests/clients/slurm-cluster.sh makes the one-node cluster under
# $CT/slurm: private configs, munge key and socket, state, spool, logs, a
# network namespace of its own with the ports, and a cgroup namespace rooted
# at a cgroup made below this shell's, where slurmd puts /slurm (see there).
#
# After every test: no job left in Slurm, no runtime state, no process of the
# bundle's rootfs, no cgroup of the runtime or process left in the cluster's job
# cgroups, no mount under
# $CT. teardown_file stops the daemons and fails if anything was left in the
# cluster's cgroups (slurm-cluster.sh stop).

load client_helpers

setup_file() {
	clients_setup_file slurmctld slurmd srun sbatch scancel munged
	[ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ] ||
		skip "Slurm 22.05's cgroup/v2 plugin needs systemd: v1 or hybrid hosts only"
	chmod 755 "$CT" # munged: every directory above its socket searchable
	CLUSTER=$CT/slurm
	BUNDLE=$CT/bundle
	export CLUSTER BUNDLE
	mkdir -p "$CLUSTER" "$BUNDLE"
	"$CLIENTS_SRC_DIR/tests/fixtures/busybox-rootfs.sh" "$BUNDLE/rootfs" >/dev/null
	(cd "$BUNDLE" && "$RUNTIME_BIN" spec) || fail "$RUNTIME_BIN spec failed"
	jq '.process.terminal = false' "$BUNDLE/config.json" >"$BUNDLE/c" && mv "$BUNDLE/c" "$BUNDLE/config.json"
	"$CLIENTS_SRC_DIR/tests/clients/slurm-cluster.sh" start "$CLUSTER" "$RUNTIME_WRAPPER" 3>&- ||
		fail "the Slurm cluster did not start"
	EXCLUDE_PID=$(cat "$CLUSTER"/run/*.pid | tr '\n' ' ')
	export EXCLUDE_PID
}

teardown_file() {
	[ -n "${CT:-}" ] || return 0
	local rc=0
	"$CLIENTS_SRC_DIR/tests/clients/slurm-cluster.sh" stop "$CLUSTER" || rc=1
	kill_ct_pids
	remove_ct
	return $rc
}

setup() {
	mark_runtime_log
}

teardown() {
	show_runtime_log
	cluster_idle_and_clean
}

# slurm CMD...: a Slurm client against this cluster, as run_client.
slurm() {
	run_client "$CLIENTS_SRC_DIR/tests/clients/slurm-cluster.sh" client "$CLUSTER" "$@"
}

slurm_q() {
	timeout 20 "$CLIENTS_SRC_DIR/tests/clients/slurm-cluster.sh" client "$CLUSTER" "$@" </dev/null 2>/dev/null
}

# Containers the runtime has in the per-user root (oci.conf: --root=.../%u).
OCI_ROOT_USER=root
oci_root() {
	echo "$CLUSTER/oci-root/$OCI_ROOT_USER"
}

# What is left in the cluster's job cgroups: the runtime's cgroups (anything
# below a job that is not Slurm's own job_N/step_N/task_N) and processes.
# Slurm 22.05 itself leaves a cancelled step's empty job_N/step_N(/task_N)
# (it tries to remove them while the runtime's cgroup is still inside, with
# runc as with berth), and never tries again; those are not counted.
job_cgroups() {
	local cg
	for cg in $(cat "$CLUSTER/run/cgroups"); do
		find "$cg" -path '*/job_*' -type d ! -name 'job_*' ! -name 'step_*' ! -name 'task_*' 2>/dev/null
		find "$cg" -path '*/job_*' -name cgroup.procs -exec cat {} + 2>/dev/null | sed 's/^/pid /'
	done
	return 0
}

no_jobs() {
	[ -z "$(slurm_q squeue -h -o %i)" ]
}

clean_now() {
	no_jobs && [ -z "$(runtime_leftovers "$(oci_root)")" ] && [ -z "$(job_cgroups)" ]
}

no_container_pids() {
	[ -z "$(ct_pids "$(rootfs_ids "$BUNDLE/rootfs")")" ]
}

# cluster_idle_and_clean: within 20 s of a test, no job, no runtime state, no
# job cgroup, no container process, no mount under $CT.
cluster_idle_and_clean() {
	retry 20 0.2 clean_now >/dev/null && retry 5 0.2 no_container_pids >/dev/null &&
		[ -z "$(ct_mounts)" ] && return 0
	echo "leak: jobs: $(slurm_q squeue -h -o '%i %T' | tr '\n' ' ')" >&2
	echo "leak: runtime state: $(runtime_leftovers "$(oci_root)" | tr '\n' ' ')" >&2
	echo "leak: job cgroups: $(job_cgroups | tr '\n' ' ')" >&2
	echo "leak: processes: $(ct_pids "$(rootfs_ids "$BUNDLE/rootfs")" | tr '\n' ' ')" >&2
	echo "leak: mounts: $(ct_mounts | tr '\n' ' ')" >&2
	return 1
}

@test "README's oci.conf is the one the cluster runs, with its paths" {
	local want
	want=$(readme_block "**Slurm**" ini |
		sed -e "s|/usr/local/bin/berth|$RUNTIME_WRAPPER|g" -e "s|/run/berth-slurm|$CLUSTER/oci-root|g")
	[ -n "$want" ] || fail "no oci.conf block after **Slurm** in README.md"
	[ "$want" = "$(cat "$CLUSTER/etc/oci.conf")" ] || fail "README's oci.conf differs: $want"
}

@test "srun --container: the command's output, and its exit status through srun" {
	slurm srun --container="$BUNDLE" sh -c 'echo "in container, pid $$"; exit 7'
	expect_status 7
	[[ "$output" == *"in container, pid 1"* ]] || fail "no output from the container"
	grep -q " run $(hostname -s)\\.root\\.[0-9]*\\.0\\.0 -b $CLUSTER/spool/" "$CT/runtime-argv.log" ||
		fail "the runtime's run was not called as oci.conf says"
}

@test "sbatch --container: the batch script runs in the container, output to the job's file" {
	printf '#!/bin/sh\necho "batch in container, pid $$, args $0"\nexit 3\n' >"$CT/job.sh"
	slurm sbatch --wait --container="$BUNDLE" --output="$CT/batch-%j.out" "$CT/job.sh"
	expect_status 3
	local out
	out=$(cat "$CT"/batch-*.out)
	echo "$out"
	[[ "$out" == *"batch in container, pid 1, args /tmp/slurm/startup"* ]] || fail "wrong batch output"
	rm -f "$CT"/batch-*.out
}

@test "scancel of a running step: srun returns, the container is gone" {
	local out=$CT/scancel.out job
	timeout 60 "$CLIENTS_SRC_DIR/tests/clients/slurm-cluster.sh" client "$CLUSTER" \
		srun --container="$BUNDLE" sh -c 'echo started; exec sleep 1000' >"$out" 2>&1 </dev/null 3>&- &
	local srun_pid=$!
	retry 30 0.1 grep -q started "$out" || fail "the step did not start: $(cat "$out")"
	[ -n "$(runtime_leftovers "$(oci_root)")" ] || fail "no container in the runtime's root"
	job=$(slurm_q squeue -h -o %i)
	slurm scancel "$job"
	expect_status 0
	local rc=0
	wait "$srun_pid" || rc=$?
	cat "$out"
	[ "$rc" -ne 124 ] || fail "srun was still running 60 s after scancel"
	grep -q CANCELLED "$out" || fail "srun did not report the cancellation"
	# Slurm's cleanup (RunTimeQuery/Kill/Delete) may trail: teardown allows 20 s.
	cluster_idle_and_clean
}

@test "srun --mem=64M: the container sees the limit and a 256 MiB allocation is OOM-killed" {
	slurm srun --mem=64M --container="$BUNDLE" sh -c '
		grep hierarchical_memory_limit /sys/fs/cgroup/memory/memory.stat
		awk "BEGIN { s = \"x\"; for (i = 0; i < 28; i++) s = s s; print length(s) }"
		echo "hog=$?"'
	expect_status 0
	[[ "$output" == *"hierarchical_memory_limit $((64 * 1024 * 1024))"* ]] || fail "limit not seen inside"
	[[ "$output" == *"hog=137"* ]] || fail "the allocation was not OOM-killed"
}

@test "two job steps with containers run in parallel" {
	cat >"$CT/two.sh" <<EOF
#!/bin/sh
srun -n1 --exact --container="$BUNDLE" sh -c 'echo "step \$SLURM_STEP_ID"; sleep 3' &
srun -n1 --exact --container="$BUNDLE" sh -c 'echo "step \$SLURM_STEP_ID"; sleep 3' &
wait
EOF
	timeout 60 "$CLIENTS_SRC_DIR/tests/clients/slurm-cluster.sh" client "$CLUSTER" \
		sbatch --wait -n2 --output="$CT/two-%j.out" "$CT/two.sh" >"$CT/two.log" 2>&1 </dev/null 3>&- &
	local pid=$! most=0 n
	while kill -0 "$pid" 2>/dev/null; do
		n=$(runtime_leftovers "$(oci_root)" | grep -c . || true)
		[ "$n" -le "$most" ] || most=$n
		sleep 0.1
	done
	wait "$pid" || fail "sbatch failed: $(cat "$CT/two.log")"
	cat "$CT"/two-*.out
	[ "$most" -eq 2 ] || fail "at most $most containers at once"
	[ "$(grep -c '^step [01]$' "$CT"/two-*.out)" -eq 2 ] || fail "both steps' output wanted"
	rm -f "$CT"/two-*.out
}
