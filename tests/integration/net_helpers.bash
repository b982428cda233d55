#!/usr/bin/env bash
# Helpers for the container networking tests (net.bats, net_rootless.bats).
#
# Safety: nothing here touches the machine's own network namespace. Each test
# makes two throwaway network namespaces with make_netns (helpers.bash; the
# teardown deletes them):
#   HOST_NS  plays the host: berth runs in it (nsenter --net, never `ip netns
#            exec`, which remounts /sys and loses the cgroup mounts berth
#            needs); its bridge, veths, leases and nftables rules live there.
#   UP_NS    an "upstream" network reached through HOST_NS:
#              HOST_NS uplink0 10.99.0.1/24 fd99::1/64 <-> UP_NS up0 10.99.0.2/24 fd99::2/64
#            UP_NS has no route back to any container subnet: replies reach a
#            container only through the host's masquerading.
# Every call of the runtime goes through nberth/run_net, which enter HOST_NS;
# teardown deletes containers in HOST_NS first and never lets helpers.bash's
# teardown_bundle run `delete` in the machine's namespace.

LEASE_BASE=/run/berth-net
UP_HOST4=10.99.0.1
UP_PEER4=10.99.0.2
NET_BG_PIDS=()

# net_setup: make HOST_NS and UP_NS, wired as above. IPv4 forwarding is
# switched off in HOST_NS (a new namespace inherits the machine's setting):
# whatever forwarding masquerade and published ports need, berth must turn on.
net_setup() {
	requires root
	command -v nsenter >/dev/null || skip "needs nsenter (util-linux)"
	command -v nft >/dev/null || skip "needs nft (nftables)"
	make_netns || fail "ip netns add failed"
	HOST_NS=$NETNS_NAME
	HOST_NSPATH=$NETNS_PATH
	HOST_INO=$(stat -L -c %i "$HOST_NSPATH")
	make_netns || fail "ip netns add failed"
	UP_NS=$NETNS_NAME
	hns link set lo up
	ip -n "$UP_NS" link set lo up
	hns link add uplink0 type veth peer name up0 netns "$UP_NS"
	hns addr add "$UP_HOST4/24" dev uplink0
	hns addr add fd99::1/64 dev uplink0 nodad
	hns link set uplink0 up
	ip -n "$UP_NS" addr add "$UP_PEER4/24" dev up0
	ip -n "$UP_NS" addr add fd99::2/64 dev up0 nodad
	ip -n "$UP_NS" link set up0 up
	in_host sysctl -qw net.ipv4.ip_forward=0
	# What HOST_NS has before any container (lo, uplink0).
	HOST_LINKS_BEFORE=$(host_links)
}

# hns ARGS...: `ip ARGS` in HOST_NS.
hns() {
	[ -n "${HOST_NS:-}" ] || fail "hns: no HOST_NS (net_setup not called)"
	ip -n "$HOST_NS" "$@"
}

# in_host CMD...: CMD (not the runtime) in HOST_NS.
in_host() {
	[ -n "${HOST_NS:-}" ] || fail "in_host: no HOST_NS"
	ip netns exec "$HOST_NS" "$@"
}

# in_up CMD...: CMD in UP_NS.
in_up() {
	[ -n "${UP_NS:-}" ] || fail "in_up: no UP_NS"
	ip netns exec "$UP_NS" "$@"
}

# nberth ARGS...: the runtime with this test's --root, in HOST_NS.
nberth() {
	[ -n "${HOST_NSPATH:-}" ] || fail "nberth: no HOST_NS"
	timeout -k 5 "$BERTH_TIMEOUT" nsenter --net="$HOST_NSPATH" "$BERTH" --root "$ROOT" "$@"
}

# run_net ARGS...: nberth ARGS, like bats' run: $status, $output (stdout),
# $stderr, $lines, $err_lines. The output files stay (a detached container's
# stdout keeps landing in $NET_OUT).
run_net() {
	BERTH_CALLS=$((BERTH_CALLS + 1))
	NET_OUT=$BATS_TEST_TMPDIR/net.out.$BERTH_CALLS
	local errf=$BATS_TEST_TMPDIR/net.err.$BERTH_CALLS
	status=0
	nberth "$@" >"$NET_OUT" 2>"$errf" </dev/null 3>&- || status=$?
	output=$(cat "$NET_OUT")
	stderr=$(cat "$errf")
	lines=() err_lines=()
	[ -z "$output" ] || mapfile -t lines <<<"$output"
	[ -z "$stderr" ] || mapfile -t err_lines <<<"$stderr"
	echo "# (in $HOST_NS) $(basename "$BERTH") --root \$ROOT $* => status $status"
	[ -z "$output" ] || printf '%s\n' "$output"
	[ -z "$stderr" ] || printf 'stderr: %s\n' "$stderr"
	[ "$status" -ne 124 ] || echo "# (timed out after ${BERTH_TIMEOUT}s)"
}

# net_ok: the last run_net exited 0 and printed nothing on stderr.
net_ok() {
	[ "$status" -eq 0 ] || fail "exit status $status: $stderr"
	[ -z "$stderr" ] || fail "unexpected stderr: $stderr"
}

# net_one_line_error: the last run_net exited 1 with exactly one line, on stderr.
net_one_line_error() {
	[ "$status" -eq 1 ] || fail "exit status $status, wanted 1"
	[ -z "$output" ] || fail "unexpected stdout: $output"
	[ "${#err_lines[@]}" -eq 1 ] || fail "wanted one line on stderr, got ${#err_lines[@]}: $stderr"
}

# net_sh SCRIPT ID [run ARGS...]: `run ARGS ID` of `sh -c SCRIPT`, stderr merged
# into stdout inside the container.
net_sh() {
	local script=$1 id=$2
	shift 2
	set_args sh -c "exec 2>&1
$script"
	run_net run "$@" "$id"
}

# add_caps CAP...: add capabilities to every set but inheritable.
add_caps() {
	local c
	for c in "$@"; do
		update_config --arg c "$c" '.process.capabilities |= with_entries(
			if .key == "inheritable" then . else .value = ((.value // []) + [$c] | unique) end)'
	done
}

# with_ping: busybox ping opens a raw ICMP socket, which needs CAP_NET_RAW
# (the default spec has only AUDIT_WRITE, KILL, NET_BIND_SERVICE). Adding the
# capability is the smallest change; net.ipv4.ping_group_range would also do.
with_ping() {
	add_caps CAP_NET_RAW
}

# annotate KEY VALUE: set a config.json annotation.
annotate() {
	update_config --arg k "$1" --arg v "$2" '.annotations[$k] = $v'
}

# --- what berth made in HOST_NS --------------------------------------------------

# host_links: names of HOST_NS's links, sorted.
host_links() {
	hns -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort
}

# host_veths: the host ends of container veths (bth*).
host_veths() {
	host_links | grep '^bth' || true
}

# host_ruleset: HOST_NS's nftables ruleset (empty when there is none).
host_ruleset() {
	in_host nft list ruleset 2>/dev/null || true
}

# dnat_rules / masq_rules: berth's tagged rules in HOST_NS.
dnat_rules() {
	host_ruleset | grep 'comment "berth:' || true
}
masq_rules() {
	host_ruleset | grep 'comment "berth-masq:' || true
}

# leases: lease files whose holder is a container of this test's --root.
leases() {
	[ -d "$LEASE_BASE" ] || return 0
	grep -rlF -- "$ROOT/" "$LEASE_BASE" 2>/dev/null | sort || true
}

# lease_holders: the holders in those files, one a line.
lease_holders() {
	local f
	for f in $(leases); do cat "$f"; echo; done | sed '/^$/d'
}

# cont_pid ID: the container's init pid (in HOST_NS's view: the same).
cont_pid() {
	nberth state "$1" | jq -r .pid
}

# in_cont ID CMD...: the machine's CMD in the container's network namespace.
in_cont() {
	local pid
	pid=$(cont_pid "$1") || return 1
	[ "${pid:-0}" -gt 0 ] || return 1
	shift
	nsenter --net="/proc/$pid/ns/net" "$@"
}

# cont_addr ID 4|6: the container's global address on eth0, without prefix length.
cont_addr() {
	in_cont "$1" ip -o "-$2" addr show dev eth0 scope global | awk '{ sub(/\/.*/, "", $4); print $4 }'
}

# assert_net_clean: no veth, lease, DNAT or masquerade rule of this test's
# containers is left in HOST_NS.
assert_net_clean() {
	local v l d m
	# berth deletes the host end of a veth in a detached process (the kernel's
	# unregistering is slow): give it a moment.
	retry 2 0.05 eval '[ -z "$(host_veths)" ]' >/dev/null || true
	v=$(host_veths)
	l=$(leases)
	d=$(dnat_rules)
	m=$(masq_rules)
	[ -z "$v" ] || fail "veths left in the host namespace: $(echo $v)"
	[ -z "$l" ] || fail "leases left: $(echo $l)"
	[ -z "$d" ] || fail "DNAT rules left: $d"
	[ -z "$m" ] || fail "masquerade rules left: $m"
}

# assert_nothing_created: a refused command made nothing at all: no state
# dir, HOST_NS's links as before (no bridge, no veth), no lease, no rule.
assert_nothing_created() {
	[ -z "$(root_entries)" ] || fail "left in the state root: $(root_entries | xargs)"
	[ "$(host_links)" = "$HOST_LINKS_BEFORE" ] ||
		fail "host links changed: $(echo $(host_links)), were $(echo $HOST_LINKS_BEFORE)"
	assert_net_clean
}

# --- servers in the namespaces -------------------------------------------------------

# net_bg CMD...: start CMD in the background; teardown kills it.
net_bg() {
	"$@" </dev/null >/dev/null 2>&1 &
	NET_BG_PIDS+=("$!")
}

# make_cgi_dir: $WWW with cgi-bin/addr, a CGI script answering the client's
# address as the server saw it ($REMOTE_ADDR, set by busybox httpd).
make_cgi_dir() {
	WWW=$BATS_TEST_TMPDIR/www
	mkdir -p "$WWW/cgi-bin"
	printf '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho "$REMOTE_ADDR"\n' >"$WWW/cgi-bin/addr"
	chmod 755 "$WWW/cgi-bin/addr"
}

# listening NS PORT: something listens on TCP PORT in network namespace NS.
listening() {
	ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q .
}

# http_addr_server NS [ADDR:]PORT: busybox httpd in NS answering /cgi-bin/addr.
http_addr_server() {
	make_cgi_dir
	net_bg ip netns exec "$1" busybox httpd -f -p "$2" -h "$WWW"
	retry 5 0.05 listening "$1" "${2##*:}" || fail "httpd in $1 never listened on $2"
}

# --- teardown --------------------------------------------------------------------------

# net_teardown: containers deleted inside HOST_NS, servers killed, the lease
# directory of HOST_NS removed; then helpers.bash's teardown_bundle (with no
# state root left for it to `delete` from, outside HOST_NS) and the namespaces.
net_teardown() {
	local rc=0 id pid d left
	for pid in "${NET_BG_PIDS[@]}"; do
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	NET_BG_PIDS=()
	if [ -n "${HOST_NSPATH:-}" ] && [ -e "$HOST_NSPATH" ] && [ -d "${ROOT:-}" ]; then
		for id in $(nberth list -q 2>/dev/null); do
			nberth delete --force "$id" >/dev/null 2>&1 || true
		done
		left=$(nberth list -q 2>/dev/null)
		if [ -n "$left" ]; then
			echo "teardown: delete --force left containers: $(echo $left)" >&2
			rc=1
			for id in $left; do
				pid=$(nberth state "$id" 2>/dev/null | jq -r .pid 2>/dev/null)
				[ "${pid:-0}" -gt 0 ] 2>/dev/null && kill -9 "$pid" 2>/dev/null
			done
		fi
	fi
	# teardown_bundle would `delete --force` in the machine's namespace.
	ROOT=
	if [ -n "${HOST_INO:-}" ] && [ -d "$LEASE_BASE" ]; then
		for d in "$LEASE_BASE"/*/; do
			[ -d "$d" ] || continue
			# Named after the namespace's device and inode: "4-f0000256" (hex), or decimal.
			case $(basename "$d") in
			*-"$(printf %x "$HOST_INO")" | "$HOST_INO" | *-"$HOST_INO") rm -rf "$d" ;;
			esac
		done
	fi
	teardown_bundle || rc=1
	rmdir "$LEASE_BASE" 2>/dev/null || true
	return $rc
}

# --- the machine's own namespace stays untouched -------------------------------------

# machine_net_snapshot: what berth could leave in the machine's namespace.
machine_net_snapshot() {
	{
		ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print "link " $2 }'
		nft list tables 2>/dev/null | sed 's/^/nft /'
	} | sort
}

# machine_net_check BEFORE: fail if a bridge, veth or table appeared in the
# machine's namespace; remove the berth0/bth* links and the inet berth table
# that were not there before (a product bug; restore the machine).
machine_net_check() {
	local now new l
	now=$(machine_net_snapshot)
	new=$(comm -13 <(printf '%s\n' "$1") <(printf '%s\n' "$now"))
	[ -n "$new" ] || return 0
	echo "the machine's own network namespace changed: $(echo $new)" >&2
	for l in $(printf '%s\n' "$new" | awk '$1 == "link" && ($2 ~ /^bth/ || $2 == "berth0") { print $2 }'); do
		ip link delete "$l" 2>/dev/null || true
	done
	if printf '%s\n' "$new" | grep -qx 'nft table inet berth'; then
		nft delete table inet berth 2>/dev/null || true
	fi
	return 1
}
