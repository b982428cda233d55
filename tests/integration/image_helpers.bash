# Shared by the image*.bats files: fixtures, a real docker-registry on
# loopback, a slow relay in front of it.

# image_setup: fixtures in $FX (tests/image/make-fixtures.sh, from
# busybox-static), an image root $IMG, BI=(berth --image-root $IMG).
image_setup() {
	IMG=$BATS_TEST_TMPDIR/img
	FX=$BATS_TEST_TMPDIR/fx
	"$BERTH_SRC_DIR/tests/image/make-fixtures.sh" "$FX" >/dev/null 2>&1 || fail "fixtures"
	BI=("$BERTH" --image-root "$IMG")
}

# image_teardown: the servers started, the bundles $BATS_TEST_TMPDIR/b*.
image_teardown() {
	local b r
	for r in $(cat "$BATS_TEST_TMPDIR/registries" 2>/dev/null); do kill -KILL -- "-$r" "$r" 2>/dev/null; done
	for b in "$BATS_TEST_TMPDIR"/b*; do
		[ -d "$b" ] && "$BERTH" --image-root "$IMG" bundle rm "$b" 2>/dev/null
	done
	return 0
}

# A port nothing listens on yet.
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 20000))
		! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && echo "$p" && return 0
	done
	return 1
}

# A docker-registry on 127.0.0.1 (plain http; one with htpasswd Basic auth,
# user alice, password secret) storing into $BATS_TEST_TMPDIR/storage.
registry_start() { # NAME PORT [htpasswd]
	local cfg=$BATS_TEST_TMPDIR/$1.yml
	printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n  secret: berth-test\n' \
		"$BATS_TEST_TMPDIR/storage" "$2" >"$cfg"
	if [ "${3:-}" = htpasswd ]; then
		htpasswd -Bbn alice secret >"$BATS_TEST_TMPDIR/htpasswd"
		printf 'auth:\n  htpasswd:\n    realm: berth\n    path: %s\n' "$BATS_TEST_TMPDIR/htpasswd" >>"$cfg"
	fi
	setsid docker-registry serve "$cfg" >/dev/null 2>&1 &
	echo $! >>"$BATS_TEST_TMPDIR/registries"
	retry 10 0.1 curl -s -o /dev/null "http://127.0.0.1:$2/v2/"
}

# slow_proxy_start PORT TARGET_PORT BYTES_PER_SECOND: a relay whose answers
# trickle, so a pull through it is still running while the test acts.
slow_proxy_start() {
	setsid python3 "$BERTH_SRC_DIR/tests/image/slow_proxy.py" "$@" >/dev/null 2>&1 &
	echo $! >>"$BATS_TEST_TMPDIR/registries"
	retry 10 0.1 curl -s -o /dev/null "http://127.0.0.1:$1/v2/"
}

# registry_with_fixture: a plain registry holding the fixture as
# test/busybox:1; sets REG (127.0.0.1:PORT).
registry_with_fixture() {
	command -v docker-registry >/dev/null || skip "docker-registry missing"
	local p
	p=$(free_port)
	registry_start plain "$p"
	export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
	skopeo copy -q --dest-tls-verify=false "oci:$FX/oci" "docker://127.0.0.1:$p/test/busybox:1"
	REG=127.0.0.1:$p
}
