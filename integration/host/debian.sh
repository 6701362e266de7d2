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

# outer_qemu: the QEMU that runs the nested test host, printed one argument a line (binary and
# firmware directories). Where the machine runs Debian 12, that is qemu-system-x86 from
# bookworm-backports, unpacked into $cache/qemu-<version>/ and not installed, so the machine's
# own QEMU stays the peer the suites compare against: under 7.2's TCG the nested guests lost
# interrupts more often (docs/testing.md).
# VIREO_KVM_HOST_QEMU=PATH picks a binary instead.
outer_qemu() {
	if [ -n "${VIREO_KVM_HOST_QEMU:-}" ]; then
		echo "$VIREO_KVM_HOST_QEMU"
		return 0
	fi
	local codename dir
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	if [ "$codename" != bookworm ]; then
		echo qemu-system-x86_64
		return 0
	fi
	dir=$(backports_unpack qemu-system-x86 qemu-system-data seabios) || return 1
	printf '%s\n' "$dir/usr/bin/qemu-system-x86_64" \
		-L "$dir/usr/share/qemu" -L "$dir/usr/share/seabios"
}

# backports_unpack PKG...: those packages from bookworm-backports, unpacked together into
# $cache/<first package>-<its version>/ once, with apt lists of its own in the cache (the
# machine's sources stay as they are); prints the directory. An unpacked copy in the cache
# serves from then on, without the network, as the kernel packages do.
backports_unpack() {
	local apt=$cache/apt-backports ver dir tmp p
	local opts=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=-
		-o "Dir::State=$apt" -o Dir::State::status=/var/lib/dpkg/status -o "Dir::Cache=$apt"
		-o APT::Sandbox::User=root)
	dir=$(ls -d "$cache/$1"-*/ 2>/dev/null | sort -V | tail -n 1)
	[ -n "$dir" ] && { echo "${dir%/}"; return 0; }
	mkdir -p "$apt/lists/partial" "$apt/archives/partial"
	echo "deb http://deb.debian.org/debian bookworm-backports main" >"$apt/sources.list"
	apt-get -qq "${opts[@]}" update >&2 || die "cannot reach bookworm-backports for $1"
	ver=$(apt-cache "${opts[@]}" madison "$1" |
		awk -F'|' '/backports/ {gsub(/ /, "", $2); print $2; exit}')
	[ -n "$ver" ] || die "bookworm-backports has no $1"
	dir=$cache/$1-${ver//[:~+]/_}
	tmp=$(mktemp -d "$cache/.unpack.XXXXXX")
	for p in "$@"; do
		(cd "$tmp" && apt-get -q "${opts[@]}" download "$p/bookworm-backports" >&2) ||
			{ rm -rf "$tmp"; die "cannot download $p from bookworm-backports"; }
	done
	for p in "$tmp"/*.deb; do
		dpkg-deb -x "$p" "$tmp/root" || { rm -rf "$tmp"; die "cannot unpack $p"; }
	done
	rm -rf "$dir"
	mv "$tmp/root" "$dir"
	rm -rf "$tmp"
	echo "$dir"
}
