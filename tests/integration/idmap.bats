#!/usr/bin/env bats
# Idmapped bind mounts (runtime-spec 1.2: mount uidMappings/gidMappings and
# the idmap/ridmap options): files show the mapped owners through the mount,
# and what the container writes lands with the unmapped owner on the host.

load helpers

setup() {
	requires_berth "runc 1.1.5 has no idmapped mounts"
	setup_bundle
	VOL=$(mktemp -d /tmp/berth-idmap.XXXXXX)
	echo data >"$VOL/f"
	chown -R 0:0 "$VOL"
	chmod 0755 "$VOL"
}

teardown() {
	teardown_bundle
	rm -rf "$VOL"
}

userns_config() {
	chown -R 100000:100000 "$BUNDLE/rootfs"
	update_config '.root.readonly = false
		| .linux.namespaces += [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
}

@test "idmap: a root-owned volume is the container root's through an idmapped mount, not through a plain bind" {
	userns_config
	update_config '.mounts += [
		{"destination": "/vol", "type": "bind", "source": "'"$VOL"'", "options": ["rbind", "idmap"]},
		{"destination": "/plain", "type": "bind", "source": "'"$VOL"'", "options": ["rbind"]}]'
	run_sh 'stat -c "vol %u:%g" /vol/f; stat -c "plain %u:%g" /plain/f; echo new > /vol/g && echo wrote'
	[ "$status" -eq 0 ]
	[[ "$output" == *"vol 0:0"* ]]
	# Without the idmap the host's root is unmapped in the container: overflow id.
	[[ "$output" == *"plain 65534:65534"* ]]
	[[ "$output" == *wrote* ]]
	# Written by container root (host uid 100000) through the idmapped mount: owned by 0 on disk.
	[ "$(stat -c %u:%g "$VOL/g")" = 0:0 ]
}

@test "idmap: a mount's own mappings apply without a user namespace" {
	update_config '.mounts += [{"destination": "/vol", "type": "bind", "source": "'"$VOL"'", "options": ["bind"],
		"uidMappings": [{"containerID": 0, "hostID": 1234, "size": 1}],
		"gidMappings": [{"containerID": 0, "hostID": 4321, "size": 1}]}]'
	run_sh 'stat -c "%u:%g" /vol/f'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1234:4321 ]
	# The host's view is unchanged.
	[ "$(stat -c %u:%g "$VOL/f")" = 0:0 ]
}

@test "ridmap: submounts of the source are idmapped too; idmap leaves them as they are" {
	userns_config
	mkdir -p "$VOL/sub"
	mount -t tmpfs tmpfs "$VOL/sub"
	echo x >"$VOL/sub/s"
	update_config '.mounts += [
		{"destination": "/r", "type": "bind", "source": "'"$VOL"'", "options": ["rbind", "ridmap"]},
		{"destination": "/i", "type": "bind", "source": "'"$VOL"'", "options": ["rbind", "idmap"]}]'
	run_sh 'stat -c "r %u" /r/sub/s; stat -c "i %u" /i/sub/s'
	umount "$VOL/sub"
	[ "$status" -eq 0 ]
	[[ "$output" == *"r 0"* ]]
	[[ "$output" == *"i 65534"* ]]
}

@test "idmap: nothing is left behind when the source does not exist" {
	userns_config
	update_config '.mounts += [{"destination": "/vol", "type": "bind", "source": "/nonexistent-berth-idmap", "options": ["rbind", "idmap"]}]'
	run_berth create ctr
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"/nonexistent-berth-idmap"* ]]
	[ -z "$(ls -A "$ROOT")" ]
}
