#!/usr/bin/env bats
# podman 4.3 with its CNI network backend using berth-bridge, berth's CNI
# plugin, for a network given as a conflist; the OCI runtime is the one
# under test (RUNTIME=berth|runc). podman runs in a throwaway network
# namespace that plays "host" (nsenter --net), with private storage, run dir
# and network config under $CT as in podman.bats; CNI plugins come from
# $CT/cni-bin (berth-bridge, a link to the repository's berth, or to
# $BERTH_CNI_BIN). libcni keeps
# its result cache in /var/lib/cni (podman 4.3 has no setting for it); a
# /var/lib/cni this file made is removed when empty.

load client_helpers

CNI_NET=berthnet
CNI_BRIDGE=cnibpm0
GW4=10.88.6.1

setup_file() {
	clients_setup_file podman conmon
	local plugin=${BERTH_CNI_BIN:-$CLIENTS_SRC_DIR/berth}
	[ -x "$plugin" ] || fail "berth-bridge needs berth: $plugin (make berth)"
	command -v nft >/dev/null || skip "needs nftables (nft)"
	mkdir -p "$CT/storage" "$CT/run" "$CT/tmp" "$CT/net" "$CT/cni-bin" "$CT/cni-data"
	ln -s "$plugin" "$CT/cni-bin/berth-bridge"
	local nproc
	nproc=$(ulimit -Hu)
	[ "$nproc" = unlimited ] || [ "$nproc" -gt 4096 ] && nproc=4096
	write_confs "$nproc"
	export CONTAINERS_CONF=$CT/containers.conf
	export CONTAINERS_STORAGE_CONF=$CT/storage.conf
	export CONTAINERS_REGISTRIES_CONF=$CT/registries.conf
	VAR_LIB_CNI_EXISTED=no
	[ -d /var/lib/cni ] && VAR_LIB_CNI_EXISTED=yes
	export VAR_LIB_CNI_EXISTED
	NETNS_DIR_MOUNTED=no
	mountpoint -q /run/netns 2>/dev/null && NETNS_DIR_MOUNTED=yes
	export NETNS_DIR_MOUNTED
	HOST_NETNS=berth-pmcni-$$
	ip netns add "$HOST_NETNS" || fail "cannot make the host namespace"
	ip -n "$HOST_NETNS" link set lo up
	export HOST_NETNS
	TMPDIR=$CT/tmp podman load -i "$IMAGE_ARCHIVE" >"$CT/load.log" 2>&1 3>&- || {
		cat "$CT/load.log"
		fail "podman load of the busybox image failed"
	}
}

# write_confs NPROC: containers.conf (CNI backend, plugins from $CT/cni-bin),
# storage.conf, registries.conf and the berth-bridge conflist.
write_confs() {
	cat >"$CT/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$CT/storage"
runroot = "$CT/run"
EOF
	cat >"$CT/registries.conf" <<EOF
unqualified-search-registries = []
short-name-mode = "enforcing"
EOF
	cat >"$CT/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=$1:$1"]
log_driver = "k8s-file"

[network]
network_backend = "cni"
network_config_dir = "$CT/net"
cni_plugin_dirs = ["$CT/cni-bin"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$CT/events.log"
tmp_dir = "$CT/tmp"
static_dir = "$CT/storage/libpod"
volume_path = "$CT/storage/volumes"
lock_type = "file"
pull_policy = "never"
image_copy_tmp_dir = "$CT/tmp"
runtime = "$RUNTIME_NAME"
runtime_supports_json = ["berth", "runc"]

[engine.runtimes]
$RUNTIME_NAME = ["$RUNTIME_WRAPPER"]
EOF
	jq -n --arg n "$CNI_NET" --arg b "$CNI_BRIDGE" --arg d "$CT/cni-data" '{
		cniVersion: "1.0.0", name: $n,
		plugins: [{type: "berth-bridge", bridge: $b, isGateway: true, ipMasq: true,
		           capabilities: {portMappings: true},
		           ipam: {type: "host-local", dataDir: $d,
		                  ranges: [[{subnet: "10.88.6.0/24", gateway: "10.88.6.1"}]],
		                  routes: [{dst: "0.0.0.0/0"}]}}]}' >"$CT/net/$CNI_NET.conflist"
}

teardown_file() {
	[ -n "${CT:-}" ] || return 0
	timeout -k 5 60 nsenter --net="/run/netns/$HOST_NETNS" podman rm -a -f -t 0 >/dev/null 2>&1 3>&- || true
	kill_ct_pids
	cleanup_cgroups
	ip netns delete "$HOST_NETNS" 2>/dev/null || true
	if [ "$NETNS_DIR_MOUNTED" = no ] && [ -z "$(ls -A /run/netns 2>/dev/null)" ]; then
		umount /run/netns 2>/dev/null || true
	fi
	if [ "$VAR_LIB_CNI_EXISTED" = no ]; then
		rmdir /var/lib/cni/results /var/lib/cni 2>/dev/null || true
	fi
	remove_ct
}

setup() {
	mark_runtime_log
	PODMAN=(nsenter --net="/run/netns/$HOST_NETNS" podman --runtime "$RUNTIME_NAME")
	cd "$BATS_TEST_TMPDIR" || return 1
}

teardown() {
	show_runtime_log
	in_host podman rm -a -f -t 0 >/dev/null 2>&1 3>&- || true
	[ -z "$(in_host podman ps -aq 2>/dev/null)" ] || fail "podman containers left after rm -a -f"
}

in_host() {
	nsenter --net="/run/netns/$HOST_NETNS" "$@"
}

podman_host() {
	in_host podman --runtime "$RUNTIME_NAME" "$@"
}

# assert_network_clean: no veth on the bridge, no lease, no DNAT rule.
assert_network_clean() {
	[ -z "$(ip -n "$HOST_NETNS" -o link show master "$CNI_BRIDGE" 2>/dev/null)" ] ||
		fail "veth left on $CNI_BRIDGE"
	local leases
	leases=$(find "$CT/cni-data/$CNI_NET" -name '10.88.*' 2>/dev/null)
	[ -z "$leases" ] || fail "leases left: $leases"
	! in_host nft list ruleset | grep -q dnat || fail "DNAT rules left: $(in_host nft list ruleset)"
}

@test "podman run --network (berth-bridge): an address of the subnet, the gateway answers" {
	run_client "${PODMAN[@]}" run --rm --network "$CNI_NET" "$IMAGE" \
		sh -c "ip -4 -o addr show eth0; ip route; ping -c 1 -W 2 $GW4"
	expect_status 0
	[[ "$output" == *"inet 10.88.6."*"/24"* ]] || fail "no address of 10.88.6.0/24"
	[[ "$output" == *"default via $GW4"* ]] || fail "no default route via $GW4"
	[[ "$output" == *"1 packets received"* ]] || fail "the gateway did not answer"
	assert_network_clean
}

@test "podman run -p 8080:80 (berth-bridge): the container's server answers on the host" {
	mkdir -p "$BATS_TEST_TMPDIR/www"
	echo "hello from podman" >"$BATS_TEST_TMPDIR/www/index.html"
	run_client "${PODMAN[@]}" run -d --name web -p 8080:80 -v "$BATS_TEST_TMPDIR/www:/www" \
		--network "$CNI_NET" "$IMAGE" httpd -f -p 80 -h /www
	expect_status 0
	run retry 5 0.2 in_host curl -sf --max-time 2 "http://$GW4:8080/index.html"
	[ "$status" -eq 0 ] && [ "$output" = "hello from podman" ] || fail "no answer: $output"
	run_client "${PODMAN[@]}" rm -f -t 0 web
	expect_status 0
	assert_network_clean
}

@test "two podman containers on the berth-bridge network reach each other" {
	run_client "${PODMAN[@]}" run -d --name peer --network "$CNI_NET" "$IMAGE" sleep 60
	expect_status 0
	local ip
	ip=$(podman_host inspect -f '{{(index .NetworkSettings.Networks "'"$CNI_NET"'").IPAddress}}' peer)
	[[ $ip == 10.88.6.* ]] || fail "peer address '$ip'"
	run_client "${PODMAN[@]}" run --rm --network "$CNI_NET" "$IMAGE" ping -c 1 -W 2 "$ip"
	expect_status 0
	run_client "${PODMAN[@]}" rm -f -t 0 peer
	expect_status 0
	assert_network_clean
}
