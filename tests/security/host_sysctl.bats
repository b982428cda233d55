#!/usr/bin/env bats
# linux.sysctl (and hostname/domainname) when the container joins, by
# linux.namespaces path, a namespace that is the runtime's own, that is the
# host's: the "namespaced" sysctl then changes the host (issue #10 finding
# 3). A runtime must refuse such a config with one clear line and change
# nothing; runc 1.1.5 does for net.* ("not allowed in host network
# namespace"), not for ipc or uts.
#
# The real host's settings are never at stake: every runtime call here runs
# inside throwaway namespaces made by unshare(1), which play the host (the
# runtime's own namespaces), and the container joins those by path.

load ../integration/helpers
load security_helpers

setup() {
	sec_setup
	requires root
	command -v unshare >/dev/null || skip "needs unshare(1) (util-linux)"
	set_args sh -c 'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax /proc/sys/kernel/domainname; hostname'
	# The real host's values, checked untouched at the end of every test.
	HOST_VALUES=$(host_values)
}

teardown() {
	local rc=0 now
	sec_teardown || rc=1
	if [ -n "${HOST_VALUES:-}" ]; then
		now=$(host_values)
		[ "$now" = "$HOST_VALUES" ] || {
			echo "the real host's values changed: was '$HOST_VALUES', now '$now'"
			rc=1
		}
	fi
	return $rc
}

host_values() {
	echo "$(cat /proc/sys/net/ipv4/ip_forward) $(cat /proc/sys/kernel/msgmax) $(cat /proc/sys/kernel/domainname) $(hostname)"
}

# shared_ns_run KIND JQ_FILTER: in a throwaway namespace of KIND (net, ipc
# or uts) made by unshare, which the runtime has as its own, point the
# config's namespace of that kind at it by path, edit the config with
# JQ_FILTER (it sees $before, the throwaway namespace's value of SYSCTL_FILE
# before the run), and `run` the container there. Sets $status and $output
# (the runtime's), and BEFORE and AFTER: /proc/sys/$SYSCTL_FILE in the
# throwaway namespace before and after the run (plus the hostname for uts).
shared_ns_run() {
	local kind=$1 filter=$2 type flag out=$BATS_TEST_TMPDIR/shared
	case $kind in
	net) type=network flag=--net ;;
	ipc) type=ipc flag=--ipc ;;
	uts) type=uts flag=--uts ;;
	*) fail "shared_ns_run: unknown kind $kind" ;;
	esac
	status=0
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare "$flag" -- bash -c '
		kind=$1 type=$2 file=/proc/sys/$3 filter=$4 out=$5
		shift 5
		before=$(cat "$file") || exit 90
		[ "$kind" != uts ] || before="$before $(hostname)"
		printf "%s\n" "$before" >"$out.before"
		jq --arg t "$type" --arg p "/proc/$$/ns/$kind" --arg before "${before%% *}" \
			".linux.namespaces |= map(if .type == \$t then .path = \$p else . end) | $filter" \
			config.json >config.json.new && mv config.json.new config.json || exit 91
		rc=0
		"$@" >"$out.output" 2>&1 </dev/null || rc=$?
		after=$(cat "$file")
		[ "$kind" != uts ] || after="$after $(hostname)"
		printf "%s\n" "$after" >"$out.after"
		exit $rc' shared_ns_run "$kind" "$type" "$SYSCTL_FILE" "$filter" "$out" \
		timeout -k 5 "$BERTH_TIMEOUT" "$BERTH" --root "$ROOT" run ctr || status=$?
	if [ "$status" -eq 90 ] || [ "$status" -eq 91 ]; then
		fail "shared_ns_run: setup failed (status $status)"
	fi
	output=$(cat "$out.output")
	BEFORE=$(cat "$out.before")
	AFTER=$(cat "$out.after")
	echo "# $(basename "$BERTH") run in a throwaway $kind namespace that is also the container's => status $status"
	[ -z "$output" ] || printf '%s\n' "$output"
	echo "# in that namespace: before '$BEFORE', after '$AFTER'"
}

# assert_refused KEY: the run failed with one line naming KEY, and the
# throwaway "host" namespace kept its value.
assert_refused() {
	[ "$AFTER" = "$BEFORE" ] || fail "the runtime changed the namespace it runs in (the host's): '$BEFORE' -> '$AFTER'"
	[ "$status" -ne 0 ] || fail "a config that changes the host's $1 was accepted"
	[ "$status" -ne 124 ] || fail "the runtime timed out"
	local n
	n=$(printf '%s\n' "$output" | grep -c .)
	[ "$n" -eq 1 ] || fail "wanted one line of error, got $n"
	[[ $output == *"$1"* ]] || fail "the error does not name $1"
}

@test "sysctl net.* refused when the container's network namespace is the runtime's own (the host's)" {
	SYSCTL_FILE=net/ipv4/ip_forward
	shared_ns_run net '.linux.sysctl = {"net.ipv4.ip_forward": (if $before == "1" then "0" else "1" end)}'
	assert_refused net.ipv4.ip_forward
}

# runc 1.1.5 checks net.* only: this one it writes into the host's ipc namespace.
@test "sysctl kernel.msgmax refused when the container's ipc namespace is the runtime's own (the host's)" {
	requires_berth "runc 1.1.5 writes an ipc sysctl into a joined host ipc namespace"
	SYSCTL_FILE=kernel/msgmax
	shared_ns_run ipc '.linux.sysctl = {"kernel.msgmax": ($before | tonumber + 1 | tostring)}'
	assert_refused kernel.msgmax
}

@test "sysctl kernel.domainname refused when the container's uts namespace is the runtime's own (the host's)" {
	requires_berth "runc 1.1.5 writes kernel.domainname into a joined host uts namespace"
	SYSCTL_FILE=kernel/domainname
	# No hostname field: only the sysctl is at stake here.
	shared_ns_run uts 'del(.hostname) | .linux.sysctl = {"kernel.domainname": "berth-sec-evil"}'
	assert_refused kernel.domainname
}

# Same class: hostname and domainname are applied with sethostname and
# setdomainname in the container's uts namespace, the host's here.
@test "hostname refused when the container's uts namespace is the runtime's own (the host's)" {
	requires_berth "runc 1.1.5 sets the host's hostname through a joined host uts namespace"
	SYSCTL_FILE=kernel/domainname
	shared_ns_run uts '.hostname = "berth-sec-evil"'
	assert_refused hostname
}

@test "domainname refused when the container's uts namespace is the runtime's own (the host's)" {
	requires_berth "runc 1.1.5 does not refuse it (it ignores the domainname field)"
	SYSCTL_FILE=kernel/domainname
	shared_ns_run uts 'del(.hostname) | .domainname = "berth-sec-evil"'
	assert_refused domainname
}

# Controls: with namespaces of its own, or joining one that is not the
# runtime's, the same settings work, and only there.
@test "control: the same sysctls with the container's own net, ipc and uts namespaces are set inside only" {
	local out=$BATS_TEST_TMPDIR/control
	update_config '.hostname = "inside" | .domainname = "" | .linux.sysctl = {
		"net.ipv4.ip_forward": "0", "kernel.msgmax": "9001", "kernel.domainname": "berth-sec-inside"}'
	status=0
	# shellcheck disable=SC2016
	unshare --net --ipc --uts -- bash -c '
		out=$1
		shift
		sysctl_values() { echo "$(cat /proc/sys/net/ipv4/ip_forward) $(cat /proc/sys/kernel/msgmax) $(cat /proc/sys/kernel/domainname) $(hostname)"; }
		sysctl_values >"$out.before"
		"$@" >"$out.output" 2>&1 </dev/null || exit
		sysctl_values >"$out.after"' control "$out" \
		timeout -k 5 "$BERTH_TIMEOUT" "$BERTH" --root "$ROOT" run ctr || status=$?
	cat "$out.output"
	[ "$status" -eq 0 ]
	[ "$(xargs <"$out.output")" = "0 9001 berth-sec-inside inside" ]
	[ "$(cat "$out.after")" = "$(cat "$out.before")" ]
}

@test "control: a net.* sysctl with a joined network namespace that is not the runtime's is set there" {
	local out=$BATS_TEST_TMPDIR/joined holder before after
	# Another throwaway network namespace, held by a sleeping process.
	unshare --net -- sleep 60 &
	holder=$!
	BG_PIDS+=("$holder")
	retry 5 0.02 test "$(readlink "/proc/$holder/ns/net")" != "$(readlink /proc/self/ns/net)"
	before=$(nsenter --net="/proc/$holder/ns/net" cat /proc/sys/net/ipv4/ip_forward)
	local want=1
	[ "$before" != 1 ] || want=0
	update_config --arg p "/proc/$holder/ns/net" --arg v "$want" \
		'.linux.namespaces |= map(if .type == "network" then .path = $p else . end) | .linux.sysctl = {"net.ipv4.ip_forward": $v}'
	status=0
	unshare --net -- timeout -k 5 "$BERTH_TIMEOUT" "$BERTH" --root "$ROOT" run ctr >"$out" 2>&1 </dev/null || status=$?
	cat "$out"
	[ "$status" -eq 0 ]
	[ "$(head -n 1 "$out")" = "$want" ]
	after=$(nsenter --net="/proc/$holder/ns/net" cat /proc/sys/net/ipv4/ip_forward)
	[ "$after" = "$want" ]
}
