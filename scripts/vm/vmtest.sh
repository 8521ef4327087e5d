#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The VM lab (`make vmtest`): boots a Debian kernel (6.1 unless told) under QEMU
# with an initramfs holding ctbypass and its tests, streams the guest console, and
# exits 0 only if the guest suite passed. Tracing paths (fentry, kprobes) that the
# host kernel forbids are tested here.
# Env: VMTEST_TIMEOUT=3600  seconds before a hung guest is killed (the whole
#      namespace suite runs under TCG: about 10 minutes here)
#      VMTEST_SERIES=5.10|6.1|6.12   Debian's current kernel of that series
#                           (bullseye, bookworm, trixie; `make vmtest KERNEL=...`)
#      VMTEST_KERNEL=/path/to/vmlinuz VMTEST_MODULES=/path/to/lib/modules/<release>
#                           run on that kernel instead of a Debian one
#      VMTEST_ACCEL=kvm|tcg skip the KVM probe
#      VMTEST_ONLY="lab_smoke test_state"   run only these parts of the guest suite
#      VMTEST_APPEND="loglevel=7"   more guest kernel arguments (here: every message)
# A soft lockup in the guest panics it (softlockup_panic=1): the run fails at once with
# the stack trace on the console, rather than hanging until the timeout.
#      VMTEST_BENCH=PART VMTEST_BENCH_OUT=DIR   run bench/PART.sh in the guest
#                           instead of the suite (with the BENCH_* knobs set
#                           here) and write what it produced into DIR
# The console is kept in build/vm/console.log, and a copy in console-<release>.log.
set -euo pipefail
shopt -s extglob
trap 'echo "vmtest: failed at line $LINENO" >&2' ERR

repo=$(cd "$(dirname "$0")/../.." && pwd)
vmdir=$repo/build/vm
cache=${VMTEST_CACHE:-$repo/.cache/vm}
timeout_s=${VMTEST_TIMEOUT:-3600}
t_start=$EPOCHREALTIME

log() { echo "vmtest: $*"; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

[ -x "$repo/build/tools/lab_smoke" ] ||
	{ log "build/tools/lab_smoke is missing: run 'make vmtest'" >&2; exit 2; }

if [ -n "${VMTEST_KERNEL:-}${VMTEST_MODULES:-}" ]; then
	if ! [ -f "${VMTEST_KERNEL:-}" ] || ! [ -d "${VMTEST_MODULES:-}" ]; then
		log "set both VMTEST_KERNEL (a file) and VMTEST_MODULES (a directory)" >&2
		exit 2
	fi
	kernel=$(cd "$(dirname "$VMTEST_KERNEL")" && pwd)/$(basename "$VMTEST_KERNEL")
	modules=$(cd "$VMTEST_MODULES" && pwd)
else
	kdir=$("$repo/scripts/vm/fetch-kernel.sh" "${VMTEST_SERIES:-6.1}")
	kver=$(basename "$(ls -d "$kdir"/lib/modules/*)")
	kernel=$kdir/boot/vmlinuz-$kver
	modules=$kdir/lib/modules/$kver
fi
kver=$(basename "$modules")

# The guest gets its nginx, curl and ping from this host; `make vmtest` itself
# installs only the vm group.
"$repo/scripts/install-deps.sh" test vm

mkdir -p "$vmdir"
initrd=$vmdir/initramfs.cpio.gz
bench_args=
if [ -n "${VMTEST_BENCH:-}" ]; then
	[[ $VMTEST_BENCH =~ ^[a-z_]+$ ]] && [ -f "$repo/bench/$VMTEST_BENCH.sh" ] &&
		[ -n "${VMTEST_BENCH_OUT:-}" ] ||
		{ log "VMTEST_BENCH needs a bench/ part and VMTEST_BENCH_OUT a directory" >&2; exit 2; }
	mkdir -p "$VMTEST_BENCH_OUT"
	# The load generator comes from this host, like nginx; the knobs ride on the
	# kernel command line (numbers only, so nothing to quote).
	export VMTEST_EXTRA_BINS="${VMTEST_EXTRA_BINS:-} wrk"
	bench_args=" vmtest.bench=$VMTEST_BENCH"
	for k in BENCH_REPS BENCH_SECS BENCH_CONNS BENCH_THREADS; do
		v=${!k:-}
		[ -z "$v" ] || [[ $v =~ ^[0-9]+$ ]] || { log "$k must be a number" >&2; exit 2; }
		[ -z "$v" ] || bench_args+=" vmtest.$k=$v"
	done
fi
"$repo/scripts/vm/build-initramfs.sh" "$modules" "$initrd"

# Polls instead of waiting: a QEMU stuck in a KVM ioctl may not die even on
# SIGKILL, and the lab must not hang with it.
run_bounded() { # seconds, command...
	local limit=$1 pid i
	shift
	"$@" </dev/null >/dev/null 2>&1 &
	pid=$!
	for ((i = 0; i < limit * 10; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			return
		fi
		sleep 0.1
	done
	disown "$pid" # no "Killed" job notice, and no waiting on an unkillable QEMU
	kill -KILL "$pid" 2>/dev/null || true
	return 124
}

# KVM where it demonstrably works, else TCG: /dev/kvm exists on some hosts and
# hangs. The probe boots the kernel without a root file system; it panics at
# once and panic=-1 with -no-reboot ends QEMU. The verdict is kept per host boot.
choose_accel() {
	local boot_id stamp verdict
	if [ -n "${VMTEST_ACCEL:-}" ]; then
		echo "$VMTEST_ACCEL"
		return
	fi
	if ! [ -c /dev/kvm ] || ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
		echo tcg
		return
	fi
	boot_id=$(cat /proc/sys/kernel/random/boot_id)
	stamp=$cache/kvm-probe
	if [ -f "$stamp" ] && [ "$(cut -d' ' -f1 "$stamp")" = "$boot_id" ]; then
		cut -d' ' -f2 "$stamp"
		return
	fi
	verdict=tcg
	if run_bounded 20 timeout -k 2 15 qemu-system-x86_64 -accel kvm -cpu host -m 256 \
		-nographic -no-reboot -nic none -kernel "$kernel" -append 'console=ttyS0 panic=-1'; then
		verdict=kvm
	fi
	mkdir -p "$cache"
	echo "$boot_id $verdict" >"$stamp"
	echo "$verdict"
}

accel=$(choose_accel)
cpu=max
[ "$accel" = kvm ] && cpu=host
qemu=(qemu-system-x86_64 -accel "$accel" -cpu "$cpu" -m 1024 -smp 2 -nographic -no-reboot
      -nic none -kernel "$kernel" -initrd "$initrd"
      -append "console=ttyS0 quiet panic=-1 softlockup_panic=1${VMTEST_ONLY:+ vmtest.only=${VMTEST_ONLY// /,}}$bench_args${VMTEST_APPEND:+ $VMTEST_APPEND}")
console=$vmdir/console.log

# timeout(1) puts QEMU in its own process group, out of reach of the terminal's
# Ctrl-C: forward INT/TERM to it ourselves.
qpid=
stop_guest() { [ -z "$qpid" ] || kill -TERM "$qpid" 2>/dev/null || true; }
trap 'stop_guest; exit 130' INT TERM HUP
trap stop_guest EXIT

boot() {
	: >"$console"
	log "booting $kver ($accel): ${qemu[*]}"
	t_boot=$EPOCHREALTIME
	t_suite=
	t_done=
	exec {qfd}< <(exec timeout -k 10 "$timeout_s" "${qemu[@]}" </dev/null 2>&1)
	qpid=$!
	while IFS= read -r -u "$qfd" line; do
		# Serial lines end in CR; the firmware also sends terminal resets and clears.
		line=${line%$'\r'}
		line=${line//$'\e'@(c|\[*([0-9;?])[a-zA-Z])/}
		printf '%s\n' "$line"
		printf '%s\n' "$line" >>"$console"
		case $line in
		"guest-suite: start"* | "guest-bench: start"*) [ -n "$t_suite" ] || t_suite=$EPOCHREALTIME ;;
		*VMTEST-RESULT:*) t_done=$EPOCHREALTIME ;;
		esac
	done
	exec {qfd}<&-
	qrc=0
	wait "$qpid" || qrc=$?
	qpid=
	t_end=$EPOCHREALTIME
}

boot
# A panic before the suite started is the emulator's, not ctbypass's: under TCG with two
# vCPUs, 6.12 once died of an int3 in sched_clock_cpu while patching its own text at
# boot (then booted fine). Boot once more; a panic during the suite is a result.
if [ -z "$t_suite" ] && grep -q 'Kernel panic' "$console"; then
	cp "$console" "$vmdir/console-panic.log"
	log "the guest panicked before the suite started (console in build/vm/console-panic.log): booting again"
	boot
fi

rc=$(grep -Eo 'VMTEST-RESULT: rc=[0-9]+' "$console" | tail -n 1 | sed 's/.*rc=//' || true)

# A bench run's files come back on the console, a line each behind
# "BENCH-FILE name: " (guest-init.sh), so kernel messages cannot mix in.
if [ -n "${VMTEST_BENCH:-}" ]; then
	awk -v dir="$VMTEST_BENCH_OUT" '
		/^BENCH-FILE [A-Za-z0-9_.-]+: / {
			name = $2; sub(/:$/, "", name)
			line = $0; sub(/^BENCH-FILE [^:]+: /, "", line)
			print line > (dir "/" name)
		}' "$console"
fi
count=$(grep -E '^([A-Za-z_-]+: )?[0-9]+ passed, [0-9]+ failed' "$console" | tail -n 1 || true)

if [ -z "$rc" ]; then
	if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
		log "FAIL: the guest did not finish within ${timeout_s} s and was killed"
	else
		log "FAIL: the guest stopped without reporting a result (QEMU exit $qrc)"
	fi
	log "last 30 console lines (all in ${console#"$repo"/}):"
	tail -n 30 "$console" | sed 's/^/  | /'
	count=
fi

# Boot: QEMU start to the suite's first line; total includes fetch and initramfs.
timing=
[ -z "$t_suite" ] || timing="boot $(seconds "$t_boot" "$t_suite") s, "
[ -z "$t_suite" ] || [ -z "$t_done" ] || timing+="suite $(seconds "$t_suite" "$t_done") s, "
timing+="total $(seconds "$t_start" "$t_end") s"
cp "$console" "$vmdir/console-$kver.log"
log "kernel $kver, accel $accel; $timing; console in ${console#"$repo"/}"
if [ "$rc" = 0 ]; then
	log PASS
elif [ -n "$rc" ]; then
	log "FAIL (guest suite exit $rc)"
else
	log FAIL
fi
# The closing line is the guest suite's count, so runners that read it see it.
[ -n "${VMTEST_BENCH:-}" ] || echo "${count:-0 passed, 1 failed}"
[ "$rc" = 0 ] || exit 1
