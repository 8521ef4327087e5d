#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# What differs between the kernels the VM lab boots, beyond the tracing backends
# (tests/vm/test_watch_probes.sh): before 5.11 BPF memory counts against
# RLIMIT_MEMLOCK, so attach in a process that may not raise it (a systemd unit or
# container without CAP_SYS_RESOURCE) fails with one line that says so, and
# changes nothing; from 5.11 on the same attach works under the same limit.

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/netns.sh
# shellcheck source=../lib/netns.sh
source "$LIB"
# shellcheck source=../lib/kernel.sh
source "$(dirname "$LIB")/kernel.sh"

require_root
need_cmd setpriv "$CTBYPASS"

# ctbypass under a 64 KiB memlock limit (the kernel's default before 5.16), without
# CAP_SYS_RESOURCE: libbpf cannot raise the limit, as in a unit without it.
ctb_limited() {
	bash -c 'ulimit -l 64 && exec setpriv --bounding-set -sys_resource --inh-caps -sys_resource \
		"$@"' - "$CTBYPASS" -n "$SRV_NS" "$@"
}

test_memlock() {
	local rc=0 err
	err=$(ctb_limited attach --ports 8080 2>&1 >/dev/null) || rc=$?
	echo "  attach under a 64 KiB memlock limit said: ${err:-nothing}"
	if kernel_at_least 5.11; then
		check_eq "from 5.11: attach works under a 64 KiB memlock limit" 0 "$rc"
		"$CTBYPASS" -n "$SRV_NS" detach >/dev/null 2>&1
		return
	fi
	check_eq "before 5.11: attach under a 64 KiB memlock limit fails (exit 1)" 1 "$rc"
	check_eq "before 5.11: one line" 1 "$(wc -l <<<"$err")"
	check "before 5.11: the line names RLIMIT_MEMLOCK and how to raise it" \
		grep -q "counts against RLIMIT_MEMLOCK, 64 KiB here: raise it" <<<"$err"
	check "before 5.11: nothing was attached" bash -c \
		"'$CTBYPASS' -n '$SRV_NS' status --json | grep -q '\"attached\": *false'"
	check_not "before 5.11: no ctbypass table left" \
		in_ns "$SRV_NS" nft list table inet ctbypass
	rc=0
	"$CTBYPASS" -n "$SRV_NS" attach --ports 8080 >/dev/null 2>&1 || rc=$?
	check_eq "before 5.11: as root with the limit raisable, attach works" 0 "$rc"
	"$CTBYPASS" -n "$SRV_NS" detach >/dev/null 2>&1
}

lab_up
test_memlock
lab_down
finish
