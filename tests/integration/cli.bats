#!/usr/bin/env bats
# Command line surface: --version, --help, per-verb help, unknown verbs, the
# `spec` template (content and refusal to overwrite), `features` JSON, and
# error logging with --log/--log-format json.

load helpers

@test "--version exits 0 and prints a version" {
	run_berth --version
	[ "$status" -eq 0 ]
	[[ "$output" == *version* ]]
}

@test "--help exits 0 and lists the lifecycle verbs" {
	run_berth --help
	[ "$status" -eq 0 ]
	local verb
	for verb in create start run state kill delete list spec features; do
		[[ "$output" == *"$verb"* ]] || fail "--help does not mention $verb"
	done
}

@test "VERB --help and help VERB exit 0 and describe the verb" {
	local verb
	for verb in create start run state kill delete list spec features; do
		run_berth "$verb" --help
		[ "$status" -eq 0 ] || fail "$verb --help exited $status"
		[[ "$output" == *"$verb"* ]] || fail "$verb --help does not mention $verb"

		run_berth help "$verb"
		[ "$status" -eq 0 ] || fail "help $verb exited $status"
		[[ "$output" == *"$verb"* ]] || fail "help $verb does not mention $verb"
	done
}

@test "unknown verb exits non-zero and names it" {
	run_berth frobnicate
	[ "$status" -ne 0 ]
	[[ "$output" == *frobnicate* ]]
}

@test "unknown global flag exits non-zero" {
	run_berth --no-such-flag state x
	[ "$status" -ne 0 ]
}

@test "spec writes a usable default config.json" {
	local dir=$BATS_TEST_TMPDIR/spec
	mkdir "$dir"
	cd "$dir"
	run_berth spec
	[ "$status" -eq 0 ]
	[ -f config.json ]
	jq -e . config.json >/dev/null

	# A string ociVersion, a process and a rootfs relative to the bundle.
	jq -e '.ociVersion | type == "string"' config.json
	jq -e '.process.args | length > 0' config.json
	jq -e '.process.cwd == "/"' config.json
	jq -e '.root.path == "rootfs"' config.json

	local ns
	for ns in pid network ipc uts mount; do
		jq -e --arg t "$ns" '[.linux.namespaces[].type] | index($t)' config.json >/dev/null ||
			fail "spec lacks the $ns namespace"
	done
	# A cgroup namespace is optional (runc 1.1 omits it), but valid if present.
	jq -e '[.linux.namespaces[].type] | all(. as $t | ["pid","network","ipc","uts","mount","cgroup"] | index($t))' config.json

	local dst
	for dst in /proc /dev /dev/pts /dev/shm /dev/mqueue /sys; do
		jq -e --arg d "$dst" '[.mounts[].destination] | index($d)' config.json >/dev/null ||
			fail "spec lacks a mount on $dst"
	done
	jq -e '.mounts[] | select(.destination == "/proc") | .type == "proc"' config.json
	jq -e '.mounts[] | select(.destination == "/sys") | .type == "sysfs"' config.json

	jq -e '.linux.maskedPaths | length > 0' config.json
	jq -e '.linux.readonlyPaths | length > 0' config.json
	jq -e '.linux.maskedPaths + .linux.readonlyPaths | all(startswith("/"))' config.json
}

@test "spec --bundle writes into that directory" {
	local dir=$BATS_TEST_TMPDIR/other
	mkdir "$dir"
	run_berth spec --bundle "$dir"
	[ "$status" -eq 0 ]
	jq -e . "$dir/config.json" >/dev/null
}

@test "spec refuses to overwrite an existing config.json" {
	local dir=$BATS_TEST_TMPDIR/spec
	mkdir "$dir"
	cd "$dir"
	echo '{"mine": true}' >config.json
	run_berth spec
	[ "$status" -ne 0 ]
	[ "$(cat config.json)" = '{"mine": true}' ]
}

@test "features prints JSON with OCI versions and namespaces" {
	run_berth features
	[ "$status" -eq 0 ]
	jq -e . <<<"$output" >/dev/null
	jq -e '.ociVersionMin | type == "string" and length > 0' <<<"$output"
	jq -e '.ociVersionMax | type == "string" and length > 0' <<<"$output"
	jq -e '.ociVersionMin | startswith("1.")' <<<"$output"
	local ns
	for ns in pid network ipc uts mount cgroup; do
		jq -e --arg t "$ns" '.linux.namespaces | index($t)' <<<"$output" >/dev/null ||
			fail "features does not list the $ns namespace"
	done
}

@test "--log with --log-format json records errors as JSON lines" {
	local log=$BATS_TEST_TMPDIR/log.json
	run_berth --log "$log" --log-format json state nosuch
	[ "$status" -eq 1 ]
	[ -s "$log" ]
	# Every line is an object with level, msg and time; the error is among them.
	jq -e -s 'all(has("level") and has("msg") and has("time"))' "$log"
	jq -e -s 'any(.level == "error" and (.msg | contains("does not exist")))' "$log"
}

# --- options after operands, as runc takes them ---------------------------------
# runc (urfave/cli) moves options found after the container ID in front of
# it, for every verb except exec and ps, whose words after the ID are a
# command or ps(1) arguments. Container IDs start with cli-.

@test "--version: the runtime's name and version first, then spec: and libseccomp: lines" {
	run_berth --version
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^[a-z]+\ version\ [0-9]+\.[0-9]+ ]]
	printf '%s\n' "${lines[@]}" | grep -Eq '^spec: [0-9]+\.[0-9]+\.[0-9]+'
	printf '%s\n' "${lines[@]}" | grep -Eq '^libseccomp: [0-9]+\.[0-9]+\.[0-9]+$'
	if is_berth; then
		[[ "${lines[0]}" == "berth version "* ]]
		[ "${lines[1]}" = "spec: 1.2.0" ]
	fi
}

@test "kill, update, delete and state take their options after the container ID" {
	local id=cli-$BATS_TEST_NUMBER-$$
	set_args sleep 100
	run_berth run --detach "$id"
	[ "$status" -eq 0 ]
	if cgroup_has pids; then
		run_berth update "$id" --pids-limit 123
		[ "$status" -eq 0 ]
		[ "$(cat "$(container_cgroup_dir pids "$id")/pids.max")" = 123 ]
		run_berth update "$id" --pids-limit=124
		[ "$status" -eq 0 ]
		[ "$(cat "$(container_cgroup_dir pids "$id")/pids.max")" = 124 ]
	fi
	run_berth state "$id" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *state* ]]
	[ "$(container_status "$id")" = running ]
	# Still an error: an unknown option, wherever it is.
	run_berth state "$id" --no-such-option
	[ "$status" -eq 1 ]
	# After "--" nothing is an option.
	run_berth state -- "$id"
	[ "$status" -eq 0 ]
	run_berth kill "$id" KILL --all
	[ "$status" -eq 0 ]
	wait_for_status "$id" stopped
	run_berth delete "$id" --force
	[ "$status" -eq 0 ]
	[ -z "$(root_entries)" ]
}

@test "exec: words after the container ID are the command, options included" {
	local id=cli-$BATS_TEST_NUMBER-$$
	set_args sleep 100
	run_berth run --detach "$id"
	[ "$status" -eq 0 ]
	run_berth exec "$id" echo --env X=1 -t
	[ "$status" -eq 0 ]
	[ "$output" = "--env X=1 -t" ]
	run_berth exec --env X=1 "$id" sh -c 'echo "x=$X"'
	[ "$status" -eq 0 ]
	[ "$output" = "x=1" ]
	# "--env" is taken for the program's name, which does not exist.
	run_berth exec "$id" --env X=1 env
	[ "$status" -eq 255 ]
	[[ "$output" == *'--env'*'executable file not found in $PATH'* ]]
	run_berth exec -- "$id" echo hi
	[ "$status" -eq 0 ]
	[ "$output" = hi ]
}

@test "ps: words after the container ID are ps(1)'s" {
	local id=cli-$BATS_TEST_NUMBER-$$
	set_args sleep 100
	run_berth run --detach "$id"
	[ "$status" -eq 0 ]
	run_berth ps "$id" -o pid
	[ "$status" -eq 0 ]
	[ "${lines[0]// /}" = PID ]
	[ "${lines[1]// /}" = "$(container_pid "$id")" ]
}

@test "kill with signal 0 checks the container without signalling it" {
	local id=cli-$BATS_TEST_NUMBER-$$
	set_args sleep 100
	run_berth run --detach "$id"
	[ "$status" -eq 0 ]
	run_berth kill --all "$id" 0
	[ "$status" -eq 0 ]
	run_berth kill "$id" 0
	[ "$status" -eq 0 ]
	sleep 0.1
	[ "$(container_status "$id")" = running ]
	run_berth kill "$id" KILL
	[ "$status" -eq 0 ]
	wait_for_status "$id" stopped
	run_berth kill "$id" 0
	[ "$status" -eq 1 ]
	[[ "$output" == *"not running"* ]]
}

@test "list: containers sorted by ID in every format" {
	local base=cli-$BATS_TEST_NUMBER-$$ s want
	set_args sleep 100
	for s in m c x a q b; do
		run_berth create "$base-$s"
		[ "$status" -eq 0 ]
	done
	want=$(for s in a b c m q x; do echo "$base-$s"; done)
	run_berth list -q
	[ "$status" -eq 0 ]
	[ "$output" = "$want" ]
	run_berth list
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "${lines[@]:1}" | awk '{print $1}')" = "$want" ]
	run_berth list --format json
	[ "$status" -eq 0 ]
	[ "$(jq -r '.[].id' <<<"$output")" = "$want" ]
}

@test "exec --process FIFO with no writer ends on SIGTERM and leaves nothing running" {
	local id=cli-$BATS_TEST_NUMBER-$$ fifo=$BATS_TEST_TMPDIR/process.fifo
	set_args sleep 100
	run_berth run --detach "$id"
	[ "$status" -eq 0 ]
	mkfifo "$fifo"
	timeout -s TERM 1 "$BERTH" --root "$ROOT" exec --process "$fifo" "$id" \
		>"$BATS_TEST_TMPDIR/exec.out" 2>&1 </dev/null &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
	if ! wait_bg 6; then
		# Release the blocked reader so that it does not outlive the test.
		: >"$fifo"
		fail "exec --process on a FIFO did not end on SIGTERM"
	fi
	# timeout(1) exits 124 when its command ended on the signal it sent.
	[ "$status" -eq 124 ]
	# Nothing was started in the container.
	run_berth ps --format json "$id"
	[ "$status" -eq 0 ]
	jq -e 'length == 1' <<<"$output"
}

# --- the global --rootless (Slurm's containers guide passes --rootless=true) ----

@test "--rootless true, false and auto are accepted; any other value is refused in one line" {
	set_args true
	local v
	for v in true false auto; do
		run_berth "--rootless=$v" run "rl-$v"
		[ "$status" -eq 0 ] || fail "--rootless=$v: exit $status"
	done
	run_berth --rootless=maybe run rl-maybe
	[ "$status" -eq 1 ]
	! is_berth || [ "${#lines[@]}" -eq 1 ]
	[ -z "$(root_entries)" ]
}

# ro_cgroup_run ARGS...: `run rl` with every cgroup mount read-only (a private
# mount namespace): creating the container's cgroup fails with EROFS.
ro_cgroup_run() {
	status=0
	output=$(unshare -m --propagation private sh -c '
		for m in $(awk "\$9 ~ /^cgroup/ { print \$5 }" /proc/self/mountinfo); do
			mount -o remount,bind,ro "$m" || exit 99
		done
		exec "$@"' sh "$BERTH" "$@" --root "$ROOT" run rl 2>&1 </dev/null) || status=$?
	echo "$output"
}

@test "--rootless true as root: a container without limits runs without a cgroup when none can be made" {
	set_args true
	ro_cgroup_run
	[ "$status" -eq 1 ] || fail "without --rootless: exit $status, wanted 1"
	[ -z "$(root_entries)" ]
	ro_cgroup_run --rootless=true
	[ "$status" -eq 0 ] || fail "with --rootless=true: exit $status"
	[ -z "$(root_entries)" ]
}
