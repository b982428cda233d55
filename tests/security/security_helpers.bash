#!/usr/bin/env bash
# Shared by the adversarial cases in tests/security/*.bats, loaded after
# ../integration/helpers.
#
# sec_setup (call from setup) takes a snapshot of the host: its mount table
# and a marker directory $MARK (a host directory an escape would aim at, with
# the file $MARK/marker). sec_teardown (call from teardown) runs the usual
# teardown_bundle and then fails the test unless the host is untouched: the
# mount table is as it was, $MARK holds exactly what it held, and the state
# root $ROOT is empty.

# host_mounts: the host's mount table, less mount points that other,
# unrelated activity on this machine may add or remove while a test runs:
# other test runs and tools working under /tmp (our own run's directory and
# the marker directories stay in), `ip netns` handles, and container engines'
# storage. An escape aims at the host's own tree (/, /etc, /dev, /proc, ...)
# or at $MARK, all of which stay in the comparison.
host_mounts() {
	awk -v own="${BATS_RUN_TMPDIR:-/nonexistent}" '
		index($5, own) == 1 || $5 ~ "^/tmp/berth-sec-mark\\." { print; next }
		$5 ~ "^/tmp/" || $5 ~ "^/run/netns/" { next }
		$5 ~ "^/(var/lib|run)/(containers|containerd|docker|crio)/" || $5 ~ "^/run/user/" { next }
		{ print }' /proc/self/mountinfo
}

# tree_listing DIR: every entry below DIR with type, mode, owner, size and,
# for regular files, the content's sha256. Symlinks are listed, not followed.
tree_listing() {
	(
		cd "$1" || exit 1
		find . -xdev -printf '%p %y %m %U:%G %s %l\n' | sort
		find . -xdev -type f -print0 | sort -z | xargs -0 -r sha256sum
	)
}

sec_setup() {
	setup_bundle
	MARK=$(mktemp -d /tmp/berth-sec-mark.XXXXXX)
	echo "host marker $RANDOM$RANDOM" >"$MARK/marker"
	chmod 640 "$MARK/marker"
	MARK_BEFORE=$(tree_listing "$MARK")
	HOST_MOUNTS_BEFORE=$(host_mounts)
}

# assert_host_untouched: the host's mount table and $MARK are as they were.
assert_host_untouched() {
	local now
	now=$(host_mounts)
	if [ "$now" != "$HOST_MOUNTS_BEFORE" ]; then
		echo "host mount table changed:"
		diff <(printf '%s\n' "$HOST_MOUNTS_BEFORE") <(printf '%s\n' "$now") || true
		return 1
	fi
	now=$(tree_listing "$MARK")
	if [ "$now" != "$MARK_BEFORE" ]; then
		echo "host marker directory $MARK changed:"
		diff <(printf '%s\n' "$MARK_BEFORE") <(printf '%s\n' "$now") || true
		return 1
	fi
}

sec_teardown() {
	local rc=0
	teardown_bundle || rc=1
	if [ -n "${MARK:-}" ]; then
		assert_host_untouched || rc=1
		[ -z "$(root_entries)" ] || {
			echo "teardown: left in \$ROOT: $(root_entries)"
			rc=1
		}
		# --one-file-system: never descend into something mounted there.
		rm -rf --one-file-system "$MARK"
	fi
	return $rc
}

# runtime_sha: sha256 of the runtime binary under test.
runtime_sha() {
	sha256sum <"$(command -v "$BERTH")" | cut -d' ' -f1
}

# runtime_copy: copy the runtime binary to $BATS_TEST_TMPDIR/rt and point
# $BERTH at it, for tests in which a broken runtime could have its binary
# overwritten: the real one is never at stake. Sets RT_SHA to the copy's sha256.
runtime_copy() {
	cp "$(command -v "$BERTH")" "$BATS_TEST_TMPDIR/rt"
	BERTH=$BATS_TEST_TMPDIR/rt
	RT_SHA=$(sha256sum <"$BERTH" | cut -d' ' -f1)
}

# second_bundle DIR: another bundle like $BUNDLE at DIR (own rootfs copy,
# config from `$BERTH spec`, terminal off). Edit it with update_config_in.
second_bundle() {
	mkdir -p "$1"
	cp -a "$FIXTURE_DIR/rootfs" "$1/rootfs"
	(cd "$1" && "$BERTH" spec) || fail "'$BERTH spec' failed in $1"
	update_config_in "$1" '.process.terminal = false'
}

# update_config_in DIR [JQ OPTIONS...] FILTER: update_config for DIR/config.json.
update_config_in() {
	local cfg=$1/config.json
	shift
	jq "$@" "$cfg" >"$cfg.new" && mv "$cfg.new" "$cfg"
}

# no_dev_mounts: drop the spec's tmpfs on /dev and the mounts below it, so the
# image's own /dev is what the container gets (what a malicious image wants).
# KEEP (a regex) names destinations to keep, e.g. '^/dev/pts$'.
no_dev_mounts() {
	update_config --arg keep "${1:-^$}" \
		'.mounts |= map(select((.destination | startswith("/dev") | not) or (.destination | test($keep))))'
}

# A capability name -> bit table (linux/capability.h), for computing the
# expected /proc/PID/status masks without capsh.
declare -gA CAP_BIT=(
	[CAP_CHOWN]=0 [CAP_DAC_OVERRIDE]=1 [CAP_DAC_READ_SEARCH]=2 [CAP_FOWNER]=3
	[CAP_FSETID]=4 [CAP_KILL]=5 [CAP_SETGID]=6 [CAP_SETUID]=7 [CAP_SETPCAP]=8
	[CAP_LINUX_IMMUTABLE]=9 [CAP_NET_BIND_SERVICE]=10 [CAP_NET_BROADCAST]=11
	[CAP_NET_ADMIN]=12 [CAP_NET_RAW]=13 [CAP_IPC_LOCK]=14 [CAP_IPC_OWNER]=15
	[CAP_SYS_MODULE]=16 [CAP_SYS_RAWIO]=17 [CAP_SYS_CHROOT]=18 [CAP_SYS_PTRACE]=19
	[CAP_SYS_PACCT]=20 [CAP_SYS_ADMIN]=21 [CAP_SYS_BOOT]=22 [CAP_SYS_NICE]=23
	[CAP_SYS_RESOURCE]=24 [CAP_SYS_TIME]=25 [CAP_SYS_TTY_CONFIG]=26 [CAP_MKNOD]=27
	[CAP_LEASE]=28 [CAP_AUDIT_WRITE]=29 [CAP_AUDIT_CONTROL]=30 [CAP_SETFCAP]=31
	[CAP_MAC_OVERRIDE]=32 [CAP_MAC_ADMIN]=33 [CAP_SYSLOG]=34 [CAP_WAKE_ALARM]=35
	[CAP_BLOCK_SUSPEND]=36 [CAP_AUDIT_READ]=37 [CAP_PERFMON]=38 [CAP_BPF]=39
	[CAP_CHECKPOINT_RESTORE]=40
)

# cap_mask NAME...: the 16-hex-digit mask /proc/PID/status shows for NAMEs.
cap_mask() {
	local m=0 c
	for c in "$@"; do
		[ -n "${CAP_BIT[$c]:-}" ] || {
			echo "cap_mask: unknown capability $c" >&2
			return 1
		}
		m=$((m | (1 << CAP_BIT[$c])))
	done
	printf '%016x\n' "$m"
}

# config_caps SET: the names in process.capabilities.SET of the bundle's config.
config_caps() {
	jq -r --arg s "$1" '.process.capabilities[$s] // [] | .[]' "$BUNDLE/config.json"
}

# status_field FIELD TEXT: the value of "FIELD:\tVALUE" in a /proc/PID/status dump.
status_field() {
	awk -v f="$1:" '$1 == f { print $2 }' <<<"$2"
}

# default_seccomp: the default profile berth's `spec` writes. With runc under
# test (whose spec writes none) it comes from the berth binary of this tree,
# so both runtimes enforce the same profile. Skips when there is none.
default_seccomp() {
	local p
	p=$(jq -c '.linux.seccomp // empty' "$BUNDLE/config.json")
	if [ -z "$p" ]; then
		[ -x "$BERTH_SRC_DIR/berth" ] || skip "no default seccomp profile (build ./berth)"
		mkdir -p "$BATS_TEST_TMPDIR/berth-spec"
		(cd "$BATS_TEST_TMPDIR/berth-spec" && "$BERTH_SRC_DIR/berth" spec) || return 1
		p=$(jq -c '.linux.seccomp' "$BATS_TEST_TMPDIR/berth-spec/config.json")
	fi
	update_config --argjson s "$p" '.linux.seccomp = $s'
}

# grant_caps NAME...: add NAMEs to the bounding, effective and permitted sets.
grant_caps() {
	local c
	for c in "$@"; do
		update_config --arg c "$c" '.process.capabilities.bounding += [$c]
			| .process.capabilities.effective += [$c] | .process.capabilities.permitted += [$c]'
	done
}
