#!/usr/bin/env bash
# Helpers for the microVM tests (microvm*.bats, sandbox's microVM case).
#
# The guest assets come from `make vm-assets` (default /var/cache/berth/vm,
# where berth looks by default). BERTH_VM_ASSETS=DIR (or make's name,
# VM_ASSETS_DIR) builds them in DIR and berth, which reads BERTH_VM_ASSETS,
# uses them there: two source trees on one machine then do not replace
# each other's guest init while their tests run.
if [ -z "${BERTH_VM_ASSETS:-}" ] && [ -n "${VM_ASSETS_DIR:-}" ]; then
	export BERTH_VM_ASSETS=$VM_ASSETS_DIR
fi

# microvm_requires: skip (with the reason) unless the guest can run here;
# build the guest assets (once per file: $BATS_FILE_TMPDIR/assets.log).
microvm_requires() {
	[ "$(id -u)" -eq 0 ] || skip "microvm needs root"
	command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86 is not installed"
	[ -x /usr/lib/qemu/virtiofsd ] || skip "virtiofsd (qemu-system-common) is not installed"
	[ -e "$BATS_FILE_TMPDIR/assets.ok" ] && return 0
	make -C "$BATS_TEST_DIRNAME/../.." vm-assets ${BERTH_VM_ASSETS:+VM_ASSETS_DIR="$BERTH_VM_ASSETS"} \
		>"$BATS_FILE_TMPDIR/assets.log" 2>&1 ||
		skip "guest assets could not be built: $(tail -n 1 "$BATS_FILE_TMPDIR/assets.log")"
	touch "$BATS_FILE_TMPDIR/assets.ok"
}

# microvm_config: the bundle runs as a microVM.
microvm_config() {
	update_config '.annotations["dev.berth.backend"] = "microvm"'
}

# vm_host_procs ID: host processes working in the container's state
# directory (the supervisor and QEMU do).
vm_host_procs() {
	local dir=$ROOT/$1 p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/cwd" 2>/dev/null)" = "$dir" ] && echo "${p#/proc/}"
	done
	return 0
}

# alive PID: the process exists and is not a zombie (the detached
# supervisor's zombie waits for the host's init to reap it).
alive() {
	[ -e "/proc/$1" ] && [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]
}
