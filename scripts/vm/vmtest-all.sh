#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make vmtest-all`: the VM lab's guest suite on each Debian kernel series in turn
# (one VM at a time: the lab takes both cores), every series run even when an earlier
# one failed. Prints one line per series (its count and wall time) and the summed
# "N passed, N failed" last.
# Usage: scripts/vm/vmtest-all.sh [SERIES...]   (default: 5.10 6.1 6.12)
# Env: as scripts/vm/vmtest.sh (VMTEST_ONLY, VMTEST_TIMEOUT, ...).
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -gt 0 ] || set -- 5.10 6.1 6.12
passed=0 failed=0 summary=()
for series in "$@"; do
	start=$SECONDS
	out=$(mktemp)
	VMTEST_SERIES=$series "$repo/scripts/vm/vmtest.sh" 2>&1 | tee "$out"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	rm -f "$out"
	# No count at all (the kernel could not even be fetched) is one failure.
	p=$(sed -nE 's/^([0-9]+) passed.*/\1/p' <<<"$line")
	f=$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$line")
	[ -n "$p" ] || { p=0 f=1; }
	passed=$((passed + p))
	failed=$((failed + f))
	summary+=("$(printf 'vmtest-all: %-5s %4d passed, %d failed, %d s' "$series" "$p" "$f" \
		$((SECONDS - start)))")
done
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
