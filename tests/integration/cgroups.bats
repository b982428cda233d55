#!/usr/bin/env bats
# cgroups: linux.resources take real effect (memory limit -> OOM kill, cpu
# quota -> throttled CPU time, pids.limit -> a fork bomb is contained), the
# container's processes are in its cgroup before user code runs, the cgroup
# namespace shows the container's own cgroup as "/", every cgroup directory
# goes away on delete, and bad resources are refused before anything exists.
#
# Cgroup directories are found from /proc/<pid>/cgroup (save_cgroup_dirs,
# container_cgroup_dir), never from hard-coded paths; cgroupsPath is relative
# or absent, so the runtime nests the container under the test shell's cgroup.
# Values are read through the cg_* accessors of helpers.bash, so the same
# assertions hold on cgroup v1, hybrid and pure v2 hosts.
# IDs carry the test number and the test's pid: runc names cgroups by ID, and
# v1 hierarchies are shared by everything on the host.

load helpers

setup() {
	setup_bundle
	ID=cg-$BATS_TEST_NUMBER-$$
	# Allocates a 64 MiB string in anonymous memory (the doubling briefly needs
	# ~96 MiB): killed under a 32 MiB limit, fine under 256 MiB, harmless to
	# the host when no limit applies at all.
	cat >"$BUNDLE/rootfs/alloc.sh" <<-'EOF'
		awk 'BEGIN { s = "x"; for (i = 0; i < 26; i++) s = s s; print length(s) }'
	EOF
}

teardown() {
	local rc=0 id
	# A runaway container (fork bomb) is killed through its cgroup first.
	if [ -n "${ROOT:-}" ] && [ -d "$ROOT" ]; then
		for id in $(timeout -k 5 "$BERTH_TIMEOUT" "$BERTH" --root "$ROOT" list -q 2>/dev/null); do
			timeout -k 5 "$BERTH_TIMEOUT" "$BERTH" --root "$ROOT" kill --all "$id" KILL >/dev/null 2>&1 || true
		done
	fi
	teardown_bundle || rc=1
	teardown_cgroups || rc=1
	local d
	for d in "${OWN_CGROUPS[@]}"; do
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
	done
	return $rc
}

MIB=1048576
OWN_CGROUPS=()

# busy_cpu_ratio ID: CPU time the container's cgroup uses per second of wall
# time, measured over ~3 s (after the container is already busy).
busy_cpu_ratio() {
	local dir=${CG_DIR[cpuacct]} u1 u2 t1 t2
	u1=$(cg_cpu_usage_ns "$dir")
	t1=$(date +%s%N)
	sleep 3
	u2=$(cg_cpu_usage_ns "$dir")
	t2=$(date +%s%N)
	echo "# cpu: $(((u2 - u1) / 1000000)) ms used in $(((t2 - t1) / 1000000)) ms" >&2
	awk -v u=$((u2 - u1)) -v t=$((t2 - t1)) 'BEGIN { printf "%.3f\n", u / t }'
}

# --- memory ------------------------------------------------------------------

@test "memory: allocating beyond a 32 MiB limit is OOM-killed (137); 256 MiB is enough" {
	set_args sh /alloc.sh
	update_config --argjson l $((32 * MIB)) '.linux.resources.memory = {"limit": $l}'
	run_berth run "$ID-small"
	[ "$status" -eq 137 ] || fail "under a 32 MiB limit: exit $status, wanted 137 (OOM kill)"

	update_config --argjson l $((256 * MIB)) '.linux.resources.memory = {"limit": $l}'
	run_berth run "$ID-big"
	[ "$status" -eq 0 ] || fail "under a 256 MiB limit: exit $status, wanted 0"
	[ "$output" = 67108864 ]
}

@test "memory: the OOM kill happens in the container's cgroup, which records it" {
	requires_cgroup memory
	update_config '.root.readonly = false'
	update_config --argjson l $((32 * MIB)) '.linux.resources.memory = {"limit": $l}'
	set_args sh -c "$WAIT_FOR_GO; sh /alloc.sh; echo \$? >/rc; exec sleep 100"
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	save_cgroup_dirs "$ID"
	local mem=${CG_DIR[memory]}
	[ "$(cg_memory_limit "$mem")" -eq $((32 * MIB)) ]
	[ "$(cg_oom_kills "$mem")" = 0 ]

	release_container
	retry 10 0.05 test -s "$BUNDLE/rootfs/rc"
	[ "$(cat "$BUNDLE/rootfs/rc")" = 137 ]
	[ "$(cg_oom_kills "$mem")" = 1 ]
	[ "$(cg_memory_failcnt "$mem")" -gt 0 ]
	# Only the allocator died: init lives on.
	[ "$(container_status "$ID")" = running ]
}

# --- cpu ---------------------------------------------------------------------

@test "cpu: quota 50000/period 100000 holds a busy loop to half a CPU; without it, a full CPU" {
	requires_cgroup cpu cpuacct
	set_args sh -c 'while :; do :; done'
	update_config '.linux.resources.cpu = {"quota": 50000, "period": 100000}'
	run_berth run --detach "$ID-limited"
	[ "$status" -eq 0 ]
	save_cgroup_dirs "$ID-limited"
	[ "$(cg_cpu_quota "${CG_DIR[cpu]}")" = 50000 ]
	[ "$(cg_cpu_period "${CG_DIR[cpu]}")" = 100000 ]
	local ratio
	ratio=$(busy_cpu_ratio)
	# <= 1.7 s of CPU per 3 s (expected ~1.5 s).
	awk -v r="$ratio" 'BEGIN { exit !(r <= 1.7 / 3) }' || fail "limited loop used $ratio CPU-s per s"
	local throttled
	throttled=$(cg_cpu_throttled "${CG_DIR[cpu]}") || throttled=0
	[ "$throttled" -gt 0 ] || fail "limited cgroup was never throttled: $(xargs <"${CG_DIR[cpu]}/cpu.stat")"
	run_berth delete --force "$ID-limited"
	[ "$status" -eq 0 ]

	update_config 'del(.linux.resources.cpu)'
	run_berth run --detach "$ID-free"
	[ "$status" -eq 0 ]
	save_cgroup_dirs "$ID-free"
	[ "$(cg_cpu_quota "${CG_DIR[cpu]}")" = -1 ]
	ratio=$(busy_cpu_ratio)
	# >= 2.7 s of CPU per 3 s: one loop has a core of its own on a 2-core host.
	awk -v r="$ratio" 'BEGIN { exit !(r >= 2.7 / 3) }' || fail "unlimited loop used only $ratio CPU-s per s (host busy?)"
}

# --- pids ----------------------------------------------------------------------

@test "pids: a fork bomb under pids.limit 64 is contained and delete --force cleans it up" {
	requires_cgroup pids
	# A binary fork bomb, bounded for the host's sake: depth 8 is at most 511
	# processes even with no limit at all, and the leaves exit after 20 s.
	cat >"$BUNDLE/rootfs/bomb.sh" <<-'EOF'
		bomb() {
			if [ "$1" -le 0 ]; then sleep 20; return; fi
			bomb $(($1 - 1)) & bomb $(($1 - 1)) & wait
		}
		bomb 8
	EOF
	# The bomb waits for the go so that sampling starts with it.
	set_args sh -c "$WAIT_FOR_GO; exec sh /bomb.sh"
	update_config '.linux.resources.pids = {"limit": 64}'
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	# The container's output keeps landing in the file of `run --detach`.
	local bomb_out=$BERTH_OUT
	save_cgroup_dirs "$ID"
	assert_own_cgroups
	local pids=${CG_DIR[pids]}
	[ "$(cat "$pids/pids.max")" = 64 ]
	grep -qx 'max 0' "$pids/pids.events"

	release_container
	local i cur max=0 tasks
	for ((i = 0; i < 400; i++)); do
		cur=$(cat "$pids/pids.current")
		tasks=$(cg_task_count "$pids")
		[ "$cur" -le 64 ] || fail "pids.current $cur > 64"
		[ "$tasks" -le 64 ] || fail "$tasks tasks in the pids cgroup > 64"
		[ "$cur" -le "$max" ] || max=$cur
		if ((i % 20 == 0)); then
			# The host can still start processes.
			timeout 5 true || fail "host could not run 'timeout 5 true' during the bomb"
		fi
		# Sample densely at first, where the bomb peaks.
		((i < 200)) || sleep 0.01
	done
	echo "# peak pids.current: $max; pids.events: $(xargs <"$pids/pids.events")"
	# The bomb ran, and the kernel refused forks because of this cgroup's limit
	# (which only happens with pids.current at 64). The peak itself is brief:
	# busybox sh exits when a fork fails, so the bomb shrinks again at once.
	[ "$max" -ge 2 ] || fail "sampling never saw the bomb (peak $max)"
	awk '$1 == "max" { exit !($2 > 0) }' "$pids/pids.events" || fail "pids.events records no refused fork"
	# ... and the container saw them fail.
	grep -q "can't fork" "$bomb_out" || fail "the bomb saw no fork fail"
	# Nothing outside the cgroup: every process on the rootfs is one of its tasks.
	local p
	for p in $(rootfs_pids "$BUNDLE/rootfs"); do
		grep -qx "$p" "$pids/cgroup.procs" || [ ! -d "/proc/$p" ] || fail "process $p escaped the pids cgroup"
	done

	run_berth delete --force "$ID"
	[ "$status" -eq 0 ]
	retry 5 0.05 no_rootfs_pids "$BUNDLE/rootfs"
	retry 5 0.05 no_cgroup_dirs_left || fail "cgroups left: $(cgroup_dirs_left | xargs)"
	[ -z "$(root_entries)" ]
}

# --- lifetime of the cgroup ----------------------------------------------------

@test "delete removes the container's cgroup in every hierarchy" {
	update_config '.linux.resources.memory = {"limit": 268435456}'
	set_args sh -c "$WAIT_FOR_GO"
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	save_cgroup_dirs "$ID"
	assert_own_cgroups
	echo "# ${!CG_DIR[*]}"
	local d
	for d in "${CG_DIR[@]}"; do [ -d "$d" ]; done

	release_container
	wait_for_status "$ID" stopped
	# A stopped container keeps its cgroup until delete (as runc does).
	for d in "${CG_DIR[@]}"; do [ -d "$d" ] || fail "$d gone before delete"; done
	run_berth delete "$ID"
	[ "$status" -eq 0 ]
	no_cgroup_dirs_left || fail "cgroups left after delete: $(cgroup_dirs_left | xargs)"
}

@test "delete --force of a running container removes its cgroup in every hierarchy" {
	update_config '.linux.resources.memory = {"limit": 268435456}'
	set_args sh -c 'sleep 100 & sleep 100 & wait'
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	save_cgroup_dirs "$ID"
	assert_own_cgroups

	run_berth delete --force "$ID"
	[ "$status" -eq 0 ]
	retry 5 0.05 no_rootfs_pids "$BUNDLE/rootfs"
	no_cgroup_dirs_left || fail "cgroups left after delete --force: $(cgroup_dirs_left | xargs)"
}

@test "delete removes sub-cgroups the workload made, with processes in them" {
	set_args sh -c 'sleep 100 & sleep 100 & wait'
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	save_cgroup_dirs "$ID"
	# What a workload with a writable cgroupfs would do: nested groups, with
	# one of its processes moved into each.
	local mem pids child
	mem=$(container_cgroup_dir memory "$ID")
	pids=$(container_cgroup_dir pids "$ID")
	mkdir -p "$mem/sub/inner" "$pids/sub/inner"
	child=$(rootfs_pids "$BUNDLE/rootfs" | grep -vx "$(container_pid "$ID")" | head -n 1)
	[ -n "$child" ]
	echo "$child" >"$mem/sub/inner/cgroup.procs"
	echo "$child" >"$pids/sub/inner/cgroup.procs"

	run_berth delete --force "$ID"
	[ "$status" -eq 0 ]
	retry 5 0.05 no_rootfs_pids "$BUNDLE/rootfs"
	[ ! -e "$mem/sub" ] && [ ! -e "$pids/sub" ]
	no_cgroup_dirs_left || fail "cgroups left after delete --force: $(cgroup_dirs_left | xargs)"
}

@test "delete of a created container removes its cgroup" {
	set_args true
	run_berth create "$ID"
	[ "$status" -eq 0 ]
	save_cgroup_dirs "$ID"
	assert_own_cgroups

	run_berth delete "$ID"
	[ "$status" -eq 0 ]
	no_cgroup_dirs_left || fail "cgroups left: $(cgroup_dirs_left | xargs)"
}

@test "run (foreground) removes the container's cgroup when the container exits" {
	update_config '.root.readonly = false'
	set_args sh -c "echo ready >/ready; $WAIT_FOR_GO"
	bg_run "$ID" "$BATS_TEST_TMPDIR/run.out"
	retry 10 0.02 test -e "$BUNDLE/rootfs/ready"
	save_cgroup_dirs "$ID"
	assert_own_cgroups

	release_container
	wait_bg
	[ "$status" -eq 0 ]
	no_cgroup_dirs_left || fail "cgroups left after run: $(cgroup_dirs_left | xargs)"
	[ -z "$(root_entries)" ]
}

# --- entering the cgroup -------------------------------------------------------

@test "the container process is in the container's cgroup before user code runs" {
	requires_cgroup memory
	ns_remove cgroup
	update_config '.root.readonly = false'
	update_config --argjson l $((200 * MIB)) '.linux.resources.memory = {"limit": $l}'
	# The user's very first command reports where it is.
	set_args sh -c "cat /proc/self/cgroup >/cg.txt; $WAIT_FOR_GO"
	run_berth create "$ID"
	[ "$status" -eq 0 ]
	local pid
	pid=$(container_pid "$ID")
	local at_create
	at_create=$(cat "/proc/$pid/cgroup")
	save_cgroup_dirs "$ID"
	assert_own_cgroups
	# Already at create time (before start), init is a member of its cgroups.
	grep -qx "$pid" "${CG_DIR[memory]}/cgroup.procs"
	[ "$(cg_memory_limit "${CG_DIR[memory]}")" -eq $((200 * MIB)) ]

	run_berth start "$ID"
	[ "$status" -eq 0 ]
	retry 10 0.02 test -s "$BUNDLE/rootfs/cg.txt"
	cat "$BUNDLE/rootfs/cg.txt"
	[ "$(cat "$BUNDLE/rootfs/cg.txt")" = "$at_create" ]

	# Its memory line (the "0::" line on v2) is the container's cgroup,
	# strictly below the test shell's (= the runtime's) own.
	local mine theirs
	mine=$(cgroup_path memory "/proc/$BASHPID/cgroup")
	theirs=$(cgroup_path memory "$BUNDLE/rootfs/cg.txt")
	[ "$(cgroup_mount "$(cgroup_key memory)")$theirs" = "${CG_DIR[memory]}" ]
	[[ $theirs == "${mine%/}"/?* ]] || fail "memory cgroup '$theirs' is not below the runtime's '$mine'"
	release_container
	wait_for_status "$ID" stopped
}

@test "cgroup namespace: the container sees its own cgroup as / and its own memory limit" {
	requires_cgroup memory
	ns_add cgroup
	update_config --argjson l $((48 * MIB)) '.linux.resources.memory = {"limit": $l}'
	# The container's /sys/fs/cgroup shows its own cgroup at the top: the v1
	# memory hierarchy's root, or on v2 the cgroup2 root with memory.max.
	local limit_file=/sys/fs/cgroup/memory/memory.limit_in_bytes
	! cgroup_is_v2 || limit_file=/sys/fs/cgroup/memory.max
	run_sh "cat /proc/self/cgroup; echo limit=\$(cat $limit_file)" "$ID"
	[ "$status" -eq 0 ]
	local line n=0
	for line in "${lines[@]}"; do
		case $line in
		limit=*) [ "$line" = "limit=$((48 * MIB))" ] || fail "memory limit inside: $line" ;;
		*:*:*)
			[ "${line##*:}" = / ] || fail "cgroup path not virtualised: $line"
			n=$((n + 1))
			;;
		*) fail "unexpected output line: $line" ;;
		esac
	done
	# As many hierarchies inside as the test shell has, and the limit was printed.
	[ "$n" -eq "$(wc -l <"/proc/$BASHPID/cgroup")" ]
	[[ "$output" == *"limit=$((48 * MIB))"* ]]
}

@test "run started in a cgroup of its own leaves it empty, as a scheduler's step cgroup must be" {
	# slurmstepd removes a step's cgroup only when nothing is left in it: the
	# runtime's levels below it (berth's <own>/berth) must go with the container.
	local key dir rc=0
	OWN_CGROUPS=()
	for key in $(cgroup_hierarchies); do
		dir=$(pid_cgroup_dir "$key" "$BASHPID")/berth-own-$$
		mkdir "$dir"
		OWN_CGROUPS+=("$dir")
		[ ! -f "$dir/cpuset.cpus" ] || cp "$dir/../cpuset.cpus" "$dir/cpuset.cpus"
		[ ! -f "$dir/cpuset.mems" ] || cp "$dir/../cpuset.mems" "$dir/cpuset.mems"
	done
	set_args true
	bash -c 'for d in "${@:3}"; do echo $BASHPID >"$d/cgroup.procs"; done; exec "$0" --root "$1" run "$2"' \
		"$BERTH" "$ROOT" "$ID" "${OWN_CGROUPS[@]}" </dev/null || rc=$?
	[ "$rc" -eq 0 ] || fail "run exited $rc"
	for dir in "${OWN_CGROUPS[@]}"; do
		[ -z "$(find "$dir" -mindepth 1 -type d)" ] || fail "left below $dir: $(find "$dir" -mindepth 1 -type d)"
	done
}

# --- /sys/fs/cgroup mounted over ------------------------------------------------

# remounted_run [--cgroupns]: `run $ID` with the hierarchies mounted again over
# /sys/fs/cgroup (tests/fixtures/cgroup-remount.sh, as slurmd does), in a
# private mount namespace. The container prints its cgroup mount points; the
# output starts with "listed=N": the cgroup mounts the runtime's mount table
# lists (each hierarchy twice: the covered mount and the visible one).
remounted_run() {
	set_args sh -c "grep -E ' - cgroup2? ' /proc/self/mountinfo | awk '{ print \$5 }'"
	status=0
	output=$(timeout -k 5 "$BERTH_TIMEOUT" "$BERTH_SRC_DIR/tests/fixtures/cgroup-remount.sh" "$@" \
		sh -c 'echo listed=$(grep -cE " - cgroup2? " /proc/self/mountinfo); exec "$@"' sh \
		"$BERTH" --root "$ROOT" run "$ID" 2>&1 </dev/null) || status=$?
	printf '%s\n' "$output"
	mapfile -t lines <<<"$output"
}

# assert_each_hierarchy_once: after remounted_run, the container mounted
# every v1 hierarchy of the host once (runtimes do not offer the hybrid
# layout's cgroup2 inside) or, on a v2 host, the one cgroup2.
assert_each_hierarchy_once() {
	local host_n inside dups
	host_n=$(grep -cE ' - cgroup2? ' /proc/self/mountinfo)
	[ "${lines[0]}" = "listed=$((2 * host_n))" ] || fail "the remount did not list each hierarchy twice: ${lines[0]}"
	inside=$(printf '%s\n' "${lines[@]:1}" | grep '^/sys/fs/cgroup' || true)
	dups=$(printf '%s\n' "$inside" | sort | uniq -d)
	[ -z "$dups" ] || fail "mounted more than once inside: $dups"
	local want=$host_n
	if cgroup_layout | grep -qx hybrid; then want=$((host_n - 1)); fi
	[ "$(printf '%s\n' "$inside" | grep -c .)" -eq "$want" ] || fail "wanted $want cgroup mounts inside"
}

@test "cgroup mount: hierarchies mounted again over /sys/fs/cgroup are each mounted once inside" {
	remounted_run
	[ "$status" -eq 0 ] || fail "run exited $status"
	assert_each_hierarchy_once
}

@test "cgroup mount: the same, in a cgroup namespace of the runtime's own (slurmd's setup)" {
	ns_add cgroup
	remounted_run --cgroupns
	[ "$status" -eq 0 ] || fail "run exited $status"
	assert_each_hierarchy_once
}

# --- bad input -----------------------------------------------------------------

# expect_bad_resources FRAGMENT: `create` of this test's config fails with exit
# 1 and leaves nothing: no state, no process, no cgroup directory named after
# the test (the ID and cgroupsPath components all carry "$MARK"). For berth:
# exactly one line of output, naming the JSON path FRAGMENT.
expect_bad_resources() {
	local before after new
	before=$(cgroup_tree)
	run_berth create "$MARK-ctr"
	local out=$output n=${#lines[@]}
	after=$(cgroup_tree)
	new=$(comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | grep -F -- "$MARK" || true)
	if [ -n "$new" ]; then
		# Remove what the runtime left (empty cgroups it made for this test).
		printf '%s\n' "$new" | sort -r | while read -r d; do rmdir "$d" 2>/dev/null || true; done
	fi
	[ "$status" -eq 1 ] || fail "create exited $status, wanted 1"
	[ -z "$new" ] || fail "cgroup directories created: $(echo $new)"
	[ -z "$(root_entries)" ] || fail "left in \$ROOT: $(root_entries)"
	no_rootfs_pids "$BUNDLE/rootfs" || fail "container processes left: $(rootfs_pids "$BUNDLE/rootfs")"
	run_berth state "$MARK-ctr"
	[ "$status" -ne 0 ] || fail "state of the failed container succeeds"
	is_berth || return 0
	[ "$n" -eq 1 ] || fail "wanted exactly one line of output, got $n"
	[[ "$out" == *"$1"* ]] || fail "message lacks '$1'"
}

@test "bad resources: negative memory limit other than -1" {
	MARK=cgbad$$
	set_args true
	update_config '.linux.resources.memory = {"limit": -5}'
	expect_bad_resources linux.resources.memory.limit
}

@test "bad resources: cpu shares as a string" {
	MARK=cgbad$$
	set_args true
	update_config '.linux.resources.cpu = {"shares": "1024"}'
	expect_bad_resources linux.resources.cpu.shares
}

@test "bad resources: fields of the wrong type (memory a string, quota a fraction)" {
	MARK=cgbad$$
	set_args true
	update_config '.linux.resources.memory = "lots"'
	expect_bad_resources linux.resources.memory
	update_config 'del(.linux.resources.memory) | .linux.resources.cpu = {"quota": 1.5}'
	expect_bad_resources linux.resources.cpu.quota
}

@test "bad resources: cgroupsPath containing '..'" {
	requires_berth "runc cleans '..' out of a relative cgroupsPath and accepts it"
	MARK=cgbad$$
	set_args true
	update_config --arg p "$MARK-a/../../$MARK-esc" '.linux.cgroupsPath = $p'
	expect_bad_resources linux.cgroupsPath
}

@test "bad resources: cpus outside the host's CPUs" {
	MARK=cgbad$$
	set_args true
	update_config '.linux.resources.cpu = {"cpus": "0-99"}'
	expect_bad_resources linux.resources.cpu.cpus
}

@test "bad resources: pids.limit as a string" {
	MARK=cgbad$$
	set_args true
	update_config '.linux.resources.pids = {"limit": "64"}'
	expect_bad_resources linux.resources.pids.limit
}
