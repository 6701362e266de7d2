#!/usr/bin/env bash
# Installs what building and testing vireo needs on Debian 12, skipping what is already there.
set -euo pipefail

packages=(
	gcc binutils make meson ninja-build pkg-config python3
	libmicrohttpd-dev libcjson-dev libseccomp-dev libcmocka-dev liburing-dev fio
	acpica-tools qemu-system-x86 curl time
	# the aarch64 device tree's unit test (tests/unit/test_fdt.c) runs in the x86 build too
	libfdt-dev device-tree-compiler
	# the nested KVM test host and the stock-Linux suite (integration/host, integration/linux)
	busybox-static cpio kmod lz4 e2fsprogs
	# vhost-user backends of the fs scenario: /usr/lib/qemu/virtiofsd, qemu-storage-daemon
	qemu-system-common
)
# scripts/fuzz.sh only (deps.sh fuzz): clang and its libFuzzer runtime; CI replays with gcc.
[ "${1:-}" = fuzz ] && packages+=(clang libclang-rt-14-dev)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "deps: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
