#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make bench`: runs every part (one script each), then writes
# bench/results/REPORT.md with the machine, the versions, a goal-vs-measured
# summary and each part's section, beside the raw CSV and the PNG figures.
# Results are built in a temporary directory and replace bench/results/ only
# at the end, so an interrupted run leaves the last report as it was.
# Usage: bench/run.sh [PART...]   (parts: classifier conn_rate flash_sale
#                                  tracing_overhead footprint flush daemon_repair metrics;
#                                  default all)
# Some parts only: the report goes to a directory in /tmp instead, so the
# committed full report is not replaced by a partial one.
# Knobs: see bench/lib.sh (BENCH_REPS, BENCH_SECS, ...).
set -u

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
RESULTS=$BENCH_DIR/results
ALL_PARTS=(classifier conn_rate flash_sale tracing_overhead footprint flush daemon_repair metrics)
declare -A TITLE=(
	[classifier]="1. Classifier cost"
	[conn_rate]="2. Connection rate"
	[flash_sale]="3. Flash sale"
	[tracing_overhead]="4. Tracing overhead"
	[footprint]="5. Footprint"
	[flush]="6. Conntrack flush"
	[daemon_repair]="7. Daemon repair time"
	[metrics]="8. Daemon footprint and scrape latency"
)

die() {
	echo "bench: $*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "must run as root (sudo make bench)"
PARTS=("${@:-${ALL_PARTS[@]}}")
for p in "${PARTS[@]}"; do
	[ -x "$BENCH_DIR/$p.sh" ] || die "unknown part '$p' (${ALL_PARTS[*]})"
done

STAGE=$(mktemp -d /tmp/ctbypass-bench.XXXXXX) || die "mktemp failed"
if [ $# -gt 0 ]; then
	RESULTS=$STAGE/results
	trap 'rm -rf "$STAGE/frag"' EXIT
else
	trap 'rm -rf "$STAGE"' EXIT
fi
trap 'echo "bench: interrupted; bench/results/ left as it was" >&2; exit 130' INT TERM HUP
export BENCH_OUT=$STAGE/results BENCH_FRAG=$STAGE/frag
mkdir -p "$BENCH_OUT" "$BENCH_FRAG"

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
first_line() { "$@" 2>&1 | head -n 1; }

T0=$SECONDS
START=$(date -u '+%Y-%m-%d %H:%M UTC')
declare -A RC DUR LOAD
for p in "${PARTS[@]}"; do
	echo "== ${TITLE[$p]} (bench/$p.sh)"
	t=$SECONDS
	LOAD[$p]="$(loadavg)"
	"$BENCH_DIR/$p.sh"
	RC[$p]=$?
	DUR[$p]=$((SECONDS - t))
	LOAD[$p]="${LOAD[$p]} / $(loadavg)"
	if [ "${RC[$p]}" -eq 0 ]; then
		echo "   ${TITLE[$p]}: done in ${DUR[$p]} s"
	else
		echo "   ${TITLE[$p]}: FAILED (exit ${RC[$p]}) in ${DUR[$p]} s"
	fi
	# Killed by a signal (Ctrl-C reaches the part first): stop here too.
	[ "${RC[$p]}" -ge 129 ] && [ "${RC[$p]}" -le 143 ] &&
		die "interrupted; bench/results/ left as it was"
done
TOTAL=$((SECONDS - T0))

# ---- the report ----

versions() {
	local cpu mem
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
	cat <<EOF
| | |
|---|---|
| machine | $(nproc) CPUs ($cpu), $mem, $(systemd-detect-virt 2>/dev/null || echo "virtualization unknown") |
| OS | Debian $(cat /etc/debian_version) |
| kernel | $(uname -r) ($(uname -v)) |
| conntrack | nf_conntrack_max $(cat /proc/sys/net/netfilter/nf_conntrack_max) at the end of the run, nf_conntrack_buckets $(cat /proc/sys/net/netfilter/nf_conntrack_buckets) |
| ctbypass | $("$ROOT/build/ctbypass" --version 2>&1 | head -n 1); source tree $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown) |
| compiler | $(first_line clang --version) |
| libbpf | $(pkg-config --modversion libbpf 2>/dev/null) ($(first_line bpftool version)) |
| nginx | $(first_line nginx -v) |
| wrk | $(first_line wrk -v | cut -d' ' -f1-2) |
| iptables | $(first_line iptables-nft -V) |
| nftables | $(first_line nft -v) |
| conntrack-tools | $(first_line conntrack --version) |
| gnuplot | $(first_line gnuplot --version) |
EOF
}

report() {
	local p
	echo "# ctbypass benchmarks"
	echo
	echo "Written by \`make bench\` (\`bench/run.sh\`), started $START, took $((TOTAL / 60)) min $((TOTAL % 60)) s."
	echo "Every claim below is a ratio between configurations measured side by side in this one run;"
	echo "absolute numbers are this machine's and only set the scale."
	echo
	echo "## Machine and versions"
	echo
	versions
	echo
	echo "Load average (1, 5, 15 min) before / after each part, as a measure of how busy the"
	echo "machine was with other work:"
	echo
	for p in "${PARTS[@]}"; do
		echo "- ${TITLE[$p]}: ${LOAD[$p]} ($(( DUR[$p] )) s)"
	done
	echo
	echo "## Goals and results"
	echo
	echo "| goal | measured | |"
	echo "|---|---|---|"
	for p in "${PARTS[@]}"; do
		if [ "${RC[$p]}" -ne 0 ]; then
			echo "| ${TITLE[$p]} | not completed (see its section) | **not met** |"
		fi
		[ -s "$BENCH_FRAG/$p.goals" ] &&
			awk -F'|' '{ printf "| %s | %s | %s |\n", $1, $2, $3 }' "$BENCH_FRAG/$p.goals"
	done
	for p in "${PARTS[@]}"; do
		echo
		if [ -s "$BENCH_FRAG/$p.md" ]; then
			cat "$BENCH_FRAG/$p.md"
		else
			echo "## ${TITLE[$p]}"
			echo
			echo "**Not completed:** bench/$p.sh exited with status ${RC[$p]} before writing results."
		fi
	done
	echo
	echo "## Reproducing"
	echo
	echo "\`sudo make bench\` (root: namespaces, nftables, BPF). One part alone: \`sudo bench/run.sh"
	echo "conn_rate\`. Knobs (environment): \`BENCH_REPS\` (repetitions, default 8; part 2: 16),"
	echo "\`BENCH_SECS\` (seconds a wrk run, default 3; part 2: 1), \`BENCH_CONNS\`, \`BENCH_THREADS\`,"
	echo "\`BENCH_PIN=1\` (wrk on CPU 0, nginx on CPU 1), \`BENCH_VM_REPS\` (part 4's repetitions in"
	echo "the VM lab, default twice \`BENCH_REPS\`). Part 2's paired intervals narrow with more"
	echo "repetitions. Every scenario runs in its own network namespaces and removes them,"
	echo "and their rules, at the end or on Ctrl-C; \`nf_conntrack_max\` is never changed."
}

report >"$BENCH_OUT/REPORT.md"
if [ "$RESULTS" != "$BENCH_OUT" ]; then
	mkdir -p "$RESULTS"
	# Only what this run wrote: a stale file from an older layout would mislead.
	rm -f "$RESULTS"/*.csv "$RESULTS"/*.png "$RESULTS"/REPORT.md
	cp "$BENCH_OUT"/* "$RESULTS"/ || die "cannot write $RESULTS"
fi
echo
echo "bench: done in $((TOTAL / 60)) min $((TOTAL % 60)) s; report: ${RESULTS#"$ROOT"/}/REPORT.md"
sed -n '/^## Goals and results/,/^## [0-9]/p' "$RESULTS/REPORT.md" | sed '$d'
failed=0
for p in "${PARTS[@]}"; do
	[ "${RC[$p]}" -eq 0 ] || failed=1
done
exit $failed
