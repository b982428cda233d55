#!/usr/bin/env bats
# The verbs that work through the container's cgroup: pause/resume (freezer),
# exec refused while paused, update (memory, pids, cpu; flags and
# --resources JSON), ps (table and json), events (OOM notification, --stats),
# delete after kill --all, and the unknown-ID errors of these verbs.

load helpers

setup() {
	setup_bundle
	ID=cgv-$BATS_TEST_NUMBER-$$
	update_config '.root.readonly = false'
	# Allocates a 64 MiB string in anonymous memory (~96 MiB at the peak):
	# OOM-killed under a 32 MiB limit, fine under 256 MiB.
	cat >"$BUNDLE/rootfs/alloc.sh" <<-'EOF'
		awk 'BEGIN { s = "x"; for (i = 0; i < 26; i++) s = s s; print length(s) }'
	EOF
}

teardown() {
	local rc=0
	teardown_bundle || rc=1
	teardown_cgroups || rc=1
	return $rc
}

MIB=1048576

# A container init that runs /alloc.sh once for each trigger file /goN the
# host creates (N = 0, 1, ...) and records its exit status in /rcN.
ALLOC_LOOP='n=0
echo ready >/ready
while :; do
	if [ -e /go$n ]; then
		sh /alloc.sh >/dev/null
		echo $? >/rc$n
		n=$((n + 1))
	fi
	sleep 0.02
done'

# alloc_status N: have the ALLOC_LOOP container run its Nth allocation and
# print its exit status.
alloc_status() {
	touch "$BUNDLE/rootfs/go$1"
	retry 15 0.05 test -s "$BUNDLE/rootfs/rc$1" >&2 || return 1
	cat "$BUNDLE/rootfs/rc$1"
}

# run_berth_stdin FILE ARGS...: run_berth with stdin from FILE.
run_berth_stdin() {
	local in=$1
	shift
	BERTH_CALLS=$((BERTH_CALLS + 1))
	BERTH_OUT=$BATS_TEST_TMPDIR/berth.out.$BERTH_CALLS
	status=0
	timeout -k 5 "$BERTH_TIMEOUT" "$BERTH" --root "$ROOT" "$@" \
		>"$BERTH_OUT" 2>&1 <"$in" 3>&- || status=$?
	output=$(cat "$BERTH_OUT")
	lines=()
	[ -z "$output" ] || mapfile -t lines <<<"$output"
	echo "# $(basename "$BERTH") --root \$ROOT $* <$in => status $status"
	[ -z "$output" ] || printf '%s\n' "$output"
}

# --- pause / resume ------------------------------------------------------------

# counter: the number the counter container last wrote.
counter() {
	cat "$BUNDLE/rootfs/counter" 2>/dev/null
}

# counter_above N: the counter is greater than N.
counter_above() {
	local c
	c=$(counter)
	[ -n "$c" ] && [ "$c" -gt "$1" ]
}

COUNTER_LOOP='i=0
while :; do
	i=$((i + 1))
	echo $i >/counter.tmp
	mv /counter.tmp /counter
	sleep 0.01
done'

@test "pause freezes the container: a counter stops; resume lets it go on" {
	set_args sh -c "$COUNTER_LOOP"
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	retry 10 0.02 counter_above 3

	run_berth pause "$ID"
	[ "$status" -eq 0 ]
	[ "$(container_status "$ID")" = paused ]
	if cgroup_has freezer; then
		[ "$(cg_frozen "$(container_cgroup_dir freezer "$ID")")" = 1 ]
	fi
	local frozen
	frozen=$(counter)
	sleep 1
	[ "$(counter)" = "$frozen" ] || fail "counter moved while paused: $frozen -> $(counter)"
	[ "$(container_status "$ID")" = paused ]

	run_berth resume "$ID"
	[ "$status" -eq 0 ]
	[ "$(container_status "$ID")" = running ]
	retry 5 0.02 counter_above "$frozen"
}

@test "pause of a paused, and resume of a running container fail" {
	set_args sleep 100
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	run_berth resume "$ID"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not paused"* ]]
	[ "$(container_status "$ID")" = running ]

	run_berth pause "$ID"
	[ "$status" -eq 0 ]
	run_berth pause "$ID"
	[ "$status" -eq 1 ]
	# runc: "container not running"; berth: "... is already paused"
	[[ "$output" == *"not running"* || "$output" == *"already paused"* ]]
	[ "$(container_status "$ID")" = paused ]
}

@test "a paused container can be deleted with --force and leaves no cgroup" {
	set_args sh -c 'sleep 100 & sleep 100 & wait'
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	save_cgroup_dirs "$ID"
	run_berth pause "$ID"
	[ "$status" -eq 0 ]

	run_berth delete --force "$ID"
	[ "$status" -eq 0 ]
	retry 5 0.05 no_rootfs_pids "$BUNDLE/rootfs"
	no_cgroup_dirs_left || fail "cgroups left: $(cgroup_dirs_left | xargs)"
	[ -z "$(root_entries)" ]
}

@test "exec is refused while the container is paused" {
	set_args sleep 100
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	run_berth pause "$ID"
	[ "$status" -eq 0 ]

	run_berth exec "$ID" sh -c 'echo ran >/exec-ran'
	[ "$status" -ne 124 ] || fail "exec hung on the paused container"
	# runc's code and message: "cannot exec in a paused container".
	[ "$status" -eq 255 ]
	[[ "$output" == *"cannot exec in a paused container"* ]]
	[ "$(container_status "$ID")" = paused ]

	# Nothing was left queued to run on resume.
	run_berth resume "$ID"
	[ "$status" -eq 0 ]
	sleep 0.5
	[ ! -e "$BUNDLE/rootfs/exec-ran" ]
	[ "$(rootfs_pids "$BUNDLE/rootfs")" = "$(container_pid "$ID")" ]
}

# --- update --------------------------------------------------------------------

@test "update --memory lowers a running container's limit, and it takes effect" {
	requires_cgroup memory pids
	set_args sh -c "$ALLOC_LOOP"
	update_config --argjson l $((256 * MIB)) '.linux.resources.memory = {"limit": $l} | .linux.resources.pids = {"limit": 64}'
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	retry 10 0.02 test -e "$BUNDLE/rootfs/ready"
	save_cgroup_dirs "$ID"
	local mem=${CG_DIR[memory]}
	[ "$(cg_memory_limit "$mem")" -eq $((256 * MIB)) ]
	[ "$(alloc_status 0)" = 0 ]

	run_berth update --memory $((32 * MIB)) "$ID"
	[ "$status" -eq 0 ]
	[ "$(cg_memory_limit "$mem")" -eq $((32 * MIB)) ]
	# What was not asked for is left alone.
	[ "$(cat "${CG_DIR[pids]}/pids.max")" = 64 ]
	# The same allocation is now OOM-killed; the container lives on.
	[ "$(alloc_status 1)" = 137 ]
	[ "$(container_status "$ID")" = running ]
	[ "$(cg_oom_kills "$mem")" = 1 ]
}

@test "update --resources - takes linux.resources JSON on stdin (containerd's way)" {
	requires_cgroup memory
	set_args sh -c "$ALLOC_LOOP"
	update_config --argjson l $((32 * MIB)) '.linux.resources.memory = {"limit": $l}'
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	retry 10 0.02 test -e "$BUNDLE/rootfs/ready"
	save_cgroup_dirs "$ID"
	local mem=${CG_DIR[memory]}
	[ "$(alloc_status 0)" = 137 ]

	jq -n --argjson l $((256 * MIB)) '{"memory": {"limit": $l}}' >"$BATS_TEST_TMPDIR/res.json"
	run_berth_stdin "$BATS_TEST_TMPDIR/res.json" update --resources - "$ID"
	[ "$status" -eq 0 ]
	[ "$(cg_memory_limit "$mem")" -eq $((256 * MIB)) ]
	[ "$(alloc_status 1)" = 0 ]

	# The same from a file.
	jq -n --argjson l $((32 * MIB)) '{"memory": {"limit": $l}}' >"$BATS_TEST_TMPDIR/res.json"
	run_berth update --resources "$BATS_TEST_TMPDIR/res.json" "$ID"
	[ "$status" -eq 0 ]
	[ "$(cg_memory_limit "$mem")" -eq $((32 * MIB)) ]
	[ "$(alloc_status 2)" = 137 ]
}

@test "update --pids-limit and --cpu-quota/--cpu-period reach the cgroup" {
	requires_cgroup pids cpu
	set_args sleep 100
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	save_cgroup_dirs "$ID"
	[ "$(cat "${CG_DIR[pids]}/pids.max")" = max ]
	[ "$(cg_cpu_quota "${CG_DIR[cpu]}")" = -1 ]

	run_berth update --pids-limit 10 "$ID"
	[ "$status" -eq 0 ]
	[ "$(cat "${CG_DIR[pids]}/pids.max")" = 10 ]

	run_berth update --cpu-quota 20000 --cpu-period 50000 "$ID"
	[ "$status" -eq 0 ]
	[ "$(cg_cpu_quota "${CG_DIR[cpu]}")" = 20000 ]
	[ "$(cg_cpu_period "${CG_DIR[cpu]}")" = 50000 ]
	# The earlier update stays.
	[ "$(cat "${CG_DIR[pids]}/pids.max")" = 10 ]
}

@test "update --cpuset-cpus confines every process, even if the cpuset group was made late" {
	requires_cgroup cpuset
	set_args sh -c 'sleep 100 & sleep 100 & wait'
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	local init
	init=$(container_pid "$ID")

	run_berth update --cpuset-cpus 0 "$ID"
	[ "$status" -eq 0 ]
	# The kernel's own view: every process of the container may only run on CPU 0.
	local p n=0
	for p in $(rootfs_pids "$BUNDLE/rootfs"); do
		[ "$(awk '/^Cpus_allowed_list/ {print $2}' "/proc/$p/status")" = 0 ] ||
			fail "process $p may still run on $(awk '/^Cpus_allowed_list/ {print $2}' "/proc/$p/status")"
		n=$((n + 1))
	done
	[ "$n" -eq 3 ]
	# And delete removes the group, wherever it was made.
	local dir
	dir=$(container_cgroup_dir cpuset "$ID")
	[ -d "$dir" ]
	run_berth delete --force "$ID"
	[ "$status" -eq 0 ]
	[ ! -e "$dir" ] || [ "$dir" = "$(pid_cgroup_dir cpuset $$)" ]
}

@test "update with a bad value fails and changes nothing" {
	requires_cgroup memory
	set_args sleep 100
	update_config --argjson l $((256 * MIB)) '.linux.resources.memory = {"limit": $l}'
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	save_cgroup_dirs "$ID"
	run_berth update --memory notanumber "$ID"
	[ "$status" -eq 1 ]
	! is_berth || [ "${#lines[@]}" -eq 1 ]
	[ "$(cg_memory_limit "${CG_DIR[memory]}")" -eq $((256 * MIB)) ]

	echo '{"memory": {"limit": "lots"}}' >"$BATS_TEST_TMPDIR/res.json"
	run_berth_stdin "$BATS_TEST_TMPDIR/res.json" update --resources - "$ID"
	[ "$status" -eq 1 ]
	! is_berth || [ "${#lines[@]}" -eq 1 ]
	[ "$(cg_memory_limit "${CG_DIR[memory]}")" -eq $((256 * MIB)) ]
	[ "$(container_status "$ID")" = running ]
}

# --- ps ------------------------------------------------------------------------

@test "ps lists the container's processes as a table and as JSON host pids" {
	set_args sh -c 'sleep 100 & sleep 101 & echo ready >/ready; wait'
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	retry 10 0.02 test -e "$BUNDLE/rootfs/ready"
	local init want
	init=$(container_pid "$ID")
	want=$(rootfs_pids "$BUNDLE/rootfs" | sort -n)
	[ "$(wc -l <<<"$want")" -eq 3 ]

	run_berth ps "$ID"
	[ "$status" -eq 0 ]
	# A header naming the columns, PID among them, then one row per process.
	local col
	col=$(awk 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "PID") print i }' <<<"$output")
	[ -n "$col" ] || fail "no PID column in '${lines[0]}'"
	[ "$(awk -v c="$col" 'NR > 1 { print $c }' <<<"$output" | sort -n)" = "$want" ]
	[[ "$output" == *"sleep 100"* ]]
	[[ "$output" == *"sleep 101"* ]]

	run_berth ps --format json "$ID"
	[ "$status" -eq 0 ]
	jq -e 'type == "array" and all(type == "number")' <<<"$output"
	jq -e --argjson p "$init" 'index($p) != null' <<<"$output"
	[ "$(jq '.[]' <<<"$output" | sort -n)" = "$want" ]
}

# --- events ----------------------------------------------------------------------

@test "events reports an OOM kill in the container as a type oom line" {
	set_args sh -c "$ALLOC_LOOP"
	update_config --argjson l $((32 * MIB)) '.linux.resources.memory = {"limit": $l}'
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	retry 10 0.02 test -e "$BUNDLE/rootfs/ready"

	local ev=$BATS_TEST_TMPDIR/events
	"$BERTH" --root "$ROOT" events "$ID" >"$ev" 2>&1 </dev/null 3>&- &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
	# The listener needs a moment to subscribe; OOM again until it has seen one.
	local n
	for ((n = 0; n < 5; n++)); do
		sleep 0.5
		[ "$(alloc_status "$n")" = 137 ] || fail "allocation $n was not OOM-killed"
		! wait_for_file_line "$ev" '"type": *"oom"' 2 || break
	done
	cat "$ev"
	grep '"type": *"oom"' "$ev" | head -n 1 | jq -e --arg id "$ID" '.type == "oom" and .id == $id'
	kill -0 "$BG_PID" || fail "events exited after the OOM"
	[ "$(container_status "$ID")" = running ]
}

@test "events --stats prints one stats object with memory, cpu and pids" {
	set_args sh -c 'sleep 100 & sleep 101 & echo ready >/ready; wait'
	update_config --argjson l $((64 * MIB)) '.linux.resources.memory = {"limit": $l}'
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	retry 10 0.02 test -e "$BUNDLE/rootfs/ready"

	run_berth events --stats "$ID"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	jq -e --arg id "$ID" '.type == "stats" and .id == $id' <<<"$output"
	jq -e '.data.memory.usage.usage | type == "number" and . > 0' <<<"$output"
	jq -e --argjson l $((64 * MIB)) '.data.memory.usage.limit == $l' <<<"$output"
	jq -e '.data.cpu.usage.total | type == "number" and . > 0' <<<"$output"
	# init and its two sleeps
	jq -e '.data.pids.current == 3' <<<"$output"
}

# --- kill --all and delete -------------------------------------------------------

# A container without a pid namespace whose init exits while children live on.
orphan_children_container() {
	ns_remove pid
	set_args sh -c "sleep 100 & sleep 100 & echo ready >/ready; $WAIT_FOR_GO"
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ] || return 1
	retry 10 0.02 test -e "$BUNDLE/rootfs/ready" || return 1
	save_cgroup_dirs "$ID" || return 1
	assert_own_cgroups || return 1
	release_container
	wait_for_status "$ID" stopped || return 1
	[ "$(rootfs_pids "$BUNDLE/rootfs" | wc -l)" -eq 2 ] || fail "children gone with init"
	# The children are still in the container's cgroup.
	local p
	for p in $(rootfs_pids "$BUNDLE/rootfs"); do
		grep -qx "$p" "${CG_DIR[pids]:-${CG_DIR[unified]}}/cgroup.procs" || fail "child $p not in the cgroup"
	done
}

@test "after kill --all has killed an exited init's children, delete removes the cgroup" {
	orphan_children_container
	run_berth kill --all "$ID" KILL
	[ "$status" -eq 0 ]
	retry 5 0.02 no_rootfs_pids "$BUNDLE/rootfs"
	run_berth delete "$ID"
	[ "$status" -eq 0 ]
	no_cgroup_dirs_left || fail "cgroups left: $(cgroup_dirs_left | xargs)"
	[ -z "$(root_entries)" ]
}

@test "delete of a stopped container kills children its init left behind and removes the cgroup" {
	# runc does this for containers without their own pid namespace.
	orphan_children_container
	run_berth delete "$ID"
	[ "$status" -eq 0 ]
	retry 5 0.02 no_rootfs_pids "$BUNDLE/rootfs"
	no_cgroup_dirs_left || fail "cgroups left: $(cgroup_dirs_left | xargs)"
	[ -z "$(root_entries)" ]
}

# --- unknown IDs -----------------------------------------------------------------

@test "pause, resume, update, ps, events of an unknown ID exit 1 with 'does not exist'" {
	local verb
	for verb in pause resume "update --memory 33554432" ps "ps --format json" "events --stats" events; do
		# shellcheck disable=SC2086
		run_berth $verb nosuch
		[ "$status" -eq 1 ] || fail "$verb nosuch exited $status"
		# runc: "container does not exist"
		[[ "$output" == *"does not exist"* ]] || fail "$verb nosuch: no 'does not exist' in output"
		! is_berth || [ "${#lines[@]}" -eq 1 ] || fail "$verb nosuch: more than one line"
	done
}
