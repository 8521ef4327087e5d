#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Regenerates vmlinux/ARCH/vmlinux.h, the kernel type definitions the BPF programs are
# compiled against (CO-RE: field offsets are relocated at load time on each kernel).
# There is one per architecture because pt_regs, which the kprobe programs read their
# arguments from, differs between them (the Makefile picks the target's).
# Usage: vmlinux/regenerate.sh [ARCH [SOURCE]]
#   ARCH    x86 or arm64 (default: the build host's)
#   SOURCE  a BTF file (/sys/kernel/btf/vmlinux, raw or ELF) or a kernel Image whose
#           BTF is read out of it. Default: this host's BTF when ARCH is the host's,
#           else Debian trixie's kernel of ARCH (scripts/vm/fetch-kernel.sh 6.12 ARCH).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
case $(uname -m) in
aarch64) host=arm64 ;;
*) host=x86 ;;
esac
arch=${1:-$host}
src=${2:-}
case $arch in
x86) debarch=amd64 ;;
arm64) debarch=arm64 ;;
*) echo "regenerate: unknown architecture '$arch' (x86 or arm64)" >&2; exit 2 ;;
esac

tmpdir=$(mktemp -d)
trap 'rm -rf "$tmpdir"' EXIT

if [ -z "$src" ]; then
	if [ "$arch" = "$host" ]; then
		src=/sys/kernel/btf/vmlinux
		from="$src ($(uname -r))"
	else
		kdir=$("$here/../scripts/vm/fetch-kernel.sh" 6.12 "$debarch")
		src=$(ls "$kdir"/boot/vmlinuz-*)
	fi
fi
[ -r "$src" ] || { echo "regenerate: cannot read $src" >&2; exit 1; }
from=${from:-$(basename "$src")}

# A kernel Image (not BTF, not ELF) carries its .BTF section as is: the header's magic
# 0xeb9f, version 1, flags 0, header length 24, then where types and strings lie.
btf=$src
magic=$(head -c 4 "$src" | od -An -tx1 | tr -d ' \n')
if [ "$magic" != 9feb0100 ] && [ "$magic" != 7f454c46 ]; then
	img=$tmpdir/Image
	if [ "${magic:0:4}" = 1f8b ]; then
		gzip -dc "$src" >"$img"
	else
		img=$src
	fi
	off=$(LC_ALL=C grep -obUaP '\x9f\xeb\x01\x00\x18\x00\x00\x00' "$img" | head -n 1 | cut -d: -f1)
	[ -n "$off" ] || { echo "regenerate: no BTF in $src" >&2; exit 1; }
	read -r type_off type_len str_off str_len < <(od -An -tu4 -j $((off + 8)) -N 16 "$img")
	end=$((type_off + type_len > str_off + str_len ? type_off + type_len : str_off + str_len))
	dd if="$img" of="$tmpdir/vmlinux.btf" iflag=skip_bytes,count_bytes bs=1M skip="$off" \
		count=$((24 + end)) status=none
	btf=$tmpdir/vmlinux.btf
fi

mkdir -p "$here/$arch"
out=$here/$arch/vmlinux.h
tmp=$(mktemp "$out.XXXXXX")
bpftool btf dump file "$btf" format c >"$tmp"
chmod 644 "$tmp"
mv "$tmp" "$out"
echo "wrote vmlinux/$arch/vmlinux.h from $from"
