// SPDX-License-Identifier: GPL-2.0
/*
 * Metrics: the text exposition (exact lines, absent parts, families once,
 * series limits, promtool's own check), the --metrics-address parser, and the
 * /metrics server fed connections over socketpairs, so no network is needed.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "metrics.h"
#include "metrics_http.h"
#include "upstream.h"

#define PROMTOOL "/usr/bin/promtool"
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define REPLY_TIMEOUT_MS 5000 /* MHD's own idle timeout: a reply later than this is a hang */

/* ---- The exposition ------------------------------------------------------------------- */

static char *render(const struct ctb_metrics_sample *s)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(ctb_metrics_write(f, s), 0);
	assert_int_equal(fclose(f), 0);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	return text;
}

/* The line of TEXT that starts with PREFIX (without its newline, in a static buffer), or NULL. */
static const char *line_starting(const char *text, const char *prefix)
{
	static char line[512];
	size_t n = strlen(prefix);

	for (const char *p = text; *p;) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len >= n && !strncmp(p, prefix, n)) {
			assert_true(len < sizeof(line));
			memcpy(line, p, len);
			line[len] = '\0';
			return line;
		}
		p += len + (end != NULL);
	}
	return NULL;
}

static size_t count_starting(const char *text, const char *prefix)
{
	size_t n = strlen(prefix), count = 0;

	for (const char *p = text; *p;) {
		const char *end = strchr(p, '\n');

		count += !strncmp(p, prefix, n);
		if (!end)
			break;
		p = end + 1;
	}
	return count;
}

static void assert_line(const char *text, const char *line)
{
	const char *l = line_starting(text, line);

	if (!l || strcmp(l, line))
		fail_msg("no line '%s' in:\n%s", line, text);
}

/* The value of the series SERIES (name and labels, exactly as printed). */
static double value_of(const char *text, const char *series)
{
	char prefix[256];
	const char *l;

	snprintf(prefix, sizeof(prefix), "%s ", series);
	l = line_starting(text, prefix);
	if (!l)
		fail_msg("no series %s in:\n%s", series, text);
	return strtod(l + strlen(prefix), NULL);
}

/* Neither a sample nor HELP nor TYPE of family NAME. */
static void assert_absent(const char *text, const char *name)
{
	char prefix[256];

	snprintf(prefix, sizeof(prefix), "%s ", name);
	if (count_starting(text, prefix))
		fail_msg("%s present:\n%s", name, text);
	snprintf(prefix, sizeof(prefix), "%s{", name);
	if (count_starting(text, prefix))
		fail_msg("%s present:\n%s", name, text);
	snprintf(prefix, sizeof(prefix), "# HELP %s ", name);
	if (count_starting(text, prefix))
		fail_msg("HELP of %s present:\n%s", name, text);
	snprintf(prefix, sizeof(prefix), "# TYPE %s ", name);
	if (count_starting(text, prefix))
		fail_msg("TYPE of %s present:\n%s", name, text);
}

#define MAX_FAMILIES 64

/*
 * The exposition's shape, parsed: every family has one HELP, then one TYPE
 * (gauge or counter), then its samples, all together; every sample belongs to
 * the family declared last; a counter's name ends in _total; every value parses.
 * Returns how many families there are.
 */
static size_t check_families(const char *text)
{
	char names[MAX_FAMILIES][128];
	size_t count = 0;
	const char *current = NULL;
	bool help_pending = false;

	for (const char *p = text; *p;) {
		const char *end = strchr(p, '\n');
		char line[512], name[128], type[32];
		size_t len;

		if (!end)
			fail_msg("the exposition does not end with a newline:\n%s", text);
		len = (size_t)(end - p);
		assert_true(len < sizeof(line));
		memcpy(line, p, len);
		line[len] = '\0';
		p = end + 1;

		if (!strncmp(line, "# HELP ", 7)) {
			if (sscanf(line, "# HELP %127s ", name) != 1 || help_pending)
				fail_msg("bad HELP line '%s'", line);
			for (size_t i = 0; i < count; i++)
				if (!strcmp(names[i], name))
					fail_msg("family %s declared twice:\n%s", name, text);
			assert_true(count < MAX_FAMILIES);
			strcpy(names[count++], name);
			current = NULL;
			help_pending = true;
		} else if (!strncmp(line, "# TYPE ", 7)) {
			if (sscanf(line, "# TYPE %127s %31s", name, type) != 2 || !help_pending ||
			    strcmp(name, names[count - 1]))
				fail_msg("TYPE line '%s' does not follow its HELP", line);
			if (strcmp(type, "gauge") && strcmp(type, "counter"))
				fail_msg("unexpected type in '%s'", line);
			if (!strcmp(type, "counter") &&
			    (strlen(name) < 6 || strcmp(name + strlen(name) - 6, "_total")))
				fail_msg("counter %s does not end in _total", name);
			current = names[count - 1];
			help_pending = false;
		} else if (line[0] == '#' || !line[0]) {
			fail_msg("unexpected line '%s'", line);
		} else {
			size_t n = strcspn(line, "{ ");
			const char *value = strrchr(line, ' ');
			char *vend;

			if (!current || strlen(current) != n || strncmp(line, current, n))
				fail_msg("sample '%s' outside its family (after %s):\n%s", line,
					 current ? current : "no TYPE", text);
			if (!value)
				fail_msg("sample '%s' has no value", line);
			strtod(value + 1, &vend);
			if (vend == value + 1 || *vend)
				fail_msg("sample '%s': value does not parse", line);
		}
	}
	if (help_pending)
		fail_msg("HELP without TYPE for %s", names[count - 1]);
	return count;
}

/*
 * promtool's own parser and linter (Prometheus's `check metrics`): silent and
 * exit 0. Missing promtool fails: scripts/install-deps.sh test installs it.
 */
static void assert_promtool_clean(const char *text)
{
	char out_path[] = "/tmp/ctb-test-promtool-XXXXXX", cmd[128], out[4096] = "";
	int fd = mkstemp(out_path), status;
	ssize_t n;
	FILE *p;

	assert_true(fd >= 0);
	if (access(PROMTOOL, X_OK)) {
		close(fd);
		unlink(out_path);
		fail_msg("%s: %s (scripts/install-deps.sh test installs prometheus)", PROMTOOL,
			 strerror(errno));
	}
	snprintf(cmd, sizeof(cmd), "%s check metrics >%s 2>&1", PROMTOOL, out_path);
	p = popen(cmd, "w");
	assert_non_null(p);
	fputs(text, p);
	status = pclose(p);
	n = read(fd, out, sizeof(out) - 1);
	close(fd);
	unlink(out_path);
	out[n > 0 ? n : 0] = '\0';
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) || out[0])
		fail_msg("promtool check metrics: status %d, said:\n%s\non:\n%s", status, out,
			 text);
}

/* Everything but the classifier's lines and the daemon's state. */
static struct ctb_metrics_sample full_sample(void)
{
	struct ctb_metrics_sample s = {
		.have_table = true,
		.entries = 1234,
		.limit = 262144,
		.have_ctstats = true,
		.drops = 7,
		.early_drops = 3,
		.insert_failed = 2,
		.backend = "fentry",
		.have_inserts = true,
		.inserts = 99,
		.lost_events = 1,
		.have_attachment = true,
		.attached = true,
		.have_nft = true,
		.arrivals = { 11, 1100 },
		.departures = { 12, 1200 },
		.loopback = { 13, 1300 },
		.have_backstop = true,
		.backstop = { 4, 400 },
		.have_health = true,
		.taken_at = 1700000000.5,
	};
	return s;
}

/* The bypassed families' series, by protocol: PKT_TCP "port=\"80\"} 1". */
#define PKT "ctbypass_bypassed_packets_total{protocol="
#define BYT "ctbypass_bypassed_bytes_total{protocol="
#define PKT_TCP PKT "\"tcp\","
#define BYT_TCP BYT "\"tcp\","
#define PKT_UDP PKT "\"udp\","
#define BYT_UDP BYT "\"udp\","

static struct ctb_counter_line port_line(uint8_t l4proto, uint16_t port, uint64_t packets,
					 uint64_t bytes)
{
	struct ctb_counter_line l = { .l4proto = l4proto, .port = port };

	l.counter.packets = packets;
	l.counter.bytes = bytes;
	return l;
}

static struct ctb_counter_line upstream_line(uint8_t l4proto, const char *text, uint64_t packets,
					     uint64_t bytes)
{
	struct ctb_counter_line l = { .upstream = true, .l4proto = l4proto };
	char err[128];

	if (ctb_upstream_parse(text, &l.up, err, sizeof(err)))
		fail_msg("upstream %s: %s", text, err);
	l.counter.packets = packets;
	l.counter.bytes = bytes;
	return l;
}

static void every_part_has_its_lines(void **state)
{
	struct ctb_metrics_sample s = full_sample();
	char *text;

	(void)state;
	text = render(&s);
	assert_line(text, "# HELP ctbypass_conntrack_drops_total Packets dropped because the table "
			  "was full (kernel statistic drop).");
	assert_line(text, "# TYPE ctbypass_conntrack_drops_total counter");
	assert_line(text, "ctbypass_conntrack_drops_total 7");
	assert_line(text, "# TYPE ctbypass_conntrack_entries gauge");
	assert_line(text, "ctbypass_conntrack_entries 1234");
	assert_line(text, "ctbypass_conntrack_entries_limit 262144");
	assert_line(text, "ctbypass_conntrack_inserts_total 99");
	assert_line(text, "ctbypass_conntrack_early_drops_total 3");
	assert_line(text, "ctbypass_conntrack_insert_failed_total 2");
	assert_line(text, "ctbypass_attached 1");
	assert_line(text, "ctbypass_untracked_packets_total{path=\"arrivals\"} 11");
	assert_line(text, "ctbypass_untracked_packets_total{path=\"departures\"} 12");
	assert_line(text, "ctbypass_untracked_packets_total{path=\"loopback\"} 13");
	assert_line(text, "ctbypass_backstop_packets_total 4");
	assert_line(text, "ctbypass_healthy 1");
	assert_line(text, "ctbypass_problems{kind=\"preflight\"} 0");
	assert_line(text, "ctbypass_problems{kind=\"table_missing\"} 0");
	assert_int_equal(count_starting(text, "ctbypass_problems{kind=\""), CTB_PROBLEM_KINDS);
	assert_line(text, "ctbypass_interfaces_uncovered 0");
	assert_line(text, "ctbypass_telemetry_backend_info{backend=\"fentry\"} 1");
	assert_line(text, "ctbypass_lost_events_total 1");
	assert_line(text, "ctbypass_sample_timestamp_seconds 1700000000.5");
	assert_int_equal(count_starting(text, "ctbypass_build_info{version=\""), 1);
	/* No classifier lines: no bypassed families at all, not empty ones. */
	assert_absent(text, "ctbypass_bypassed_packets_total");
	assert_absent(text, "ctbypass_bypassed_bytes_total");
	assert_int_equal(check_families(text), 16);
	free(text);

	/* Counters print exactly, all 64 bits; a problem makes the namespace unhealthy. */
	s.drops = UINT64_MAX;
	s.entries = 0;
	s.attached = false;
	s.problems[CTB_PROBLEM_BACKSTOP] = 2;
	s.uncovered = 3;
	text = render(&s);
	assert_line(text, "ctbypass_conntrack_drops_total 18446744073709551615");
	assert_line(text, "ctbypass_conntrack_entries 0");
	assert_line(text, "ctbypass_attached 0");
	assert_line(text, "ctbypass_healthy 0");
	assert_line(text, "ctbypass_problems{kind=\"backstop_hits\"} 2");
	assert_line(text, "ctbypass_interfaces_uncovered 3");
	check_families(text);
	free(text);
}

/* A part that cannot be read is absent, never 0. */
static void unreadable_parts_are_absent(void **state)
{
	struct ctb_metrics_sample s = full_sample();
	char *text;

	(void)state;
	s.have_inserts = false;
	s.backend = "stats";
	text = render(&s);
	assert_absent(text, "ctbypass_conntrack_inserts_total");
	assert_absent(text, "ctbypass_lost_events_total");
	assert_line(text, "ctbypass_conntrack_drops_total 7");
	assert_line(text, "ctbypass_telemetry_backend_info{backend=\"stats\"} 1");
	check_families(text);
	free(text);

	s = (struct ctb_metrics_sample){ .backend = "stats", .taken_at = 1 };
	text = render(&s);
	static const char *const absent[] = {
		"ctbypass_conntrack_entries",	   "ctbypass_conntrack_entries_limit",
		"ctbypass_conntrack_inserts_total", "ctbypass_conntrack_drops_total",
		"ctbypass_conntrack_early_drops_total", "ctbypass_conntrack_insert_failed_total",
		"ctbypass_bypassed_packets_total", "ctbypass_bypassed_bytes_total",
		"ctbypass_untracked_packets_total", "ctbypass_backstop_packets_total",
		"ctbypass_healthy",		   "ctbypass_problems",
		"ctbypass_interfaces_uncovered",   "ctbypass_lost_events_total",
		"ctbypass_repairs_total",	   "ctbypass_config_reload_success",
	};
	for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
		assert_absent(text, absent[i]);
	/* what is attached is unknown too: absent, never "not attached" */
	assert_absent(text, "ctbypass_attached");
	assert_line(text, "ctbypass_sample_timestamp_seconds 1");
	/* backend, timestamp, build: always there */
	assert_int_equal(check_families(text), 3);
	free(text);
}

/*
 * 250 TCP ports and 150 upstreams: the first 100 of each get a series, the
 * rest one "other" series holding their sum; UDP ports have their own 100.
 */
static void series_are_limited(void **state)
{
	struct ctb_metrics_sample s = full_sample();
	struct ctb_counter_line *lines = calloc(250 + 150 + 3, sizeof(*lines));
	uint64_t other_ports = 0, other_ups = 0, other_ups_bytes = 0;
	char up[64];
	size_t n = 0;
	char *text;

	(void)state;
	assert_non_null(lines);
	for (uint16_t port = 1; port <= 250; port++) {
		lines[n++] = port_line(IPPROTO_TCP, port, port, 1000u * port);
		if (port > CTB_METRICS_PORT_SERIES)
			other_ports += port;
	}
	for (int i = 0; i < 150; i++) {
		snprintf(up, sizeof(up), "198.18.%d.%d:3128", i / 100, i % 100 + 1);
		lines[n++] = upstream_line(IPPROTO_TCP, up, 7 + i, 70000u + i);
		if (i >= CTB_METRICS_UPSTREAM_SERIES) {
			other_ups += 7 + i;
			other_ups_bytes += 70000u + i;
		}
	}
	for (uint16_t port = 53; port < 56; port++)
		lines[n++] = port_line(IPPROTO_UDP, port, 5, 500);
	s.lines = lines;
	s.line_count = n;
	text = render(&s);

	assert_int_equal(count_starting(text, PKT_TCP "port="), CTB_METRICS_PORT_SERIES + 1);
	assert_int_equal(count_starting(text, BYT_TCP "port="), CTB_METRICS_PORT_SERIES + 1);
	assert_line(text, PKT_TCP "port=\"1\"} 1");
	assert_line(text, PKT_TCP "port=\"100\"} 100");
	assert_line(text, BYT_TCP "port=\"100\"} 100000");
	assert_null(line_starting(text, PKT_TCP "port=\"101\"}"));
	assert_int_equal(value_of(text, PKT_TCP "port=\"other\"}"), other_ports);
	assert_int_equal(other_ports, 26325);
	assert_int_equal(value_of(text, BYT_TCP "port=\"other\"}"), 1000 * other_ports);

	assert_int_equal(count_starting(text, PKT_TCP "upstream="),
			 CTB_METRICS_UPSTREAM_SERIES + 1);
	assert_int_equal(count_starting(text, BYT_TCP "upstream="),
			 CTB_METRICS_UPSTREAM_SERIES + 1);
	assert_line(text, PKT_TCP "upstream=\"198.18.0.1:3128\"} 7");
	assert_line(text, PKT_TCP "upstream=\"198.18.0.100:3128\"} 106");
	assert_null(line_starting(text, PKT_TCP "upstream=\"198.18.1.1:3128\"}"));
	assert_int_equal(value_of(text, PKT_TCP "upstream=\"other\"}"), other_ups);
	assert_int_equal(value_of(text, BYT_TCP "upstream=\"other\"}"), other_ups_bytes);

	/* UDP's ports count on their own, and need no "other". */
	assert_int_equal(count_starting(text, PKT "\"udp\""), 3);
	assert_line(text, PKT_UDP "port=\"53\"} 5");
	assert_null(line_starting(text, PKT_UDP "port=\"other\"}"));
	/* No shared slot line given: no "any" series. */
	assert_null(line_starting(text, PKT "\"any\""));
	check_families(text);
	assert_promtool_clean(text);
	free(text);
	free(lines);
}

/* The classifier's own overflow slot (port 0, not an upstream) is {protocol="any",port="other"}. */
static void shared_slot_is_any_other(void **state)
{
	struct ctb_metrics_sample s = full_sample();
	struct ctb_counter_line lines[] = {
		port_line(IPPROTO_TCP, 443, 10, 1000),
		upstream_line(IPPROTO_UDP, "[fd00:c7::/64]:53", 3, 300),
		port_line(0, 0, 9, 900),
	};
	char *text;

	(void)state;
	s.lines = lines;
	s.line_count = 3;
	text = render(&s);
	assert_line(text, PKT_TCP "port=\"443\"} 10");
	assert_line(text, PKT_UDP "upstream=\"[fd00:c7::/64]:53\"} 3");
	assert_line(text, BYT_UDP "upstream=\"[fd00:c7::/64]:53\"} 300");
	assert_line(text, PKT "\"any\",port=\"other\"} 9");
	assert_line(text, BYT "\"any\",port=\"other\"} 900");
	assert_int_equal(count_starting(text, "ctbypass_bypassed_packets_total{"), 3);
	assert_int_equal(count_starting(text, "ctbypass_bypassed_bytes_total{"), 3);
	check_families(text);
	assert_promtool_clean(text);
	free(text);
}

/*
 * Label values are escaped, but the reachable ones hold no '"', '\' or newline:
 * ports are digits, upstreams come from ctb_upstream_format, the version from
 * git describe. What is reachable: those print verbatim, and the version label
 * is one well-formed quoted value.
 */
static void label_values_print_verbatim(void **state)
{
	struct ctb_metrics_sample s = full_sample();
	struct ctb_counter_line lines[] = {
		upstream_line(IPPROTO_TCP, "[fd00:c7::7]:3128", 1, 2),
		upstream_line(IPPROTO_TCP, "198.18.4.0/24:80", 1, 2),
	};
	const char *l, *v;
	char *text;

	(void)state;
	s.lines = lines;
	s.line_count = 2;
	text = render(&s);
	assert_line(text, PKT_TCP "upstream=\"[fd00:c7::7]:3128\"} 1");
	assert_line(text, PKT_TCP "upstream=\"198.18.4.0/24:80\"} 1");
	l = line_starting(text, "ctbypass_build_info{version=\"");
	assert_non_null(l);
	v = l + strlen("ctbypass_build_info{version=\"");
	/* The value runs to the first unescaped quote, then the line ends with '} 1'. */
	while (*v && *v != '"') {
		if (*v == '\\') {
			v++;
			assert_true(*v == '\\' || *v == '"' || *v == 'n');
		}
		v++;
	}
	assert_string_equal(v, "\"} 1");
	assert_true(v > l + strlen("ctbypass_build_info{version=\"")); /* not empty */
	free(text);
}

static void daemon_families_only_with_a_daemon(void **state)
{
	struct ctb_metrics_sample s = full_sample();
	struct ctb_metrics_daemon d = { .reload_ok = true };
	char *text;

	(void)state;
	/* `ctbypass metrics`: no daemon, no daemon families; preflight counted as given. */
	s.problems[CTB_PROBLEM_PREFLIGHT] = 1;
	text = render(&s);
	assert_absent(text, "ctbypass_repairs_total");
	assert_absent(text, "ctbypass_config_reload_success");
	assert_line(text, "ctbypass_problems{kind=\"preflight\"} 1");
	assert_line(text, "ctbypass_healthy 0");
	free(text);

	/* A daemon with nothing wrong. */
	s.problems[CTB_PROBLEM_PREFLIGHT] = 0;
	s.daemon = &d;
	text = render(&s);
	assert_line(text, "# TYPE ctbypass_repairs_total counter");
	assert_int_equal(count_starting(text, "ctbypass_repairs_total{reason=\""),
			 CTB_REPAIR_REASONS);
	assert_line(text, "ctbypass_repairs_total{reason=\"not_attached\"} 0");
	assert_line(text, "ctbypass_config_reload_success 1");
	assert_line(text, "ctbypass_healthy 1");
	assert_line(text, "ctbypass_problems{kind=\"preflight\"} 0");
	check_families(text);
	assert_promtool_clean(text);
	free(text);

	/* Blocking findings alone make it unhealthy, added to the preflight kind only. */
	d.repairs[CTB_PROBLEM_RULES_MISSING] = 2;
	d.repairs[CTB_REPAIR_NOT_ATTACHED] = 1;
	d.repairs[CTB_REPAIR_CONFIGURATION] = 5;
	d.reload_ok = false;
	d.preflight_blocking = 2;
	text = render(&s);
	assert_line(text, "ctbypass_problems{kind=\"preflight\"} 2");
	assert_line(text, "ctbypass_problems{kind=\"rules_missing\"} 0");
	assert_line(text, "ctbypass_healthy 0");
	assert_line(text, "ctbypass_repairs_total{reason=\"rules_missing\"} 2");
	assert_line(text, "ctbypass_repairs_total{reason=\"not_attached\"} 1");
	assert_line(text, "ctbypass_repairs_total{reason=\"configuration\"} 5");
	assert_line(text, "ctbypass_repairs_total{reason=\"preflight\"} 0");
	assert_line(text, "ctbypass_config_reload_success 0");
	free(text);

	/* ... and sum with the preflight problems the sample has. */
	s.problems[CTB_PROBLEM_PREFLIGHT] = 1;
	text = render(&s);
	assert_line(text, "ctbypass_problems{kind=\"preflight\"} 3");
	check_families(text);
	free(text);

	/* Health unread: no health families, whatever the daemon holds. */
	s.have_health = false;
	text = render(&s);
	assert_absent(text, "ctbypass_healthy");
	assert_absent(text, "ctbypass_problems");
	assert_line(text, "ctbypass_config_reload_success 0");
	free(text);
}

/* Everything at once, and nothing at all, pass promtool's parser and linter. */
static void promtool_accepts_the_exposition(void **state)
{
	struct ctb_metrics_daemon d = { .reload_ok = true, .preflight_blocking = 1 };
	struct ctb_metrics_sample s = full_sample();
	struct ctb_counter_line lines[] = {
		port_line(IPPROTO_TCP, 80, 1, 60),
		port_line(IPPROTO_UDP, 53, 2, 120),
		upstream_line(IPPROTO_TCP, "198.18.0.7:3128", 3, 180),
		upstream_line(IPPROTO_UDP, "[fd00:c7::7]:53", 4, 240),
		port_line(0, 0, 5, 300),
	};
	char *text;

	(void)state;
	s.lines = lines;
	s.line_count = sizeof(lines) / sizeof(lines[0]);
	s.daemon = &d;
	s.problems[CTB_PROBLEM_MAPS_DISAGREE] = 1;
	s.taken_at = (double)time(NULL) + 0.25;
	text = render(&s);
	assert_int_equal(check_families(text), 20);
	assert_promtool_clean(text);
	free(text);

	s = (struct ctb_metrics_sample){ .backend = "stats" };
	text = render(&s);
	assert_promtool_clean(text);
	free(text);
}

/* ---- --metrics-address ---------------------------------------------------------------- */

static int parse(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	char err[128] = "";
	int ret = ctb_metrics_address_parse(text, ss, len, err, sizeof(err));

	if (ret)
		fail_msg("'%s': %s", text, err);
	return ret;
}

static void good_addresses_parse(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	struct in6_addr loop6 = IN6ADDR_LOOPBACK_INIT;
	socklen_t len = 0;

	(void)state;
	assert_int_equal(parse("127.0.0.1:10127", &ss, &len), 0);
	assert_int_equal(in->sin_family, AF_INET);
	assert_int_equal(len, sizeof(*in));
	assert_int_equal(ntohs(in->sin_port), 10127);
	assert_int_equal(ntohl(in->sin_addr.s_addr), INADDR_LOOPBACK);

	assert_int_equal(parse(CTB_METRICS_ADDRESS_DEFAULT, &ss, &len), 0);
	assert_int_equal(ntohs(in->sin_port), CTB_METRICS_PORT);

	assert_int_equal(parse("[::1]:10127", &ss, &len), 0);
	assert_int_equal(in6->sin6_family, AF_INET6);
	assert_int_equal(len, sizeof(*in6));
	assert_int_equal(ntohs(in6->sin6_port), 10127);
	assert_memory_equal(&in6->sin6_addr, &loop6, sizeof(loop6));

	assert_int_equal(parse("0.0.0.0:1", &ss, &len), 0);
	assert_int_equal(in->sin_family, AF_INET);
	assert_int_equal(ntohs(in->sin_port), 1);
	assert_int_equal(in->sin_addr.s_addr, htonl(INADDR_ANY));

	assert_int_equal(parse("[::]:65535", &ss, &len), 0);
	assert_int_equal(ntohs(in6->sin6_port), 65535);
	/* The longest IPv6 text there is. */
	assert_int_equal(parse("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:80", &ss, &len), 0);
	assert_int_equal(in6->sin6_family, AF_INET6);
}

static void bad_addresses_are_rejected(void **state)
{
	char long_host[400], long_v6[400];
	const char *const bad[] = {
		"127.0.0.1",	  ":80",	 "127.0.0.1:0",	   "127.0.0.1:65536",
		"127.0.0.1: 80",  "127.0.0.1:+80", "127.0.0.1:-80", "127.0.0.1:",
		"127.0.0.1:80x",  "127.0.0.1:080000", "[::1:80",	   "::1:80",
		"host:80",	  "",		 "[]:80",	   "[::1]",
		"[::1]x:80",	  "[1.2.3.4]:80", "[[::1]]:80",	   "1.2.3:80",
		"localhost:10127", "[fe80::1%lo]:80", long_host,	   long_v6,
	};
	struct sockaddr_storage ss;
	socklen_t len;
	char err[128];

	(void)state;
	memset(long_host, '1', sizeof(long_host));
	strcpy(long_host + sizeof(long_host) - 4, ":80");
	long_v6[0] = '[';
	memset(long_v6 + 1, ':', sizeof(long_v6) - 1);
	strcpy(long_v6 + sizeof(long_v6) - 5, "]:80");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (ctb_metrics_address_parse(bad[i], &ss, &len, err, sizeof(err)) != -EINVAL)
			fail_msg("'%s' was not rejected", bad[i]);
		if (!strstr(err, "expected ADDRESS:PORT"))
			fail_msg("'%s': message '%s'", bad[i], err);
	}
	/* A short error buffer still gets a terminated message. */
	memset(err, 'x', sizeof(err));
	assert_int_equal(ctb_metrics_address_parse("nope", &ss, &len, err, 8), -EINVAL);
	assert_int_equal(strlen(err), 7);
}

/* ---- The server, over socketpairs ------------------------------------------------------- */

struct reply {
	char *raw; /* the whole response, NUL-terminated */
	size_t len;
	int status;
	const char *body; /* into raw */
	size_t body_len;
};

static long elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

/*
 * Sends REQ on a new connection and reads until the server closes it. Never
 * blocks: a server that stops answering fails the test after REPLY_TIMEOUT_MS.
 */
static struct reply exchange(struct ctb_metrics_server *srv, const char *req, size_t req_len)
{
	struct reply r = { 0 };
	size_t sent = 0, cap = 4096;
	struct timespec start;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(ctb_metrics_server_add(srv, sv[1]), 0);
	r.raw = malloc(cap);
	assert_non_null(r.raw);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		short events = POLLIN | (sent < req_len ? POLLOUT : 0);
		struct pollfd pfd = { .fd = sv[0], .events = events };
		long left = REPLY_TIMEOUT_MS - elapsed_ms(&start);
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			fail_msg("no reply within %d ms (sent %zu of %zu bytes, got %zu)",
				 REPLY_TIMEOUT_MS, sent, req_len, r.len);
		if (sent < req_len && (pfd.revents & POLLOUT)) {
			n = send(sv[0], req + sent, req_len - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (errno == EPIPE || errno == ECONNRESET)
				sent = req_len; /* the server answered without reading it all */
			else if (errno != EAGAIN)
				fail_msg("send: %s", strerror(errno));
		}
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (cap - r.len < 2048) {
			cap *= 2;
			r.raw = realloc(r.raw, cap);
			assert_non_null(r.raw);
		}
		n = recv(sv[0], r.raw + r.len, cap - r.len - 1, 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			break;
		if (n < 0 && errno != EAGAIN)
			fail_msg("recv: %s", strerror(errno));
		if (n > 0)
			r.len += (size_t)n;
	}
	close(sv[0]);
	r.raw[r.len] = '\0';
	if (sscanf(r.raw, "HTTP/1.%*1[01] %3d ", &r.status) != 1)
		fail_msg("no status line in the reply:\n%s", r.raw);
	r.body = strstr(r.raw, "\r\n\r\n");
	if (!r.body)
		fail_msg("no end of headers in the reply:\n%s", r.raw);
	r.body += 4;
	r.body_len = r.len - (size_t)(r.body - r.raw);
	return r;
}

static struct reply get(struct ctb_metrics_server *srv, const char *method, const char *path)
{
	char req[512];

	snprintf(req, sizeof(req),
		 "%s %s HTTP/1.1\r\nHost: 127.0.0.1:10127\r\nUser-Agent: test_metrics\r\n"
		 "Accept: text/plain\r\nConnection: close\r\n\r\n", method, path);
	return exchange(srv, req, strlen(req));
}

/* The value of header NAME (case-insensitive), copied into a static buffer; NULL if absent. */
static const char *header(const struct reply *r, const char *name)
{
	static char value[256];
	size_t n = strlen(name);

	for (const char *p = strstr(r->raw, "\r\n"); p && p + 2 < r->body;
	     p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2, *end = strstr(line, "\r\n");

		if (!strncasecmp(line, name, n) && line[n] == ':') {
			line += n + 1;
			line += strspn(line, " \t");
			assert_true((size_t)(end - line) < sizeof(value));
			memcpy(value, line, (size_t)(end - line));
			value[end - line] = '\0';
			return value;
		}
	}
	return NULL;
}

static void assert_body(const struct reply *r, const char *body)
{
	if (r->body_len != strlen(body) || memcmp(r->body, body, r->body_len))
		fail_msg("body %zu bytes, expected %zu:\n%s\nexpected:\n%s", r->body_len,
			 strlen(body), r->body, body);
}

static int server_setup(void **state)
{
	struct ctb_metrics_server *srv = NULL;

	if (ctb_metrics_server_start_unbound(&srv))
		return -1;
	*state = srv;
	return 0;
}

static int server_teardown(void **state)
{
	ctb_metrics_server_stop(*state);
	return 0;
}

static void unavailable_before_the_first_publish(void **state)
{
	struct reply r = get(*state, "GET", "/metrics");

	assert_int_equal(r.status, 503);
	assert_body(&r, "No sample yet\n");
	free(r.raw);
	/* The index does not wait for a sample. */
	r = get(*state, "GET", "/");
	assert_int_equal(r.status, 200);
	free(r.raw);
}

static void serves_what_was_published(void **state)
{
	struct ctb_metrics_sample s = full_sample();
	char *text = render(&s), length[32];
	struct reply r;

	assert_int_equal(ctb_metrics_server_publish(*state, text, strlen(text)), 0);
	r = get(*state, "GET", "/metrics");
	assert_int_equal(r.status, 200);
	assert_string_equal(header(&r, "Content-Type"), CONTENT_TYPE);
	snprintf(length, sizeof(length), "%zu", strlen(text));
	assert_string_equal(header(&r, "Content-Length"), length);
	assert_body(&r, text);
	free(r.raw);

	/* Copied on publish: the caller's buffer is its own again. */
	memset(text, 'x', strlen(text));
	r = get(*state, "GET", "/metrics");
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, strlen(text));
	assert_true(r.body[0] == '#');
	free(r.raw);

	/* HTTP/1.0, as some scrapers still send: the same body. */
	static const char req10[] = "GET /metrics HTTP/1.0\r\n\r\n";
	r = exchange(*state, req10, strlen(req10));
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, strlen(text));
	free(r.raw);
	free(text);
}

static void the_last_publish_wins(void **state)
{
	struct reply r;

	assert_int_equal(ctb_metrics_server_publish(*state, "first 1\n", 8), 0);
	r = get(*state, "GET", "/metrics");
	assert_body(&r, "first 1\n");
	free(r.raw);
	assert_int_equal(ctb_metrics_server_publish(*state, "second 2\n", 9), 0);
	r = get(*state, "GET", "/metrics");
	assert_int_equal(r.status, 200);
	assert_body(&r, "second 2\n");
	free(r.raw);
	/* LEN, not strlen: a text is served to its length. */
	assert_int_equal(ctb_metrics_server_publish(*state, "third 3\nand more", 8), 0);
	r = get(*state, "GET", "/metrics");
	assert_body(&r, "third 3\n");
	free(r.raw);
}

static void index_links_to_metrics(void **state)
{
	struct reply r = get(*state, "GET", "/");

	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "<a href=\"/metrics\">"));
	assert_non_null(strstr(header(&r, "Content-Type"), "text/html"));
	free(r.raw);
}

static void other_paths_are_not_found(void **state)
{
	static const char *const paths[] = { "/other", "/metrics/", "/metricsx", "/index.html",
					     "//metrics", "/Metrics" };

	assert_int_equal(ctb_metrics_server_publish(*state, "a 1\n", 4), 0);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct reply r = get(*state, "GET", paths[i]);

		if (r.status != 404)
			fail_msg("GET %s: status %d", paths[i], r.status);
		free(r.raw);
	}
}

static void other_methods_are_not_allowed(void **state)
{
	static const char post[] = "POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
				   "Content-Type: text/plain\r\nContent-Length: 11\r\n\r\n"
				   "hello world";
	static const char *const methods[] = { "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE" };
	struct reply r;

	assert_int_equal(ctb_metrics_server_publish(*state, "a 1\n", 4), 0);
	r = exchange(*state, post, strlen(post));
	assert_int_equal(r.status, 405);
	assert_string_equal(header(&r, "Allow"), "GET, HEAD");
	free(r.raw);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		r = get(*state, methods[i], "/metrics");
		if (r.status != 405)
			fail_msg("%s /metrics: status %d", methods[i], r.status);
		assert_non_null(header(&r, "Allow"));
		free(r.raw);
	}
	/* Not allowed on the other paths either. */
	r = get(*state, "POST", "/");
	assert_int_equal(r.status, 405);
	free(r.raw);
}

static void head_has_no_body(void **state)
{
	struct reply r;

	assert_int_equal(ctb_metrics_server_publish(*state, "a 1\nb 2\n", 8), 0);
	r = get(*state, "HEAD", "/metrics");
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);
	assert_string_equal(header(&r, "Content-Type"), CONTENT_TYPE);
	free(r.raw);
}

/*
 * Oversized requests are refused with a 4xx, and the server lives on. What MHD
 * enforces is its per-connection memory pool, CTB_METRICS_REQUEST_BYTES: one
 * request line or header is read up to about that, many headers (stored twice:
 * raw and parsed) are refused from about half of it.
 */
static void oversized_requests_are_refused(void **state)
{
	size_t fill = CTB_METRICS_REQUEST_BYTES + 1024; /* past MHD's pool */
	char *req = malloc(fill + 300 * 80 + 256); /* the longest of the three requests */
	struct reply r;
	int n;

	assert_non_null(req);
	assert_int_equal(ctb_metrics_server_publish(*state, "a 1\n", 4), 0);
	/* The query is not part of the path: the only thing wrong is the size. */
	n = sprintf(req, "GET /metrics?");
	memset(req + n, 'a', fill);
	sprintf(req + n + fill, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	r = exchange(*state, req, strlen(req));
	if (r.status != 400 && r.status != 414 && r.status != 431)
		fail_msg("a %zu-byte request line: status %d", strlen(req), r.status);
	free(r.raw);

	n = sprintf(req, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Fill: ");
	memset(req + n, 'b', fill);
	sprintf(req + n + fill, "\r\n\r\n");
	r = exchange(*state, req, strlen(req));
	if (r.status != 400 && r.status != 431)
		fail_msg("a %zu-byte header: status %d", strlen(req), r.status);
	free(r.raw);

	/* 300 headers, 20 KiB in all. */
	n = sprintf(req, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
	for (int i = 0; i < 300; i++)
		n += sprintf(req + n, "X-Header-%03d: %050d\r\n", i, i);
	sprintf(req + n, "\r\n");
	assert_true(strlen(req) > CTB_METRICS_REQUEST_BYTES + 2048);
	r = exchange(*state, req, strlen(req));
	if (r.status != 400 && r.status != 431)
		fail_msg("%zu bytes of headers: status %d", strlen(req), r.status);
	free(r.raw);
	free(req);

	r = get(*state, "GET", "/metrics");
	assert_int_equal(r.status, 200);
	assert_body(&r, "a 1\n");
	free(r.raw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_part_has_its_lines),
		cmocka_unit_test(unreadable_parts_are_absent),
		cmocka_unit_test(series_are_limited),
		cmocka_unit_test(shared_slot_is_any_other),
		cmocka_unit_test(label_values_print_verbatim),
		cmocka_unit_test(daemon_families_only_with_a_daemon),
		cmocka_unit_test(promtool_accepts_the_exposition),
		cmocka_unit_test(good_addresses_parse),
		cmocka_unit_test(bad_addresses_are_rejected),
		cmocka_unit_test_setup_teardown(unavailable_before_the_first_publish, server_setup,
						server_teardown),
		cmocka_unit_test_setup_teardown(serves_what_was_published, server_setup,
						server_teardown),
		cmocka_unit_test_setup_teardown(the_last_publish_wins, server_setup,
						server_teardown),
		cmocka_unit_test_setup_teardown(index_links_to_metrics, server_setup,
						server_teardown),
		cmocka_unit_test_setup_teardown(other_paths_are_not_found, server_setup,
						server_teardown),
		cmocka_unit_test_setup_teardown(other_methods_are_not_allowed, server_setup,
						server_teardown),
		cmocka_unit_test_setup_teardown(head_has_no_body, server_setup, server_teardown),
		cmocka_unit_test_setup_teardown(oversized_requests_are_refused, server_setup,
						server_teardown),
	};

	/* promtool may exit before reading all it is given; the server's peers close early. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
