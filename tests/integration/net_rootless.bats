#!/usr/bin/env bats
# Rootless networking (--net slirp, slirp4netns): an unprivileged user runs the
# runtime inside a throwaway "host" namespace (net_helpers.bash); the container
# reaches a TCP server on a non-loopback address of that namespace, but not its
# loopback (slirp4netns runs with --disable-host-loopback); slirp4netns goes
# with the container. --net bridge, which needs privilege on the host, is
# refused with one line and leaves nothing.
#
# The user (berthnrl) is made for this file as in rootless.bats, with its own
# subordinate range. slirp4netns opens /dev/net/tun as the user: where the
# machine's node is not world-writable (Debian's udev makes it 0666; some VMs
# leave it 0600), the runtime runs in a private mount namespace with a 0666 tun
# node (same device numbers) bound over /dev/net/tun, so the machine stays as it is.

load helpers
load net_helpers

NRL_USER=berthnrl
NRL_PREFERRED_UID=2470
NRL_SUB=400000
NRL_SUB_SIZE=65536

nrl_user_pids() {
	[ -n "${NRL_UID:-}" ] || return 0
	ps -eo pid=,ruid=,euid= | awk -v u="$NRL_UID" '$2 == u || $3 == u { print $1 }'
}

nrl_kill_user_pids() {
	local pid
	for pid in $(nrl_user_pids); do kill -9 "$pid" 2>/dev/null || true; done
}

nrl_drop_line() {
	local rest
	[ -f "$1" ] || return 0
	rest=$(grep -vxF -- "$2" "$1" || true)
	if [ -n "$rest" ]; then printf '%s\n' "$rest" >"$1"; else : >"$1"; fi
}

setup_file() {
	[ "$(id -u)" -eq 0 ] || skip "rootless tests create a user: run as root"
	command -v setpriv >/dev/null || skip "needs setpriv (util-linux)"
	command -v useradd >/dev/null || skip "needs useradd (passwd)"
	command -v slirp4netns >/dev/null || skip "needs slirp4netns"
	[ -c /dev/net/tun ] || skip "no /dev/net/tun"
	ensure_fixture
	MACHINE_NET_BEFORE=$(machine_net_snapshot)

	if getent passwd "$NRL_USER" >/dev/null; then
		NRL_UID=$(id -u "$NRL_USER")
		nrl_kill_user_pids
		userdel -r -f "$NRL_USER" >/dev/null 2>&1 || userdel -f "$NRL_USER"
	fi
	NRL_UID=$NRL_PREFERRED_UID
	while getent passwd "$NRL_UID" >/dev/null || getent group "$NRL_UID" >/dev/null; do
		NRL_UID=$((NRL_UID + 1))
	done
	NRL_DIR=$(mktemp -d /tmp/berth-netrootless.XXXXXX)
	chmod 0755 "$NRL_DIR"
	useradd -u "$NRL_UID" -U -m -d "$NRL_DIR/home" -s /bin/sh "$NRL_USER"
	NRL_GID=$(id -g "$NRL_USER")
	local line=$NRL_USER:$NRL_SUB:$NRL_SUB_SIZE f
	for f in /etc/subuid /etc/subgid; do
		touch "$f"
		grep -qxF -- "$line" "$f" || echo "$line" >>"$f"
	done

	mkdir -m 0755 "$NRL_DIR/bin"
	cp "$BERTH" "$NRL_DIR/bin/berth"
	chmod 0755 "$NRL_DIR/bin/berth"
	NRL_BERTH=$NRL_DIR/bin/berth
	NRL_XDG=$NRL_DIR/xdg
	mkdir -m 0700 "$NRL_XDG"
	chown "$NRL_UID:$NRL_GID" "$NRL_XDG"

	# A world-writable tun node for the runtime's private mount namespace.
	NRL_TUN=
	if [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
		NRL_TUN=$NRL_DIR/tun
		mknod -m 0666 "$NRL_TUN" c "$((16#$(stat -c %t /dev/net/tun)))" "$((16#$(stat -c %T /dev/net/tun)))"
	fi

	mkdir "$NRL_DIR/template"
	cp -a "$FIXTURE_DIR/rootfs" "$NRL_DIR/template/rootfs"
	chown -R "$NRL_UID:$NRL_GID" "$NRL_DIR/template"
	(cd "$NRL_DIR/template" && setpriv --reuid="$NRL_UID" --regid="$NRL_GID" --init-groups \
		env -i PATH=/usr/bin:/bin HOME="$NRL_DIR/home" "$NRL_BERTH" spec --rootless) ||
		fail "spec --rootless as $NRL_USER failed"
	local cfg=$NRL_DIR/template/config.json
	jq '.process.terminal = false' "$cfg" >"$cfg.new" && mv "$cfg.new" "$cfg"
	chown "$NRL_UID:$NRL_GID" "$cfg"
	export MACHINE_NET_BEFORE NRL_UID NRL_GID NRL_DIR NRL_BERTH NRL_XDG NRL_TUN
}

teardown_file() {
	[ -n "${NRL_UID:-}" ] || return 0
	nrl_kill_user_pids
	userdel -r -f "$NRL_USER" >/dev/null 2>&1 || true
	local line=$NRL_USER:$NRL_SUB:$NRL_SUB_SIZE
	nrl_drop_line /etc/subuid "$line"
	nrl_drop_line /etc/subgid "$line"
	[ -z "${NRL_DIR:-}" ] || rm -rf "$NRL_DIR"
	machine_net_check "$MACHINE_NET_BEFORE"
}

setup() {
	requires berth
	BUNDLE=$NRL_DIR/bundle-$BATS_TEST_NUMBER
	ROOT=$NRL_XDG/berth
	mkdir "$BUNDLE"
	cp -a "$NRL_DIR/template/rootfs" "$NRL_DIR/template/config.json" "$BUNDLE/"
	chown "$NRL_UID:$NRL_GID" "$BUNDLE"
	cd "$BUNDLE"
	net_setup
	# The bundle is the user's: keep config.json theirs after update_config.
	ns_add network
	chown "$NRL_UID:$NRL_GID" config.json
}

# nrl ARGS...: the runtime as the user, in HOST_NS (default state root, in
# $XDG_RUNTIME_DIR), through a private mount namespace with a usable tun node
# when the machine's is not world-writable.
nrl() {
	local -a pre=(nsenter --net="$HOST_NSPATH")
	local -a as=(setpriv --reuid="$NRL_UID" --regid="$NRL_GID" --init-groups
		env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME="$NRL_DIR/home"
		XDG_RUNTIME_DIR="$NRL_XDG" "$NRL_BERTH")
	if [ -n "$NRL_TUN" ]; then
		timeout -k 5 "$BERTH_TIMEOUT" "${pre[@]}" unshare --mount --propagation slave \
			sh -c 'mount --bind "$0" /dev/net/tun && exec "$@"' "$NRL_TUN" "${as[@]}" "$@"
	else
		timeout -k 5 "$BERTH_TIMEOUT" "${pre[@]}" "${as[@]}" "$@"
	fi
}

# run_nrl ARGS...: nrl, like run_net ($status, $output, $stderr, $lines).
run_nrl() {
	BERTH_CALLS=$((BERTH_CALLS + 1))
	local out=$BATS_TEST_TMPDIR/nrl.out.$BERTH_CALLS errf=$BATS_TEST_TMPDIR/nrl.err.$BERTH_CALLS
	status=0
	nrl "$@" >"$out" 2>"$errf" </dev/null 3>&- || status=$?
	output=$(cat "$out")
	stderr=$(cat "$errf")
	lines=() err_lines=()
	[ -z "$output" ] || mapfile -t lines <<<"$output"
	[ -z "$stderr" ] || mapfile -t err_lines <<<"$stderr"
	echo "# (as $NRL_USER in $HOST_NS) berth $* => status $status"
	[ -z "$output" ] || printf '%s\n' "$output"
	[ -z "$stderr" ] || printf 'stderr: %s\n' "$stderr"
}

teardown() {
	local rc=0 id pid
	for pid in "${NET_BG_PIDS[@]}"; do
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	NET_BG_PIDS=()
	if [ -n "${HOST_NSPATH:-}" ] && [ -e "$HOST_NSPATH" ]; then
		for id in $(nrl list -q 2>/dev/null); do
			nrl delete --force "$id" >/dev/null 2>&1 || true
		done
	fi
	[ -z "$(ls -A "$ROOT" 2>/dev/null)" ] || { echo "teardown: state left: $(ls -A "$ROOT")" >&2; rc=1; }
	if ! retry 3 0.05 eval '[ -z "$(nrl_user_pids)" ]' >/dev/null; then
		echo "teardown: processes of $NRL_USER left: $(ps -o pid=,args= -p "$(nrl_user_pids | xargs | tr ' ' ,)")" >&2
		nrl_kill_user_pids
		rc=1
	fi
	ROOT=
	teardown_bundle || rc=1
	rm -rf "$BUNDLE"
	return $rc
}

# Catches: slirp4netns not started, started without the container's
# namespaces, with host loopback reachable, or left running after the
# container exits.
@test "as the user, --net slirp: the container reaches a server on the host namespace's address, not its loopback" {
	http_addr_server "$HOST_NS" "$UP_HOST4:7000"
	# A server on the host namespace's loopback, which --disable-host-loopback hides.
	net_bg ip netns exec "$HOST_NS" busybox httpd -f -p 127.0.0.1:7001 -h "$WWW"
	retry 5 0.05 listening "$HOST_NS" 7001
	set_args sh -c "exec 2>&1
ip -o -4 addr show scope global
timeout 5 wget -q -O - http://$UP_HOST4:7000/cgi-bin/addr || echo no-server
timeout 3 wget -q -O - http://10.0.2.2:7001/cgi-bin/addr && echo host-loopback-reachable
true"
	chown "$NRL_UID:$NRL_GID" config.json
	run_nrl run --net slirp ctr
	[ "$status" -eq 0 ] || fail "run exited $status"
	[ -z "$stderr" ] || fail "stderr: $stderr"
	[[ ${lines[0]} == *"inet 10.0.2.100/24"* ]] || fail "no slirp address: ${lines[0]}"
	[ "${lines[1]}" = "$UP_HOST4" ] || fail "the server answered '${lines[1]}', wanted the host namespace's $UP_HOST4"
	refute grep -q host-loopback-reachable <<<"$output"
	# slirp4netns went with the container.
	retry 3 0.05 eval '[ -z "$(nrl_user_pids)" ]' || fail "left running: $(ps -o args= -p "$(nrl_user_pids | xargs | tr ' ' ,)")"
	[ -z "$(ls -A "$ROOT" 2>/dev/null)" ]
	# Nothing of the host namespace's was touched.
	[ "$(host_links)" = "$HOST_LINKS_BEFORE" ]
	[ -z "$(host_ruleset)" ]
}

# Catches: the slirp4netns process outliving delete --force after its
# container's init was killed.
@test "as the user, --net slirp: delete --force after SIGKILL of the init stops slirp4netns" {
	set_args sleep 1000
	chown "$NRL_UID:$NRL_GID" config.json
	run_nrl run -d --net slirp ctr
	[ "$status" -eq 0 ] || fail "run -d exited $status: $stderr"
	pgrep -u "$NRL_UID" -x slirp4netns >/dev/null || fail "no slirp4netns running as $NRL_USER"
	local pid
	pid=$(nrl state ctr | jq -r .pid)
	kill -9 "$pid"
	run_nrl delete --force ctr
	[ "$status" -eq 0 ] || fail "delete --force exited $status: $stderr"
	retry 3 0.05 eval '[ -z "$(nrl_user_pids)" ]' || fail "left running: $(ps -o args= -p "$(nrl_user_pids | xargs | tr ' ' ,)")"
}

# Catches: a half-made veth or state dir when the host side cannot be wired.
@test "as the user, --net bridge is refused with one line and leaves nothing" {
	set_args true
	chown "$NRL_UID:$NRL_GID" config.json
	run_nrl run --net bridge ctr
	[ "$status" -eq 1 ] || fail "exit $status"
	[ "${#err_lines[@]}" -eq 1 ] || fail "wanted one line on stderr: $stderr"
	[[ $stderr != *"unknown option"* ]] || fail "refused as an unknown option, not for want of privilege: $stderr"
	[ -z "$(ls -A "$ROOT" 2>/dev/null)" ] || fail "state left: $(ls -A "$ROOT")"
	[ "$(host_links)" = "$HOST_LINKS_BEFORE" ] || fail "host links changed: $(echo $(host_links))"
	[ -z "$(host_ruleset)" ]
}
