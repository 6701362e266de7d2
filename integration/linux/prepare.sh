#!/usr/bin/env bash
# Fetches the stock Linux suite's kernel into the cache: Debian's cloud kernel as shipped
# (linux-image-cloud-amd64), its bzImage, the PVH vmlinux inside it (extract-vmlinux.py) and the
# modules the initramfs loads; then builds the initramfs and disk image (artifacts.py). Prints
# the cache directory; integration/linux/linux_test.py reads
# it from $VIREO_CACHE/linux-current. Run it where Debian's archive is reachable (scripts/test.sh
# does, before entering the nested test host, which has no network); with the cache filled it
# needs no network.
#   usage: prepare.sh    env: VIREO_CACHE (default /var/cache/vireo)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "linux/prepare.sh: $*" >&2; exit 1; }
cache=${VIREO_CACHE:-/var/cache/vireo}
. "$here/../host/debian.sh"

# The drivers the checks use; everything else the cloud kernel has built in.
modules=(virtio_pci virtio_blk virtio_console virtio-rng virtio_net vmw_vsock_virtio_transport
	virtiofs)

install_packages busybox-static kmod lz4 cpio
mkdir -p "$cache"
exec 9>"$cache/.linux.lock"
flock 9
pkg=$(kernel_package linux-image-cloud-amd64)
kver=${pkg#linux-image-}
key=$kver-$(cat "$0" "$here/../host/extract-vmlinux.py" | md5sum | cut -c1-8)
dir=$cache/linux-$key
if [ ! -f "$dir/vmlinux" ]; then
	deb=$(fetch_deb "$pkg")
	tmp=$(mktemp -d "$cache/.linux.XXXXXX")
	dpkg-deb -x "$deb" "$tmp/k"
	depmod -b "$tmp/k" "$kver"
	mkdir -p "$tmp/out"
	copy_modules "$tmp/k" "$kver" "$tmp/out/modules" "${modules[@]}"
	cp "$tmp/k/boot/vmlinuz-$kver" "$tmp/out/bzImage"
	cp "$tmp/k/boot/config-$kver" "$tmp/out/config"
	echo "$pkg" >"$tmp/out/package"
	python3 "$here/../host/extract-vmlinux.py" "$tmp/out/bzImage" "$tmp/out/vmlinux"
	rm -rf "$dir"
	mv "$tmp/out" "$dir"
	rm -rf "$tmp"
fi
# The initramfs and disk image the tests use, built once per init.sh/artifacts.py/busybox.
python3 "$here/artifacts.py" "$dir"
ln -sfn "$(basename "$dir")" "$cache/linux-current.new"
mv -T "$cache/linux-current.new" "$cache/linux-current"
for old in "$cache"/linux-*-*; do   # earlier kernels and keys
	[ "$old" = "$dir" ] || rm -rf "$old"
done
echo "$dir"
