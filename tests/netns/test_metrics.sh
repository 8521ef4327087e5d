#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The daemon's Prometheus metrics, scraped by a real Prometheus (Debian's,
# started here in the server namespace with a 1 s scrape interval):
# - /metrics passes `promtool check metrics`; only GET/HEAD of /metrics and /;
# - bypassed packets per port agree with `status --json`;
# - a flushed ruleset shows as a repair; a refused reload as reload_success 0;
# - while the namespace's table overflows, the difference of
#   ctbypass_conntrack_drops_total between two raw samples (read through
#   Prometheus's HTTP API) equals the kernel's drop counter difference over the
#   same moments, and ctbypass_conntrack_entries follows nf_conntrack_count;
# - a malformed request, a 100 KB URL, a slow client and 1,000 concurrent
#   connections leave the daemon serving, its RSS bounded;
# - `ctbypass metrics --output` is read by node_exporter's textfile collector;
# - bad input: one line, exit 2; a port in use: exit 1, nothing changed.
# Host only (the VM lab carries no Prometheus); the fentry and kprobe inserts
# are tests/vm/test_metrics_probes.sh.

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/netns.sh
# shellcheck source=../lib/netns.sh
source "$LIB"

require_root
need_cmd curl nginx nft python3 prometheus promtool prometheus-node-exporter "$CTBYPASS" \
	"$CTFILL" "$TRAFFICGEN"

CLIENTS=$CTBT_ROOT/tests/tools/metrics_clients.py
CONF=$_CTBT_TMP/ctbypass.conf
MADDR=127.0.0.1
MPORT=10127
PROM_PORT=9090
DPID=
LOG=
ctb() { "$CTBYPASS" -n "$SRV_NS" "$@"; }
scrape() { in_ns "$SRV_NS" curl -sf --noproxy '*' --max-time 3 "http://$MADDR:$MPORT/metrics"; }
# metric NAME_WITH_LABELS: its value in a fresh scrape (empty if absent).
metric() { scrape | awk -v m="$1" '$1 == m { print $2 }'; }
port_taken() { [ -n "$(in_ns "$SRV_NS" ss -ltnH "sport = :$MPORT")" ]; }
metric_is() { [ "$(metric "$1")" = "$2" ]; }
clients() { in_ns "$SRV_NS" python3 "$CLIENTS" "$@"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$DPID/status"; }

daemon_start() {
	LOG=$(mktemp "$_CTBT_TMP/daemon.XXXXXX")
	(_ctbt_spawn "$CTBYPASS" -n "$SRV_NS" daemon --config "$CONF" "$@") >"$LOG" 2>&1 &
	DPID=$!
	lab_track_pid "$DPID"
	wait_until 10 grep -q "running (pid $DPID)" "$LOG"
}

daemon_stop() {
	_ctbt_kill "$DPID"
	DPID=
}

# sample_after T: waits until the daemon's published sample was taken after T (Unix time).
sample_after() {
	local t=$1 deadline=$((SECONDS + 10)) ts
	while [ $SECONDS -lt $deadline ]; do
		ts=$(metric ctbypass_sample_timestamp_seconds)
		[ -n "$ts" ] && python3 -c "import sys; sys.exit(0 if float('$ts') > $t else 1)" && return 0
		sleep 0.2
	done
	return 1
}

test_serve() {
	local out json port80 after
	# The metrics and Prometheus's API bypassed too: new connections to them get
	# through while the table is full (README.md "Metrics" recommends it).
	printf 'ports = 80,%s,%s\nmetrics-interval = 0.5\n' $MPORT $PROM_PORT >"$CONF"
	start_nginx "$SRV_NS" 80
	check "the daemon starts with metrics on $MADDR:$MPORT" daemon_start
	check "it logs where it serves" grep -q "serving metrics on http://$MADDR:$MPORT/metrics" "$LOG"
	check "GET /metrics answers" wait_until 5 scrape
	out=$(scrape | promtool check metrics 2>&1)
	check_eq "promtool check metrics reports nothing" "" "$out"
	check_eq "attached" 1 "$(metric ctbypass_attached)"
	check_eq "healthy" 1 "$(metric ctbypass_healthy)"
	check_eq "no interface uncovered" 0 "$(metric ctbypass_interfaces_uncovered)"
	check_eq "the limit is nf_conntrack_max" "$(cat /proc/sys/net/netfilter/nf_conntrack_max)" \
		"$(metric ctbypass_conntrack_entries_limit)"
	check_eq "the first apply counts as not_attached" 1 \
		"$(metric 'ctbypass_repairs_total{reason="not_attached"}')"
	check_eq "reload success before any reload" 1 "$(metric ctbypass_config_reload_success)"
	check "one backend is named" grep -Eqx 'ctbypass_telemetry_backend_info\{backend="(stats|fentry|kprobe)"\} 1' \
		<<<"$(scrape)"
	check "build_info carries the version" grep -qx \
		"ctbypass_build_info{version=\"$("$CTBYPASS" --version | awk '{print $2}')\"} 1" <<<"$(scrape)"

	check_eq "10 requests to port 80" 10 "$(curl_many "$CLI_NS" "http://$SRV_IP4/" 10)"
	after=$(date +%s.%N)
	check "a sample after the requests" sample_after "$after"
	json=$(ctb status --json)
	port80=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(p["packets"] for p in d["counters"]["classifier"]["ports"] if p["port"] == 80))' <<<"$json")
	check_ge "port 80's arrivals counted (4 a request at least)" 40 "$port80"
	check_eq "bypassed packets of port 80 agree with status --json" "$port80" \
		"$(metric 'ctbypass_bypassed_packets_total{protocol="tcp",port="80"}')"
	check "bytes too" test -n "$(metric 'ctbypass_bypassed_bytes_total{protocol="tcp",port="80"}')"
	out=$(scrape)
	if grep -q 'backend="stats"} 1' <<<"$out"; then
		check_not "without probes the inserts metric is absent, not 0" \
			grep -q '^ctbypass_conntrack_inserts_total' <<<"$out"
	else
		check "with probes the inserts metric is there" \
			grep -q '^ctbypass_conntrack_inserts_total' <<<"$out"
	fi

	check_eq "GET / is 200" "status=200" "$(clients get $MADDR $MPORT / | cut -d' ' -f1)"
	check "/ links to /metrics" grep -q 'href="/metrics"' \
		<<<"$(in_ns "$SRV_NS" curl -s "http://$MADDR:$MPORT/")"
	check_eq "another path is 404" "status=404" "$(clients get $MADDR $MPORT /debug | cut -d' ' -f1)"
	check_eq "POST is 405" "status=405" "$(clients get $MADDR $MPORT /metrics POST | cut -d' ' -f1)"
	check_eq "HEAD is 200 with no body" "status=200 bytes=0" "$(clients get $MADDR $MPORT /metrics HEAD)"
	check_eq "the content type is Prometheus text 0.0.4" "text/plain; version=0.0.4; charset=utf-8" \
		"$(in_ns "$SRV_NS" curl -s -o /dev/null -w '%{content_type}' "http://$MADDR:$MPORT/metrics")"
}

test_repairs_and_reload() {
	local before config
	before=$(metric 'ctbypass_repairs_total{reason="table_missing"}')
	config=$(metric 'ctbypass_repairs_total{reason="configuration"}')
	in_ns "$SRV_NS" nft flush ruleset
	lab_conntrack_on "$SRV_NS"
	check "a flushed ruleset is counted as a table_missing repair" wait_until 5 \
		metric_is 'ctbypass_repairs_total{reason="table_missing"}' $((before + 1))
	check_eq "and not as a configuration repair" "$config" \
		"$(metric 'ctbypass_repairs_total{reason="configuration"}')"
	check "healthy again" wait_until 5 metric_is ctbypass_healthy 1
	printf 'ports = 80,%s,%s\nmetrics-interval = 0.5\nmark = 010\n' $MPORT $PROM_PORT >"$CONF"
	kill -HUP "$DPID"
	check "a refused reload: reload_success 0" wait_until 5 \
		metric_is ctbypass_config_reload_success 0
	printf 'ports = 80,%s,%s\nmetrics-interval = 0.5\n' $MPORT $PROM_PORT >"$CONF"
	kill -HUP "$DPID"
	check "a good reload: reload_success 1" wait_until 5 \
		metric_is ctbypass_config_reload_success 1
}

# ---- a real Prometheus ----

prom_start() {
	local dir=$_CTBT_TMP/prom
	mkdir -p "$dir/data"
	cat >"$dir/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: ctbypass
    static_configs:
      - targets: ['$MADDR:$MPORT']
EOF
	lab_bg "$SRV_NS" prometheus --config.file="$dir/prometheus.yml" \
		--storage.tsdb.path="$dir/data" --web.listen-address="127.0.0.1:$PROM_PORT" \
		--log.level=warn
	wait_until 30 in_ns "$SRV_NS" curl -sf "http://127.0.0.1:$PROM_PORT/-/ready"
}

# prom EXPR [TIME]: the API's result for an instant query, as "value" (a vector's
# first sample) or "ts=value ts=value" (a range vector's raw samples).
prom() {
	in_ns "$SRV_NS" curl -s --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/query" \
		--data-urlencode "query=$1" ${2:+--data-urlencode "time=$2"} 2>/dev/null |
		python3 2>/dev/null -c '
import json, sys
d = json.load(sys.stdin)["data"]
r = d["result"]
if not r:
    sys.exit(1)
if d["resultType"] == "matrix":
    print(" ".join(f"{ts}={v}" for ts, v in r[0]["values"]))
else:
    print(r[0]["value"][1])'
}

# prom_sample_after T: prints Prometheus's evaluation time at which the latest
# scraped sample was taken by the daemon after T (waits up to 15 s).
prom_is() { [ "$(prom "$1")" = "$2" ]; }

prom_sample_after() {
	local t=$1 deadline=$((SECONDS + 15)) now ts
	while [ $SECONDS -lt $deadline ]; do
		now=$(date +%s.%N)
		ts=$(prom ctbypass_sample_timestamp_seconds "$now")
		if [ -n "$ts" ] && python3 -c "import sys; sys.exit(0 if float('$ts') > $t else 1)"; then
			echo "$now"
			return 0
		fi
		sleep 0.3
	done
	return 1
}

test_prometheus_overflow() {
	local max t0 t1 at0 at1 d0 d1 s0 s1 raw n count entries
	check "Prometheus starts (1 s scrape interval)" prom_start || return
	check "Prometheus scrapes the daemon: up is 1" wait_until 15 prom_is 'up{job="ctbypass"}' 1

	# Quiet before: no drop happens between reading the kernel and the sample.
	check "hold_ct_max" hold_ct_max || return
	in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
	t0=$(date +%s.%N)
	d0=$(ct_stat "$SRV_NS" drop)
	at0=$(prom_sample_after "$t0")
	check "Prometheus has a sample taken after the kernel was read" test -n "$at0"
	s0=$(prom ctbypass_conntrack_drops_total "$at0")
	check_eq "no drop meanwhile" "$d0" "$(ct_stat "$SRV_NS" drop)"
	check_eq "the first sample equals the kernel's drop counter" "$d0" "$s0"

	# Overflow: a table full of ASSURED entries, then new connections, all dropped.
	max=$(($(ct_max_floor) + 500))
	check "lower_ct_max $max" lower_ct_max "$max" || return
	n=$(ct_fill "$SRV_NS" $((max + 1)) --dport 443)
	check "the table is full" test "$(ct_count "$SRV_NS")" -ge $((max - 5))
	tg "$CLI_NS" connect --proto tcp --to "$SRV_IP4" --port 8080 --count 60 --timeout-ms 100 \
		>/dev/null 2>&1
	count=$(ct_count "$SRV_NS")
	t1=$(date +%s.%N)
	at1=$(prom_sample_after "$t1")
	check "a sample of the full table" test -n "$at1"
	entries=$(prom ctbypass_conntrack_entries "$at1")
	check "entries follow nf_conntrack_count within 1 % + 5 ($entries vs $count)" python3 -c \
		"import sys; sys.exit(0 if abs(float('$entries') - $count) <= 5 + $count / 100 else 1)"
	check "the entries limit is the lowered max" test "$(prom ctbypass_conntrack_entries_limit "$at1")" = "$max"

	# Quiet after: the table emptied, no new drop.
	in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
	_ctbt_restore_ct_max
	t1=$(date +%s.%N)
	d1=$(ct_stat "$SRV_NS" drop)
	at1=$(prom_sample_after "$t1")
	check "Prometheus has a sample after the overflow" test -n "$at1"
	s1=$(prom ctbypass_conntrack_drops_total "$at1")
	check_eq "no drop meanwhile (after)" "$d1" "$(ct_stat "$SRV_NS" drop)"
	check_ge "the overflow dropped packets" $((d0 + 30)) "$d1"
	check_eq "metric difference between the samples = the kernel's ($((d1 - d0)))" \
		$((d1 - d0)) $((s1 - s0))
	raw=$(prom "ctbypass_conntrack_drops_total[2m]" "$at1")
	check "raw samples through the API rise monotonically" python3 -c "
vals = [float(x.split('=')[1]) for x in '$raw'.split()]
import sys
sys.exit(0 if len(vals) > 5 and all(a <= b for a, b in zip(vals, vals[1:])) and vals[-1] == $s1 else 1)"
	check "early drops are exposed" prom ctbypass_conntrack_early_drops_total "$at1"
	check "insert_failed is exposed" prom ctbypass_conntrack_insert_failed_total "$at1"
	echo "  overflow: $((d1 - d0)) drops; entries $entries vs nf_conntrack_count $count"
}

# ---- hostile clients ----

test_hostile_clients() {
	local rss0 rss1 out errors
	rss0=$(rss_kb)
	errors=$(grep -c '^<[0-3]>' "$LOG")
	printf 'GARBAGE\r\n\r\n' >"$_CTBT_TMP/garbage"
	out=$(clients raw $MADDR $MPORT "$_CTBT_TMP/garbage")
	check "a malformed request: refused with 400, or closed" grep -Eq '^status=(0|400)$' <<<"$out"
	python3 -c "import sys; sys.stdout.write('GET /' + 'a' * 100000 + ' HTTP/1.1\r\nHost: x\r\n\r\n')" \
		>"$_CTBT_TMP/long"
	out=$(clients raw $MADDR $MPORT "$_CTBT_TMP/long")
	check "a 100 KB URL: refused with 4xx, or closed" grep -Eq '^status=(0|4[0-9][0-9])$' <<<"$out"
	check "still serving after both" scrape
	out=$(clients slow $MADDR $MPORT 12 &
		sleep 1; scrape >/dev/null && echo served; wait)
	check "a slow client does not block a scrape" grep -q served <<<"$out"
	check "the slow client is closed by the 5 s timeout" grep -Eq '^closed_after=[4-9]' <<<"$out"
	out=$(clients flood $MADDR $MPORT 1000 3)
	check_eq "1,000 concurrent connections opened" "opened=1000" "$out"
	check "serving after the flood, within 2 s" wait_until 2 scrape
	check "the daemon is still running" kill -0 "$DPID"
	rss1=$(rss_kb)
	echo "  daemon RSS: $rss0 kB before the hostile clients, $rss1 kB after"
	check "RSS grew by less than 4 MB" test $((rss1 - rss0)) -lt 4096
	check_eq "the daemon logged no error meanwhile" "$errors" "$(grep -c '^<[0-3]>' "$LOG")"
}

# ---- node_exporter's textfile collector ----

test_textfile() {
	local dir=$_CTBT_TMP/textfile out limit
	mkdir -p "$dir"
	check "metrics --output writes the file" ctb metrics --output "$dir/ctbypass.prom"
	check_eq "and no temporary file stays" "ctbypass.prom" "$(ls -A "$dir")"
	check "the file passes promtool" bash -c "promtool check metrics <'$dir/ctbypass.prom'"
	check_not "metrics (stdout) has no daemon-only families" \
		grep -q 'ctbypass_repairs_total\|ctbypass_config_reload_success' <<<"$(ctb metrics)"
	lab_bg "$SRV_NS" prometheus-node-exporter --collector.disable-defaults --collector.textfile \
		--collector.textfile.directory="$dir" --web.listen-address=127.0.0.1:9100
	check "node_exporter listens" wait_until 10 in_ns "$SRV_NS" curl -sf http://127.0.0.1:9100/metrics
	out=$(in_ns "$SRV_NS" curl -s http://127.0.0.1:9100/metrics)
	limit=$(cat /proc/sys/net/netfilter/nf_conntrack_max)
	check "node_exporter reads the file without error" grep -qx 'node_textfile_scrape_error 0' <<<"$out"
	check "node_exporter exposes ctbypass_conntrack_entries_limit" \
		grep -qx "ctbypass_conntrack_entries_limit $limit" <<<"$out"
	check "and ctbypass_attached" grep -qx "ctbypass_attached 1" <<<"$out"
}

# ---- errors ----

test_errors() {
	local out rc
	out=$("$CTBYPASS" daemon --config /dev/null --check-config --metrics-address 1.2.3.4 2>&1)
	rc=$?
	check_eq "a metrics address without port: exit 2" 2 "$rc"
	check "in one line" test "$(wc -l <<<"$out")" -eq 1
	"$CTBYPASS" daemon --config /dev/null --check-config --metrics-interval 0 >/dev/null 2>&1
	check_eq "metrics-interval 0: exit 2" 2 "$?"
	"$CTBYPASS" daemon --config /dev/null --check-config --telemetry ebpf >/dev/null 2>&1
	check_eq "an unknown telemetry: exit 2" 2 "$?"
	check "metrics-address = off is valid" bash -c \
		"'$CTBYPASS' daemon --config /dev/null --check-config --metrics-address off | grep -qx 'metrics-address = off'"
	ctb metrics extra >/dev/null 2>&1
	check_eq "metrics with an extra argument: exit 2" 2 "$?"
	out=$(ctb metrics --output /nonexistent-dir/x.prom 2>&1)
	rc=$?
	check_eq "an unwritable --output: exit 1" 1 "$rc"
	check "in one line" test "$(wc -l <<<"$out")" -eq 1

	# The port is taken (by the running daemon's namespace twin: a listener here).
	daemon_stop
	ctb detach >/dev/null 2>&1
	lab_bg "$SRV_NS" python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('$MADDR', $MPORT)); s.listen(); time.sleep(60)"
	check "a listener holds the port" wait_until 5 port_taken
	out=$(timeout 10 "$CTBYPASS" -n "$SRV_NS" daemon --config "$CONF" 2>&1)
	rc=$?
	check_eq "a metrics port in use: exit 1" 1 "$rc"
	check_eq "in one line naming the address" \
		"ctbypass: cannot serve metrics on $MADDR:$MPORT: Address already in use" "$out"
	check_not "and nothing was attached" in_ns "$SRV_NS" nft list table inet ctbypass
}

# "[::]:PORT" listens on IPv4 as well; a watch-only daemon serves too.
test_dual_stack() {
	local pid
	printf '# watching only\n' >"$_CTBT_TMP/watch.conf"
	(_ctbt_spawn "$CTBYPASS" -n "$SRV_NS" daemon --config "$_CTBT_TMP/watch.conf" \
		--metrics-address '[::]:10128' --telemetry stats) >"$_CTBT_TMP/watch.log" 2>&1 &
	pid=$!
	lab_track_pid "$pid"
	check "[::]:10128: a watch-only daemon serves over IPv6" wait_until 10 \
		in_ns "$SRV_NS" curl -sf -o /dev/null 'http://[::1]:10128/metrics'
	check "[::]:10128: and over IPv4" \
		in_ns "$SRV_NS" curl -sf -o /dev/null 'http://127.0.0.1:10128/metrics'
	_ctbt_kill "$pid"
}

lab_up
start_trafficgen "$SRV_NS" --proto tcp --port 8080 || fail "trafficgen" "did not start"
test_serve
test_repairs_and_reload
test_prometheus_overflow
test_hostile_clients
test_textfile
test_dual_stack
test_errors
lab_down
finish
