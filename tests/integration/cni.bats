#!/usr/bin/env bats
# berth-bridge, berth's CNI plugin, called directly as a container runtime
# calls it: the CNI_* environment, the network config on stdin, the result or
# an error object on stdout. Each test makes a throwaway network namespace that
# plays "host" (the plugin runs in it through nsenter --net, never `ip netns
# exec`, which remounts /sys) and one per container; nothing touches the real
# host's network. Every scenario runs twice: with berth-bridge and with
# Debian's reference plugins (bridge + host-local + portmap, chained as libcni
# chains them), so the two are held to the same behaviour in one run.
# CNI_PLUGIN=berth or CNI_PLUGIN=reference runs only one of them.

load helpers

CNI_NAME=berthtest
CNI_BRIDGE=cnitest0
SUBNET4_PREFIX=10.88.1.
GW4=10.88.1.1
GW6=fd10:88:1::1
HOST_ADDR=10.88.250.1
REFERENCE_DIR=/usr/lib/cni

setup() {
	requires root netns
	command -v nft >/dev/null || skip "test requires nftables (nft)"
	CNI_DATA=$BATS_TEST_TMPDIR/cni-data
	CNI_CACHE=$BATS_TEST_TMPDIR/cni-cache
	CNI_BIN=$BATS_TEST_TMPDIR/cni-bin
	mkdir -p "$CNI_CACHE" "$CNI_BIN"
	ln -s "$BERTH" "$CNI_BIN/berth-bridge"
	make_netns || fail "cannot make the host namespace"
	HOST_NS=$NETNS_PATH
	HOST_NAME=$NETNS_NAME
	ip -n "$HOST_NAME" link set lo up
}

teardown() {
	local pid
	for pid in "${BG_PIDS[@]}"; do
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	delete_test_netns
}

# use_plugin berth|reference: the plugin this test drives (skipped when
# CNI_PLUGIN selects the other).
use_plugin() {
	if [ -n "${CNI_PLUGIN:-}" ] && [ "$CNI_PLUGIN" != "$1" ]; then
		skip "CNI_PLUGIN=$CNI_PLUGIN"
	fi
	CNI_KIND=$1
	if [ "$1" = reference ]; then
		[ -x "$REFERENCE_DIR/bridge" ] && [ -x "$REFERENCE_DIR/portmap" ] ||
			skip "test requires Debian's containernetworking-plugins"
		command -v iptables >/dev/null || skip "the reference plugins need iptables"
	fi
}

# new_container: a network namespace for one container, lo up (a runtime's
# loopback plugin does that); sets CT_NS, CT_NAME.
new_container() {
	make_netns || fail "cannot make a container namespace"
	CT_NS=$NETNS_PATH
	CT_NAME=$NETNS_NAME
	ip -n "$CT_NAME" link set lo up
}

# net_conf VERSION [PORT_MAPPINGS_JSON [TYPE]]: the network config, the same
# for both plugins but for its type.
net_conf() {
	local type=berth-bridge
	[ "$CNI_KIND" = reference ] && type=bridge
	jq -cn --arg v "$1" --argjson p "${2:-[]}" --arg t "${3:-$type}" --arg d "$CNI_DATA" \
		--arg n "$CNI_NAME" --arg b "$CNI_BRIDGE" '{
		cniVersion: $v, name: $n, type: $t, bridge: $b, isGateway: true, ipMasq: true,
		ipam: {type: "host-local", dataDir: $d,
		       ranges: [[{subnet: "10.88.1.0/24"}], [{subnet: "fd10:88:1::/64"}]],
		       routes: [{dst: "0.0.0.0/0"}, {dst: "::/0"}]},
		runtimeConfig: {portMappings: $p}}'
}

# plugin_exec CMD ID NETNS PROGRAM CONF: one plugin call in the host namespace,
# with the environment a runtime gives (CNI_NETNS empty: unset). stdout to
# $CNI_OUT, stderr to $CNI_ERR; returns the plugin's status.
plugin_exec() {
	local -a env=(CNI_COMMAND="$1" CNI_CONTAINERID="$2" CNI_IFNAME=eth0
		CNI_PATH="$CNI_BIN:$REFERENCE_DIR" PATH="$PATH")
	[ -n "$3" ] && env+=(CNI_NETNS="$3")
	[ -n "${CNI_ARGS_VALUE:-}" ] && env+=(CNI_ARGS="$CNI_ARGS_VALUE")
	printf '%s' "$5" | timeout -k 5 "$BERTH_TIMEOUT" nsenter --net="$HOST_NS" \
		env -i "${env[@]}" "$4" >"$CNI_OUT" 2>"$CNI_ERR"
}

# with_prev CONF RESULT: CONF with prevResult (when RESULT is not empty).
with_prev() {
	if [ -n "$2" ]; then
		jq -c --argjson r "$2" '. + {prevResult: $r}' <<<"$1"
	else
		printf '%s' "$1"
	fi
}

# portmap_conf CONF: the portmap entry of the reference chain, as libcni
# derives it from the conflist (name, cniVersion, runtimeConfig).
portmap_conf() {
	jq -c '{cniVersion, name, type: "portmap", capabilities: {portMappings: true},
		runtimeConfig: {portMappings: .runtimeConfig.portMappings}}' <<<"$1"
}

# chain_reference CMD ID NETNS CONF: bridge then portmap (ADD, CHECK), or the
# other way round (DEL), each with the cached ADD result as prevResult.
chain_reference() {
	local prev="" pm
	[ -s "$CNI_CACHE/$2" ] && prev=$(cat "$CNI_CACHE/$2")
	pm=$(portmap_conf "$4")
	case $1 in
	ADD)
		plugin_exec ADD "$2" "$3" "$REFERENCE_DIR/bridge" "$4" || return
		plugin_exec ADD "$2" "$3" "$REFERENCE_DIR/portmap" "$(with_prev "$pm" "$(cat "$CNI_OUT")")"
		;;
	CHECK)
		plugin_exec CHECK "$2" "$3" "$REFERENCE_DIR/bridge" "$(with_prev "$4" "$prev")" || return
		plugin_exec CHECK "$2" "$3" "$REFERENCE_DIR/portmap" "$(with_prev "$pm" "$prev")"
		;;
	*)
		plugin_exec "$1" "$2" "$3" "$REFERENCE_DIR/portmap" "$(with_prev "$pm" "$prev")" || return
		plugin_exec "$1" "$2" "$3" "$REFERENCE_DIR/bridge" "$(with_prev "$4" "$prev")"
		;;
	esac
}

# run_cni CMD ID NETNS CONF: what libcni does for one network; sets $status
# and $output (stdout) like bats' run, and keeps the ADD result as libcni's
# cache does (DEL and CHECK get it as prevResult).
run_cni() {
	CNI_OUT=$BATS_TEST_TMPDIR/cni.out
	CNI_ERR=$BATS_TEST_TMPDIR/cni.err
	status=0
	if [ "$CNI_KIND" = reference ]; then
		chain_reference "$@" || status=$?
	else
		local prev=""
		[ -s "$CNI_CACHE/$2" ] && [ "$1" != ADD ] && prev=$(cat "$CNI_CACHE/$2")
		plugin_exec "$1" "$2" "$3" "${CNI_PROGRAM:-$CNI_BIN/berth-bridge}" \
			"$(with_prev "$4" "$prev")" || status=$?
	fi
	output=$(cat "$CNI_OUT")
	echo "# $CNI_KIND $1 $2 (netns ${3:-none}): status $status"
	echo "$output"
	cat "$CNI_ERR"
	[ "$1" = ADD ] && [ "$status" -eq 0 ] && printf '%s' "$output" >"$CNI_CACHE/$2"
	[ "$1" = DEL ] && [ "$status" -eq 0 ] && rm -f "$CNI_CACHE/$2"
	return 0
}

# add_container ID [PORTS]: a container namespace, ADDed; sets CT_NS, CT_NAME,
# CT_IP4, CT_IP6 (without prefix length).
add_container() {
	new_container
	run_cni ADD "$1" "$CT_NS" "$(net_conf 1.0.0 "${2:-[]}")"
	[ "$status" -eq 0 ] || fail "ADD $1 failed: $output"
	CT_IP4=$(jq -r '.ips[].address | select(startswith("10.88.")) | sub("/.*"; "")' <<<"$output")
	CT_IP6=$(jq -r '.ips[].address | select(startswith("fd10:")) | sub("/.*"; "")' <<<"$output")
	[ -n "$CT_IP4" ] && [ -n "$CT_IP6" ] || fail "ADD $1: no IPv4 and IPv6 address in $output"
}

in_host() {
	nsenter --net="$HOST_NS" "$@"
}

# ping_from NS ADDRESS: one answered ping (IPv6 addresses may take a moment).
ping_from() {
	retry 5 0.2 nsenter --net="$1" busybox ping -c 1 -W 1 "$2" >/dev/null
}

# assert_gone ID IP4: after DEL, nothing of the container is left in the host
# namespace: no veth on the bridge, no lease naming it, no nft rule for it.
assert_gone() {
	local links leases rules
	links=$(ip -n "$HOST_NAME" -o link show master "$CNI_BRIDGE" 2>/dev/null || true)
	[ -z "$links" ] || fail "links left on $CNI_BRIDGE: $links"
	leases=$(grep -rl -- "$1" "$CNI_DATA" 2>/dev/null || true)
	[ -z "$leases" ] || fail "lease files left naming $1: $leases"
	leases=$(find "$CNI_DATA" -name "*$1*" 2>/dev/null || true)
	[ -z "$leases" ] || fail "files left named after $1: $leases"
	if [ -n "$2" ]; then
		rules=$(in_host nft list ruleset | grep -F -e "$2" -e "dport 8080" || true)
		[ -z "$rules" ] || fail "nft rules left for $2: $rules"
	fi
}

# ---- the scenarios, one function each, run for both plugins below ----

scenario_add_result() {
	local v ip4 idx
	for v in 1.0.0 0.4.0 0.3.1; do
		new_container
		run_cni ADD "ct-$v" "$CT_NS" "$(net_conf "$v")"
		[ "$status" -eq 0 ]
		jq -e --arg v "$v" '.cniVersion == $v' <<<"$output"
		ip4=$(jq -r '.ips[0].address' <<<"$output")
		[[ $ip4 == "$SUBNET4_PREFIX"*/24 ]] || fail "ips[0].address $ip4 not in 10.88.1.0/24"
		jq -e '.ips[1].address | test("^fd10:88:1::[0-9a-f:]+/64$")' <<<"$output"
		jq -e --arg g "$GW4" --arg g6 "$GW6" '.ips[0].gateway == $g and .ips[1].gateway == $g6' \
			<<<"$output"
		idx=$(jq '.ips[0].interface' <<<"$output")
		jq -e --argjson i "$idx" --arg ns "$CT_NS" \
			'.interfaces[$i].name == "eth0" and .interfaces[$i].sandbox == $ns and
			 (.interfaces[$i].mac | test("^([0-9a-f]{2}:){5}[0-9a-f]{2}$"))' <<<"$output"
		jq -e --arg b "$CNI_BRIDGE" 'any(.interfaces[]; .name == $b)' <<<"$output"
		if [ "$v" = 1.0.0 ]; then
			jq -e 'all(.ips[]; has("version") | not)' <<<"$output"
		else
			jq -e '.ips[0].version == "4" and .ips[1].version == "6"' <<<"$output"
		fi
		# What the result says is what the container has.
		ip -n "$CT_NAME" -o addr show dev eth0 | grep -qF " $ip4 "
		ip -n "$CT_NAME" route show default | grep -qF "via $GW4"
		run_cni DEL "ct-$v" "$CT_NS" "$(net_conf "$v")"
		[ "$status" -eq 0 ]
	done
}

scenario_ping() {
	add_container c1
	local c1_ns=$CT_NS c1_ip4=$CT_IP4
	add_container c2
	ping_from "$c1_ns" "$CT_IP4"
	ping_from "$c1_ns" "$CT_IP6"
	ping_from "$CT_NS" "$c1_ip4"
	ping_from "$c1_ns" "$GW4"
	ping_from "$c1_ns" "$GW6"
	ping_from "$HOST_NS" "$CT_IP4"
	run_cni DEL c1 "$c1_ns" "$(net_conf 1.0.0)"
	[ "$status" -eq 0 ]
	run_cni DEL c2 "$CT_NS" "$(net_conf 1.0.0)"
	[ "$status" -eq 0 ]
}

scenario_check() {
	add_container c1
	run_cni CHECK c1 "$CT_NS" "$(net_conf 1.0.0)"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# The wiring broken behind the plugin's back: CHECK says so.
	ip -n "$CT_NAME" link del eth0
	run_cni CHECK c1 "$CT_NS" "$(net_conf 1.0.0)"
	[ "$status" -ne 0 ]
	jq -e '(.code | type) == "number" and (.msg | length) > 0' <<<"$output"
	run_cni DEL c1 "$CT_NS" "$(net_conf 1.0.0)"
	[ "$status" -eq 0 ]
}

scenario_del() {
	local ports='[{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]'
	add_container c1 "$ports"
	[ -n "$(ip -n "$HOST_NAME" -o link show master "$CNI_BRIDGE")" ]
	in_host nft list ruleset | grep -qF "$CT_IP4"
	run_cni DEL c1 "$CT_NS" "$(net_conf 1.0.0 "$ports")"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	assert_gone c1 "$CT_IP4"
	# Again, then without a network namespace, then for a container never
	# ADDed: all fine, all quiet.
	run_cni DEL c1 "$CT_NS" "$(net_conf 1.0.0 "$ports")"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run_cni DEL c1 "" "$(net_conf 1.0.0 "$ports")"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run_cni DEL never-added "" "$(net_conf 1.0.0)"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	assert_gone c1 "$CT_IP4"
}

# A client namespace behind a veth to the host (HOST_ADDR on the host side).
make_client() {
	make_netns
	CLIENT_NS=$NETNS_PATH
	ip -n "$HOST_NAME" link add hostout type veth peer name out0 netns "$NETNS_NAME"
	ip -n "$HOST_NAME" addr add "$HOST_ADDR/24" dev hostout
	ip -n "$HOST_NAME" link set hostout up
	ip -n "$NETNS_NAME" addr add 10.88.250.2/24 dev out0
	ip -n "$NETNS_NAME" link set out0 up
	ip -n "$NETNS_NAME" link set lo up
}

fetch_from() {
	nsenter --net="$1" curl -sf --max-time 2 "http://$2/index.html"
}

scenario_ports() {
	local ports='[{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]'
	make_client
	add_container c1 "$ports"
	mkdir -p "$BATS_TEST_TMPDIR/www"
	echo "hello from c1" >"$BATS_TEST_TMPDIR/www/index.html"
	nsenter --net="$CT_NS" busybox httpd -f -p 80 -h "$BATS_TEST_TMPDIR/www" &
	BG_PIDS+=($!)
	retry 5 0.1 fetch_from "$CT_NS" 127.0.0.1:80 >/dev/null
	# From another machine (PREROUTING) and from the host itself (OUTPUT).
	run retry 5 0.2 fetch_from "$CLIENT_NS" "$HOST_ADDR:8080"
	[ "$status" -eq 0 ] && [[ "$output" == *"hello from c1"* ]] || fail "client: $output"
	run retry 5 0.2 fetch_from "$HOST_NS" "$HOST_ADDR:8080"
	[ "$status" -eq 0 ] && [[ "$output" == *"hello from c1"* ]] || fail "host: $output"
	run_cni DEL c1 "$CT_NS" "$(net_conf 1.0.0 "$ports")"
	[ "$status" -eq 0 ]
	assert_gone c1 "$CT_IP4"
	refute fetch_from "$CLIENT_NS" "$HOST_ADDR:8080"
}

# An ADD that fails half way (the bridge's name is taken by a link that is
# no bridge: one end of a veth pair) leaves no lease, veth or rule behind.
scenario_add_fails_clean() {
	ip -n "$HOST_NAME" link add "$CNI_BRIDGE" type veth peer name cnitestpeer
	new_container
	run_cni ADD c1 "$CT_NS" "$(net_conf 1.0.0 '[{"hostPort": 8080, "containerPort": 80}]')"
	[ "$status" -ne 0 ]
	jq -e '(.code | type) == "number" and (.msg | length) > 0' <<<"$output"
	[ "$(ip -n "$HOST_NAME" -o link show type veth | wc -l)" -eq 2 ] || fail "veth left behind"
	[ "$(ip -n "$CT_NAME" -o link show | wc -l)" -eq 1 ] || fail "links left in the container"
	assert_gone c1 "$SUBNET4_PREFIX"
}

scenario_version() {
	local program=$CNI_BIN/berth-bridge
	[ "$CNI_KIND" = reference ] && program=$REFERENCE_DIR/bridge
	CNI_OUT=$BATS_TEST_TMPDIR/cni.out CNI_ERR=$BATS_TEST_TMPDIR/cni.err
	plugin_exec VERSION "" "" "$program" '{"cniVersion": "1.0.0"}'
	cat "$CNI_OUT"
	jq -e '.supportedVersions as $s | ["0.3.0", "0.3.1", "0.4.0", "1.0.0"] | all(. as $v | $s | index($v))' \
		"$CNI_OUT"
}

@test "berth-bridge: ADD's result for cniVersion 1.0.0, 0.4.0, 0.3.1 matches the wiring" {
	use_plugin berth
	scenario_add_result
}

@test "reference: ADD's result for cniVersion 1.0.0, 0.4.0, 0.3.1 matches the wiring" {
	use_plugin reference
	scenario_add_result
}

@test "berth-bridge: two containers reach each other and the gateway over IPv4 and IPv6" {
	use_plugin berth
	scenario_ping
}

@test "reference: two containers reach each other and the gateway over IPv4 and IPv6" {
	use_plugin reference
	scenario_ping
}

@test "berth-bridge: CHECK passes on a wired container and fails once its interface is gone" {
	use_plugin berth
	scenario_check
}

@test "reference: CHECK passes on a wired container and fails once its interface is gone" {
	use_plugin reference
	scenario_check
}

@test "berth-bridge: DEL removes veth, lease and nft rules; DEL again, without netns, unknown: ok" {
	use_plugin berth
	scenario_del
}

@test "reference: DEL removes veth, lease and nft rules; DEL again, without netns, unknown: ok" {
	use_plugin reference
	scenario_del
}

@test "berth-bridge: portMappings: the container's server answers on the host's address" {
	use_plugin berth
	scenario_ports
}

@test "reference: portMappings: the container's server answers on the host's address" {
	use_plugin reference
	scenario_ports
}

@test "berth-bridge: an ADD failing half way leaves nothing behind" {
	use_plugin berth
	scenario_add_fails_clean
}

@test "reference: an ADD failing half way leaves nothing behind" {
	use_plugin reference
	scenario_add_fails_clean
}

@test "berth-bridge: VERSION lists 0.3.0 to 1.0.0" {
	use_plugin berth
	scenario_version
}

@test "reference: VERSION lists 0.3.0 to 1.0.0" {
	use_plugin reference
	scenario_version
}

# ---- berth-bridge only: its errors, and `berth cni` ----

# assert_nothing_made: the host namespace holds only lo, no nft ruleset, no
# leases; the container namespace only lo.
assert_nothing_made() {
	[ "$(ip -n "$HOST_NAME" -o link show | wc -l)" -eq 1 ] || fail "links made in the host namespace"
	[ -z "$(in_host nft list ruleset)" ] || fail "nft rules made"
	[ -z "$(find "$CNI_DATA" -type f 2>/dev/null)" ] || fail "files made under $CNI_DATA"
	[ "$(ip -n "$CT_NAME" -o link show | wc -l)" -eq 1 ] || fail "links made in the container"
}

# expect_error CODE: the last call failed with exit status 1 and one error
# object with CODE on stdout.
expect_error() {
	[ "$status" -eq 1 ] || fail "exit status $status, wanted 1"
	jq -e --argjson c "$1" '.code == $c and (.msg | length) > 0 and .cniVersion != null' <<<"$output" ||
		fail "wanted an error object with code $1"
	[ "$(wc -l <<<"$output")" -eq 1 ] || fail "more than the error object on stdout"
}

@test "berth-bridge: bad configs and environments get the spec's error codes and change nothing" {
	use_plugin berth
	new_container
	local good
	good=$(net_conf 1.0.0)
	run_cni ADD c1 "$CT_NS" '{"cniVersion": "1.0.0", "name": '
	expect_error 6
	run_cni ADD c1 "$CT_NS" "$(jq -c '.ipam.ranges[0][0].subnet = "10.88.1.300/24"' <<<"$good")"
	expect_error 7
	[[ $(jq -r .msg <<<"$output") == *"ipam.ranges[0][0].subnet"* ]]
	run_cni ADD c1 "$CT_NS" "$(jq -c 'del(.name)' <<<"$good")"
	expect_error 7
	run_cni ADD c1 "$CT_NS" "$(jq -c '.cniVersion = "0.2.0"' <<<"$good")"
	expect_error 1
	run_cni ADD c1 "$CT_NS" "$(jq -c '.ipam.type = "dhcp"' <<<"$good")"
	expect_error 2
	run_cni ADD c1 "$CT_NS" "$(jq -c '.runtimeConfig.portMappings = [{"hostPort": 99999, "containerPort": 80}]' <<<"$good")"
	expect_error 7
	run_cni ADD 'bad/id' "$CT_NS" "$good"
	expect_error 4
	run_cni ADD c1 "" "$good"
	expect_error 4
	run_cni ADD c1 /etc/hostname "$good"
	expect_error 4
	CNI_ARGS_VALUE="IP=nonsense" run_cni ADD c1 "$CT_NS" "$good"
	expect_error 4
	assert_nothing_made
}

@test "berth-bridge: ADD twice for one container and interface is refused and keeps the first" {
	use_plugin berth
	add_container c1
	local first=$CT_IP4
	run_cni ADD c1 "$CT_NS" "$(net_conf 1.0.0)"
	expect_error 100
	ping_from "$CT_NS" "$GW4"
	ip -n "$CT_NAME" -o addr show dev eth0 | grep -qF " $first/"
	run_cni DEL c1 "$CT_NS" "$(net_conf 1.0.0)"
	[ "$status" -eq 0 ]
	assert_gone c1 "$first"
}

@test "berth-bridge: CNI_ARGS IP= asks for a static address" {
	use_plugin berth
	new_container
	CNI_ARGS_VALUE="IgnoreUnknown=1;K8S_POD_NAME=x;IP=10.88.1.77" run_cni ADD c1 "$CT_NS" "$(net_conf 1.0.0)"
	[ "$status" -eq 0 ]
	jq -e '.ips[0].address == "10.88.1.77/24"' <<<"$output"
	run_cni DEL c1 "$CT_NS" "$(net_conf 1.0.0)"
	[ "$status" -eq 0 ]
}

@test "berth-bridge: CHECK with cniVersion 0.3.1 is refused (CHECK came with 0.4.0)" {
	use_plugin berth
	add_container c1
	run_cni CHECK c1 "$CT_NS" "$(net_conf 0.3.1)"
	expect_error 1
	run_cni DEL c1 "$CT_NS" "$(net_conf 1.0.0)"
	[ "$status" -eq 0 ]
}

@test "berth cni is berth-bridge under another name" {
	use_plugin berth
	local program=$BATS_TEST_TMPDIR/berth-cni.sh
	printf '#!/bin/sh\nexec %q cni "$@"\n' "$BERTH" >"$program"
	chmod +x "$program"
	new_container
	CNI_PROGRAM=$program run_cni ADD c1 "$CT_NS" "$(net_conf 1.0.0)"
	[ "$status" -eq 0 ]
	jq -e '.ips[0].address | startswith("10.88.1.")' <<<"$output"
	CNI_PROGRAM=$program run_cni DEL c1 "$CT_NS" "$(net_conf 1.0.0)"
	[ "$status" -eq 0 ]
	run "$BERTH" cni --help
	[ "$status" -eq 0 ]
	[[ "$output" == *CNI_COMMAND* ]]
}
