#!/usr/bin/env bats
# --log FILE and --log-format text|json (global flags, before the verb): errors
# and warnings are appended to FILE, as JSON lines {"level","msg","time"} with
# --log-format json (containerd reads the last error's "msg", podman reads the
# log), as logrus-style text lines by default; --debug adds debug lines.
# Container IDs start with lg-.

load helpers

setup() {
	setup_bundle
	ID=lg-$BATS_TEST_NUMBER-$$
	LOG=$BATS_TEST_TMPDIR/runtime.log
	ERR=$BATS_TEST_TMPDIR/stderr
}

# logged ARGS...: run the runtime with ARGS (global flags included) with
# stdout and stderr apart; sets status, and ERR holds stderr.
logged() {
	status=0
	timeout -k 5 "$BERTH_TIMEOUT" "$BERTH" --root "$ROOT" "$@" >"$BATS_TEST_TMPDIR/stdout" 2>"$ERR" </dev/null 3>&- || status=$?
	echo "# $(basename "$BERTH") $* => status $status"
	cat "$ERR"
}

# last_error_msg FILE: the "msg" of the last line of FILE, which must be a JSON error.
last_error_msg() {
	tail -n 1 "$1" | jq -e -r 'select(.level == "error") | .msg'
}

# assert_json_lines FILE: every line of FILE is a JSON object with string
# level, msg and time, and time is an RFC 3339 UTC timestamp.
assert_json_lines() {
	local line
	while IFS= read -r line; do
		jq -e 'type == "object" and (.level | type == "string") and (.msg | type == "string")
			and (.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"))' \
			<<<"$line" >/dev/null || fail "not a JSON log line: $line"
	done <"$1"
}

# assert_stderr_has_msg MSG: stderr is one line that contains MSG.
assert_stderr_has_msg() {
	[ -n "$1" ] || fail "empty msg"
	[ "$(wc -l <"$ERR")" -eq 1 ] || fail "stderr is not one line"
	grep -qF -- "$1" "$ERR" || fail "stderr does not contain the logged msg '$1'"
}

@test "json log: an unknown container is an error line whose msg is what stderr says" {
	logged --log "$LOG" --log-format json state lg-nosuch
	[ "$status" -eq 1 ]
	assert_json_lines "$LOG"
	local msg
	msg=$(last_error_msg "$LOG")
	[[ "$msg" == *"does not exist"* ]]
	assert_stderr_has_msg "$msg"
	if is_berth; then
		[ "$(cat "$ERR")" = "berth: $msg" ]
		[[ "$msg" == *lg-nosuch* ]]
	fi
}

@test "json log: each failing verb logs its error" {
	local verb
	for verb in start kill delete pause resume ps events; do
		rm -f "$LOG"
		logged --log "$LOG" --log-format json "$verb" lg-nosuch
		[ "$status" -ne 0 ] || fail "$verb succeeded"
		assert_json_lines "$LOG"
		last_error_msg "$LOG" >/dev/null || fail "$verb: last line is no error"
		assert_stderr_has_msg "$(last_error_msg "$LOG")"
	done
}

@test "json log: a bad config is an error line naming the field" {
	update_config '.process.args = []'
	logged --log "$LOG" --log-format json create "$ID"
	[ "$status" -eq 1 ]
	assert_json_lines "$LOG"
	local msg
	msg=$(last_error_msg "$LOG")
	assert_stderr_has_msg "$msg"
	if is_berth; then
		[ "$msg" = "config.json: process.args: must be a non-empty array" ]
	fi
	[ -z "$(root_entries)" ]
}

@test "json log: a failing hook's error is the last line, one JSON line even for multi-line output" {
	update_config '.hooks.createRuntime = [{"path": "/bin/sh", "args": ["sh", "-c", "printf \"one\\ntwo \\\"quoted\\\"\\n\" >&2; exit 3"]}]'
	set_args true
	logged --log "$LOG" --log-format json create "$ID"
	[ "$status" -eq 1 ]
	assert_json_lines "$LOG"
	local msg
	msg=$(last_error_msg "$LOG")
	[[ "$msg" == *'two "quoted"'* ]]
	if is_berth; then
		# (runc 1.1 prints the hook's output, newlines included, on stderr.)
		assert_stderr_has_msg "$msg"
		[ "$msg" = 'hook createRuntime[0] /bin/sh: exited with status 3: two "quoted"' ]
		[ "$(wc -l <"$LOG")" -eq 1 ]
	fi
}

@test "json log: a container id with quotes and backslashes still gives valid JSON" {
	logged --log "$LOG" --log-format json state 'lg-"a\b'
	[ "$status" -eq 1 ]
	assert_json_lines "$LOG"
	last_error_msg "$LOG" >/dev/null
}

@test "json log: a poststop failure is a warning line" {
	requires_berth "runc 1.1 logs a failing poststop hook at level error"
	update_config '.hooks.poststop = [{"path": "/bin/false"}]'
	set_args true
	run_berth run --detach "$ID"
	[ "$status" -eq 0 ]
	wait_for_status "$ID" stopped
	logged --log "$LOG" --log-format json delete "$ID"
	[ "$status" -eq 0 ]
	assert_json_lines "$LOG"
	[ "$(wc -l <"$LOG")" -eq 1 ]
	jq -e '.level == "warning" and .msg == "hook poststop[0] /bin/false: exited with status 1"' "$LOG"
	[ "$(cat "$ERR")" = "berth: warning: hook poststop[0] /bin/false: exited with status 1" ]
	# No error among the lines: containerd must not see a failure.
	refute jq -e 'select(.level == "error")' "$LOG"
}

@test "json log: a successful command logs no error" {
	set_args true
	logged --log "$LOG" --log-format json run "$ID"
	[ "$status" -eq 0 ]
	if [ -e "$LOG" ]; then
		assert_json_lines "$LOG"
		refute grep -q '"level":"error"' "$LOG"
	fi
}

@test "the log is appended to, never truncated" {
	echo '{"level":"info","msg":"sentinel","time":"2000-01-01T00:00:00Z"}' >"$LOG"
	logged --log "$LOG" --log-format json state lg-nosuch1
	[ "$status" -eq 1 ]
	logged --log "$LOG" --log-format json state lg-nosuch2
	[ "$status" -eq 1 ]
	set_args true
	logged --log "$LOG" --log-format json run "$ID"
	[ "$status" -eq 0 ]
	assert_json_lines "$LOG"
	[ "$(head -n 1 "$LOG" | jq -r .msg)" = sentinel ]
	[ "$(jq -s '[.[] | select(.level == "error")] | length' "$LOG")" -eq 2 ]
	jq -e -s '[.[] | select(.level == "error") | .msg] | (.[0] | contains("does not exist")) and (.[1] | contains("does not exist"))' "$LOG"
	# The text format appends to the same file too.
	logged --log "$LOG" state lg-nosuch3
	[ "$(head -n 1 "$LOG" | jq -r .msg)" = sentinel ]
	[ "$(wc -l <"$LOG")" -ge 4 ]
}

@test "text is the default log format: logrus-style level and msg" {
	logged --log "$LOG" state lg-nosuch
	[ "$status" -eq 1 ]
	cat "$LOG"
	refute jq -e . "$LOG" 2>/dev/null
	local line
	line=$(tail -n 1 "$LOG")
	[[ "$line" == time=\"*\"" level=error msg="* ]]
	[[ "$line" == *"does not exist"* ]]
	logged --log "$LOG" --log-format text state lg-nosuch
	[ "$status" -eq 1 ]
	[[ "$(tail -n 1 "$LOG")" == time=\"*\"" level=error msg="* ]]
}

@test "text log: quotes in the message are escaped, so the line stays parseable" {
	# logrus quotes with Go's %q: msg="container \"x\" does not exist".
	logged --log "$LOG" --log-format text state 'lg-nosuch'
	[ "$status" -eq 1 ]
	local line
	line=$(tail -n 1 "$LOG")
	echo "$line"
	# After msg=", the value runs to the first unescaped quote, which must be the last character.
	local rest=${line#*msg=\"}
	rest=${rest%\"}
	[[ "$rest" != *[!\\]\"* ]] || fail "unescaped quote inside msg: $line"
}

@test "--log-format with an unknown value exits 1 with one line" {
	logged --log "$LOG" --log-format bogus state lg-nosuch
	[ "$status" -eq 1 ]
	[ "$(wc -l <"$ERR")" -eq 1 ]
	grep -q bogus "$ERR"
	if is_berth; then
		[ "$(cat "$ERR")" = "berth: --log-format must be text or json, not 'bogus' (see 'berth --help')" ]
	fi
}

@test "--debug without --log writes debug lines to stderr; with --log into the log" {
	requires_berth "runc 1.1 --debug prints nothing for these verbs"
	logged --debug list
	[ "$status" -eq 0 ]
	grep -q '^time="[^"]*" level=debug msg="list ' "$ERR"
	grep -q '^time="[^"]*" level=debug msg="list: exit status 0"$' "$ERR"

	logged --debug --log "$LOG" --log-format json state lg-nosuch
	[ "$status" -eq 1 ]
	assert_json_lines "$LOG"
	jq -e -s 'map(select(.level == "debug")) | length >= 2' "$LOG"
	jq -e -s 'any(.level == "debug" and (.msg | startswith("state lg-nosuch")))' "$LOG"
	jq -e -s 'any(.level == "debug" and .msg == "state: exit status 1")' "$LOG"
	# The error is logged too, and debug lines stay out of stderr.
	jq -e -s 'any(.level == "error")' "$LOG"
	refute grep -q debug "$ERR"

	# Without --debug: no debug lines.
	rm -f "$LOG"
	logged --log "$LOG" --log-format json state lg-nosuch
	refute jq -e -s 'any(.level == "debug")' "$LOG"
}

@test "--debug: level=debug lines on stderr in the log format, text or JSON, as runc writes them" {
	set_args true
	logged --debug run "$ID"
	[ "$status" -eq 0 ]
	grep -Eq '^time="[^"]+" level=debug msg=".+"' "$ERR"
	# Every debug line is in that format (no private prefix).
	refute grep -v '^time="[^"]*" level=' "$ERR"

	logged --debug --log-format json run "$ID-j"
	[ "$status" -eq 0 ]
	assert_json_lines "$ERR"
	jq -e -s 'any(.level == "debug")' "$ERR"
}
