#!/usr/bin/env bats
# Replay of real callers' configs (issue #9): each fixture in
# tests/fixtures/configs/<caller>-<case>.json was captured from podman, docker,
# buildah or ctr by tests/corpus/capture.sh and normalised by
# tests/corpus/normalise.sh. Each @test fills the fixture's placeholders with a
# fresh bundle, replaces the process with tests/corpus/probe.sh (which prints
# what the process sees: ids, caps, no_new_privs, seccomp mode, limits, cgroup
# limits, /dev, mounts, hostname, personality, ...), runs it with berth AND
# with runc, and fails on any difference in exit status or normalised output
# that tests/fixtures/configs/DIFFERENCES.md does not allow.
#
#   CORPUS_ONLY=docker-init bats tests/integration/corpus.bats   # one fixture
#   CORPUS_ONLY='podman-*'  ...                                  # a glob
#   RUNC=/path/to/runc      the reference runtime (default: runc on PATH)
#
# Replay adaptations (the same for both runtimes; see DIFFERENCES.md):
# process.args -> the probe, process.terminal -> false, hooks whose binary is
# not present (the callers' own: dockerd's libnetwork-setkey) dropped,
# capabilities the host's bounding set lacks dropped, cgroupsPath (set or
# not: placement is cgroups.bats' business) -> a relative path unique to the test, namespace paths -> a holder process, and a
# user-namespaced fixture gets its rootfs chowned to the mapped root as the
# caller would.

load helpers

CORPUS_FIXTURES=$BERTH_SRC_DIR/tests/fixtures/configs
CORPUS_PROBE=$BERTH_SRC_DIR/tests/corpus/probe.sh
RUNC=${RUNC:-$(command -v runc || echo /usr/sbin/runc)}
HOLDER_PIDS=()

# The fixture a test replays: "corpus: NAME" -> NAME.
corpus_name() {
	echo "${BATS_TEST_DESCRIPTION#corpus: }"
}

setup() {
	if [ -n "${CORPUS_ONLY:-}" ] && [[ $BATS_TEST_DESCRIPTION == corpus:* ]]; then
		# shellcheck disable=SC2053
		[[ $(corpus_name) == $CORPUS_ONLY ]] || skip "CORPUS_ONLY=$CORPUS_ONLY"
	fi
	requires root
	[ -x "$RUNC" ] || skip "runc not found (scripts/deps.sh test installs it)"
	ensure_fixture
	CORPUS_CG=berth-corpus-$BATS_TEST_NUMBER-$$
}

teardown() {
	local rc=0 rt id pid m
	cd "$BATS_TEST_TMPDIR" 2>/dev/null || cd /
	for pid in "${HOLDER_PIDS[@]}"; do
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	for rt in berth runc; do
		local bin=$BERTH
		[ "$rt" = runc ] && bin=$RUNC
		[ -d "$BATS_TEST_TMPDIR/$rt/root" ] || continue
		for id in $("$bin" --root "$BATS_TEST_TMPDIR/$rt/root" list -q 2>/dev/null); do
			"$bin" --root "$BATS_TEST_TMPDIR/$rt/root" delete --force "$id" >/dev/null 2>&1 || true
		done
		if ! retry 3 0.05 no_rootfs_pids "$BATS_TEST_TMPDIR/$rt/bundle/rootfs" >/dev/null; then
			echo "teardown: $rt left processes: $(rootfs_pids "$BATS_TEST_TMPDIR/$rt/bundle/rootfs")" >&2
			for pid in $(rootfs_pids "$BATS_TEST_TMPDIR/$rt/bundle/rootfs"); do kill -9 "$pid" 2>/dev/null || true; done
			rc=1
		fi
	done
	m=$(test_mounts)
	if [ -n "$m" ]; then
		echo "teardown: mounts left behind: $(echo $m)" >&2
		for pid in $m; do umount -l "$pid" 2>/dev/null || true; done
		rc=1
	fi
	# Cgroups named after this test (relative cgroupsPath, below this shell's own).
	if [ -n "${CORPUS_CG:-}" ]; then
		find /sys/fs/cgroup -maxdepth 8 -depth -type d -name "$CORPUS_CG*" 2>/dev/null |
			while read -r m; do
				echo "teardown: cgroup left behind: $m" >&2
				rmdir "$m" 2>/dev/null || true
			done
	fi
	return $rc
}

# --- filling a fixture in ------------------------------------------------------

# Capability names by number, for the host's bounding set.
CAP_NAMES=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
	LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER
	SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE
	SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP
	MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF
	CHECKPOINT_RESTORE)

# host_caps_json: the capabilities in this shell's bounding set, as a JSON array.
host_caps_json() {
	local hex i
	hex=$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)
	for i in "${!CAP_NAMES[@]}"; do
		(((0x$hex >> i) & 1)) && echo "CAP_${CAP_NAMES[$i]}"
	done | jq -R . | jq -s .
}

# start_holder: a process in new ipc, uts, net, cgroup and pid namespaces whose
# namespaces a fixture's "@NS@" paths join (a pod's infra container at capture).
# Sets HOLDER (its pid).
start_holder() {
	unshare --fork --pid --ipc --uts --net --cgroup sleep 600 </dev/null >/dev/null 2>&1 3>&- &
	HOLDER_PIDS+=($!)
	local outer=$! i
	HOLDER=''
	for i in $(seq 100); do
		HOLDER=$(cat "/proc/$outer/task/$outer/children" 2>/dev/null | awk '{ print $1 }')
		[ -n "$HOLDER" ] && return 0
		sleep 0.02
	done
	fail "namespace holder did not start"
}

# make_corpus_bundle NAME RT: $BATS_TEST_TMPDIR/RT/bundle from fixture NAME.
# Sets BUNDLE_DIR.
make_corpus_bundle() {
	local name=$1 rt=$2 fx=$CORPUS_FIXTURES/$1.json
	local dir=$BATS_TEST_TMPDIR/$rt
	BUNDLE_DIR=$dir/bundle
	mkdir -p "$BUNDLE_DIR" "$dir/root"
	cp -a "$FIXTURE_DIR/rootfs" "$BUNDLE_DIR/rootfs"
	cp "$CORPUS_PROBE" "$BUNDLE_DIR/rootfs/corpus-probe"
	chmod 755 "$BUNDLE_DIR/rootfs/corpus-probe"

	local ns_path=''
	if jq -e '[.linux.namespaces[]? | select(.path == "@NS@")] | length > 0' "$fx" >/dev/null; then
		start_holder
		ns_path=/proc/$HOLDER/ns
	fi

	# Files and directories the caller had bind-mounted from its own storage.
	local src
	for src in $(jq -r '.mounts[]?.source // empty | select(startswith("@BUNDLE@/"))' "$fx"); do
		src=$BUNDLE_DIR/${src#@BUNDLE@/}
		case $src in
		"$BUNDLE_DIR"/dirs/*) mkdir -p "$src" ;;
		*) mkdir -p "$(dirname "$src")" && : >"$src" ;;
		esac
	done

	jq --arg bundle "$BUNDLE_DIR" --arg cg "$CORPUS_CG-$rt" --arg ns "$ns_path" \
		--argjson hostcaps "$(host_caps_json)" '
		def fill: if type == "string" then
			gsub("@BUNDLE@"; $bundle) | gsub("@ROOTFS@"; $bundle + "/rootfs")
			| gsub("@ID12@"; "corpus0000id") | gsub("@ID@"; "corpus0000id-full")
			| gsub("@WORK@"; $bundle + "/work")
			else . end;
		walk(fill)
		| .process.args = ["/bin/sh", "/corpus-probe"]
		| .process.terminal = false
		| .linux.cgroupsPath = $cg
		| (if .linux.namespaces then .linux.namespaces |= map(
			if .path == "@NS@" then .path = ($ns + "/" + (if .type == "network" then "net" else .type end))
			else . end) else . end)
		| (if .hooks then .hooks |= (with_entries(.value |= map(select(.path | startswith("@MISSING@") | not)))
			| with_entries(select(.value | length > 0))) else . end)
		| (if .process.capabilities then .process.capabilities |= with_entries(
			.value |= map(select(. as $c | $hostcaps | index($c)))) else . end)
		' "$fx" >"$BUNDLE_DIR/config.json"

	# Hooks that stayed must name a binary that exists here.
	local h
	for h in $(jq -r '.hooks // {} | .[][]?.path' "$BUNDLE_DIR/config.json"); do
		[ -x "$h" ] || fail "$name: hook $h is not present; mark it @MISSING@ in the fixture"
	done

	# A user-namespaced container sees its files owned by the mapped root, as
	# podman and containerd arrange (they chown the image copy).
	local hostroot
	hostroot=$(jq -r '.linux.uidMappings[]? | select(.containerID == 0) | .hostID' "$BUNDLE_DIR/config.json")
	if [ -n "$hostroot" ]; then
		# The mapped root must reach the bundle through bats' private (0700) dirs.
		local d=$BUNDLE_DIR
		while [ "$d" != / ] && [ "$d" != /tmp ]; do
			chmod a+x "$d"
			d=$(dirname "$d")
		done
		chown -hR "$hostroot:$hostroot" "$BUNDLE_DIR/rootfs"
		chown -hR "$((hostroot + 1000)):$((hostroot + 1000))" "$BUNDLE_DIR/rootfs/home/user"
	fi
}

# --- normalising what the probe printed ------------------------------------------

# normalise_probe FILE RT: the probe's output with what legitimately differs
# between two runs taken out: the bundle path and this test's cgroup name
# (both carry the runtime's name), the probe's own fds under /dev/fd, and in
# mountinfo the mount ids, device numbers, mount sources (berth's fsopen mounts
# say "none" where runc's say "proc") and propagation peer group numbers. The
# superblock's own ro/rw is dropped (berth makes procfs and sysfs read-only on
# the mount, runc on the superblock; the mount flags, which decide what the
# process can write, are kept), and the lines are sorted by mount point:
# the two runtimes apply masks and read-only paths in a different order.
normalise_probe() {
	local bundle=$BATS_TEST_TMPDIR/$2/bundle
	sed -e "s#$bundle#BUNDLE#g" -e "s#$CORPUS_CG-$2#CGROUP#g" "$1" | awk '
		/^\/dev\/fd\// { next }
		/^== mountinfo$/ { print; m = 1; next }
		/^== / { m = 0 }
		!m { print; next }
		{
			sep = 0
			for (i = 7; i <= NF; i++) if ($i == "-") { sep = i; break }
			if (!sep) { print "?? " $0; next }
			prop = ""
			for (i = 7; i < sep; i++) { p = $i; sub(/:[0-9]+$/, "", p); prop = prop " " p }
			n = split($(sep + 3), so, ",")
			sopts = ""
			for (i = 1; i <= n; i++) if (so[i] != "ro" && so[i] != "rw") sopts = sopts "," so[i]
			print $5, $6, "[" substr(prop, 2) "]", "root=" $4, $(sep + 1), "(" substr(sopts, 2) ")" | "sort -s -k1,1"
		}'
}

# allowed_patterns NAME: EREs from DIFFERENCES.md whose fixture glob matches NAME.
# Rows of its allow-list table: | `GLOB` | `ERE` | reason |
allowed_patterns() {
	local glob ere
	while IFS=$'\t' read -r glob ere; do
		# shellcheck disable=SC2053
		# A "|" inside a Markdown table cell is written "\|".
		[[ $1 == $glob ]] && printf '%s\n' "${ere//\\|/|}"
	done < <(sed -nE 's/^\| *`([^`]+)` *\| *`([^`]+)` *\|.*$/\1\t\2/p' "$CORPUS_FIXTURES/DIFFERENCES.md")
	return 0
}

# --- the replay ----------------------------------------------------------------------

# replay NAME: run fixture NAME with berth and with runc; fail on a difference.
replay() {
	local name=$1 rt bin st
	[ -f "$CORPUS_FIXTURES/$name.json" ] || fail "no fixture $name.json"

	declare -A status_of=()
	for rt in berth runc; do
		bin=$BERTH
		[ "$rt" = runc ] && bin=$RUNC
		make_corpus_bundle "$name" "$rt"
		st=0
		timeout -k 5 "$BERTH_TIMEOUT" "$bin" --root "$BATS_TEST_TMPDIR/$rt/root" run \
			--bundle "$BUNDLE_DIR" "corpus-$name" >"$BATS_TEST_TMPDIR/$rt.out" 2>&1 </dev/null 3>&- || st=$?
		status_of[$rt]=$st
		normalise_probe "$BATS_TEST_TMPDIR/$rt.out" "$rt" >"$BATS_TEST_TMPDIR/$rt.norm"
	done

	local allow filter_b filter_r
	allow=$(allowed_patterns "$name")
	filter_b=$BATS_TEST_TMPDIR/berth.cmp
	filter_r=$BATS_TEST_TMPDIR/runc.cmp
	if [ -n "$allow" ]; then
		grep -vEf <(printf '%s\n' "$allow") "$BATS_TEST_TMPDIR/berth.norm" >"$filter_b" || true
		grep -vEf <(printf '%s\n' "$allow") "$BATS_TEST_TMPDIR/runc.norm" >"$filter_r" || true
	else
		cp "$BATS_TEST_TMPDIR/berth.norm" "$filter_b"
		cp "$BATS_TEST_TMPDIR/runc.norm" "$filter_r"
	fi

	local rc=0
	if [ "${status_of[berth]}" != "${status_of[runc]}" ]; then
		echo "# $name: exit status: berth ${status_of[berth]}, runc ${status_of[runc]}"
		rc=1
	fi
	if ! diff -u --label "runc $name" --label "berth $name" "$filter_r" "$filter_b"; then
		rc=1
	fi
	[ "${status_of[runc]}" -eq 0 ] || echo "# note: runc itself exited ${status_of[runc]}: $(head -n 3 "$BATS_TEST_TMPDIR/runc.out")"
	[ "$rc" -eq 0 ] || fail "$name: berth and runc differ (lines starting - are runc's, + berth's)"
}

# --- the corpus's own sanity ----------------------------------------------------------

@test "corpus: every fixture has a @test and the allow-list parses" {
	local f name missing=()
	for f in "$CORPUS_FIXTURES"/*.json; do
		name=$(basename "$f" .json)
		grep -qF "@test \"corpus: $name\" " "$BATS_TEST_FILENAME" || missing+=("$name")
		jq -e . "$f" >/dev/null || fail "$name.json is not valid JSON"
		! grep -qE '/tmp/berth-corpus\.' "$f" || fail "$name.json names the capture host's temp dir"
	done
	[ ${#missing[@]} -eq 0 ] || fail "fixtures without a @test: ${missing[*]}"
	[ -f "$CORPUS_FIXTURES/DIFFERENCES.md" ]
	[ -s "$CORPUS_FIXTURES/argv.txt" ]
}

@test "corpus: the probe tells two different configs apart" {
	# The replay must be able to fail: the same fixture with one capability
	# dropped and a different hostname has to give a different probe output.
	make_corpus_bundle docker-default runc
	"$RUNC" --root "$BATS_TEST_TMPDIR/runc/root" run --bundle "$BUNDLE_DIR" corpus-a \
		>"$BATS_TEST_TMPDIR/a.out" 2>&1 </dev/null 3>&-
	jq '.hostname = "other" | .process.capabilities.bounding -= ["CAP_CHOWN"]' \
		"$BUNDLE_DIR/config.json" >"$BUNDLE_DIR/c" && mv "$BUNDLE_DIR/c" "$BUNDLE_DIR/config.json"
	"$RUNC" --root "$BATS_TEST_TMPDIR/runc/root" run --bundle "$BUNDLE_DIR" corpus-b \
		>"$BATS_TEST_TMPDIR/b.out" 2>&1 </dev/null 3>&-
	normalise_probe "$BATS_TEST_TMPDIR/a.out" runc >"$BATS_TEST_TMPDIR/a.norm"
	normalise_probe "$BATS_TEST_TMPDIR/b.out" runc >"$BATS_TEST_TMPDIR/b.norm"
	grep -q '^CapBnd:' "$BATS_TEST_TMPDIR/a.norm"
	grep -q '^== mountinfo' "$BATS_TEST_TMPDIR/a.norm"
	run diff "$BATS_TEST_TMPDIR/a.norm" "$BATS_TEST_TMPDIR/b.norm"
	[ "$status" -eq 1 ]
	[[ $output == *"CapBnd"* ]]
	[[ $output == *"other"* ]]
}

# --- one @test per fixture (the first test fails when one is missing) ----------------

@test "corpus: buildah-bud" {
	replay buildah-bud
}

@test "corpus: buildah-default" {
	replay buildah-default
}

@test "corpus: buildah-env-workdir-hostname" {
	replay buildah-env-workdir-hostname
}

@test "corpus: buildah-mount" {
	replay buildah-mount
}

@test "corpus: buildah-user" {
	replay buildah-user
}

@test "corpus: ctr-allow-new-privs" {
	replay ctr-allow-new-privs
}

@test "corpus: ctr-caps" {
	replay ctr-caps
}

@test "corpus: ctr-default" {
	replay ctr-default
}

@test "corpus: ctr-device" {
	replay ctr-device
}

@test "corpus: ctr-env-cwd" {
	replay ctr-env-cwd
}

@test "corpus: ctr-memory-cpus" {
	replay ctr-memory-cpus
}

@test "corpus: ctr-mount" {
	replay ctr-mount
}

@test "corpus: ctr-privileged" {
	replay ctr-privileged
}

@test "corpus: ctr-readonly" {
	replay ctr-readonly
}

@test "corpus: ctr-seccomp-custom" {
	replay ctr-seccomp-custom
}

@test "corpus: ctr-seccomp" {
	replay ctr-seccomp
}

@test "corpus: docker-caps" {
	replay docker-caps
}

@test "corpus: docker-cgroupns" {
	replay docker-cgroupns
}

@test "corpus: docker-default" {
	replay docker-default
}

@test "corpus: docker-device" {
	replay docker-device
}

@test "corpus: docker-env-workdir-hostname" {
	replay docker-env-workdir-hostname
}

@test "corpus: docker-init" {
	replay docker-init
}

@test "corpus: docker-memory-cpus" {
	replay docker-memory-cpus
}

@test "corpus: docker-nnp" {
	replay docker-nnp
}

@test "corpus: docker-pids" {
	replay docker-pids
}

@test "corpus: docker-privileged" {
	replay docker-privileged
}

@test "corpus: docker-readonly" {
	replay docker-readonly
}

@test "corpus: docker-seccomp-custom" {
	replay docker-seccomp-custom
}

@test "corpus: docker-seccomp-unconfined" {
	replay docker-seccomp-unconfined
}

@test "corpus: docker-sysctl-shm" {
	replay docker-sysctl-shm
}

@test "corpus: docker-tmpfs" {
	replay docker-tmpfs
}

@test "corpus: docker-ulimits" {
	replay docker-ulimits
}

@test "corpus: docker-user" {
	replay docker-user
}

@test "corpus: docker-volume" {
	replay docker-volume
}

@test "corpus: podman-caps" {
	replay podman-caps
}

@test "corpus: podman-default" {
	replay podman-default
}

@test "corpus: podman-device" {
	replay podman-device
}

@test "corpus: podman-env-workdir-hostname" {
	replay podman-env-workdir-hostname
}

@test "corpus: podman-init" {
	replay podman-init
}

@test "corpus: podman-memory-cpus" {
	replay podman-memory-cpus
}

@test "corpus: podman-nnp" {
	replay podman-nnp
}

@test "corpus: podman-personality" {
	replay podman-personality
}

@test "corpus: podman-pids" {
	replay podman-pids
}

@test "corpus: podman-pod-2" {
	replay podman-pod-2
}

@test "corpus: podman-pod" {
	replay podman-pod
}

@test "corpus: podman-privileged" {
	replay podman-privileged
}

@test "corpus: podman-readonly" {
	replay podman-readonly
}

@test "corpus: podman-seccomp-custom" {
	replay podman-seccomp-custom
}

@test "corpus: podman-seccomp-unconfined" {
	replay podman-seccomp-unconfined
}

@test "corpus: podman-sysctl-shm" {
	replay podman-sysctl-shm
}

@test "corpus: podman-tmpfs" {
	replay podman-tmpfs
}

@test "corpus: podman-uidmap" {
	replay podman-uidmap
}

@test "corpus: podman-ulimits" {
	replay podman-ulimits
}

@test "corpus: podman-user" {
	replay podman-user
}

@test "corpus: podman-volume" {
	replay podman-volume
}
