#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Fetches Debian's current kernel of one series for the VM lab into .cache/vm/ and
# prints the directory it was unpacked into (holding boot/vmlinuz-* and lib/modules/*).
#   5.10  bullseye (Debian 11)    linux-image-5.10.0-N-ARCH
#   6.1   bookworm (Debian 12)    linux-image-6.1.0-N-ARCH      (the default)
#   6.12  trixie (Debian 13)      linux-image-6.12.N+deb13-ARCH
# The newest ABI is resolved through apt, not hard-coded, so the lab follows Debian's
# security updates. apt runs with a private configuration per series (sources, lists
# and cache under .cache/vm/apt/SERIES/): the machine's own sources and lists are
# neither read nor changed, whatever release the machine runs. A cached package is
# reused without downloading; one unpacked kernel is kept per series and architecture.
# Usage: scripts/vm/fetch-kernel.sh [SERIES [ARCH]]   (ARCH: amd64, the default, or arm64)
#   messages on stderr, the directory on stdout
# Env: VMTEST_MIRROR=URL  the Debian mirror (default: the one the machine's apt uses);
#      VMTEST_CACHE=DIR   instead of .cache/vm
set -euo pipefail
shopt -s nullglob

repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/vm/apt-private.sh
. "$repo/scripts/vm/apt-private.sh"
cache=${VMTEST_CACHE:-$repo/.cache/vm}
series=${1:-6.1}
arch=${2:-amd64}

log() { echo "fetch-kernel: $*" >&2; }

case $series in
5.10) suite=bullseye name_re='5\.10\.0-[0-9]+' ;;
6.1) suite=bookworm name_re='6\.1\.0-[0-9]+' ;;
6.12) suite=trixie name_re='6\.12\.[0-9]+\+deb13' ;;
*) log "unknown series '$series' (5.10, 6.1 or 6.12)"; exit 2 ;;
esac
case $arch in
amd64 | arm64) ;;
*) log "unknown architecture '$arch' (amd64 or arm64)"; exit 2 ;;
esac
# One cache folder per series and architecture; amd64 keeps the plain series name.
key=$series
[ "$arch" = amd64 ] || key=$series-$arch
debs=$cache/debs/$key
kernels=$cache/kernels/$key
aptdir=$cache/apt/$key

# Newest linux-image of the series with a download candidate, as "name version".
# The signed plain flavour is preferred; -unsigned has the same kernel and modules.
resolve() {
	local names
	names=$(apt_private apt-cache pkgnames linux-image- 2>/dev/null |
		grep -E "^linux-image-$name_re-$arch(-unsigned)?\$") || return 0
	# One policy call for all names ("name:" then "  Candidate: version" each).
	# shellcheck disable=SC2086 # one word per package name
	apt_private apt-cache policy $names 2>/dev/null |
		awk '/^[^ ]/ { n = $1; sub(/:$/, "", n) }
		     /Candidate:/ && $2 != "(none)" { print $2, n }' | sort -V -k1,1 | awk '
		{ v[NR] = $1; n[NR] = $2 }
		END {
			if (!NR) exit
			best = v[NR]
			for (i = 1; i <= NR; i++) if (v[i] == best && n[i] !~ /-unsigned$/) { print n[i], v[i]; exit }
			print n[NR], v[NR]
		}'
}

# The unpacked tree for one package, made once: extract, then depmod, then rename,
# so an interrupted run never leaves a tree that looks finished.
unpack() {
	local deb=$1 dir=$2 tmp kver
	tmp=$(mktemp -d "$kernels/.unpack.XXXXXX")
	# shellcheck disable=SC2064 # expanded now: tmp is gone when the trap runs
	trap "rm -rf '$tmp'" EXIT
	dpkg-deb -x "$deb" "$tmp"
	# trixie's packages install into /usr/lib/modules (merged /usr); the lab reads lib/.
	if [ -d "$tmp/usr/lib/modules" ] && ! [ -d "$tmp/lib/modules" ]; then
		mkdir -p "$tmp/lib"
		mv "$tmp/usr/lib/modules" "$tmp/lib/modules"
	fi
	kver=$(basename "$tmp"/lib/modules/*)
	# The package leaves modules.dep to its postinst; depmod -b builds it for this tree.
	depmod -b "$tmp" "$kver"
	mv "$tmp" "$dir"
	trap - EXIT
	# Each unpacked kernel is ~500 MB; only the series' current one is kept.
	find "$kernels" -mindepth 1 -maxdepth 1 -name 'linux-image-*' ! -path "$dir" \
		-exec rm -rf {} +
}

download() {
	(cd "$debs" && apt_private apt-get download -q "$1" >&2)
}

# Offline, or apt names nothing: the kernel unpacked by an earlier run still serves.
use_cached() { # why
	local cached=("$kernels"/linux-image-*) dir
	[ ${#cached[@]} -gt 0 ] || { log "$1, and no $series kernel is cached"; exit 1; }
	dir=$(printf '%s\n' "${cached[@]}" | sort -V | tail -n 1)
	log "$1; using cached $(basename "$dir")"
	echo "$dir"
	exit 0
}

mkdir -p "$debs" "$kernels"
# Before series had folders of their own, the one 6.1 kernel lay directly in kernels/.
if [ "$key" = 6.1 ]; then
	for old in "$cache"/kernels/linux-image-6.1.0-* "$cache"/debs/linux-image-6.1.0-*.deb; do
		mv "$old" "$(dirname "$old")/6.1/"
	done
fi
apt_private_init "$aptdir" "$suite" "$arch"

apt_private_update || true
pkg=$(resolve)
[ -n "$pkg" ] || { apt_private_update force || true; pkg=$(resolve); }
[ -n "$pkg" ] || use_cached "apt knows no linux-image-$name_re-$arch in $suite"

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
		# A stale list names a version the mirror has dropped: refresh, try once more.
		if ! apt_private_update force || ! pkg=$(resolve) || [ -z "$pkg" ] ||
			! read -r name ver <<<"$pkg" || ! download "$name=$ver"; then
			use_cached "cannot download $name $ver"
		fi
		dir=$kernels/${name}_$ver
	fi
	found=("$debs/${name}_${ver//:/%3a}_"*.deb)
	[ ${#found[@]} -gt 0 ] || { log "apt-get download left no $name .deb"; exit 1; }
	# Older packages of the series are of no further use.
	find "$debs" -name 'linux-image-*.deb' ! -path "${found[0]}" -delete
fi
deb=${found[0]}
log "unpacking $(basename "$deb")"
unpack "$deb" "$dir"
echo "$dir"
