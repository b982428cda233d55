#!/usr/bin/env bats
# User namespaces: linux.uidMappings/gidMappings written by the runtime.
# Root inside must be an unprivileged uid outside: files it creates belong to
# the mapped uid on the host, and it cannot write what host root owns.

load helpers

setup() {
	setup_bundle
	# A user-namespaced rootfs belongs to the mapped ids (as with runc).
	chown -R 100000:100000 "$BUNDLE/rootfs"
	# runc resolves the rootfs path as the mapped root, so every parent must
	# be traversable (berth opens it before switching ids and needs no help).
	local d=$BUNDLE
	while [ "$d" != / ]; do
		chmod o+x "$d"
		d=$(dirname "$d")
	done
	# A host directory the container's root may reach: world-traversable.
	SHARED=$(mktemp -d /tmp/berth-userns.XXXXXX)
	chmod 0755 "$SHARED"
	update_config '.linux.namespaces += [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
}

teardown() {
	rm -rf "$SHARED"
	teardown_bundle
}

shared_bind() {
	update_config --arg src "$1" '.mounts += [{"destination": "/shared", "type": "bind",
		"source": $src, "options": ["rbind", "rw"]}]'
}

@test "root inside is uid 100000 outside: its files show the mapped owner on the host" {
	mkdir "$SHARED/rw"
	chown 100000:100000 "$SHARED/rw"
	shared_bind "$SHARED/rw"
	run_sh 'id -u; id -g; cat /proc/self/uid_map; touch /shared/made-inside; mkdir /shared/dir'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 0 ]
	[ "${lines[1]}" = 0 ]
	[ "$(echo "${lines[2]}" | xargs)" = "0 100000 65536" ]
	[ "$(stat -c %u:%g "$SHARED/rw/made-inside")" = 100000:100000 ]
	[ "$(stat -c %u:%g "$SHARED/rw/dir")" = 100000:100000 ]
}

@test "root inside cannot write what host root owns" {
	mkdir "$SHARED/ro"
	echo host >"$SHARED/ro/owned-by-host-root"
	chmod 0644 "$SHARED/ro/owned-by-host-root"
	chmod 0755 "$SHARED/ro"
	shared_bind "$SHARED/ro"
	run_sh 'echo evil >/shared/owned-by-host-root 2>&1 && echo wrote || echo denied
		touch /shared/new 2>&1 && echo created || echo denied'
	[ "$status" -eq 0 ]
	[[ "$output" == *denied*denied* ]]
	[ "$(cat "$SHARED/ro/owned-by-host-root")" = host ]
	[ ! -e "$SHARED/ro/new" ]
}

@test "a user namespace of its own: its inode differs from the host's" {
	run_sh 'readlink /proc/self/ns/user'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" != "$(readlink /proc/self/ns/user)" ]
}

@test "the container's processes run as uid 100000 on the host" {
	set_args sleep 100
	run_berth run --detach ctr
	[ "$status" -eq 0 ]
	local pid
	pid=$(container_pid ctr)
	[ "$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")" = 100000 ]
	[ "$(awk '/^Gid:/ {print $2}' "/proc/$pid/status")" = 100000 ]
}

@test "bad mappings: mappings without a user namespace, and a user namespace without them" {
	requires_berth "runc ignores mappings without a user namespace"
	update_config '.linux.namespaces |= map(select(.type != "user"))'
	run_berth create bad
	[ "$status" -eq 1 ]
	if is_berth; then
		[ "${#lines[@]}" -eq 1 ]
		[[ "$output" == *"linux.uidMappings"* ]]
	fi
	[ -z "$(ls -A "$ROOT" 2>/dev/null | grep -x bad)" ]

	update_config '.linux.namespaces += [{"type": "user"}] | del(.linux.uidMappings) | del(.linux.gidMappings)'
	run_berth create bad2
	[ "$status" -eq 1 ]
	if is_berth; then
		[ "${#lines[@]}" -eq 1 ]
		[[ "$output" == *"uidMappings and gidMappings"* ]]
	fi
	[ -z "$(ls -A "$ROOT" 2>/dev/null | grep -x bad2)" ]
}

@test "bad mappings: size 0 and a range past 2^32 are refused" {
	requires_berth "runc passes these to the kernel, which refuses them its own way"
	update_config '.linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 0}]'
	run_berth create bad
	[ "$status" -eq 1 ]
	[[ "$output" == *"linux.uidMappings[0].size"* ]]
	update_config '.linux.uidMappings = [{"containerID": 0, "hostID": 4294967295, "size": 10}]'
	run_berth create bad
	[ "$status" -eq 1 ]
	[[ "$output" == *"overflows"* ]]
}

@test "a bind source below a directory only the host's root may enter (0700) is reachable" {
	mkdir -m 0700 "$SHARED/private"
	mkdir -m 0755 "$SHARED/private/shared"
	echo reachable >"$SHARED/private/shared/f"
	chmod 0644 "$SHARED/private/shared/f"
	shared_bind "$SHARED/private/shared"
	run_sh 'cat /shared/f'
	[ "$status" -eq 0 ]
	[ "$output" = reachable ]
	# The host's directory is as it was.
	[ "$(stat -c %a:%u "$SHARED/private")" = 700:0 ]
}
