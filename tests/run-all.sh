#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs the test suites and sums them into one closing "N passed, N failed" line.
# Usage: tests/run-all.sh [unit] [asan] [fuzz] [bpf] [netns] [vm]   (default: all six)
# A suite that cannot run (not root, missing tool, crash) counts as failed, never skipped.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
failures=()

# Adds the counts one test program printed; a missing or contradicting summary is a failure.
tally() {
	local name=$1 rc=$2 log=$3 p f line
	line=$(grep -E '^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -n "$line" ]; then
		p=$(sed -E 's/^([A-Za-z]+: )?([0-9]+) passed.*/\2/' <<<"$line")
		f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
	else
		# cmocka's own summary
		p=$(sed -nE 's/^\[  PASSED  \] ([0-9]+) test.*/\1/p' "$log" | tail -n 1)
		f=$(sed -nE 's/^\[  FAILED  \] ([0-9]+) test.*/\1/p' "$log" | tail -n 1)
		p=${p:-0}
		f=${f:-0}
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1 # exited non-zero without saying why: still a failure
	fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		f=1 # ran nothing
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -eq 0 ] || failures+=("$name")
}

run() {
	local name=$1
	shift
	local log
	log=$(mktemp)
	echo "=== $name"
	"$@" 2>&1 | tee "$log"
	tally "$name" "${PIPESTATUS[0]}" "$log"
	rm -f "$log"
}

# Runs a test built with ASan+UBSan: any sanitizer report fails it, even one the test survived.
sanitized() {
	local log rc
	log=$(mktemp)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$@" 2>&1 |
		tee "$log"
	rc=${PIPESTATUS[0]}
	if [ "$rc" -eq 0 ] && grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log"; then
		rc=1
	fi
	rm -f "$log"
	return "$rc"
}

need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "FAIL $1: needs root (run 'scripts/make test' as root)"
		failed=$((failed + 1))
		failures+=("$1")
		return 1
	fi
}

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(unit asan fuzz bpf netns vm)
# The sanitizer builds follow make's OUTPUT (exported when given on make's command line).
out=${OUTPUT:-build}
for suite in "${suites[@]}"; do
	case "$suite" in
	unit)
		ran=0
		for t in build/tests/test_*; do
			[ -x "$t" ] && [ ! -f "tests/bpf/$(basename "$t").c" ] || continue
			run "$t" "$t"
			ran=1
		done
		# Nothing built is a failure, as for asan: never "0 passed, 0 failed".
		[ $ran -eq 1 ] || run "unit" echo "FAIL unit: no unit tests in build/tests (make unit)"
		run "prometheus-rules" tests/prometheus/test_rules.sh
		run "install" tests/install/test_install.sh
		run "man" tests/man/test_man.sh
		run "completion" tests/completion/test_completion.sh
		;;
	asan)
		tests=("$out"/asan/tests/test_*)
		if [ ! -e "${tests[0]}" ]; then
			run "asan" echo "FAIL asan: no unit tests in $out/asan/tests (make unit-asan)"
			continue
		fi
		for t in "${tests[@]}"; do
			[ -x "$t" ] && run "$t" sanitized "$t" # not the .d dependency files
		done
		;;
	fuzz)
		run "fuzz" tests/fuzz/run.sh
		;;
	bpf)
		need_root bpf || continue
		for src in tests/bpf/test_*.c; do
			t=build/tests/$(basename "$src" .c)
			run "$t" "$t"
		done
		;;
	netns)
		need_root netns || continue
		for t in tests/netns/test_*.sh; do
			run "$t" bash "$t"
		done
		;;
	vm)
		need_root vm || continue
		run "make vmtest" scripts/vm/vmtest.sh
		;;
	*)
		echo "run-all: unknown suite '$suite' (unit, asan, fuzz, bpf, netns, vm)" >&2
		exit 2
		;;
	esac
done

echo
[ ${#failures[@]} -eq 0 ] || printf 'failed: %s\n' "${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
