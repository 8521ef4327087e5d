#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# arm64 smoke test (`make vmtest-arm64`): cross-builds ctbypass's arm64 test programs
# (scripts/cross-build.sh), boots Debian's arm64 kernel under qemu-system-aarch64 (TCG)
# with a busybox initramfs, and runs there the classifier's BPF_PROG_TEST_RUN tests
# (tests/bpf/test_classifier) and the probe smoke test (build/tools/lab_smoke: fentry
# and kprobe on __nf_conntrack_alloc), so the arm64 build's BPF programs are shown to
# load and to read arm64's registers. Exits 0 only if both passed.
# Usage: scripts/vm/arm64-smoke.sh [SERIES]   (default 6.12: trixie's arm64 kernel; 6.1's
#   refuses fentry attach with ENOTSUPP, so there lab_smoke's fentry check fails)
# Env: VMTEST_TIMEOUT=900   seconds before a hung guest is killed
# The console is kept in build-arm64/vm/console.log.
set -euo pipefail
shopt -s extglob nullglob
trap 'echo "arm64-smoke: failed at line $LINENO" >&2' ERR

repo=$(cd "$(dirname "$0")/../.." && pwd)
series=${1:-6.12}
out=$repo/build-arm64
vmdir=$out/vm
cache=$repo/.cache/cross/arm64
sysroot=$cache/sysroot
timeout_s=${VMTEST_TIMEOUT:-900}
log() { echo "arm64-smoke: $*" >&2; }

# shellcheck source=scripts/vm/apt-private.sh
. "$repo/scripts/vm/apt-private.sh"

"$repo/scripts/cross-build.sh" arm64 -j"$(nproc)" build-arm64/tools/lab_smoke \
	build-arm64/tests/test_classifier >&2
kdir=$("$repo/scripts/vm/fetch-kernel.sh" "$series" arm64)
kver=$(basename "$(ls -d "$kdir"/lib/modules/*)")

# busybox for the guest's shell, mount, insmod and poweroff: Debian's arm64 static one.
apt_private_init "$cache/apt" bookworm arm64
bb=("$cache"/run-debs/busybox-static_*.deb)
if [ ${#bb[@]} -eq 0 ]; then
	apt_private_update || true
	mkdir -p "$cache/run-debs"
	(cd "$cache/run-debs" && apt_private apt-get download -q busybox-static >&2)
	bb=("$cache"/run-debs/busybox-static_*.deb)
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/ctbypass-arm64.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/usr/{bin,lib} "$stage"/{dev,proc,sys,tmp,run} "$stage/ctbypass"
for d in bin sbin lib; do ln -s "usr/$d" "$stage/$d"; done
ln -s bin "$stage/usr/sbin"
dpkg-deb --fsys-tarfile "${bb[0]}" | tar -xO ./bin/busybox >"$stage/usr/bin/busybox"
chmod 755 "$stage/usr/bin/busybox"
ln -s busybox "$stage/usr/bin/sh"

# The programs and, through their DT_NEEDED entries, every library from the sysroot.
cp "$out/tools/lab_smoke" "$out/tests/test_classifier" "$stage/ctbypass/"
libdir=usr/lib/aarch64-linux-gnu
mkdir -p "$stage/$libdir"
queue=("$stage/ctbypass/lab_smoke" "$stage/ctbypass/test_classifier")
while [ ${#queue[@]} -gt 0 ]; do
	f=${queue[0]}
	queue=("${queue[@]:1}")
	for lib in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		[ -e "$stage/$libdir/$lib" ] && continue
		src=$sysroot/$libdir/$lib
		[ -e "$src" ] || { log "library $lib not in the sysroot"; exit 1; }
		cp -L "$src" "$stage/$libdir/$lib"
		queue+=("$stage/$libdir/$lib")
	done
done
cp -L "$sysroot/$libdir/ld-linux-aarch64.so.1" "$stage/$libdir/"
ln -s aarch64-linux-gnu/ld-linux-aarch64.so.1 "$stage/usr/lib/ld-linux-aarch64.so.1"

# Modules for lab_smoke's nftables rule and conntrack, in load order, stored plain.
: >"$stage/modules"
for m in nf_conntrack nf_tables nft_ct; do
	while read -r kind path _; do
		[ "$kind" = insmod ] || continue
		name=$(basename "$path")
		name=${name%.ko*}.ko
		grep -qx "$name" "$stage/modules" && continue
		case $path in
		*.xz) xz -dc "$path" >"$stage/$name" ;;
		*.zst) zstd -qdc "$path" >"$stage/$name" ;;
		*) cp "$path" "$stage/$name" ;;
		esac
		echo "$name" >>"$stage/modules"
	done < <(modprobe -d "$kdir" -S "$kver" --show-depends "$m")
done

cat >"$stage/init" <<'EOF'
#!/bin/sh
# The arm64 smoke guest: modules, the two tests, a result line, power off.
export PATH=/usr/bin
/usr/bin/busybox --install -s /usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t bpf bpf /sys/fs/bpf
mount -t tracefs tracefs /sys/kernel/tracing
while read -r m; do insmod "/$m" || echo "arm64-guest: insmod $m failed"; done </modules
echo "arm64-guest: $(uname -r) $(uname -m), $(nproc) CPUs"
rc=0
/ctbypass/test_classifier || rc=1
/ctbypass/lab_smoke || rc=1
echo "ARM64-RESULT: rc=$rc"
poweroff -f
EOF
chmod 755 "$stage/init"
mkdir -p "$vmdir"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 |
	gzip -6 >"$vmdir/initramfs.cpio.gz")

console=$vmdir/console.log
log "booting $kver under qemu-system-aarch64 (TCG)"
start=$SECONDS
timeout -k 10 "$timeout_s" qemu-system-aarch64 -M virt -cpu max -m 1024 -smp 2 -nographic \
	-no-reboot -nic none -kernel "$kdir/boot/vmlinuz-$kver" -initrd "$vmdir/initramfs.cpio.gz" \
	-append "console=ttyAMA0 quiet panic=-1" </dev/null 2>&1 | tr -d '\r' | tee "$console" || true
rc=$(sed -n 's/.*ARM64-RESULT: rc=\([0-9]*\).*/\1/p' "$console" | tail -n 1)
passed=$(awk '/^[0-9]+ passed, [0-9]+ failed/ { n += $1 } END { print n + 0 }' "$console")
failed=$(awk '/^[0-9]+ passed, [0-9]+ failed/ { n += $3 } END { print n + 0 }' "$console")
log "kernel $kver (arm64), $((SECONDS - start)) s; console in ${console#"$repo"/}"
if [ "$rc" = 0 ]; then
	echo "arm64-smoke: $passed passed, $failed failed"
	exit 0
fi
echo "arm64-smoke: $passed passed, $((failed > 0 ? failed : 1)) failed"
exit 1
