#!/bin/bash
# Build (once, cached) the small Linux 6.1 test kernel for the slow Linux suite.
#
# Source:  Debian's linux-source-6.1 package (/usr/src/linux-source-6.1.tar.xz).
# Config:  `make tinyconfig` + integration/linux/config-fragment, every fragment
#          option verified in the final .config.
# Patches: integration/linux/patches/*.patch (patch -p1, sorted order).
# Cache:   $VIREO_CACHE (default /var/cache/vireo), outside the repository.  The
#          cache key hashes the fragment, the patches, the linux-source package
#          version and this script, so changing any of them rebuilds.
# Output:  <cache>/linux-<version>-<key>/{vmlinux,bzImage,config,System.map,build.log}
#          vmlinux is the uncompressed ELF with the PVH note (CONFIG_PVH=y).
#          The LAST LINE OF STDOUT is that directory; everything else goes to
#          stderr, so callers can use: dir=$(build-kernel.sh | tail -n 1)
#
# When run as root, missing Debian packages are installed with apt-get.
#
# Options: --force   rebuild even if the cache entry exists
#          --keep    keep the build tree (<cache>/tree-<key>) for debugging
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${VIREO_CACHE:-/var/cache/vireo}
fragment=$here/config-fragment
src_pkg=linux-source-6.1
src_tar=/usr/src/linux-source-6.1.tar.xz

force=0
keep=0
for a in "$@"; do
    case $a in
        --force) force=1 ;;
        --keep) keep=1 ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "build-kernel.sh: unknown argument $a" >&2; exit 2 ;;
    esac
done

log() { echo "build-kernel: $*" >&2; }
die() { echo "build-kernel: ERROR: $*" >&2; exit 1; }

# Debian packages needed to build this configuration (checked on Debian 12):
#   build-essential: gcc, make, binutils (readelf), patch (via dpkg-dev)
#   bc: kernel/time/timeconst.bc          bison, flex: scripts/kconfig
#   libelf-dev: objtool (built for every x86_64 kernel)
#   lz4: bzImage payload compression (CONFIG_KERNEL_LZ4)
#   xz-utils: unpacking the source tarball
# Not needed for this configuration: libssl-dev (no module signing or trusted
# keys), cpio (the initramfs tool usr/gen_init_cpio is built from the tree).
# Add them here if the fragment ever enables MODULE_SIG/IKHEADERS.
build_packages=(build-essential bc bison flex libelf-dev lz4 xz-utils)

pkg_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

ensure_packages() {
    local missing=() p
    for p in "$@"; do
        pkg_installed "$p" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        die "missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
    fi
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Wait for the dpkg lock (unattended-upgrades on a fresh machine) instead
    # of failing at once; on a fresh image the package lists may be empty.
    local apt=(apt-get -o DPkg::Lock::Timeout=600 -y --no-install-recommends)
    if ! "${apt[@]}" install "${missing[@]}" >&2; then
        log "apt-get install failed, running apt-get update and retrying"
        "${apt[@]}" update >&2
        "${apt[@]}" install "${missing[@]}" >&2
    fi
}

# The source package first: its version is part of the cache key.
ensure_packages "$src_pkg"
[ -r "$src_tar" ] || die "$src_tar not found (is $src_pkg installed?)"
src_ver=$(dpkg-query -W -f='${Version}' "$src_pkg")

# Cache key: fragment + patches (names and contents) + source version + this script.
key=$( {
    echo "linux-source=$src_ver"
    echo "== fragment"; cat "$fragment"
    for p in "$here"/patches/*.patch; do
        [ -e "$p" ] || continue
        echo "== patch $(basename "$p")"; cat "$p"
    done
    echo "== script"; cat "$0"
} | sha256sum | cut -c1-16)
out=$cache/linux-$src_ver-$key

# A finished entry is complete (it is moved into place atomically), so a hit
# needs no lock and no write access.
cached() { [ $force -eq 0 ] && [ -f "$out/vmlinux" ] && [ -f "$out/bzImage" ]; }
if cached; then
    log "cached: $out"
    echo "$out"
    exit 0
fi

mkdir -p "$cache" 2>/dev/null && [ -w "$cache" ] ||
    die "cache directory $cache is not writable (set VIREO_CACHE to a writable directory)"
exec 9>"$cache/.build-kernel.lock"
if ! flock -n 9; then
    log "another build-kernel.sh holds $cache/.build-kernel.lock, waiting"
    flock 9
fi

if cached; then
    log "cached (built by another process meanwhile): $out"
    echo "$out"
    exit 0
fi
ensure_packages "${build_packages[@]}"

# Leftovers from interrupted builds (we hold the lock, so nobody else uses them).
rm -rf "$cache"/tmp.* "$cache/tree-$key"

tmp=$(mktemp -d "$cache/tmp.XXXXXX")
tree=$tmp/src
buildlog=$tmp/build.log
cleanup() {
    local rc=$?
    if [ $rc -ne 0 ]; then
        log "FAILED (rc=$rc); last lines of $buildlog:"
        tail -n 40 "$buildlog" >&2 || true
    fi
    if [ $keep -eq 1 ] && [ -d "$tree" ]; then
        mv "$tree" "$cache/tree-$key"
        log "build tree kept in $cache/tree-$key"
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

jobs=$(nproc)
t0=$(date +%s)
log "building Linux ($src_pkg $src_ver) key $key with -j$jobs in $tmp"

mkdir -p "$tree"
tar -xf "$src_tar" -C "$tree" --strip-components=1
cd "$tree"

for p in "$here"/patches/*.patch; do
    [ -e "$p" ] || continue
    log "patch $(basename "$p")"
    patch -p1 --batch --forward --quiet < "$p" >>"$buildlog" 2>&1 || die "patch $p does not apply"
done

mk() { make ARCH=x86_64 KBUILD_BUILD_USER=vireo KBUILD_BUILD_HOST=vireo "$@" >>"$buildlog" 2>&1; }

mk tinyconfig
# merge_config.sh -m only merges (and warns about overridden values);
# olddefconfig then resolves dependencies.
scripts/kconfig/merge_config.sh -m .config "$fragment" >>"$buildlog" 2>&1
mk olddefconfig

# Verify every fragment line made it: "CONFIG_X=val" must appear verbatim;
# "# CONFIG_X is not set" means X must not be set to anything.
bad=0
while IFS= read -r line; do
    if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
        sym=${BASH_REMATCH[1]}
        if ! grep -qxF -- "$line" .config; then
            got=$(grep -E "^(# )?$sym[= ]" .config || echo "(absent)")
            log "config: wanted '$line', got '$got'"
            bad=1
        fi
    elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
        sym=${BASH_REMATCH[1]}
        if grep -qE "^$sym=" .config; then
            log "config: wanted '$line', got '$(grep -E "^$sym=" .config)'"
            bad=1
        fi
    fi
done < "$fragment"
[ $bad -eq 0 ] || die "fragment options missing from the final .config (unmet dependencies?)"
log "config verified ($(grep -c '^CONFIG_.*=' .config) options set)"

mk -j"$jobs" bzImage
t1=$(date +%s)

# The PVH entry is an ELF note, owner "Xen", type XEN_ELFNOTE_PHYS32_ENTRY (0x12).
if ! readelf -n vmlinux | grep -A1 -E '^\s*Xen\s' | grep -qiE '0x0*12\b|PHYS32_ENTRY'; then
    readelf -n vmlinux >&2 || true
    die "vmlinux has no PVH (Xen PHYS32_ENTRY) note"
fi

mkdir -p "$tmp/out"
cp vmlinux arch/x86/boot/bzImage System.map "$tmp/out/"
cp .config "$tmp/out/config"
{
    echo "linux-source $src_ver"
    echo "key $key"
    echo "jobs $jobs"
    echo "build_seconds $((t1 - t0))"
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} > "$tmp/out/build-info"
cp "$buildlog" "$tmp/out/build.log"
rm -rf "$out"
mv "$tmp/out" "$out"
log "built in $((t1 - t0)) s: $out ($(du -sh "$out/vmlinux" | cut -f1) vmlinux, $(du -sh "$out/bzImage" | cut -f1) bzImage)"
echo "$out"
