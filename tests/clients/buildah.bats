#!/usr/bin/env bats
# buildah 1.28 driving the runtime under test (RUNTIME=berth|runc) with
# `--runtime PATH` on `run` and `bud`, OCI isolation (the runtime runs every
# RUN step and `buildah run`), no network (--network none).
#
# Private storage (vfs) and run root under $CT (--root, --runroot), private
# registries.conf (no search registries, nothing is pulled from a registry)
# and signature policy; TMPDIR under $CT. Containers go below the cgroup
# /berthbuildah (--cgroup-parent). The image comes from the busybox archives:
# docker-archive: (pulled into storage in setup_file) and oci-archive:.

load client_helpers

CG_PARENT=berthbuildah

setup_file() {
	clients_setup_file buildah
	mkdir -p "$CT/storage" "$CT/run" "$CT/tmp"
	cat >"$CT/registries.conf" <<EOF
unqualified-search-registries = []
short-name-mode = "enforcing"
EOF
	cat >"$CT/policy.json" <<EOF
{"default": [{"type": "insecureAcceptAnything"}]}
EOF
	export CONTAINERS_REGISTRIES_CONF=$CT/registries.conf
	export TMPDIR=$CT/tmp
	export BUILDAH_ISOLATION=oci
	run_client buildah --root "$CT/storage" --runroot "$CT/run" --storage-driver vfs \
		pull --signature-policy "$CT/policy.json" "docker-archive:$DOCKER_ARCHIVE"
	[ "$status" -eq 0 ] || fail "buildah pull docker-archive: of the busybox image failed"
}

teardown_file() {
	[ -n "${CT:-}" ] || return 0
	buildah_cleanup
	kill_ct_pids
	cleanup_cgroups "$CG_PARENT"
	remove_ct
}

setup() {
	mark_runtime_log
	BUILDAH=(buildah --root "$CT/storage" --runroot "$CT/run" --storage-driver vfs)
	FROM=("${BUILDAH[@]}" from --signature-policy "$CT/policy.json" --pull=never
		--cgroup-parent "/$CG_PARENT" --network none)
	BRUN=("${BUILDAH[@]}" run --runtime "$RUNTIME_WRAPPER" --network none)
	BUD=("${BUILDAH[@]}" bud --signature-policy "$CT/policy.json" --pull=never
		--runtime "$RUNTIME_WRAPPER" --network none --cgroup-parent "/$CG_PARENT")
	cd "$BATS_TEST_TMPDIR" || return 1
}

teardown() {
	local ids
	show_runtime_log
	ids=$(rootfs_ids "$CT"/storage/vfs/dir/*)
	buildah_cleanup
	[ -z "$("${BUILDAH[@]}" containers -q 2>/dev/null)" ] || fail "buildah containers left after rm -a"
	check_no_leaks "$CT/runtime-root" "$ids" "$CG_PARENT"
}

# buildah_cleanup: remove every working container and every image but the base.
buildah_cleanup() {
	local b=(buildah --root "$CT/storage" --runroot "$CT/run" --storage-driver vfs) i
	timeout -k 5 60 "${b[@]}" rm -a >/dev/null 2>&1 </dev/null 3>&- || true
	for i in $(timeout 20 "${b[@]}" images -q --filter reference=localhost/built* 2>/dev/null); do
		timeout -k 5 60 "${b[@]}" rmi -f "$i" >/dev/null 2>&1 </dev/null 3>&- || true
	done
}

# new_ctr [IMAGE]: a working container from IMAGE (default: the base image),
# its name in $CTR.
new_ctr() {
	run_client "${FROM[@]}" "${1:-$IMAGE}"
	expect_status 0
	CTR=${lines[${#lines[@]} - 1]}
	[ -n "$CTR" ] || fail "buildah from printed no container name"
}

@test "buildah from oci-archive: and docker-archive:, then run: the image's files are there" {
	local t
	for t in "oci-archive:$IMAGE_ARCHIVE" "docker-archive:$DOCKER_ARCHIVE"; do
		new_ctr "$t"
		run_client "${BRUN[@]}" "$CTR" sh -c 'echo from-$0; test -x /bin/busybox' "${t%%:*}"
		expect_status 0
		expect_output "from-${t%%:*}"
	done
}

@test "buildah run: output and exit status 0" {
	new_ctr
	run_client "${BRUN[@]}" "$CTR" echo hi
	expect_status 0
	expect_output hi
}

@test "buildah run: exit status 42 propagates" {
	new_ctr
	run_client "${BRUN[@]}" "$CTR" sh -c 'echo before; exit 42'
	expect_status 42
	# buildah adds "Error: while running runtime: exit status 42".
	[ "${lines[0]}" = before ] || fail "expected 'before' first, got: $output"
}

# buildah 1.28 gives the runtime the --cgroup-parent itself as cgroupsPath
# (runc does the same with it): the container's cgroup is /berthbuildah.
@test "buildah run: the container is in the cgroup of --cgroup-parent (/$CG_PARENT) in every hierarchy" {
	local bad
	new_ctr
	run_client "${BRUN[@]}" "$CTR" cat /proc/self/cgroup
	expect_status 0
	[ -n "$output" ] || fail "no /proc/self/cgroup output"
	bad=$(printf '%s\n' "$output" | only_mounted_hierarchies | grep -v ":/$CG_PARENT\$" || true)
	[ -z "$bad" ] || fail "not in /$CG_PARENT: $(echo $bad)"
}

@test "buildah run --user: the process runs as that uid and gid" {
	new_ctr
	run_client "${BRUN[@]}" --user 1234:5678 "$CTR" sh -c 'id -u; id -g'
	expect_status 0
	expect_output $'1234\n5678'
}

@test "buildah run --volume: a host directory is readable and writable" {
	mkdir -p "$BATS_TEST_TMPDIR/vol"
	echo from-host >"$BATS_TEST_TMPDIR/vol/in"
	new_ctr
	run_client "${BRUN[@]}" --volume "$BATS_TEST_TMPDIR/vol:/mnt/vol" "$CTR" \
		sh -c 'cat /mnt/vol/in; echo from-container >/mnt/vol/out'
	expect_status 0
	expect_output from-host
	[ "$(cat "$BATS_TEST_TMPDIR/vol/out")" = from-container ] || fail "the container's write did not reach the host"
}

@test "buildah bud: RUN steps run, their file is in the committed image" {
	mkdir -p "$BATS_TEST_TMPDIR/ctx"
	cat >"$BATS_TEST_TMPDIR/ctx/Containerfile" <<EOF
FROM $IMAGE
RUN echo built-by-run >/built && echo step1-done
RUN cat /built && echo step2 >>/built
EOF
	run_client "${BUD[@]}" -t localhost/built:1 "$BATS_TEST_TMPDIR/ctx"
	expect_status 0
	# Whole lines: buildah also echoes each step's command ("STEP 2/3: RUN ...").
	printf '%s\n' "${lines[@]}" | grep -qx step1-done || fail "first RUN step's output missing"
	printf '%s\n' "${lines[@]}" | grep -qx built-by-run || fail "second RUN step did not see the first one's file"
	new_ctr localhost/built:1
	run_client "${BRUN[@]}" "$CTR" cat /built
	expect_status 0
	expect_output $'built-by-run\nstep2'
}

@test "buildah bud: a failing RUN step fails the build, nothing is committed" {
	mkdir -p "$BATS_TEST_TMPDIR/ctx"
	cat >"$BATS_TEST_TMPDIR/ctx/Containerfile" <<EOF
FROM $IMAGE
RUN echo before-failure; exit 3
RUN echo never-reached
EOF
	run_client "${BUD[@]}" -t localhost/built:bad "$BATS_TEST_TMPDIR/ctx"
	[ "$status" -ne 0 ] || fail "bud succeeded"
	# Whole lines: buildah also echoes each step's command ("STEP 2/3: RUN ...").
	printf '%s\n' "${lines[@]}" | grep -qx before-failure || fail "the failing step did not run"
	[[ $output == *"exit status 3"* ]] || fail "the step's exit status 3 is not reported"
	printf '%s\n' "${lines[@]}" | grep -qx never-reached && fail "a step after the failure ran"
	run_client "${BUILDAH[@]}" images -q localhost/built:bad
	[ -z "$output" ] || [ "$status" -ne 0 ] || fail "an image was committed: $output"
}
