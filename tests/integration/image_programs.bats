#!/usr/bin/env bats
# The image/ test programs (issue #12), run by make check: sources and blob
# store on fixtures, layer unpack (every entry type, whiteouts, escapes,
# bombs), parity of the unpacked tree with umoci, and the registry source
# against real docker-registry instances on 127.0.0.1. Each ends with
# "N passed, N failed"; its output is shown when it fails.

load helpers

setup() {
	requires_berth "berth's own image code"
	requires root
	cd "$BERTH_SRC_DIR" || fail "no source dir"
}

# ran PROG...: runs it, passes when it exits 0 and says "0 failed".
ran() {
	run timeout 600 "$@"
	echo "$output" | tail -40
	[ "$status" -eq 0 ]
	[[ "$(tail -1 <<<"$output")" == *" 0 failed" ]]
}

@test "image sources, manifests, platform selection and the blob store (source_test)" {
	make --no-print-directory tests/image/source_test >/dev/null || fail "build"
	tests/image/make-fixtures.sh "$BATS_TEST_TMPDIR/fx" >/dev/null 2>&1 || fail "fixtures"
	ran tests/image/source_test "$BATS_TEST_TMPDIR/fx"
}

@test "layer unpack: entry types, whiteouts, escapes refused, bombs and truncation (unpack_test)" {
	make --no-print-directory tests/image/unpack_test >/dev/null || fail "build"
	ran tests/image/unpack_test
}

@test "the unpacked tree equals umoci unpack's (path, type, mode, owner, size, hash, target, xattrs)" {
	command -v umoci >/dev/null || skip "umoci missing (scripts/deps.sh test installs it)"
	make --no-print-directory tests/image/unpack_layers >/dev/null || fail "build"
	ran tests/image/umoci_parity.sh
}

@test "registry source against real registries: tags, digests, auth, TLS, resume (registry_test)" {
	command -v docker-registry >/dev/null || skip "docker-registry missing (scripts/deps.sh test installs it)"
	ran tests/image/registry_test.sh
}
