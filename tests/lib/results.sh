# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Results for the test scripts that need no lab (man pages, completion, install,
# package, manifest): the namespace tests get the same from tests/lib/netns.sh.
#
#   source "$(dirname "$0")/../lib/results.sh"
#   check NAME CMD... | pass NAME | fail NAME [WHY] | check_eq NAME EXPECTED ACTUAL
#   results        the last line, "N passed, N failed"; its status is 1 on a failure

[ -n "${_CTBT_RESULTS_LOADED:-}" ] && return 0
_CTBT_RESULTS_LOADED=1

passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1${2:+: $2}"; failed=$((failed + 1)); }
# check NAME CMD...: CMD run quietly; its status is the verdict.
check() {
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then pass "$name"; else fail "$name"; fi
}
check_eq() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected '$2', got '$3'"; fi; }
results() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
