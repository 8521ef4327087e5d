#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The README's `scripts/make demo`: a web server whose conntrack table is full,
# fixed with one ctbypass command. Two namespaces joined by veth (nginx in one,
# curl and wrk in the other); the server namespace's table is filled to the
# host's nf_conntrack_max, which is left unchanged. No traffic leaves the lab.
# Exit 0 if the story held, 1 with a one-line reason if not.
set -u
export LC_ALL=C # numbers we parse and print use '.'

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CURLS=10 # requests per phase
CURL_SECS=1 # each gives up after this
WRK_SECS=3
WRK_CONNS=20

if [ -t 1 ]; then
	B=$'\e[1m' DIM=$'\e[2m' GRN=$'\e[32m' RED=$'\e[31m' RST=$'\e[0m'
else
	B='' DIM='' GRN='' RED='' RST=''
fi

die() {
	echo "${RED}demo: $*${RST}" >&2
	exit 1
}

# Checked before the library loads, so a missing piece is one line.
[ "$(id -u)" -eq 0 ] || die "must run as root (scripts/make demo as root)"
for c in ip ss nft conntrack nginx curl wrk flock timeout "$ROOT/build/ctbypass" \
	"$ROOT/build/tools/ctfill"; do
	command -v "$c" >/dev/null 2>&1 || die "$c not found (run scripts/make demo as root)"
done

# shellcheck source-path=SCRIPTDIR source=../tests/lib/netns.sh
source "$ROOT/tests/lib/netns.sh"

DEMO_PID=$BASHPID
T0=$SECONDS
MAX_FILE=/proc/sys/net/netfilter/nf_conntrack_max
URL=http://$SRV_IP4/

# ---- output ----

step() { printf '\n%s%s%s\n' "$B" "$*" "$RST"; }
say() { printf '   %s\n' "$*"; }
good() { printf '   %s%s%s\n' "$GRN" "$*" "$RST"; }
bad() { printf '   %s%s%s\n' "$RED" "$*" "$RST"; }
indent() { sed 's/^/     /'; }
# show_cmd CMD...: print a command as an operator would type it.
show_cmd() { printf '   %s$ %s%s\n' "$DIM" "$*" "$RST"; }

# ---- lifetime ----

# The library's handlers would close with a test summary ("0 passed, 1
# failed"); a demo says what happened instead. Teardown is still lab_down.
# shellcheck disable=SC2317 # called from traps
on_signal() {
	[ "$BASHPID" = "$DEMO_PID" ] || exit "$2"
	trap '' INT TERM HUP
	printf '\n%sdemo: interrupted (SIG%s), cleaning up%s\n' "$RED" "$1" "$RST" >&2
	lab_down
	_CTBT_FINISHED=1 # no test summary from the library's EXIT trap
	exit "$2"
}

# end RC MESSAGE: tear down and exit; the message is the demo's last line.
end() {
	local rc=$1 msg=$2
	if ! lab_down; then
		rc=1
		msg="cleanup left something behind (see above)"
	fi
	_CTBT_FINISHED=1
	if [ "$rc" -eq 0 ]; then
		printf '\n%s%s%s\n' "$GRN" "$msg" "$RST"
	else
		printf '\n%sdemo: %s%s\n' "$RED" "$msg" "$RST" >&2
	fi
	exit "$rc"
}

# bg_wait OUT CMD...: run CMD with output to OUT and wait for it. In the
# background because bash runs a signal's trap only after a foreground
# command ends, and `wait` is interrupted at once.
bg_wait() {
	local out=$1
	shift
	"$@" >"$out" 2>&1 &
	lab_track_pid $!
	wait $!
}

# ---- measurements ----

since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

drops() { ct_stat "$SRV_NS" drop; }
port80() { ct_entries "$SRV_NS" -p tcp --orig-port-dst 80; }
fill() { echo "$(ct_count "$SRV_NS")/$(cat "$MAX_FILE")"; }
# The kernel's "table full" lines for the lab's namespace (newer kernels name
# it by inode; older ones name none, so those lines may be another's).
table_full_log() {
	local ino
	ino=$(in_ns "$SRV_NS" stat -L -c %i /proc/self/ns/net)
	dmesg 2>/dev/null | grep 'table full' | grep -E "in netns $ino,|full, dropping"
}

# curl_phase: $CURLS requests in a row; sets C_OK.
curl_phase() {
	local out=$TMPD/curl.out
	show_cmd "curl --max-time $CURL_SECS $URL    ($CURLS times)"
	CURL_MAX_TIME=$CURL_SECS bg_wait "$out" curl_many "$CLI_NS" "$URL" "$CURLS"
	C_OK=$(tail -n 1 "$out")
	[[ "$C_OK" =~ ^[0-9]+$ ]] || C_OK=0
	if [ "$C_OK" -eq "$CURLS" ]; then
		good "$C_OK of $CURLS answered"
	else
		bad "$C_OK of $CURLS answered, $((CURLS - C_OK)) timed out after $CURL_SECS s"
	fi
}

# wrk_phase: wrk for $WRK_SECS s, every request on a new connection as a
# flash sale's new visitors would be; sets W_REQS, W_RPS, W_ERRS.
wrk_phase() {
	local out=$TMPD/wrk.out
	show_cmd "wrk -t2 -c$WRK_CONNS -d${WRK_SECS}s --timeout 1s -H 'Connection: close' $URL"
	bg_wait "$out" in_ns "$CLI_NS" timeout $((WRK_SECS + 10)) \
		wrk -t2 -c"$WRK_CONNS" -d"${WRK_SECS}s" --timeout 1s -H 'Connection: close' "$URL"
	W_REQS=$(awk '/ requests in / { print $1 }' "$out")
	W_RPS=$(awk '/^Requests\/sec:/ { printf "%d", $2 }' "$out")
	W_ERRS=$(grep -E 'Socket errors|Non-2xx|unable to connect' "$out" | sed 's/^ *//' |
		paste -sd ';')
	: "${W_REQS:=0}" "${W_RPS:=0}"
	# wrk opens one connection before it starts: no answer, no benchmark.
	if grep -q 'unable to connect' "$out"; then
		bad "wrk gave up before starting: $W_ERRS"
	elif [ -n "$W_ERRS" ]; then
		bad "$W_REQS requests in $WRK_SECS s ($W_RPS/s); $W_ERRS"
	elif [ "$W_REQS" -gt 0 ]; then
		good "$W_REQS requests in $WRK_SECS s ($W_RPS/s), no errors"
	else
		W_ERRS="no result from wrk: $(head -c 200 "$out" | tr '\n' ' ')"
		bad "$W_ERRS"
	fi
}

# phase NAME: curl and wrk, then record column NAME of the final table.
declare -A OK FAILED RPS WERR DROPS PORT80 FILL
phase() {
	local d0
	d0=$(drops)
	curl_phase
	wrk_phase
	OK[$1]=$C_OK
	FAILED[$1]=$((CURLS - C_OK))
	RPS[$1]=$W_RPS
	WERR[$1]=$W_ERRS
	DROPS[$1]=$(($(drops) - d0))
	PORT80[$1]=$(port80)
	FILL[$1]=$(fill)
}

# ---- the story ----

echo "${B}ctbypass demo: a web server whose conntrack table is full, and the one-command fix${RST}"

# After every library call that installs its traps (lab_up, hold_ct_max).
own_traps() {
	trap 'on_signal INT 130' INT
	trap 'on_signal TERM 143' TERM
	trap 'on_signal HUP 129' HUP
}

lab_up
own_traps
TMPD=$(mktemp -d /tmp/ctbypass-demo.XXXXXX) || end 1 "mktemp failed"
lab_on_down rm -rf "$TMPD"
start_nginx "$SRV_NS" 80 8080 || end 1 "nginx did not start in $SRV_NS"
# Impatient clients keep the demo short: a connect gives up after 3 s (SYN
# and one retry) instead of 2 minutes. This namespace's setting only.
in_ns "$CLI_NS" sysctl -qw net.ipv4.tcp_syn_retries=1 || end 1 "cannot set tcp_syn_retries"
say "lab: namespace $SRV_NS runs nginx on $SRV_IP4 ports 80 and 8080, with conntrack on;"
say "     namespace $CLI_NS runs the clients (curl waits 1 s, a connect gives up after 3 s);"
say "     a veth pair joins them, and no traffic leaves them."

# Tests lower the global max under this lock. Holding it keeps the max the
# host's own while we fill to it, and keeps tests from lowering it under a
# namespace with that many entries.
if ! hold_ct_max 0; then
	say "waiting (up to 2 minutes) for a test that has lowered nf_conntrack_max ..."
	hold_ct_max 120 ||
		end 1 "a test kept nf_conntrack_max lowered for 2 minutes; run the demo again later"
fi
own_traps
HOST_MAX=$(cat "$MAX_FILE")
say "the host's nf_conntrack_max is $HOST_MAX (global); the entry count is per namespace."

step "1. A normal day: clients reach nginx on port 80"
phase normal
say "every connection went through conntrack (drops: ${DROPS[normal]}); the table holds ${PORT80[normal]}"
say "entries for port 80, as closed connections stay there 2 minutes in TIME_WAIT."

step "2. The flash sale: the lab's conntrack table fills up"
# TIME_WAIT entries like the ones just made are early-dropped to make room in a
# full table; ESTABLISHED ones are not, so only those keep it full.
in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
say "emptied the lab's table of those entries: in a full table the kernel evicts closing"
say "connections (TIME_WAIT) to make room, but never established ones."
N=$((HOST_MAX - $(ct_count "$SRV_NS")))
show_cmd "build/tools/ctfill -n $SRV_NS --count $N --dport 443"
t=$EPOCHREALTIME
"$CTFILL" -n "$SRV_NS" --count "$N" --dport 443 --timeout 600 >"$TMPD/fill.out" 2>"$TMPD/fill.err" &
pid=$!
lab_track_pid $pid
while kill -0 $pid 2>/dev/null; do
	[ -t 1 ] && printf '\r   %s of %s entries ...' "$(ct_count "$SRV_NS")" "$N"
	sleep 0.3
done
wait $pid
fill_rc=$?
[ -t 1 ] && printf '\r\e[K'
COUNT=$(ct_count "$SRV_NS")
# Exit 1 only means the table filled before the count did.
say "ctfill: $(cat "$TMPD/fill.out") in $(since "$t") s$([ $fill_rc -eq 1 ] && echo ", then the table was full (exit 1)")"
if [ "$COUNT" -lt "$HOST_MAX" ]; then
	sed 's/^/   /' "$TMPD/fill.err"
	end 1 "could not fill the table: $COUNT of $HOST_MAX entries"
fi
good "filled the lab's conntrack table with $COUNT established entries, as a flash sale's other clients would"
say "table: $(fill) (this namespace's count / the host's max)"

step "3. Real clients now fail"
dmesg_before=$(table_full_log | wc -l)
phase full
say "conntrack drops during this phase: ${DROPS[full]}; entries for port 80: ${PORT80[full]}"
if [ "$(table_full_log | wc -l)" -gt "$dmesg_before" ]; then
	line=$(table_full_log | tail -n 1)
	say "kernel log: ${line#*] }"
else
	say "kernel log: no new 'table full' line (the kernel rate-limits it)"
fi

step "4. The fix: one command"
show_cmd "ctbypass -n $SRV_NS attach --ports 80"
"$CTBYPASS" -n "$SRV_NS" attach --ports 80 2>&1 | indent
[ "${PIPESTATUS[0]}" -eq 0 ] || end 1 "ctbypass attach failed"
phase after
say "conntrack drops during this phase: ${DROPS[after]}; entries for port 80: ${PORT80[after]}; table: ${FILL[after]}"
show_cmd "curl --max-time $CURL_SECS http://$SRV_IP4:8080/"
if [ "$(CURL_MAX_TIME=$CURL_SECS curl_many "$CLI_NS" "http://$SRV_IP4:8080/" 1)" = 1 ]; then
	bad "answered: port 8080 should still be tracked, and fail"
else
	say "timed out: port 8080 was not bypassed, so it still goes through the full table"
fi
show_cmd "ctbypass -n $SRV_NS status"
"$CTBYPASS" -n "$SRV_NS" status 2>&1 | indent

step "5. Before and after"
rps() {
	case "${WERR[$1]}" in
	"") echo "${RPS[$1]}" ;;
	*"unable to connect"*) echo "0 (no connection)" ;;
	*) echo "${RPS[$1]} (errors)" ;;
	esac
}
row() { printf '   %-24s %-18s %-18s %s\n' "$@"; }
row "" "normal day" "table full" "table full + ctbypass"
row "curl answered / failed" "${OK[normal]} / ${FAILED[normal]}" "${OK[full]} / ${FAILED[full]}" \
	"${OK[after]} / ${FAILED[after]}"
row "wrk requests/s" "$(rps normal)" "$(rps full)" "$(rps after)"
row "conntrack drops" "${DROPS[normal]}" "${DROPS[full]}" "${DROPS[after]}"
row "entries for port 80" "${PORT80[normal]}" "${PORT80[full]}" "${PORT80[after]}"
row "table count/max" "${FILL[normal]}" "${FILL[full]}" "${FILL[after]}"
for p in normal full after; do
	[ -n "${WERR[$p]}" ] && say "wrk errors, $p: ${WERR[$p]}"
done

step "6. Detach and clean up"
show_cmd "ctbypass -n $SRV_NS detach"
"$CTBYPASS" -n "$SRV_NS" detach 2>&1 | indent
[ "${PIPESTATUS[0]}" -eq 0 ] || end 1 "ctbypass detach failed"
show_cmd "ctbypass -n $SRV_NS status"
"$CTBYPASS" -n "$SRV_NS" status 2>&1 | indent

# The story: failures and drops before, none after, nothing tracked for port 80.
reason=
if [ "${FAILED[full]}" -eq 0 ]; then
	reason="with the table full, no request failed"
elif [ "${DROPS[full]}" -eq 0 ]; then
	reason="with the table full, the conntrack drop counter did not rise"
elif [ "${FAILED[after]}" -ne 0 ]; then
	reason="with ctbypass attached, ${FAILED[after]} of $CURLS requests still failed"
elif [ -n "${WERR[after]}" ] || [ "${RPS[after]}" -eq 0 ]; then
	reason="with ctbypass attached, wrk got ${RPS[after]} requests/s${WERR[after]:+ (${WERR[after]})}"
elif [ "${DROPS[after]}" -ne 0 ]; then
	reason="with ctbypass attached, conntrack still dropped ${DROPS[after]} packets"
elif [ "${PORT80[after]}" -ne 0 ]; then
	reason="with ctbypass attached, port 80 left ${PORT80[after]} conntrack entries"
fi

# Checked before lab_down releases the lock: afterwards a test may lower it.
[ "$(cat "$MAX_FILE")" = "$HOST_MAX" ] ||
	end 1 "nf_conntrack_max is $(cat "$MAX_FILE"), was $HOST_MAX"
lab_down || end 1 "cleanup left something behind (see above)"
say "removed the namespaces, nginx and the clients"
say "the host's nf_conntrack_max is still $HOST_MAX"
[ -z "$reason" ] || end 1 "$reason"
end 0 "demo done in $((SECONDS - T0)) s: with the table full ${FAILED[full]} of $CURLS requests failed, with ctbypass none"
