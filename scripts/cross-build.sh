#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Cross-builds ctbypass for another architecture on this host with Debian's cross
# compiler (gcc-aarch64-linux-gnu) and the target's own Debian libraries: the
# bookworm -dev packages of ARCH and their dependencies are unpacked into a sysroot
# (.cache/cross/ARCH/sysroot) through a private apt configuration, so the machine's
# dpkg gains no foreign architecture. The BPF programs follow the target too (the
# Makefile takes their architecture from the compiler's, with vmlinux/ARCH/vmlinux.h).
# Usage: scripts/cross-build.sh [ARCH [MAKE_ARGS...]]   (ARCH: arm64; output in build-ARCH/)
#   e.g. scripts/cross-build.sh arm64 all build-arm64/tools/lab_smoke
set -euo pipefail
shopt -s nullglob

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/vm/apt-private.sh
. "$repo/scripts/vm/apt-private.sh"
arch=${1:-arm64}
[ $# -eq 0 ] || shift
case $arch in
arm64) triplet=aarch64-linux-gnu ;;
*) echo "cross-build: unknown architecture '$arch' (arm64)" >&2; exit 2 ;;
esac
cache=$repo/.cache/cross/$arch
sysroot=$cache/sysroot
# What the Makefile's PKGS name, the libraries it links by name, and the C library.
dev=(libbpf-dev libnftables-dev libnetfilter-conntrack-dev libmnl-dev libjansson-dev
     libinih-dev libsystemd-dev libmicrohttpd-dev libelf-dev zlib1g-dev libc6-dev)

log() { echo "cross-build: $*" >&2; }

command -v "$triplet-gcc" >/dev/null || {
	log "no $triplet-gcc: run 'scripts/install-deps.sh cross' as root"
	exit 1
}

# The sysroot is made once per set of packages (the list is its stamp).
want=$(printf '%s\n' "${dev[@]}")
if ! [ -f "$sysroot/.packages" ] || [ "$(cat "$sysroot/.packages")" != "$want" ]; then
	apt_private_init "$cache/apt" bookworm "$arch"
	apt_private_update || true
	# Depends and Pre-Depends, recursively; virtual names (<...>) have no package.
	mapfile -t pkgs < <(apt_private apt-cache depends --recurse --no-recommends \
		--no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "${dev[@]}" |
		grep -E '^[a-z0-9]' | sort -u)
	log "fetching ${#pkgs[@]} $arch packages into ${cache#"$repo"/}/debs"
	mkdir -p "$cache/debs"
	(cd "$cache/debs" && apt_private apt-get download -q "${pkgs[@]}" >&2)
	rm -rf "$sysroot.new"
	mkdir -p "$sysroot.new"
	for deb in "$cache"/debs/*.deb; do
		dpkg-deb -x "$deb" "$sysroot.new"
	done
	# Merged /usr, as on the target: the C library's linker script names /lib/...
	for d in lib lib64 bin sbin; do
		if [ -d "$sysroot.new/$d" ] && ! [ -L "$sysroot.new/$d" ]; then
			mkdir -p "$sysroot.new/usr/$d"
			cp -a "$sysroot.new/$d/." "$sysroot.new/usr/$d/"
			rm -rf "${sysroot:?}.new/$d"
		fi
		ln -sfn "usr/$d" "$sysroot.new/$d"
	done
	echo "$want" >"$sysroot.new/.packages"
	rm -rf "$sysroot"
	mv "$sysroot.new" "$sysroot"
fi

# The compiler as one word that carries the sysroot: the Makefile checks $(CC) is a
# command, and CFLAGS given to make would replace the project's own.
mkdir -p "$cache/bin"
printf '#!/bin/sh\nexec %s --sysroot=%s "$@"\n' "$triplet-gcc" "$sysroot" >"$cache/bin/$triplet-gcc"
chmod +x "$cache/bin/$triplet-gcc"
export PKG_CONFIG_SYSROOT_DIR=$sysroot
export PKG_CONFIG_LIBDIR=$sysroot/usr/lib/$triplet/pkgconfig:$sysroot/usr/share/pkgconfig
[ $# -gt 0 ] || set -- all
exec make -C "$repo" OUTPUT="build-$arch" CC="$cache/bin/$triplet-gcc" "$@"
