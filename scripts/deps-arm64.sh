#!/usr/bin/env bash
# Installs what the aarch64 cross build needs on Debian 12 (docs/aarch64.md): the cross
# compiler, the arm64 -dev packages by multiarch, libfdt-dev for arm64 unpacked into a
# sysroot of its own (it cannot sit beside the amd64 one: its files are not Multi-Arch: same),
# and qemu-user, the cross file's exe_wrapper for the unit tests.
# Skips what is already there. apt-get and dpkg only. The nested arm64 test host installs its
# own (integration/host/kvm-host-arm64: qemu-system-arm).
set -euo pipefail

sysroot=${VIREO_ARM64_SYSROOT:-/opt/vireo/arm64-sysroot}
packages=(
	gcc-aarch64-linux-gnu libc6-dev:arm64 pkg-config meson ninja-build
	libmicrohttpd-dev:arm64 libcjson-dev:arm64 libseccomp-dev:arm64 liburing-dev:arm64
	libcmocka-dev:arm64 qemu-user
)

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
dpkg --print-foreign-architectures | grep -qx arm64 || $sudo dpkg --add-architecture arm64
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps-arm64: installing ${missing[*]}" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
fi

# libfdt-dev:arm64 into the sysroot: headers and libfdt.a, and a libfdt.pc (Debian ships none)
# for the cross file's pkg-config path.
pc=$sysroot/usr/lib/aarch64-linux-gnu/pkgconfig/libfdt.pc
[ -f "$pc" ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root libfdt-dev:arm64 >/dev/null)
$sudo mkdir -p "$sysroot"
$sudo dpkg-deb -x "$tmp"/libfdt-dev_*_arm64.deb "$sysroot"
$sudo mkdir -p "${pc%/*}"
# Static: the nested arm64 test host then needs no.
printf '%s\n' "prefix=$sysroot/usr" 'Name: libfdt' 'Description: Flat Device Tree library' \
	"Version: $(dpkg-deb -f "$tmp"/libfdt-dev_*_arm64.deb Version)" \
	'Cflags: -I${prefix}/include' 'Libs: ${prefix}/lib/aarch64-linux-gnu/libfdt.a' |
	$sudo tee "$pc" >/dev/null
