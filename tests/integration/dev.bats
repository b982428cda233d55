#!/usr/bin/env bats
# /dev inside the container: the default character devices with their numbers
# and modes, the standard symlinks, devpts and shm, the devices really behaving
# (/dev/full, /dev/zero, /dev/null), no host devices leaking in, and
# linux.devices entries created with the given type, numbers, mode and owner.

load helpers

@test "default devices exist as character devices with the right numbers" {
	run_sh 'stat -c "%n %F %t:%T %a" /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "/dev/null character special file 1:3 666" ]
	[ "${lines[1]}" = "/dev/zero character special file 1:5 666" ]
	[ "${lines[2]}" = "/dev/full character special file 1:7 666" ]
	[ "${lines[3]}" = "/dev/random character special file 1:8 666" ]
	[ "${lines[4]}" = "/dev/urandom character special file 1:9 666" ]
	[ "${lines[5]}" = "/dev/tty character special file 5:0 666" ]
}

@test "standard /dev symlinks" {
	run_sh 'for l in fd stdin stdout stderr ptmx; do echo "$l -> $(readlink /dev/$l)"; done'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "fd -> /proc/self/fd" ]
	[ "${lines[1]}" = "stdin -> /proc/self/fd/0" ]
	[ "${lines[2]}" = "stdout -> /proc/self/fd/1" ]
	[ "${lines[3]}" = "stderr -> /proc/self/fd/2" ]
	[ "${lines[4]}" = "ptmx -> pts/ptmx" ]
}

@test "/dev/pts is a devpts and /dev/shm a writable sticky tmpfs" {
	run_sh 'grep -E " /dev/(pts|shm) " /proc/self/mountinfo | sed -E "s/^([^ ]+ ){4}([^ ]+) .* - ([^ ]+) .*/\2 \3/"
		stat -c %a /dev/shm; echo x >/dev/shm/f && cat /dev/shm/f'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "/dev/pts devpts" ]
	[ "${lines[1]}" = "/dev/shm tmpfs" ]
	[ "${lines[2]}" = 1777 ]
	[ "${lines[3]}" = x ]
}

@test "/dev/pts is a new devpts instance with the spec's ptmxmode" {
	# The host's devpts has ptmxmode=000; the spec asks for ptmxmode=0666.
	jq -e '.mounts[] | select(.destination == "/dev/pts") | .options | index("ptmxmode=0666")' "$BUNDLE/config.json"
	run_sh 'stat -c "%F %a" /dev/pts/ptmx; grep " /dev/pts " /proc/self/mountinfo'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "character special file 666" ]
	[[ "${lines[1]}" == *ptmxmode=666* ]]
}

@test "the devices behave: /dev/full is full, /dev/zero reads zeros, /dev/null swallows" {
	run_sh 'echo x >/dev/full || echo full-failed
		head -c 4 /dev/zero | od -An -tx1 | tr -d " "
		echo gone >/dev/null && wc -c </dev/null
		head -c 16 /dev/urandom | wc -c'
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *"No space left on device"* ]]
	[ "${lines[1]}" = full-failed ]
	[ "${lines[2]}" = 00000000 ]
	[ "${lines[3]}" = 0 ]
	[ "${lines[4]}" = 16 ]
}

@test "/dev is a fresh tmpfs without the host's devices" {
	run_sh 'grep " /dev " /proc/self/mountinfo | sed -E "s/.* - ([^ ]+) .*/\1/"; ls /dev'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = tmpfs ]
	local dev
	for dev in vda sda mem kmem port kmsg fuse loop0 tty0 console; do
		[[ " $(echo ${lines[@]:1}) " != *" $dev "* ]] || fail "host device /dev/$dev visible in the container"
	done
}

@test "linux.devices entries are created with type, numbers, mode and owner" {
	update_config '.linux.devices = [
		{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 384, "uid": 1000, "gid": 1000},
		{"path": "/dev/berth-blk", "type": "b", "major": 7, "minor": 200, "fileMode": 432, "uid": 0, "gid": 1001}]'
	run_sh 'stat -c "%n %F %t:%T %a %u:%g" /dev/fuse /dev/berth-blk'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "/dev/fuse character special file a:e5 600 1000:1000" ]
	[ "${lines[1]}" = "/dev/berth-blk block special file 7:c8 660 0:1001" ]
}

@test "a linux.devices entry in a subdirectory of /dev creates the directory" {
	update_config '.linux.devices = [{"path": "/dev/berth/sub/null2", "type": "c", "major": 1, "minor": 3, "fileMode": 438}]'
	run_sh 'stat -c "%F %t:%T" /dev/berth/sub/null2'
	[ "$status" -eq 0 ]
	[ "$output" = "character special file 1:3" ]
}

@test "issue9: linux.devices fileMode with the type bits (020600, as podman writes it): the permission bits are used" {
	update_config '.linux.devices = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 8576, "uid": 0, "gid": 0}]'
	run_sh 'stat -c "%F %t:%T %a" /dev/fuse'
	[ "$status" -eq 0 ]
	[ "$output" = "character special file a:e5 600" ]
}
