#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Fetches Debian's current 6.1 kernel for the VM lab into .cache/vm/ and prints
# the directory it was unpacked into (holding boot/vmlinuz-* and lib/modules/*).
# The newest ABI is resolved through apt, not hard-coded, so the lab follows
# Debian's security updates; a cached package is reused without downloading.
# Usage: scripts/vm/fetch-kernel.sh   (messages on stderr, the directory on stdout)
set -euo pipefail
shopt -s nullglob

repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${VMTEST_CACHE:-$repo/.cache/vm}
debs=$cache/debs
kernels=$cache/kernels

log() { echo "fetch-kernel: $*" >&2; }

# Newest linux-image-6.1.0-N-amd64 with a download candidate, as "name version".
# The signed plain flavour is preferred; -unsigned has the same kernel and modules.
# (apt-cache also names packages no source offers any more, hence the check.)
resolve() {
	local names name ver
	# Sorted on the ABI number, then the plain name before -unsigned.
	names=$(apt-cache pkgnames linux-image-6.1.0- 2>/dev/null |
		grep -E '^linux-image-6\.1\.0-[0-9]+-amd64(-unsigned)?$' |
		sort -t- -k4,4nr -k6,6) || return 0
	for name in $names; do
		ver=$(apt-cache policy "$name" | awk '/Candidate:/ { print $2 }')
		if [ -n "$ver" ] && [ "$ver" != "(none)" ]; then
			echo "$name $ver"
			return 0
		fi
	done
}

# The unpacked tree for one package, made once: extract, then depmod, then rename,
# so an interrupted run never leaves a tree that looks finished.
unpack() {
	local deb=$1 dir=$2 tmp kver
	tmp=$(mktemp -d "$kernels/.unpack.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	dpkg-deb -x "$deb" "$tmp"
	kver=$(basename "$tmp"/lib/modules/*)
	# The package leaves modules.dep to its postinst; depmod -b builds it for this tree.
	depmod -b "$tmp" "$kver"
	mv "$tmp" "$dir"
	trap - EXIT
	# Each unpacked kernel is ~500 MB; only the current one is kept.
	find "$kernels" -mindepth 1 -maxdepth 1 -name 'linux-image-*' ! -path "$dir" \
		-exec rm -rf {} +
}

# apt-get download writes into the current directory. As root it would hand the
# fetch to the _apt user, who cannot write into a root-owned repo: keep it root.
download() {
	local sandbox=()
	[ "$(id -u)" -ne 0 ] || sandbox=(-o APT::Sandbox::User=root)
	(cd "$debs" && apt-get download -q "${sandbox[@]}" "$1" >&2)
}

# Offline, or apt names nothing: the kernel unpacked by an earlier run still serves.
use_cached() { # why
	local cached=("$kernels"/linux-image-*) dir
	[ ${#cached[@]} -gt 0 ] || { log "$1, and no kernel is cached"; exit 1; }
	dir=$(printf '%s\n' "${cached[@]}" | sort -V | tail -n 1)
	log "$1; using cached $(basename "$dir")"
	echo "$dir"
	exit 0
}

mkdir -p "$debs" "$kernels"

pkg=$(resolve)
if [ -z "$pkg" ] && [ "$(id -u)" -eq 0 ]; then
	# No candidate usually means apt's lists were never fetched on this machine.
	log "no linux-image-6.1.0-*-amd64 known to apt; running apt-get update"
	apt-get update -qq >&2
	pkg=$(resolve)
fi
[ -n "$pkg" ] || use_cached "apt knows no linux-image-6.1.0-*-amd64"

read -r name ver <<<"$pkg"
dir=$kernels/${name}_$ver
if [ -d "$dir" ]; then
	log "using cached $name $ver"
	echo "$dir"
	exit 0
fi

# apt-get download names files with the version's colon as %3a.
found=("$debs/${name}_${ver//:/%3a}_"*.deb)
if [ ${#found[@]} -eq 0 ]; then
	log "downloading $name $ver"
	if ! download "$name=$ver"; then
		# A stale list names a version the mirror has dropped: refresh, start over once.
		if [ "$(id -u)" -eq 0 ] && [ -z "${FETCH_KERNEL_RETRY:-}" ]; then
			apt-get update -qq >&2 || true
			FETCH_KERNEL_RETRY=1 exec "$0"
		fi
		use_cached "cannot download $name $ver"
	fi
	found=("$debs/${name}_${ver//:/%3a}_"*.deb)
	[ ${#found[@]} -gt 0 ] || { log "apt-get download left no $name .deb"; exit 1; }
	# Older packages of the same flavour are of no further use.
	find "$debs" -name 'linux-image-*.deb' ! -path "${found[0]}" -delete
fi
deb=${found[0]}
log "unpacking $(basename "$deb")"
unpack "$deb" "$dir"
echo "$dir"
