#!/usr/bin/env bats
# config.json validation. For every rule: write the bad config, `create` must
# exit 1 and leave nothing behind (no state entry, no process, host mount table
# unchanged) - checked for any runtime. For berth also: exactly one line of
# output, `config.json: <json path>: <problem>`. Cases runc accepts (or handles)
# are berth-only; so are the "not supported yet" fields and dev.berth.* keys.

load helpers

setup() {
	setup_bundle
	set_args true
	HOST_MOUNTS_BEFORE=$(host_mountinfo)
}

# expect_invalid JSON-PATH [FRAGMENT...]: `create bad` fails cleanly; for berth
# the single output line names JSON-PATH (and contains each FRAGMENT).
expect_invalid() {
	local path=$1 fragment out n
	shift
	run_berth create bad
	out=$output
	n=${#lines[@]}
	[ "$status" -eq 1 ] || fail "create exited $status, wanted 1"
	[ ! -e "$ROOT/bad" ] || fail "state for 'bad' left in \$ROOT"
	[ -z "$(root_entries)" ] || fail "left in \$ROOT: $(root_entries)"
	no_rootfs_pids "$BUNDLE/rootfs" || fail "container processes left: $(rootfs_pids "$BUNDLE/rootfs")"
	assert_mountinfo_unchanged "$HOST_MOUNTS_BEFORE"
	run_berth state bad
	[ "$status" -ne 0 ] || fail "state of the failed container succeeds"
	is_berth || return 0

	[ "$n" -eq 1 ] || fail "wanted exactly one line of output, got $n"
	[[ "$out" == *"config.json: $path"* ]] || fail "message does not name 'config.json: $path'"
	for fragment in "$@"; do
		[[ "$out" == *"$fragment"* ]] || fail "message lacks '$fragment'"
	done
}

# --- the file itself ---------------------------------------------------------

@test "config.json missing" {
	rm "$BUNDLE/config.json"
	run_berth create bad
	[ "$status" -eq 1 ]
	[ -z "$(root_entries)" ]
	assert_mountinfo_unchanged "$HOST_MOUNTS_BEFORE"
	if is_berth; then
		[ "${#lines[@]}" -eq 1 ]
		[[ "$output" == *config.json* ]]
	fi
}

@test "config.json is not valid JSON" {
	echo '{"ociVersion": "1.0.2", "process": {' >"$BUNDLE/config.json"
	run_berth create bad
	[ "$status" -eq 1 ]
	[ -z "$(root_entries)" ]
	assert_mountinfo_unchanged "$HOST_MOUNTS_BEFORE"
	if is_berth; then
		[ "${#lines[@]}" -eq 1 ]
		[[ "$output" == *config.json* ]]
	fi
}

@test "ociVersion not a string" {
	update_config '.ociVersion = 1'
	expect_invalid ociVersion
}

# --- root --------------------------------------------------------------------

@test "root missing" {
	update_config 'del(.root)'
	expect_invalid root
}

@test "root.path empty" {
	update_config '.root.path = ""'
	expect_invalid root.path
}

@test "root.path does not exist" {
	update_config '.root.path = "no-such-rootfs"'
	expect_invalid root.path
}

# --- process -----------------------------------------------------------------

@test "process missing" {
	update_config 'del(.process)'
	expect_invalid process
}

@test "process.args empty" {
	update_config '.process.args = []'
	expect_invalid process.args
}

@test "process.args[1] not a string" {
	update_config '.process.args = ["echo", 1]'
	expect_invalid 'process.args[1]'
}

@test "process.cwd relative" {
	update_config '.process.cwd = "tmp"'
	expect_invalid process.cwd
}

@test "process.env[0] without '='" {
	update_config '.process.env = ["FOO"] + .process.env'
	expect_invalid 'process.env[0]'
}

@test "process.user.uid negative" {
	update_config '.process.user.uid = -1'
	expect_invalid process.user.uid
}

@test "process.rlimits[0].type unknown" {
	update_config '.process.rlimits = [{"type": "RLIMIT_FOO", "soft": 1, "hard": 1}]'
	expect_invalid 'process.rlimits[0].type'
}

@test "process.rlimits[0] soft above hard" {
	update_config '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 2000, "hard": 1000}]'
	expect_invalid 'process.rlimits[0]'
}

@test "process.capabilities.bounding[0] unknown" {
	requires_berth "runc only warns about unknown capabilities"
	update_config '.process.capabilities.bounding = ["CAP_FOO"] + .process.capabilities.bounding'
	expect_invalid 'process.capabilities.bounding[0]'
}

@test "process.oomScoreAdj out of range" {
	update_config '.process.oomScoreAdj = 5000'
	expect_invalid process.oomScoreAdj
}

@test "process.user.umask above 0777" {
	requires_berth "runc accepts any umask"
	update_config '.process.user.umask = 512'
	expect_invalid process.user.umask
}

# --- mounts ------------------------------------------------------------------

@test "mounts not an array" {
	update_config '.mounts = {"destination": "/x"}'
	expect_invalid mounts
}

@test "mounts[0].destination relative" {
	requires_berth "runc only warns about relative mount destinations"
	update_config '.mounts[0].destination = "proc"'
	expect_invalid 'mounts[0].destination'
}

# --- namespaces --------------------------------------------------------------

@test "linux.namespaces[0].type unknown" {
	update_config '.linux.namespaces[0].type = "foo"'
	expect_invalid 'linux.namespaces[0].type'
}

@test "linux.namespaces duplicate type" {
	update_config '.linux.namespaces += [{"type": "pid"}]'
	local n
	n=$(jq '.linux.namespaces | length - 1' "$BUNDLE/config.json")
	expect_invalid "linux.namespaces[$n]"
}

@test "linux.namespaces path relative" {
	update_config '.linux.namespaces |= map(if .type == "network" then .path = "run/netns/x" else . end)'
	local n
	n=$(jq '[.linux.namespaces[].type] | index("network")' "$BUNDLE/config.json")
	expect_invalid "linux.namespaces[$n].path"
}

@test "hostname without a uts namespace" {
	update_config '.hostname = "h" | .linux.namespaces |= map(select(.type != "uts"))'
	expect_invalid hostname
}

# --- sysctl ------------------------------------------------------------------

@test "linux.sysctl key not namespaced" {
	update_config '.linux.sysctl = {"kernel.foo": "1"}'
	expect_invalid linux.sysctl kernel.foo
}

@test "linux.sysctl net.* without a network namespace" {
	update_config '.linux.sysctl = {"net.ipv4.ip_forward": "1"} | .linux.namespaces |= map(select(.type != "network"))'
	expect_invalid linux.sysctl net.ipv4.ip_forward
}

# --- devices, propagation, masked paths --------------------------------------

@test "linux.devices[0].type unknown" {
	update_config '.linux.devices = [{"path": "/dev/foo", "type": "x", "major": 1, "minor": 3}]'
	expect_invalid 'linux.devices[0].type'
}

@test "linux.devices[0].path relative" {
	requires_berth "runc accepts relative device paths"
	update_config '.linux.devices = [{"path": "dev/foo", "type": "c", "major": 1, "minor": 3}]'
	expect_invalid 'linux.devices[0].path'
}

@test "linux.rootfsPropagation unknown" {
	update_config '.linux.rootfsPropagation = "bogus"'
	expect_invalid linux.rootfsPropagation
}

@test "linux.maskedPaths[0] relative" {
	requires_berth "runc accepts relative masked paths"
	update_config '.linux.maskedPaths = ["proc/kcore"] + .linux.maskedPaths'
	expect_invalid 'linux.maskedPaths[0]'
}

# --- fields a host may not support ---------------------------------------

@test "linux.resources.network on a host without net_cls: refused in one line, nothing left" {
	requires_berth "runc writes it where it can and ignores it otherwise"
	if grep -qE ' - cgroup [^ ]+ [^ ]*net_cls' /proc/self/mountinfo; then
		skip "this host mounts net_cls: cgroups_resources.bats checks the value"
	fi
	update_config '.linux.resources.network = {"classID": 1048577}'
	expect_invalid linux.resources.network.classID "net_cls"
}

@test "seccomp notify without a listenerPath" {
	requires_berth "runc 1.1 accepts it and fails later"
	update_config '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_NOTIFY"}]}'
	expect_invalid linux.seccomp.listenerPath "required"
}

@test "uid mappings without a user namespace" {
	requires_berth "runc ignores mappings without a user namespace"
	update_config '.linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
	expect_invalid linux.uidMappings "needs a new user namespace"
}

@test "a user namespace without mappings" {
	requires_berth "runc words it differently"
	update_config '.linux.namespaces += [{"type": "user"}]'
	expect_invalid linux.namespaces "needs uidMappings and gidMappings"
}

@test "idmapped mounts: uidMappings without gidMappings" {
	requires_berth "runc 1.1.5 has no idmapped mounts"
	update_config '.mounts += [{"destination": "/x", "type": "bind", "source": "/tmp", "options": ["rbind"], "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 1}]}]'
	local n
	n=$(jq '.mounts | length - 1' "$BUNDLE/config.json")
	expect_invalid "mounts[$n].uidMappings" "go together"
}

@test "idmapped mounts: idmap on a tmpfs, and idmap without any mappings" {
	requires_berth "runc 1.1.5 has no idmapped mounts"
	update_config '.mounts += [{"destination": "/x", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"]}]'
	local n
	n=$(jq '.mounts | length - 1' "$BUNDLE/config.json")
	expect_invalid "mounts[$n].options" "bind mounts only"
	update_config '.mounts[-1] = {"destination": "/x", "type": "bind", "source": "/tmp", "options": ["rbind", "idmap"]}'
	expect_invalid "mounts[$n].options" "needs a user namespace"
}

@test "hooks: a relative hook path is refused with its JSON path" {
	update_config '.hooks = {"prestart": [{"path": "bin/true"}]}'
	expect_invalid "hooks.prestart[0].path" "absolute"
}

@test "user namespace: overlapping uid ranges and an unmapped root are refused" {
	requires_berth "runc leaves these to the kernel"
	update_config '.linux.namespaces += [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 10}, {"containerID": 5, "hostID": 200000, "size": 10}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 10}]'
	expect_invalid "linux.uidMappings[1]" "overlaps"
	update_config '.linux.uidMappings = [{"containerID": 1, "hostID": 100000, "size": 10}]'
	expect_invalid "linux.uidMappings" "uid 0"
}

# --- annotations -------------------------------------------------------------

@test "unknown dev.berth.* annotation" {
	requires_berth "dev.berth.* annotations are berth's own"
	update_config '.annotations = {"dev.berth.bogus": "1"}'
	expect_invalid annotations dev.berth.bogus
}

@test "other annotations are accepted" {
	update_config '.annotations = {"org.example.anything": "1", "dev.berthx": "2"}'
	run_berth create good
	[ "$status" -eq 0 ]
}

# --- run validates the same way ----------------------------------------------

@test "run refuses an invalid config the same way" {
	update_config '.process.args = []'
	run_berth run bad
	[ "$status" -eq 1 ]
	[ -z "$(root_entries)" ]
	assert_mountinfo_unchanged "$HOST_MOUNTS_BEFORE"
	if is_berth; then
		[ "${#lines[@]}" -eq 1 ]
		[[ "$output" == *"config.json: process.args"* ]]
	fi
}
