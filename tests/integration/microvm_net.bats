#!/usr/bin/env bats
# microVM networking (--net bridge with the microvm backend): the guest's
# virtio-net sits on a tap on the same bridge as namespace containers, with
# the address berth leased, its gateway, routes, MTU, /etc/hosts, hostname
# and resolv.conf; a microVM and a namespace container reach each other
# both ways; delete --force, run's own delete and a failed create leave no
# tap, lease or rule.
#
# In throwaway namespaces (net_helpers.bash); each boot is a TCG guest
# (~10-20 s here), so the file boots three.

load helpers
load net_helpers
load microvm_helpers

BERTH_TIMEOUT=120

setup_file() {
	microvm_requires
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

# www DIR TEXT: a page for busybox httpd in the bundle's rootfs.
www() {
	mkdir -p "$BUNDLE/rootfs/$1"
	echo "$2" >"$BUNDLE/rootfs/$1/index.html"
}

# Catches: no tap, a tap not on the bridge, no virtio-net in the guest (or
# its module missing from the initramfs), the guest's addresses (IPv4 and
# IPv6), route or MAC not set, the files not there, published ports not
# reaching the guest, delete --force leaking the tap, the leases or the
# rules.
@test "microvm: a microVM and a namespace container on one bridge reach each other both ways" {
	with_ping
	www www-ns from-ns
	www www-vm from-vm
	set_args httpd -f -p 80 -h /www-ns
	local subnets=10.88.0.0/16,fd88::/64
	run_net run -d --net bridge --subnet "$subnets" --ip 10.88.0.10,fd88::10 ns
	net_ok

	microvm_config
	# The guest's process: its network as it sees it, a page from the
	# namespace container, a ping to it; then it serves its own page.
	set_args sh -c 'ip -o -4 addr show dev eth0; ip -4 route show default; ip -o link show eth0
		cat /etc/hostname /etc/hosts; grep -c nameserver /etc/resolv.conf
		wget -q -O - http://10.88.0.10/; ping -c 1 -W 5 10.88.0.10 >/dev/null && echo ping-ok
		ping -c 1 -W 5 fd88::10 >/dev/null && echo ping6-ok
		httpd -p 80 -h /www-vm; echo serving; exec sleep 1000'
	update_config '.hostname = "vmhost"'
	run_net run -d --net bridge --subnet "$subnets" --ip 10.88.0.20,fd88::20 --publish 8080:80 vm
	[ "$status" -eq 0 ] || fail "run -d: $stderr"
	local out=$NET_OUT
	retry 60 0.2 grep -qx serving "$out" || fail "the guest never served: $(cat "$out")"
	cat "$out"
	grep -q 'inet 10\.88\.0\.20/16 ' "$out" || fail "guest eth0 has not 10.88.0.20/16"
	grep -q '^default via 10\.88\.0\.1 dev eth0' "$out" || fail "guest has no default route"
	grep -q 'link/ether 02:42:0a:58:00:14' "$out" || fail "guest MAC is not the lease's"
	grep -qx vmhost "$out" || fail "/etc/hostname"
	grep -q '^10\.88\.0\.20[[:space:]]vmhost$' "$out" || fail "/etc/hosts has no vmhost line"
	grep -qx from-ns "$out" || fail "microVM -> namespace container: no page"
	grep -qx ping-ok "$out" || fail "microVM -> namespace container: no ping"
	grep -qx ping6-ok "$out" || fail "microVM -> namespace container: no IPv6 ping"

	# The host end is a tap on the bridge.
	local taps
	taps=$(hns -o link show type tun | awk -F': ' '{ print $2 }')
	[ "$(echo "$taps" | wc -w)" -eq 1 ] && [[ $taps == bth* ]] || fail "taps: '$taps'"
	hns -o link show "$taps" | grep -q 'master berth0' || fail "$taps is not on berth0"

	run_net exec ns wget -q -O - http://10.88.0.20/
	net_ok
	[ "$output" = from-vm ] || fail "namespace container -> microVM: '$output'"
	run_net exec ns ping -c 1 -W 5 10.88.0.20
	net_ok
	run_net exec ns ping -c 1 -W 5 fd88::20
	net_ok
	# The published port, from the host's own address on the bridge.
	[ "$(in_host wget -q -T 5 -O - http://10.88.0.1:8080/)" = from-vm ] || fail "published port"
	[ -n "$(dnat_rules)" ] || fail "no DNAT rule while the microVM runs"

	run_net delete --force vm
	net_ok
	[ -z "$(hns -o link show type tun)" ] || fail "tap left: $(hns -o link show type tun)"
	[ "$(leases | wc -l)" -eq 2 ] || fail "leases after deleting the microVM: $(leases | xargs)"
	[ -z "$(dnat_rules)" ] || fail "DNAT rules left: $(dnat_rules)"
	run_net delete --force ns
	net_ok
	assert_net_clean
	[ -z "$(root_entries)" ]
}

# Catches: run's own delete or a create failing after the tap and lease
# were made (here: the program is missing, found by the guest) leaking them.
@test "microvm: run's own delete and a failed create leave no tap, lease or rule" {
	microvm_config
	set_args sh -c 'cat /sys/class/net/eth0/mtu; exit 3'
	annotate dev.berth.net.mtu 1400
	run_net run --net bridge --subnet 10.88.7.0/24 vm
	[ "$status" -eq 3 ] || fail "exit $status: $stderr"
	[ "$output" = 1400 ] || fail "guest MTU: '$output'"
	assert_net_clean
	[ -z "$(root_entries)" ]

	set_args /bin/nonexistent
	run_net run --net bridge vm2
	net_one_line_error
	[[ $stderr == *'exec: "/bin/nonexistent"'* ]] || fail "$stderr"
	[ -z "$(root_entries)" ] || fail "state left: $(root_entries)"
	[ -z "$(hns -o link show type tun)" ] || fail "tap left"
	assert_net_clean
}
