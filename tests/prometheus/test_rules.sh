#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Checks the Prometheus alerting rules in contrib/prometheus/: promtool's syntax check, the
# unit tests in ctbypass.rules.test.yml, every metric name they use against what the
# exporter writes (src/metrics/metrics_format.c), and that each alert has its labels,
# annotations and both a firing and a quiet test case.
# Prints one PASS/FAIL line per check, then "N passed, N failed"; exits 1 if any failed.
# Needs no root. A missing promtool (Debian package prometheus) is a failure, not a skip.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

rules=contrib/prometheus/ctbypass.rules.yml
tests=tests/prometheus/ctbypass.rules.test.yml
exporter=src/metrics/metrics_format.c

passed=0
failed=0

pass() {
	echo "PASS $1"
	passed=$((passed + 1))
}

fail() {
	echo "FAIL $1${2:+: $2}"
	failed=$((failed + 1))
}

finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && exit 0
	exit 1
}

# Runs a command quietly; on failure shows its output, indented, under the FAIL line.
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		pass "$name"
	else
		fail "$name"
		printf '%s\n' "$out" | sed 's/^/    /'
	fi
}

for f in "$rules" "$tests" "$exporter"; do
	[ -f "$f" ] || fail "$f" "missing"
done
[ "$failed" -eq 0 ] || finish

if ! command -v promtool >/dev/null; then
	fail "promtool" "not installed (apt-get install prometheus; scripts/install-deps.sh)"
else
	check "promtool check rules $rules" promtool check rules "$rules"
	check "promtool test rules $tests" promtool test rules "$tests"
fi

# A metric renamed in the exporter but not here would leave an alert that never fires,
# and the unit tests, which feed the old name, would still pass. Comments are left out.
names=$(sed 's/#.*//' "$rules" "$tests" | grep -oE '\bctbypass_[a-z0-9_]+' | sort -u)
if [ -z "$names" ]; then
	fail "metric names" "none found in $rules"
fi
for name in $names; do
	# "name" as a family, or "name{..." as a series the exporter prints itself
	if grep -qE "\"${name}[\"{]" "$exporter"; then
		pass "metric $name is exported"
	else
		fail "metric $name is exported" "not in $exporter"
	fi
done

# Each alert: severity, summary and description, and in the unit tests at least one case
# where it fires (exp_labels) and one where it must not (exp_alerts: []).
alerts=$(sed -nE 's/^ *- alert: *([A-Za-z0-9_]+).*/\1/p' "$rules")
[ -n "$alerts" ] || fail "alerts" "none found in $rules"
for alert in $alerts; do
	missing=$(awk -v a="$alert" '
		/^ *- (alert|record):/ { in_a = ($0 ~ ("- alert: *" a "$")) }
		in_a && /^ *severity: *[a-z]/ { sev = 1 }
		in_a && /^ *summary:/ { sum = 1 }
		in_a && /^ *description:/ { desc = 1 }
		END {
			if (!sev) printf " severity";
			if (!sum) printf " summary";
			if (!desc) printf " description"
		}' "$rules")
	missing+=$(awk -v a="$alert" '
		/^ *alertname:/ { in_a = ($0 ~ ("alertname: *" a "$")) }
		in_a && /^ *exp_alerts: *\[\]/ { quiet = 1 }
		in_a && /^ *- *exp_labels:/ { fires = 1 }
		END {
			if (!fires) printf " a-firing-case";
			if (!quiet) printf " a-quiet-case"
		}' "$tests")
	if [ -z "$missing" ]; then
		pass "alert $alert: labels, annotations, firing and quiet cases"
	else
		fail "alert $alert: labels, annotations, firing and quiet cases" "missing$missing"
	fi
done

finish
