#!/usr/bin/env bats
# The state directory is not trusted (issue #10, findings 5 and 6): berth
# acts on it as root on the host (poststop hooks at delete, the cgroup paths
# delete removes), so a container must not be able to write it, berth must
# not follow what it does not own, and a create killed half way must leave
# something `delete --force` can clean up.

load ../integration/helpers

setup() {
	setup_bundle
	ID=st-$BATS_TEST_NUMBER-$$
	PWNED=$BATS_TEST_TMPDIR/pwned
}

teardown() {
	teardown_bundle
}

dead_or_zombie() {
	local st
	st=$(sed -n 's/.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 0
	[ -z "$st" ] || [ "$st" = Z ]
}

# A poststop hook that would run on the host as root.
evil_hook_json() {
	printf '{"poststop": [{"path": "/bin/sh", "args": ["sh", "-c", "echo pwned > %s"]}]}' "$PWNED"
}

@test "the state root bind-mounted writable into the container is refused at create (poststop hook injection)" {
	requires berth
	mkdir -p "$ROOT"
	add_mount "{\"destination\": \"/state\", \"type\": \"bind\", \"source\": \"$ROOT\", \"options\": [\"rbind\"]}"
	set_args /bin/true
	run_berth create "$ID"
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"mounts["*"state root"* ]]
	[ -z "$(ls -A "$ROOT")" ] # nothing left behind
}

@test "a parent of the state root bind-mounted writable is refused; read-only (not recursive) is accepted" {
	requires berth
	add_mount "{\"destination\": \"/t\", \"type\": \"bind\", \"source\": \"$BATS_TEST_TMPDIR\", \"options\": [\"rbind\"]}"
	set_args /bin/true
	run_berth create "$ID"
	[ "$status" -eq 1 ]
	[[ "$output" == *"state root"* ]]
	update_config '.mounts[-1].options = ["bind", "ro"]'
	run_berth run "$ID"
	[ "$status" -eq 0 ]
	# Recursive and recursively read-only (rro), as the refusal suggests.
	update_config '.mounts[-1].options = ["rbind", "rro"]'
	run_berth run "$ID"
	[ "$status" -eq 0 ]
}

@test "control: the attack works when the state is writable (the refusal is what stops it)" {
	# With the guard, create is refused; this shows what it prevents: a
	# process that can write state.json gets its poststop hook run on the
	# host by delete. (runc 1.1.5 runs it too.)
	set_args /bin/sleep 100
	run_berth create "$ID"
	[ "$status" -eq 0 ]
	local state=$ROOT/$ID/state.json
	[ -f "$state" ] || skip "runtime keeps its state elsewhere"
	jq --argjson h "$(evil_hook_json)" '.hooks = $h' "$state" >"$state.new"
	cat "$state.new" >"$state" # in place, as a writer inside would
	run_berth delete --force "$ID"
	[ -f "$PWNED" ] # the host ran the injected hook
}

@test "state.json replaced by a symlink, or owned by someone else, is not trusted" {
	requires berth
	set_args /bin/sleep 100
	run_berth create "$ID"
	[ "$status" -eq 0 ]
	local dir=$ROOT/$ID fake=$BATS_TEST_TMPDIR/fake.json
	jq --argjson h "$(evil_hook_json)" '.hooks = $h' "$dir/state.json" >"$fake"
	cp "$dir/state.json" "$BATS_TEST_TMPDIR/good.json"
	ln -sf "$fake" "$dir/state.json"
	run_berth delete --force "$ID"
	[ "$status" -ne 0 ]
	[[ "$output" == *"state.json"* ]]
	[ ! -e "$PWNED" ]
	# Owned by another user: refused as well.
	rm "$dir/state.json"
	cp "$fake" "$dir/state.json"
	chown 1234 "$dir/state.json"
	run_berth delete --force "$ID"
	[ "$status" -ne 0 ]
	[ ! -e "$PWNED" ]
	# Group-writable: refused.
	chown 0 "$dir/state.json"
	chmod 0620 "$dir/state.json"
	run_berth state "$ID"
	[ "$status" -ne 0 ]
	# Restored, it is deleted normally (teardown checks nothing is left).
	cp "$BATS_TEST_TMPDIR/good.json" "$dir/state.json"
	chmod 0600 "$dir/state.json"
	run_berth delete --force "$ID"
	[ "$status" -eq 0 ]
	[ ! -e "$PWNED" ]
}

@test "create killed half way (SIGKILL during createRuntime): delete --force removes the process, cgroup and state" {
	requires root
	set_args /bin/sleep 100
	local ready=$BATS_TEST_TMPDIR/hook-ran
	update_config --arg r "$ready" '.hooks.createRuntime = [{"path": "/bin/sh", "args": ["sh", "-c", "echo $$ > \($r); exec sleep 30"]}]'
	"$BERTH" --root "$ROOT" create "$ID" &
	local cpid=$!
	retry 10 0.1 test -s "$ready"
	# The init waits for the hook, inside the container's cgroup.
	local cgdir members
	cgdir=$(pid_cgroup_dir memory $$)/berth/$ID
	is_berth || cgdir=$(dirname "$(pid_cgroup_dir memory $$)")/$ID # runc: next to ours
	[ -d "$cgdir" ] || skip "no cgroup at $cgdir to watch"
	members=$(cat "$cgdir/cgroup.procs")
	[ -n "$members" ]
	kill -9 "$cpid"
	wait "$cpid" || true
	kill "$(cat "$ready")" || true # the hook, child of the killed create
	[ -d "$ROOT/$ID" ]
	run_berth delete --force "$ID"
	[ "$status" -eq 0 ]
	[ ! -e "$ROOT/$ID" ]
	[ ! -d "$cgdir" ] || fail "cgroup $cgdir left behind"
	local p
	for p in $members; do
		# Gone, or a zombie whose new parent has not reaped it yet.
		retry 5 0.1 dead_or_zombie "$p" || fail "process $p of the killed create is still alive"
	done
	# The ID can be used again.
	update_config 'del(.hooks)'
	set_args /bin/true
	run_berth run "$ID"
	[ "$status" -eq 0 ]
}

@test "a state directory left without state.json (create killed before writing it) is removed by delete --force" {
	requires berth
	mkdir -p "$ROOT/$ID"
	mkfifo "$ROOT/$ID/exec.fifo"
	run_berth delete --force "$ID"
	[ "$status" -eq 0 ]
	[ ! -e "$ROOT/$ID" ]
	[[ "$output" == *"interrupted create"* ]]
	set_args /bin/true
	run_berth run "$ID"
	[ "$status" -eq 0 ]
}
