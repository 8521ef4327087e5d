#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# /init of the VM lab guest (bash; busybox provides mount, modprobe, poweroff):
# mounts what BPF, conntrack and the tests need, loads the kernel modules, runs
# tests/vm/guest-suite.sh and powers off. QEMU's exit code cannot carry the
# suite's, so the last thing printed is "VMTEST-RESULT: rc=N", which
# scripts/vm/vmtest.sh reads from the console.
set -euo pipefail

export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb LANG=C

# Runs on every exit, an unexpected one under set -e included, so the host always
# learns an outcome; if poweroff itself fails, init exits and the kernel's panic
# reboots, which -no-reboot turns into QEMU exiting.
finish() {
	rc=$?
	trap - EXIT
	printf '\nVMTEST-RESULT: rc=%s\n' "$rc"
	sync
	poweroff -f
}
trap finish EXIT

mnt() { # type, where, [options]
	mkdir -p "$2"
	mount -t "$1" -o "${3:-defaults}" "$1" "$2" || echo "guest-init: cannot mount $1 on $2"
}

mnt proc /proc
mnt sysfs /sys
mnt devtmpfs /dev
# Reopen the console from the fresh devtmpfs, whatever the kernel gave us.
exec </dev/console >/dev/console 2>&1
# devtmpfs lacks these; bash's process substitution needs /dev/fd.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mnt tmpfs /run mode=755
mnt tmpfs /tmp mode=1777
mnt bpf /sys/fs/bpf
mnt tracefs /sys/kernel/tracing
mnt debugfs /sys/kernel/debug
mnt cgroup2 /sys/fs/cgroup
mkdir -p /dev/pts /dev/shm /run/netns /var/lib/nginx /var/log/nginx
mnt devpts /dev/pts
mnt tmpfs /dev/shm

hostname ctbypass-vm
ip link set lo up
ulimit -l unlimited || true

# The build resolved dependencies and softdeps into load order; a failure here is
# reported but not fatal (crc32c-intel needs SSE4.2, crc32c_generic suffices).
kver=$(uname -r)
loaded=0
while read -r m; do
	if modprobe "$m" 2>/dev/null; then
		loaded=$((loaded + 1))
	else
		echo "guest-init: note: modprobe $m failed on $kver"
	fi
done </etc/vmtest-modules
echo "guest-init: $kver up, $loaded modules loaded"

# vmtest.sh passes VMTEST_ONLY on the kernel command line, commas for spaces.
only=$(sed -n 's/.*vmtest\.only=\([^ ]*\).*/\1/p' /proc/cmdline)
export VMTEST_ONLY=${only//,/ }

cd /ctbypass
bench=$(sed -n 's/.*vmtest\.bench=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -z "$bench" ]; then
	bash tests/vm/guest-suite.sh
	exit
fi

# A benchmark part instead of the suite (vmtest.sh VMTEST_BENCH): its knobs come
# from the command line, its files go back over the console, a line each.
for k in BENCH_REPS BENCH_SECS BENCH_CONNS BENCH_THREADS; do
	v=$(sed -n "s/.*vmtest\\.$k=\\([0-9]*\\).*/\\1/p" /proc/cmdline)
	[ -z "$v" ] || export "$k=$v"
done
export BENCH_OUT=/tmp/bench BENCH_FRAG=/tmp/bench CTBYPASS_VM=1
echo "guest-bench: start bench/$bench.sh on kernel $kver, $(nproc) CPUs"
rc=0
bash "bench/$bench.sh" || rc=$?
for f in "$BENCH_OUT"/*; do
	[ -f "$f" ] || continue
	sed "s|^|BENCH-FILE $(basename "$f"): |" "$f"
done
exit "$rc"
