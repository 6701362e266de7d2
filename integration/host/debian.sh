# Sourced by kvm-host and integration/linux/prepare.sh: Debian packages, installed or fetched
# into the cache ($cache must be set). Functions fail through die(), which the caller defines.

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# install_packages PKG...: installs those that are missing.
install_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "installing ${missing[*]}" >&2
	sudo_if_needed apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >&2
}

# kernel_package META: the versioned package a kernel meta-package (linux-image-amd64,
# linux-image-cloud-amd64) points at today, e.g. linux-image-6.1.0-57-cloud-amd64.
kernel_package() {
	local pkg
	pkg=$(apt-cache depends "$1" 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
	if [ -z "$pkg" ]; then
		sudo_if_needed apt-get update -qq >&2
		pkg=$(apt-cache depends "$1" 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
	fi
	[ -n "$pkg" ] || die "cannot find the package $1 depends on (no network? apt-get update?)"
	echo "$pkg"
}

# fetch_deb PKG: Debian's package file, downloaded once into $cache/debs; prints its path.
fetch_deb() {
	local deb=$cache/debs/$1.deb tmp
	[ -f "$deb" ] && { echo "$deb"; return 0; }
	mkdir -p "$cache/debs"
	tmp=$(mktemp -d "$cache/debs/.get.XXXXXX")
	(cd "$tmp" && apt-get -q -o APT::Sandbox::User=root download "$1" >&2) ||
		{ rm -rf "$tmp"; die "cannot download $1"; }
	mv "$tmp"/*.deb "$deb"
	rm -rf "$tmp"
	echo "$deb"
}

# copy_modules TREE KVER OUT MODULE...: the modules and what they depend on, in load order,
# into OUT, with their names in OUT/order (built-in ones are skipped).
copy_modules() {
	local tree=$1 kver=$2 out=$3 m
	shift 3
	mkdir -p "$out"
	: >"$out/order"
	for m in "$@"; do
		modprobe -d "$tree" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
	done | awk '!seen[$0]++' | while read -r m; do
		cp "$m" "$out/"
		basename "$m" >>"$out/order"
	done
}

# outer_qemu: the QEMU that runs the nested test host, one argument a line:
# VIREO_KVM_HOST_QEMU if set (a binary), else the machine's qemu-system-x86_64.
outer_qemu() {
	echo "${VIREO_KVM_HOST_QEMU:-qemu-system-x86_64}"
}
