#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The VM lab's test suite, run inside the guest by /init (scripts/vm/guest-init.sh)
# from the repo root: the tracing smoke test, every tests/netns/test_*.sh, then
# the VM-only tests/vm/test_*.sh.
# Each part's last "N passed, N failed" line is added up; a part that exits
# non-zero without reporting a failure counts one. Ends with the total line and
# exits 1 if anything failed.
# Env: VMTEST_TEST_TIMEOUT seconds per part (default 900);
#      VMTEST_ONLY="name..." runs only these parts (lab_smoke, test_state, ...).
set -euo pipefail

cd "$(dirname "$0")/../.."
part_timeout=${VMTEST_TEST_TIMEOUT:-900}
total_passed=0
total_failed=0
parts_run=0
export CTBYPASS_VM=1

# Runs a command in a fresh cgroup and, once it is done, kills whatever it left
# running there (a daemonised nginx still holding our output pipe, say), so the
# output ends and the next part starts clean.
run_contained() { # cgroup, command...
	local cg=$1 rc=0
	shift
	mkdir "$cg"
	bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' - "$cg" "$@" || rc=$?
	# cgroup.kill is Linux 5.14; before it, each process left is killed by its pid.
	[ ! -e "$cg/cgroup.kill" ] || echo 1 >"$cg/cgroup.kill"
	while grep -q 'populated 1' "$cg/cgroup.events"; do
		[ -e "$cg/cgroup.kill" ] || xargs -r kill -KILL <"$cg/cgroup.procs" 2>/dev/null || true
		sleep 0.1
	done
	rmdir "$cg"
	return "$rc"
}

run_part() { # name, command...
	local name=$1 log rc start passed failed line
	shift
	[ -z "${VMTEST_ONLY:-}" ] || [[ " $VMTEST_ONLY " == *" $name "* ]] || return 0
	parts_run=$((parts_run + 1))
	log=$(mktemp)
	start=$SECONDS
	echo "guest-suite: === $name"
	set +e
	run_contained "/sys/fs/cgroup/vmtest-$name" timeout "$part_timeout" "$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	set -e

	line=$(grep -E '^([A-Za-z_-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)
	rm -f "$log"
	if [ -n "$line" ]; then
		passed=$(sed -E 's/^([A-Za-z_-]+: )?([0-9]+) passed.*/\2/' <<<"$line")
		failed=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
	elif [ "$rc" -eq 0 ]; then
		passed=1 failed=0
	else
		passed=0 failed=0
	fi
	# A crash, a timeout (busybox timeout: 143) or a bad exit is a failure even
	# when the part's own count missed it.
	[ "$rc" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
	echo "guest-suite: $name: $passed passed, $failed failed (exit $rc, $((SECONDS - start)) s)"
	total_passed=$((total_passed + passed))
	total_failed=$((total_failed + failed))
}

echo "guest-suite: start on kernel $(uname -r), $(nproc) CPUs"
# Host-only, each skipped and said so, with why: the initramfs carries no firewalld or ufw
# (they need Python's site-packages, GObject introspection, libnftables' bindings and a
# dbus-daemon; test_preflight_fixtures checks firewalld's ruleset in the guest), nor systemd.
declare -A host_only=(
	[test_preflight_real]="needs firewalld and ufw"
	[test_daemon_unit]="needs systemd-analyze (systemd)"
	[test_metrics]="needs Prometheus, promtool and node_exporter (110 MB of Go binaries)"
)
run_part lab_smoke build/tools/lab_smoke
for t in tests/netns/test_*.sh; do
	[ -e "$t" ] || continue # no netns tests yet
	name=$(basename "$t" .sh)
	if [ -n "${host_only[$name]:-}" ]; then
		echo "guest-suite: SKIP $name: ${host_only[$name]}, which the VM lab does not carry (run it on the host)"
		continue
	fi
	run_part "$name" bash "$t"
done
# Tests only the guest kernel can run (fentry and kprobe backends).
for t in tests/vm/test_*.sh; do
	[ -e "$t" ] || continue
	run_part "$(basename "$t" .sh)" bash "$t"
done

if [ "$parts_run" -eq 0 ]; then
	# A mistyped VMTEST_ONLY must not pass by running nothing.
	echo "guest-suite: FAIL: no part matches VMTEST_ONLY='$VMTEST_ONLY'"
	total_failed=1
fi
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
