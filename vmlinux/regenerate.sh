#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Regenerates vmlinux/vmlinux.h, the kernel type definitions the BPF programs are
# compiled against (CO-RE: field offsets are relocated at load time on each kernel).
# Usage: vmlinux/regenerate.sh [BTF_FILE]   (default: /sys/kernel/btf/vmlinux)
set -euo pipefail
btf=${1:-/sys/kernel/btf/vmlinux}
out=$(dirname "$0")/vmlinux.h
[ -r "$btf" ] || { echo "regenerate: no BTF at $btf" >&2; exit 1; }
tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp"' EXIT
bpftool btf dump file "$btf" format c >"$tmp"
chmod 644 "$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "wrote $out from $btf ($(uname -r))"
