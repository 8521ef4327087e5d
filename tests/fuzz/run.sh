#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs each libFuzzer harness over its seed corpus, then fuzzes it for a bounded time.
# Usage: tests/fuzz/run.sh [-t SECONDS] [HARNESS...]   (default: every tests/fuzz/fuzz_*.c, 15 s)
# Prints one PASS/FAIL line per harness, then "N passed, N failed". A crash, a sanitizer
# report, a leak, a timeout or a harness that was not built is a failure; the input that
# caused it is kept in $OUTPUT/fuzz/crashes/HARNESS/.
set -uo pipefail
cd "$(dirname "$0")/../.."

out=${OUTPUT:-build}/fuzz
secs=${CTB_FUZZ_SECONDS:-15}
if [ "${1:-}" = -t ]; then
	secs=$2
	shift 2
fi
harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
	for src in tests/fuzz/fuzz_*.c; do
		harnesses+=("$(basename "$src" .c)")
	done
fi

passed=0
failed=0
for name in "${harnesses[@]}"; do
	bin=$out/$name
	seeds=tests/fuzz/corpus/$name
	# New inputs go to a corpus outside the tree, so the committed seeds stay as written
	# and a local corpus still grows from one run to the next.
	work=$out/corpus/$name
	crashes=$out/crashes/$name
	log=$out/logs/$name.log
	if [ ! -x "$bin" ]; then
		echo "FAIL $name: $bin not built (make fuzz)"
		failed=$((failed + 1))
		continue
	fi
	mkdir -p "$work" "$crashes" "$(dirname "$log")"
	dirs=("$work")
	[ -d "$seeds" ] && dirs+=("$seeds")
	start=$SECONDS
	# -timeout: one input slower than 10 s is a hang; -rss_limit_mb: a leak or blow-up.
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$crashes/" "${dirs[@]}" >"$log" 2>&1
	rc=$?
	stats=$(sed -nE 's/.*DONE +(cov: [0-9]+ ft: [0-9]+ corp: [0-9]+)\/.*/\1/p' "$log" | tail -n 1)
	execs=$(sed -nE 's/^stat::average_exec_per_sec: +([0-9]+)/\1/p' "$log")
	runs=$(sed -nE 's/^stat::number_of_executed_units: +([0-9]+)/\1/p' "$log")
	if [ "$rc" -eq 0 ]; then
		echo "PASS $name: ${runs:-?} runs, ${execs:-?} exec/s, ${stats:-no stats} ($((SECONDS - start)) s)"
		passed=$((passed + 1))
	else
		echo "FAIL $name: exit $rc; full log $log"
		# The report: its first line to its summary, without the stack of libFuzzer's own
		# frames, then where the input was saved.
		sed -n '/==ERROR\|runtime error\|^fuzz: \|ERROR: libFuzzer/,/^SUMMARY/p' "$log" |
			grep -v 'in fuzzer::\|in __libc_start\|in _start\|in main ' | head -n 40 |
			sed 's/^/    /'
		grep 'Test unit written' "$log" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
