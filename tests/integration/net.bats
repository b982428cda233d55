#!/usr/bin/env bats
# Built-in container networking (--net bridge): two containers on one bridge
# ping each other over IPv4 and IPv6; a container reaches a TCP server on its
# gateway; a published port answers from the host namespace (and from
# upstream); masqueraded traffic reaches upstream from the host's address;
# /etc/hosts, hostname and resolv.conf; without --net only lo; 100 concurrent
# creates get 100 distinct addresses and leave nothing once deleted; delete
# --force after the init was SIGKILLed, and a create failing after the wiring,
# leave nothing; bad input is one line, exit 1, and nothing created.
#
# Everything happens in throwaway namespaces (see net_helpers.bash): the
# machine's own network namespace is never touched, and setup_file/
# teardown_file check that it was not.

load helpers
load net_helpers

setup_file() {
	[ "$(id -u)" -eq 0 ] || skip "network tests make namespaces: run as root"
	MACHINE_NET_BEFORE=$(machine_net_snapshot)
	export MACHINE_NET_BEFORE
}

teardown_file() {
	[ -n "${MACHINE_NET_BEFORE+x}" ] || return 0
	machine_net_check "$MACHINE_NET_BEFORE"
}

setup() {
	requires berth
	setup_bundle
	net_setup
}

teardown() {
	net_teardown
}

# --- connectivity ------------------------------------------------------------------

# Catches: no veth/bridge wiring, addresses not configured or duplicated, IPv6
# left out (no v6 gateway, no nodad: tentative addresses), no MAC, a veth not
# enslaved to the bridge, plain delete leaking, the masquerade rule going with
# the first container instead of the last.
@test "two containers on one bridge ping each other over IPv4 and IPv6" {
	with_ping
	set_args sleep 1000
	run_net run -d --net bridge --subnet 10.88.0.0/16,fd88::/64 a
	net_ok
	run_net run -d --net bridge --subnet 10.88.0.0/16,fd88::/64 b
	net_ok

	local a4 b4 a6 b6
	a4=$(cont_addr a 4) b4=$(cont_addr b 4) a6=$(cont_addr a 6) b6=$(cont_addr b 6)
	echo "a: $a4 $a6  b: $b4 $b6"
	[[ $a4 == 10.88.* && $b4 == 10.88.* ]] || fail "IPv4 addresses not from 10.88.0.0/16: '$a4' '$b4'"
	[[ $a6 == fd88::* && $b6 == fd88::* ]] || fail "IPv6 addresses not from fd88::/64: '$a6' '$b6'"
	[ "$a4" != "$b4" ] && [ "$a6" != "$b6" ] || fail "the two containers share an address"
	[ "$a4" != 10.88.0.1 ] && [ "$b4" != 10.88.0.1 ] || fail "a container got the gateway address"

	# Gateways on the bridge; routes and a MAC inside; veths on the bridge.
	hns -o addr show dev berth0 | grep -q 'inet 10\.88\.0\.1/16 ' || fail "berth0 has no 10.88.0.1/16: $(hns -o addr show dev berth0)"
	hns -o addr show dev berth0 | grep -q 'inet6 fd88::1/64 ' || fail "berth0 has no fd88::1/64"
	in_cont a ip -4 route show default | grep -q '^default via 10\.88\.0\.1 dev eth0' ||
		fail "IPv4 default route: $(in_cont a ip -4 route show default)"
	in_cont a ip -6 route show default | grep -q '^default via fd88::1 dev eth0' ||
		fail "IPv6 default route: $(in_cont a ip -6 route show default)"
	local mac
	mac=$(in_cont a ip -o link show eth0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
	[ -n "$mac" ] && [ "$mac" != 00:00:00:00:00:00 ] || fail "eth0 has no MAC: '$mac'"
	[ "$(host_veths | wc -l)" -eq 2 ] || fail "wanted 2 veths, have: $(echo $(host_veths))"
	local v
	for v in $(host_veths); do
		hns -o link show "$v" | grep -q 'master berth0' || fail "$v is not on berth0"
	done
	[ -n "$(masq_rules)" ] || fail "no berth-masq rule while containers run"
	[ "$(leases | wc -l)" -eq 4 ] || fail "wanted 4 leases (2 addresses each), have: $(leases | xargs)"

	run_net exec a ping -c 1 -W 3 "$b4"
	net_ok
	run_net exec b ping -c 1 -W 3 "$a4"
	net_ok
	run_net exec a ping -c 1 -W 3 "$b6"
	net_ok
	run_net exec b ping -c 1 -W 3 "$a6"
	net_ok

	# The masquerade rule stays while the subnet has a lease, goes with the last.
	run_net kill a KILL
	net_ok
	retry 5 0.05 eval '[ "$(nberth state a | jq -r .status)" = stopped ]'
	run_net delete a
	net_ok
	[ "$(host_veths | wc -l)" -eq 1 ] || fail "veths after deleting a: $(echo $(host_veths))"
	[ "$(leases | wc -l)" -eq 2 ] || fail "leases after deleting a: $(leases | xargs)"
	[ -n "$(masq_rules)" ] || fail "the masquerade rule went with the first container"
	run_net kill b KILL
	net_ok
	retry 5 0.05 eval '[ "$(nberth state b | jq -r .status)" = stopped ]'
	run_net delete b
	net_ok
	assert_net_clean
	[ -z "$(root_entries)" ]
}

# Catches: no gateway address on the bridge, no default route, --ip or
# --subnet ignored, traffic to the host itself masqueraded, `run` not undoing
# the wiring when the container exits.
@test "a container reaches a TCP server on the gateway address, from the address asked for" {
	http_addr_server "$HOST_NS" 0.0.0.0:7000
	net_sh 'ip -o -4 addr show dev eth0; ip -4 route show default; timeout 5 wget -q -O - http://10.88.3.1:7000/cgi-bin/addr' \
		ctr --net bridge --subnet 10.88.3.0/24 --ip 10.88.3.7
	net_ok
	[[ ${lines[0]} == *"inet 10.88.3.7/24 "* ]] || fail "eth0: ${lines[0]}"
	[[ ${lines[1]} == "default via 10.88.3.1 dev eth0"* ]] || fail "route: ${lines[1]}"
	# The server sees the container's own address: no NAT towards the host.
	[ "${lines[2]}" = 10.88.3.7 ] || fail "the server saw '${lines[2]}', wanted 10.88.3.7"
	# run deleted the container once it exited, and its wiring with it.
	[ -z "$(root_entries)" ] || fail "run left: $(root_entries)"
	assert_net_clean
}

# Catches: annotations ignored, flags not overriding them.
@test "config.json annotations configure the network, and flags override them" {
	http_addr_server "$HOST_NS" 0.0.0.0:7000
	annotate dev.berth.net bridge
	annotate dev.berth.net.subnet 10.88.4.0/24
	annotate dev.berth.net.ip 10.88.4.50
	net_sh 'timeout 5 wget -q -O - http://10.88.4.1:7000/cgi-bin/addr' c1
	net_ok
	[ "$output" = 10.88.4.50 ]
	net_sh 'timeout 5 wget -q -O - http://10.88.4.1:7000/cgi-bin/addr' c2 --ip 10.88.4.60
	net_ok
	[ "$output" = 10.88.4.60 ]
	assert_net_clean
}

# Catches: no DNAT for locally made connections (output hook), no DNAT in
# prerouting or no forwarding for connections from outside, the rule not
# tagged or not removed on delete.
@test "a TCP server in a container answers through a published port, from the host and from upstream" {
	set_args nc -ll -p 80 -e echo hello-from-the-container
	run_net run -d --net bridge --subnet 10.88.5.0/24 --publish 8080:80/tcp web
	net_ok
	[ "$(dnat_rules | wc -l)" -ge 1 ] || fail "no rule tagged berth:<hash>: $(host_ruleset)"
	local pid
	pid=$(cont_pid web)
	retry 5 0.05 eval "nsenter --net=/proc/$pid/ns/net ss -Hltn 'sport = :80' | grep -q ." ||
		fail "nc never listened in the container"

	# From the host namespace, to the host's own address and to the gateway.
	run in_host timeout 5 busybox nc "$UP_HOST4" 8080
	[ "$output" = hello-from-the-container ] || fail "host -> $UP_HOST4:8080 got '$output' (status $status)"
	run in_host timeout 5 busybox nc 10.88.5.1 8080
	[ "$output" = hello-from-the-container ] || fail "host -> 10.88.5.1:8080 got '$output' (status $status)"
	# From upstream, to the host's address (prerouting, then forwarded).
	run in_up timeout 5 busybox nc "$UP_HOST4" 8080
	[ "$output" = hello-from-the-container ] || fail "upstream -> $UP_HOST4:8080 got '$output' (status $status)"

	run_net delete --force web
	net_ok
	assert_net_clean
	run in_host timeout 2 busybox nc "$UP_HOST4" 8080
	[ "$output" != hello-from-the-container ] || fail "the port still answers after delete"
}

# Catches: no masquerade rule, wrong subnet in it, forwarding left off, the
# rule matching traffic on the bridge too (a container reaching the host
# would then show the gateway address, see the gateway test).
@test "masqueraded traffic reaches upstream from the host's address" {
	http_addr_server "$UP_NS" "$UP_PEER4:7000"
	net_sh "timeout 5 wget -q -O - http://$UP_PEER4:7000/cgi-bin/addr" ctr --net bridge --keep
	net_ok
	[ "$output" = "$UP_HOST4" ] || fail "upstream saw '$output', wanted the host's $UP_HOST4"
	[ "$(in_host sysctl -n net.ipv4.ip_forward)" = 1 ] || fail "berth did not enable IPv4 forwarding in the host namespace"
	masq_rules | grep -q 'berth-masq:10\.88\.0\.0/16' || fail "no berth-masq:10.88.0.0/16 rule: $(host_ruleset)"
	run_net delete ctr
	net_ok
	assert_net_clean
}

# Catches: bind-mounts missing, writable, or shadowing the user's own mount;
# /etc/hosts without the container's name and address.
@test "/etc/hosts, hostname and resolv.conf come read-only from the state dir unless config.json mounts one" {
	update_config '.hostname = "web1"'
	net_sh 'cat /etc/hostname; grep -w web1 /etc/hosts; test -f /etc/resolv.conf && echo resolv-ok
		grep -E " /etc/(hosts|hostname|resolv.conf) " /proc/self/mountinfo | grep -c " ro[, ]"
		echo x >>/etc/hosts && echo hosts-writable; true' \
		c1 --net bridge --subnet 10.88.6.0/24 --ip 10.88.6.9
	net_ok
	[ "${lines[0]}" = web1 ]
	[[ ${lines[1]} == 10.88.6.9*web1* ]] || fail "/etc/hosts has no '10.88.6.9 ... web1': ${lines[1]}"
	[ "${lines[2]}" = resolv-ok ]
	[ "${lines[3]}" = 3 ] || fail "read-only mounts at /etc/{hosts,hostname,resolv.conf}: ${lines[3]}"
	refute grep -q hosts-writable <<<"$output"

	echo '10.1.2.3 mine' >"$BATS_TEST_TMPDIR/myhosts"
	add_mount "{\"destination\": \"/etc/hosts\", \"type\": \"bind\", \"source\": \"$BATS_TEST_TMPDIR/myhosts\", \"options\": [\"bind\", \"ro\"]}"
	net_sh 'cat /etc/hosts' c2 --net bridge --subnet 10.88.6.0/24
	net_ok
	[ "$output" = '10.1.2.3 mine' ] || fail "config.json's /etc/hosts mount lost to berth's: $output"
	assert_net_clean
}

# Catches: wiring without being asked, a stray bridge, table or lease.
@test "without --net (and with --net none) the network namespace has only lo, up" {
	net_sh 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "; ip -o link show lo' c1
	net_ok
	[ "${lines[0]}" = lo ]
	[[ ${lines[1]} == *"<LOOPBACK,UP"* ]]
	[ "${#lines[@]}" -eq 2 ]
	net_sh 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "; ip -o link show lo' c2 --net none
	net_ok
	[ "${lines[0]}" = lo ]
	[[ ${lines[1]} == *"<LOOPBACK,UP"* ]]
	[ "${#lines[@]}" -eq 2 ]
	[ "$(host_links)" = "$HOST_LINKS_BEFORE" ] || fail "host links changed: $(echo $(host_links))"
	[ -z "$(host_ruleset)" ] || fail "nftables rules made: $(host_ruleset)"
	[ -z "$(leases)" ]
}

# --- many, and cleanup -------------------------------------------------------------------

# Catches: IPAM races (two creates leasing one address), an unlocked bridge
# creation racing (EEXIST), per-container names colliding, a delete leaving
# veths, leases or rules behind.
@test "100 containers created concurrently get 100 distinct addresses; deleting them leaves nothing" {
	set_args sleep 1000
	local n=100 errs=$BATS_TEST_TMPDIR/errs
	seq -f 'c%03g' 1 "$n" | xargs -P 8 -I{} \
		timeout -k 5 60 nsenter --net="$HOST_NSPATH" "$BERTH" --root "$ROOT" create -b "$BUNDLE" \
		--net bridge --subnet 10.88.16.0/20 {} >/dev/null 2>>"$errs" 3>&- ||
		fail "some create failed: $(sort "$errs" | uniq -c | head)"
	[ "$(nberth list -q | wc -l)" -eq "$n" ] || fail "containers: $(nberth list -q | wc -l)"

	local id addrs pid
	addrs=$BATS_TEST_TMPDIR/addrs
	: >"$addrs"
	for id in $(nberth list -q); do
		pid=$(cont_pid "$id")
		nsenter --net="/proc/$pid/ns/net" ip -o -4 addr show dev eth0 scope global |
			awk '{ print $4 }' >>"$addrs"
	done
	[ "$(wc -l <"$addrs")" -eq "$n" ] || fail "only $(wc -l <"$addrs") containers have an address"
	[ "$(sort -u "$addrs" | wc -l)" -eq "$n" ] || fail "duplicate addresses: $(sort "$addrs" | uniq -d | xargs)"
	refute grep -qv '^10\.88\.\(1[6-9]\|2[0-9]\|3[01]\)\.[0-9]*/20$' "$addrs"
	refute grep -qx '10\.88\.16\.1/20' "$addrs"
	[ "$(leases | wc -l)" -eq "$n" ] || fail "leases: $(leases | wc -l)"
	[ "$(lease_holders | sort -u | wc -l)" -eq "$n" ] || fail "distinct lease holders: $(lease_holders | sort -u | wc -l)"
	[ "$(host_veths | wc -l)" -eq "$n" ] || fail "veths: $(host_veths | wc -l)"
	[ "$(hns -o link show master berth0 | grep -c ': bth')" -eq "$n" ] || fail "veths on berth0: $(hns -o link show master berth0 | grep -c ': bth')"

	: >"$errs"
	nberth list -q | xargs -P 8 -I{} \
		timeout -k 5 60 nsenter --net="$HOST_NSPATH" "$BERTH" --root "$ROOT" delete --force {} \
		>/dev/null 2>>"$errs" ||
		fail "some delete failed: $(sort "$errs" | uniq -c | head)"
	[ -z "$(root_entries)" ] || fail "state left: $(root_entries | wc -l) entries"
	echo "links:"; host_links
	echo "leases:"; leases
	echo "ruleset:"; host_ruleset
	assert_net_clean
}

# Catches: teardown that needs the live init (reading its netns) and so skips
# the lease and rules once it is dead.
@test "delete --force of a container whose init was SIGKILLed removes veth, lease and rules" {
	set_args sleep 1000
	run_net run -d --net bridge --subnet 10.88.7.0/24 --publish 8081:80 ctr
	net_ok
	[ -n "$(host_veths)" ] && [ -n "$(leases)" ] && [ -n "$(dnat_rules)" ] && [ -n "$(masq_rules)" ] ||
		fail "not wired: veths '$(host_veths)' leases '$(leases)' rules '$(dnat_rules)'"
	local pid addr
	pid=$(cont_pid ctr)
	addr=$(cont_addr ctr 4)
	[[ $addr == 10.88.7.* ]] || fail "address: '$addr'"
	kill -9 "$pid"
	retry 5 0.05 eval '[ "$(nberth state ctr | jq -r .status)" = stopped ]'
	run_net delete --force ctr
	net_ok
	[ -z "$(root_entries)" ]
	assert_net_clean
	# The address is free again.
	set_args true
	run_net run --net bridge --subnet 10.88.7.0/24 --ip "$addr" --publish 8081:80 again
	net_ok
}

# Catches: a failure path that forgets the teardown. In runtime/linux.c
# (init_settle) the network is wired once the init is ready; what fails after
# that is writing --pid-file (here: into a missing directory). A bridge name
# that is another kind of link fails inside the wiring, after the veth is
# made. A failing createRuntime hook, a missing program and a cwd that is a
# file fail before the wiring but after the lease is taken.
@test "a create that fails after (or during) the wiring leaves no state, veth, lease or rule" {
	local cfg=$BUNDLE/config.json uplink_addrs
	uplink_addrs=$(hns -o -4 addr show dev uplink0 | awk '{ print $4 }')
	cp "$cfg" "$BATS_TEST_TMPDIR/config.orig"
	local how
	for how in pidfile hook args cwd notabridge; do
		cp "$BATS_TEST_TMPDIR/config.orig" "$cfg"
		set_args sleep 1000
		local -a extra=()
		case $how in
		pidfile) extra=(--pid-file "$BATS_TEST_TMPDIR/no/such/dir/pid") ;;
		notabridge) extra=(--bridge uplink0) ;;
		hook)
			update_config '.hooks.createRuntime = [{"path": "/bin/sh", "args": ["sh", "-c", "exit 1"]}]'
			;;
		args) set_args /no/such/program ;;
		cwd) update_config '.process.cwd = "/bin/busybox"' ;;
		esac
		run_net create --net bridge --subnet 10.88.8.0/24 --ip 10.88.8.5 --publish 8082:80 "${extra[@]}" "ctr-$how"
		[ "$status" -eq 1 ] || fail "$how: create exited $status"
		[ "${#err_lines[@]}" -eq 1 ] || fail "$how: wanted one line on stderr, got: $stderr"
		[ -z "$(root_entries)" ] || fail "$how: state left: $(root_entries)"
		assert_net_clean || fail "$how: wiring left behind"
		no_rootfs_pids "$BUNDLE/rootfs" || retry 3 0.05 no_rootfs_pids "$BUNDLE/rootfs" ||
			fail "$how: container processes left: $(rootfs_pids "$BUNDLE/rootfs")"
		[ "$(hns -o -4 addr show dev uplink0 | awk '{ print $4 }')" = "$uplink_addrs" ] ||
			fail "$how: addresses added to uplink0, which is no bridge: $(hns -o addr show dev uplink0)"
	done
	# The address and port are free again.
	cp "$BATS_TEST_TMPDIR/config.orig" "$cfg"
	set_args true
	run_net run --net bridge --subnet 10.88.8.0/24 --ip 10.88.8.5 --publish 8082:80 after
	net_ok
	assert_net_clean
}

# --- bad input ------------------------------------------------------------------------------

# bad_input WANT ARGS...: `create ARGS x` fails with one line mentioning WANT,
# exit 1, and nothing is created.
bad_input() {
	local want=$1
	shift
	run_net create "$@" x
	net_one_line_error
	[[ $stderr == *"$want"* ]] || fail "the error does not name '$want': $stderr"
	assert_nothing_created
}

# Catches: a value accepted and half-used (e.g. prefix 33 or port 70000
# truncated), a check done only after the bridge or lease was made.
@test "malformed subnet, address or port, an address outside the subnet, a bad --net, a port twice: one line, exit 1, nothing made" {
	set_args true
	bad_input 10.88.0.0/33 --net bridge --subnet 10.88.0.0/33
	bad_input 10.888.0.0/24 --net bridge --subnet 10.888.0.0/24
	bad_input fd88::/129 --net bridge --subnet 10.88.0.0/16,fd88::/129
	bad_input 10.88.0.300 --net bridge --ip 10.88.0.300
	bad_input 10.89.0.5 --net bridge --ip 10.89.0.5
	bad_input 10.88.9.1 --net bridge --subnet 10.88.9.0/24 --ip 10.88.9.1
	bad_input 70000 --net bridge --publish 70000:80
	bad_input 8080 --net bridge --publish 8080
	bad_input sctp --net bridge --publish 8080:80/sctp
	bad_input bogus --net bogus
	bad_input bridge-name-far-too-long --net bridge --bridge bridge-name-far-too-long
	# Cross-field: one host port twice; ports without a bridge.
	bad_input 8085 --net bridge --publish 8085:80 --publish 8085:81
	bad_input publish --net none --publish 8086:80
}

@test "an unknown dev.berth.net.* annotation, or a bad annotation value: one line, exit 1, nothing made" {
	set_args true
	annotate dev.berth.net bridge
	annotate dev.berth.net.sbunet 10.88.0.0/24
	bad_input dev.berth.net.sbunet
	update_config 'del(.annotations["dev.berth.net.sbunet"]) | .annotations["dev.berth.net.subnet"] = "10.88.0.0/40"'
	bad_input 10.88.0.0/40
}

# Catches: a static address handed out twice, the loser's half-made wiring
# left behind or, worse, tearing down the winner's.
@test "two containers asking for one address: the second fails cleanly, the first keeps its wiring" {
	set_args sleep 1000
	run_net run -d --net bridge --subnet 10.88.10.0/24 --ip 10.88.10.5 --publish 8083:80 first
	net_ok
	local links rules held
	links=$(host_links) rules=$(dnat_rules) held=$(leases)
	run_net create --net bridge --subnet 10.88.10.0/24 --ip 10.88.10.5 --publish 8084:80 second
	net_one_line_error
	[[ $stderr == *10.88.10.5* ]] || fail "the error does not name the address: $stderr"
	[ "$(root_entries)" = first ] || fail "state: $(root_entries | xargs)"
	[ "$(host_links)" = "$links" ] || fail "host links changed: $(echo $(host_links))"
	[ "$(dnat_rules)" = "$rules" ] || fail "rules changed: $(dnat_rules)"
	[ "$(leases)" = "$held" ] || fail "leases changed: $(leases)"
	[ "$(cont_addr first 4)" = 10.88.10.5 ] || fail "first lost its address"
	refute grep -qF "$ROOT/second" $(leases)
}

# Catches: IPAM handing out the network, gateway or broadcast address when the
# pool runs out, or wrapping around onto a taken one.
@test "an exhausted pool (a /30 subnet): the second container fails cleanly" {
	set_args sleep 1000
	run_net run -d --net bridge --subnet 10.88.11.0/30 first
	net_ok
	[ "$(cont_addr first 4)" = 10.88.11.2 ] || fail "first got $(cont_addr first 4), the only host address is 10.88.11.2"
	local links held
	links=$(host_links) held=$(leases)
	run_net create --net bridge --subnet 10.88.11.0/30 second
	net_one_line_error
	[ "$(root_entries)" = first ] || fail "state: $(root_entries | xargs)"
	[ "$(host_links)" = "$links" ] || fail "host links changed: $(echo $(host_links))"
	[ "$(leases)" = "$held" ] || fail "leases changed: $(leases)"
}
