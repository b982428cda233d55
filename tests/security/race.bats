#!/usr/bin/env bats
# Symlink-exchange races on mount targets (CVE-2021-30465, and CVE-2024-45310
# for the directories a runtime creates on the way): while the runtime
# resolves a mount destination, something outside swaps a directory on the
# way with a symlink to a host directory. A second container sharing a volume
# can do that in real life; here a host-side helper does it (renameat2
# RENAME_EXCHANGE in a loop, tests/security/rename_exchange.c, built at test
# time), which is stronger: the swap is atomic and never stops.
# sec_teardown checks the host is untouched after all iterations.

load ../integration/helpers
load security_helpers

RACE_ITERATIONS=${RACE_ITERATIONS:-1000}
# Pause of the swapping helper after each exchange, in microseconds: a busy
# loop would take a whole CPU from the runtime on a 2-CPU machine and make
# 1000 runs take minutes; 20 us still means hundreds of exchanges per run.
RACE_SWAP_USEC=${RACE_SWAP_USEC:-20}

setup() {
	sec_setup
	SWAP=$BATS_RUN_TMPDIR/rename-exchange
	if [ ! -x "$SWAP" ]; then
		(
			flock 9
			[ -x "$SWAP" ] || ${CC:-cc} -O2 -o "$SWAP.tmp" "$BATS_TEST_DIRNAME/rename_exchange.c" &&
				mv "$SWAP.tmp" "$SWAP"
		) 9>"$SWAP.lock" || fail "cannot build $BATS_TEST_DIRNAME/rename_exchange.c"
	fi
}

teardown() {
	sec_teardown
}

# start_swapping A B: exchange the two names until stop_swapping.
start_swapping() {
	"$SWAP" "$1" "$2" "$RACE_SWAP_USEC" >"$BATS_TEST_TMPDIR/swaps" 2>&1 &
	SWAP_PID=$!
	BG_PIDS+=("$SWAP_PID")
}

# stop_swapping: stop the helper; SWAPS is how many exchanges it made.
stop_swapping() {
	kill -TERM "$SWAP_PID"
	wait "$SWAP_PID" || fail "rename-exchange failed: $(cat "$BATS_TEST_TMPDIR/swaps")"
	SWAPS=$(cat "$BATS_TEST_TMPDIR/swaps")
	echo "# $SWAPS exchanges"
}

# runc 1.1.5 fails this within a few runs: its MkdirAll creates the missing
# x on the host, in $MARK, through the swapped-in symlink (the mount itself
# stays inside). That is CVE-2024-45310, fixed in runc 1.1.14.
@test "a directory/symlink exchange race on tmpfs and bind targets, $RACE_ITERATIONS runs, never mounts or creates outside the rootfs (CVE-2021-30465, CVE-2024-45310)" {
	requires_berth "runc 1.1.5 creates the mount target on the host through the swapped symlink (CVE-2024-45310, fixed in runc 1.1.14)"
	local src=$BATS_TEST_TMPDIR/src i rc out ok=0 refused=0 via_link=0 via_dir=0
	# A private copy of the runtime: a minute-long loop should not trip over
	# a rebuild of ./berth happening meanwhile.
	runtime_copy
	mkdir -p "$src" "$BUNDLE/rootfs/mnt/race-a"
	echo from-bind >"$src/from-bind"
	# race-a is a directory, race-b a symlink to the host marker directory:
	# exchanged, /mnt/race-a/x names $MARK/x whenever the symlink holds the name.
	ln -s "$MARK" "$BUNDLE/rootfs/mnt/race-b"
	# The last mount binds the host's $MARK read-only at /mnt/check: had the
	# tmpfs or the bind escaped onto $MARK/x or $MARK/y in the container's
	# mount namespace, the recursive bind would carry it into /mnt/check.
	update_config --arg s "$src" --arg m "$MARK" '.mounts += [
		{"destination": "/mnt/race-a/x", "type": "tmpfs", "source": "tmpfs"},
		{"destination": "/mnt/race-a/y", "type": "bind", "source": $s, "options": ["rbind", "ro"]},
		{"destination": "/mnt/check", "type": "bind", "source": $m, "options": ["rbind", "ro"]}]'
	set_args sh -c 'echo "check: $(ls -A /mnt/check | xargs)"
echo "mounts below check: $(awk "index(\$5, \"/mnt/check/\") == 1" /proc/self/mountinfo | wc -l)"
awk "\$9 == \"tmpfs\" && \$5 ~ /\/x\$/ { print \"x at \" \$5 }" /proc/self/mountinfo'
	start_swapping "$BUNDLE/rootfs/mnt/race-a" "$BUNDLE/rootfs/mnt/race-b"
	for ((i = 0; i < RACE_ITERATIONS; i++)); do
		rc=0
		out=$(timeout -k 5 "$BERTH_TIMEOUT" "$BERTH" --root "$ROOT" run "race$i" 2>&1 </dev/null) || rc=$?
		if [ "$rc" -ne 0 ]; then
			# A refusal is safe; anything else (a hang, a crash) is not.
			[ "$rc" -eq 1 ] || {
				stop_swapping
				fail "run $i: exit status $rc: $out"
			}
			refused=$((refused + 1))
			continue
		fi
		ok=$((ok + 1))
		if [ "$(sed -n 1,2p <<<"$out")" != "check: marker
mounts below check: 0" ]; then
			stop_swapping
			fail "run $i: a mount or a directory escaped onto the host directory: $out"
		fi
		case $(sed -n 3p <<<"$out") in
		"x at $MARK/x") via_link=$((via_link + 1)) ;;
		"x at /mnt/race-"[ab]/x) via_dir=$((via_dir + 1)) ;;
		*)
			stop_swapping
			fail "run $i: tmpfs not where expected: $out"
			;;
		esac
		if [ $((i % 100)) -eq 99 ]; then
			assert_host_untouched || {
				stop_swapping
				fail "after run $i"
			}
		fi
	done
	stop_swapping
	echo "# $ok runs, $refused refused; the tmpfs followed the symlink (clamped) $via_link times, the directory $via_dir times"
	# The race was live: both states of the name were seen by the runtime.
	[ "$via_link" -gt 0 ] && [ "$via_dir" -gt 0 ] || fail "the race was not exercised"
	[ "$ok" -ge $((RACE_ITERATIONS / 10)) ] || fail "too few runs succeeded to mean anything"
	[ ! -e "$MARK/x" ] && [ ! -e "$MARK/y" ]
	# Clamped into the rootfs: what followed the symlink is under rootfs$MARK.
	[ -d "$BUNDLE/rootfs$MARK/x" ]
	assert_host_untouched
}
