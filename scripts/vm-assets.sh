#!/bin/sh
# Guest assets for the microVM backend (vm/): Debian's cloud kernel and an
# initramfs holding berth's static guest init and the kernel modules it
# needs, in dependency order.
# Usage: scripts/vm-assets.sh INIT [DIR]   (DIR default /var/cache/berth/vm)
# Writes DIR/vmlinux, DIR/vmlinuz and DIR/initramfs.cpio. The kernel
# package is downloaded once (apt-get download) and kept in DIR/kernel.
# vmlinux is the kernel taken out of the bzImage: an ELF with a PVH entry
# note that QEMU starts directly, without firmware, real-mode setup or
# self-decompression (under TCG that saves seconds per boot).
set -eu
init="$1"
dir="${2:-/var/cache/berth/vm}"
# virtio-mmio (the microvm machine's transport, found through ACPI), the
# control channel (virtio-serial) and the rootfs (virtio-fs: Debian's
# cloud kernel has no 9p), the network (virtio-net on berth's tap). All
# are modules in that kernel.
modules="virtio_mmio virtio_console virtiofs virtio_net"

die() { echo "vm-assets: $*" >&2; exit 1; }

kernel_fetch() {
  pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n 1)
  [ -n "$pkg" ] || die "cannot resolve linux-image-cloud-amd64 to a kernel package (apt-get update?)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>&1) || die "apt-get download $pkg failed"
  dpkg-deb -x "$tmp"/*.deb "$tmp/x"
  ver=$(ls "$tmp/x/lib/modules")
  # The package ships no modules.dep (its postinst runs depmod).
  /sbin/depmod -b "$tmp/x" "$ver"
  rm -rf "$dir/kernel.new"
  mkdir -p "$dir/kernel.new"
  cp "$tmp/x/boot/vmlinuz-$ver" "$dir/kernel.new/vmlinuz"
  cp "$tmp/x/boot/config-$ver" "$dir/kernel.new/config"
  cp -r "$tmp/x/lib/modules/$ver" "$dir/kernel.new/modules"
  vmlinux_extract "$dir/kernel.new"
  echo "$ver" > "$dir/kernel.new/VERSION"
  rm -rf "$dir/kernel"
  mv "$dir/kernel.new" "$dir/kernel"
  rm -rf "$tmp"
  trap - EXIT
}

# The bzImage's payload, compressed as its config says, starts at that
# format's magic number.
vmlinux_extract() {
  k="$1"
  comp=$(sed -n 's/^CONFIG_KERNEL_\([A-Z0-9]*\)=y$/\1/p' "$k/config")
  case "$comp" in
  LZ4) magic='\x02\x21\x4c\x18' tool="lz4 -dc" ;;
  ZSTD) magic='\x28\xb5\x2f\xfd' tool="zstd -dc" ;;
  XZ) magic='\xfd\x37\x7a\x58\x5a\x00' tool="xz -dc" ;;
  GZIP) magic='\x1f\x8b\x08' tool="gzip -dc" ;;
  *) die "kernel compression '$comp' not handled" ;;
  esac
  off=$(LC_ALL=C grep -obUaP "$magic" "$k/vmlinuz" | head -n 1 | cut -d: -f1)
  [ -n "$off" ] || die "no $comp payload in the kernel image"
  # The payload is followed by more of the bzImage: decompressors warn.
  tail -c +$((off + 1)) "$k/vmlinuz" | $tool > "$k/vmlinux" 2>/dev/null || true
  file_type=$(head -c 4 "$k/vmlinux" | od -An -c | tr -d ' ')
  [ "$file_type" = 177ELF ] || die "could not extract vmlinux ($comp)"
}

# Prints the modules' files, each after its dependencies, once.
load_order() {
  awk -v want="$modules" '
    { sub(":", "", $1); name = $1; sub(".*/", "", name); sub("\\.ko$", "", name)
      path[name] = $1; deps[name] = ""
      for (i = $NF == $1 ? 0 : 2; i && i <= NF; i++) { d = $i; sub(".*/", "", d); sub("\\.ko$", "", d); deps[name] = deps[name] " " d } }
    function emit(m,   n, a, i) {
      if (m in done) return; done[m] = 1
      if (!(m in path)) { print "missing " m > "/dev/stderr"; exit 1 }
      n = split(deps[m], a, " "); for (i = 1; i <= n; i++) emit(a[i]); print path[m]
    }
    END { n = split(want, w, " "); for (i = 1; i <= n; i++) emit(w[i]) }' "$dir/kernel/modules/modules.dep"
}

initramfs_build() {
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' EXIT
  mkdir -p "$stage/lib/modules" "$stage/dev" "$stage/proc" "$stage/sys" "$stage/newroot"
  install -m 0755 "$init" "$stage/init"
  i=10
  for f in $(load_order); do
    cp "$dir/kernel/modules/$f" "$stage/lib/modules/$i-$(basename "$f")"
    i=$((i + 1))
  done
  (cd "$stage" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) > "$dir/initramfs.cpio.new"
  mv "$dir/initramfs.cpio.new" "$dir/initramfs.cpio"
  rm -rf "$stage"
  trap - EXIT
}

[ -x "$init" ] || die "$init: no guest init (make build/vm/init)"
command -v cpio >/dev/null || die "cpio is missing (scripts/deps.sh test)"
[ -x /sbin/depmod ] || die "depmod is missing (kmod; scripts/deps.sh test)"
mkdir -p "$dir"
[ -f "$dir/kernel/VERSION" ] || kernel_fetch
initramfs_build
[ -f "$dir/kernel/vmlinux" ] || vmlinux_extract "$dir/kernel"
ln -sf kernel/vmlinuz "$dir/vmlinuz"
ln -sf kernel/vmlinux "$dir/vmlinux"
echo "vm-assets: $dir/vmlinux ($(cat "$dir/kernel/VERSION")), $dir/initramfs.cpio"
