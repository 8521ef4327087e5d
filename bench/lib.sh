# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Shared by the bench/*.sh parts, on top of tests/lib/netns.sh (which owns the
# traps and the lab; add cleanup with lab_on_down):
#
#   bench_init PART            results go to $BENCH_OUT, the report fragment to
#                              $BENCH_FRAG/PART.md, goal lines to PART.goals
#   bench_die WHY              record "not completed: WHY" and exit 1
#   bench_lab                  lab with nginx on port 80 and conntrack OFF in $SRV_NS
#   bench_pair NAME | use_pair NAME   one such lab per configuration, and switching
#   ct_on | ct_off             the lab's conntrack-activating rule in or out
#   srv_reset                  remove every rule and entry from $SRV_NS
#   wrk_run OUT                wrk (Connection: close) from $CLI_NS, raw output to OUT;
#                              prints "conn_per_s requests errors"
#   run_status RC NAME WRK_OUT the verdict on a measured run's subshell
#   ratio A B | median < col   small arithmetic helpers
#   frag TEXT... | goal PART GOAL MEASURED MET
#
# Knobs (environment): BENCH_REPS (8), BENCH_SECS (3), BENCH_CONNS (50),
# BENCH_THREADS (2), BENCH_PIN (0: let the scheduler place wrk and nginx).

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../tests/lib/netns.sh
source "$ROOT/tests/lib/netns.sh"

: "${BENCH_OUT:=$BENCH_DIR/results}"
: "${BENCH_FRAG:=$BENCH_OUT}"
: "${BENCH_REPS:=8}"
: "${BENCH_SECS:=3}"
: "${BENCH_CONNS:=50}"
: "${BENCH_THREADS:=2}"
: "${BENCH_PIN:=0}"
# shellcheck disable=SC2034 # for the parts
HTTPLOAD=$ROOT/build/bench/httpload
# With the port: wrk would look "http" up in /etc/services, which the VM lab has not.
URL=http://$SRV_IP4:80/
BENCH_PART=

bench_init() {
	BENCH_PART=$1
	mkdir -p "$BENCH_OUT" "$BENCH_FRAG" || exit 1
	: >"$BENCH_FRAG/$BENCH_PART.md"
	: >"$BENCH_FRAG/$BENCH_PART.goals"
	require_root
}

frag() {
	printf '%s\n' "$@" >>"$BENCH_FRAG/$BENCH_PART.md"
}

# goal GOAL MEASURED MET: one row of the report's summary table.
goal() {
	printf '%s|%s|%s\n' "$1" "$2" "$3" >>"$BENCH_FRAG/$BENCH_PART.goals"
}

# The library's handlers would add a test summary; a benchmark says what failed.
bench_die() {
	echo "bench/$BENCH_PART: $*" >&2
	frag "" "**Not completed:** $*"
	lab_down
	_CTBT_FINISHED=1
	exit 1
}

bench_done() {
	lab_down || bench_die "cleanup left something behind"
	_CTBT_FINISHED=1
	exit 0
}

# bg_wait OUT CMD...: CMD in the background, waited for, so a signal's trap
# runs at once instead of after a 5-second wrk.
bg_wait() {
	local out=$1
	shift
	"$@" >"$out" 2>&1 &
	lab_track_pid $!
	wait $!
}

ct_on() { lab_conntrack_on "$SRV_NS"; }
ct_off() { in_ns "$SRV_NS" nft delete table inet lab 2>/dev/null; }

# Everything a configuration may have added: ctbypass, nftables tables
# (iptables-nft's too), conntrack entries. Leaves conntrack off.
srv_reset() {
	"$CTBYPASS" -n "$SRV_NS" detach >/dev/null 2>&1
	in_ns "$SRV_NS" nft flush ruleset
	in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
	return 0
}

# With BENCH_PIN=1, nginx gets CPU 1 and wrk CPU 0 (2-core box: they would
# otherwise trade places under the scheduler).
pin_nginx() {
	local pid
	[ "$BENCH_PIN" = 1 ] || return 0
	for pid in $(ip netns pids "$SRV_NS"); do
		taskset -a -cp 1 "$pid" >/dev/null
	done
}

# WRK: the load generator's command line. With BENCH_PIN=1 it runs on CPU 0.
wrk_cmd() {
	WRK=()
	[ "$BENCH_PIN" = 1 ] && WRK=(taskset -c 0)
	# wrk takes a header only as "Name: value", with the space.
	WRK+=(wrk "-t$BENCH_THREADS" "-c$BENCH_CONNS" "-d${BENCH_SECS}s" --timeout 2s
		-H "Connection: close")
}

bench_lab() {
	need_cmd nginx wrk nft conntrack "$CTBYPASS"
	lab_up
	start_nginx "$SRV_NS" 80 || bench_die "nginx did not start"
	pin_nginx
	# lab_up turned conntrack on; the ceiling needs it off, so every config starts from off.
	srv_reset
	curl_ok "$CLI_NS" "$URL" || bench_die "nginx does not answer in the lab"
}

# ---- one lab per configuration ----
#
# On a shared machine the load of others comes and goes within seconds, so
# runs to be compared must follow each other closely. Each configuration gets
# its own pair of namespaces, set up once; runs then go round the pairs with
# nothing to set up in between.

declare -A PAIR_SRV=() PAIR_CLI=()

bench_ns_del() {
	local pids
	pids=$(ip netns pids "$1" 2>/dev/null)
	# shellcheck disable=SC2086
	[ -n "$pids" ] && _ctbt_kill $pids
	ip netns del "$1" 2>/dev/null
}

# bench_pair NAME: a server and a client namespace for NAME, like lab_up's
# (same addresses and devices), nginx on port 80, conntrack off. The first is
# the library's lab; the others are named like it, so a killed run's are reaped.
bench_pair() {
	local name=$1 n=${#PAIR_SRV[@]} s c
	if [ -n "${PAIR_SRV[$name]:-}" ]; then
		use_pair "$name"
		return
	fi
	if [ "$n" -eq 0 ]; then
		bench_lab
		PAIR_SRV[$name]=$SRV_NS
		PAIR_CLI[$name]=$CLI_NS
		return
	fi
	s=ctbt-$$-s$n
	c=ctbt-$$-c$n
	lab_on_down bench_ns_del "$c"
	lab_on_down bench_ns_del "$s"
	{
		ip netns add "$s" && ip netns add "$c" &&
		ip link add "$SRV_DEV" netns "$s" mtu 1500 type veth peer name "$CLI_DEV" netns "$c" \
			mtu 1500 &&
		ip -n "$s" addr add "$SRV_IP4/24" dev "$SRV_DEV" &&
		ip -n "$s" addr add "$SRV_IP6/64" dev "$SRV_DEV" nodad &&
		ip -n "$c" addr add "$CLI_IP4/24" dev "$CLI_DEV" &&
		ip -n "$c" addr add "$CLI_IP6/64" dev "$CLI_DEV" nodad &&
		ip -n "$s" link set lo up && ip -n "$c" link set lo up &&
		ip -n "$s" link set "$SRV_DEV" up && ip -n "$c" link set "$CLI_DEV" up
	} >"$_CTBT_TMP/pair.out" 2>&1 || bench_die "namespaces for $name: $(tr '\n' ' ' <"$_CTBT_TMP/pair.out")"
	PAIR_SRV[$name]=$s
	PAIR_CLI[$name]=$c
	use_pair "$name"
	start_nginx "$s" 80 || bench_die "nginx did not start in $s"
	pin_nginx
	curl_ok "$c" "$URL" || bench_die "nginx does not answer in $s"
}

# use_pair NAME: the library's functions ($SRV_NS, $CLI_NS) now act on NAME's pair.
use_pair() {
	SRV_NS=${PAIR_SRV[$1]}
	CLI_NS=${PAIR_CLI[$1]}
}

# wrk_run OUT: prints "conn_per_s requests errors"; every request is a new
# connection. A run that made no request at all (wrk missing a library, say)
# prints nothing: a zero would read as a measurement.
wrk_run() {
	local out=$1
	wrk_cmd
	bg_wait "$out" in_ns "$CLI_NS" timeout $((BENCH_SECS + 20)) "${WRK[@]}" "$URL"
	if ! grep -q '^Requests/sec:' "$out"; then
		echo "bench/$BENCH_PART: wrk made no requests: $(head -c 300 "$out" | tr '\n' ' ')" >&2
		return 1
	fi
	awk '
		/ requests in / { req = $1 }
		/^Requests\/sec:/ { rps = $2 }
		/Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
		/Non-2xx/ { err += $NF }
		END { printf "%.0f %d %d\n", rps, req, err }' "$out"
}

# A measured run goes in a subshell (so the nf_conntrack_max lock it takes is let
# go at its end) and exits 3 when that lock was not had, 4 when wrk made no
# request; run_status RC NAME WRK_OUT turns that status into the part's verdict.
run_status() {
	case $1 in
	0) ;;
	3) bench_die "nf_conntrack_max stayed lowered by a test for 300 s" ;;
	4) bench_die "$2: wrk made no requests: $(head -c 300 "$3" | tr '\n' ' ')" ;;
	*) bench_die "$2 failed" ;;
	esac
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "nan" }'
}

# median: of the numbers on stdin, one a line.
median() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (!NR) { print "nan"; exit }
		print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# yes/no for "A >= B" with floats.
ge() {
	awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 >= b + 0) ? "met" : "**not met**" }'
}
le() {
	awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 <= b + 0) ? "met" : "**not met**" }'
}

# gnuplot with the report's look; the script on stdin.
plot() {
	gnuplot 2>"$_CTBT_TMP/gnuplot.err" || {
		echo "bench/$BENCH_PART: gnuplot: $(head -c 300 "$_CTBT_TMP/gnuplot.err")" >&2
		return 1
	}
}

# ---- ctbypass watch (parts 4 and 5) ----

WATCH_BACKENDS=(fentry kprobe netlink)
WATCH_OK=()          # the backends that attach here
declare -A WATCH_WHY # why the others do not
WATCH_PID=

# probe_watch: fill WATCH_OK and WATCH_WHY, trying each backend on $SRV_NS.
probe_watch() {
	local b
	WATCH_OK=()
	if ! "$CTBYPASS" watch --help >/dev/null 2>&1; then
		for b in "${WATCH_BACKENDS[@]}"; do
			WATCH_WHY[$b]="this build of ctbypass has no watch command"
		done
		return
	fi
	for b in "${WATCH_BACKENDS[@]}"; do
		if timeout 30 "$CTBYPASS" -n "$SRV_NS" watch --backend "$b" --count 1 --interval 0.2 \
			>/dev/null 2>"$_CTBT_TMP/probe.err"; then
			WATCH_OK+=("$b")
		else
			WATCH_WHY[$b]=$(grep -v "^ctbypass: watch: using" "$_CTBT_TMP/probe.err" |
				tail -n 1 | sed 's/^ctbypass: //')
			: "${WATCH_WHY[$b]:=it failed without a message}"
		fi
	done
}

# watch_on BACKEND OUT: `watch --json` on $SRV_NS in the background, returning
# once it has attached; WATCH_PID is the ctbypass process.
watch_on() {
	(_ctbt_spawn "$CTBYPASS" -n "$SRV_NS" watch --json --interval 1 --backend "$1") \
		>"$2" 2>"$2.err" &
	WATCH_PID=$!
	lab_track_pid "$WATCH_PID"
	wait_until 30 grep -q "using the .* backend" "$2.err"
}

# watch_off: SIGINT, so it prints the interval under way and detaches.
watch_off() {
	[ -n "$WATCH_PID" ] || return 0
	kill -INT "$WATCH_PID" 2>/dev/null
	wait "$WATCH_PID" 2>/dev/null
	WATCH_PID=
}
