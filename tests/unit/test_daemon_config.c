// SPDX-License-Identifier: GPL-2.0
/* The daemon's configuration file: keys, flags over keys, errors naming file:line. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>
#include "daemon_config.h"

static char err[256];

static int parse(struct ctb_daemon_settings *s, const char *text)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int ret;

	assert_non_null(f);
	ctb_daemon_settings_init(s);
	ret = ctb_daemon_config_parse(s, f, "t.conf", err, sizeof(err));
	fclose(f);
	return ret;
}

/* parse, then what only the whole can say (the guard's levels) */
static int parse_checked(struct ctb_daemon_settings *s, const char *text)
{
	int ret = parse(s, text);

	return ret ? ret : ctb_daemon_settings_check(s, err, sizeof(err));
}

static void every_key(void **state)
{
	struct ctb_daemon_settings s;

	(void)state;
	assert_int_equal(parse(&s, "# a comment\n"
				   "ports = 80,8000-8002\n"
				   "upstream = 198.18.0.7:3128\n"
				   "iface = eth0,eth1\n"
				   "proto = tcp,udp\n"
				   "mark = 0x10\n"
				   "accept = state-3f9a2c\n"
				   "force = yes\n"
				   "no-flush = true\n"
				   "detach-on-stop = 1\n"
				   "verify-interval = 2.5\n"
				   "metrics-address = [::1]:9999\n"
				   "metrics-interval = 1.5\n"
				   "telemetry = kprobe\n"),
			 0);
	assert_string_equal(s.metrics_address, "[::1]:9999");
	assert_true(s.metrics_interval == 1.5);
	assert_int_equal(s.telemetry, CTB_TELEMETRY_KPROBE);
	assert_true(ctb_portset_has(&s.cfg.ports, 8001));
	assert_int_equal(ctb_portset_count(&s.cfg.ports), 4);
	assert_int_equal(s.cfg.upstreams.count, 1);
	assert_string_equal(s.cfg.iface_list, "eth0,eth1");
	assert_int_equal(s.cfg.protocols, CTB_PROTO_TCP | CTB_PROTO_UDP);
	assert_int_equal(s.cfg.mark, 0x10);
	assert_string_equal(s.accept, "state-3f9a2c");
	assert_true(s.force && s.no_flush && s.detach_on_stop);
	assert_true(s.verify_interval == 2.5);
	ctb_daemon_settings_free(&s);
}

/* Defaults: nothing bypassed is valid; the bypass stays on stop. */
static void an_empty_file_is_valid(void **state)
{
	struct ctb_daemon_settings s;

	(void)state;
	assert_int_equal(parse(&s, "\n; nothing\n"), 0);
	assert_false(ctb_config_has_targets(&s.cfg));
	assert_false(s.detach_on_stop);
	assert_true(s.verify_interval == CTB_DAEMON_VERIFY_DEFAULT);
	ctb_daemon_settings_free(&s);
}

/* Flags go through the same setter after the file: a list replaces the file's. */
static void flags_override_keys(void **state)
{
	struct ctb_daemon_settings s;

	(void)state;
	assert_int_equal(parse(&s, "ports = 80,81\nforce = yes\n"), 0);
	assert_int_equal(ctb_daemon_set(&s, "ports", "443", err, sizeof(err)), 0);
	assert_int_equal(ctb_daemon_set(&s, "force", "no", err, sizeof(err)), 0);
	assert_false(ctb_portset_has(&s.cfg.ports, 80));
	assert_true(ctb_portset_has(&s.cfg.ports, 443));
	assert_false(s.force);
	ctb_daemon_settings_free(&s);
}

/* Each error names the file and the line of the first problem, ours or inih's. */
static void errors_name_file_and_line(void **state)
{
	struct ctb_daemon_settings s;

	(void)state;
	assert_int_equal(parse(&s, "ports = 80\nport = 81\n"), -EINVAL);
	assert_string_equal(err, "t.conf:2: unknown key 'port'");
	ctb_daemon_settings_free(&s);
	assert_int_equal(parse(&s, "ports = 80\n\nmark = 010\n"), -EINVAL);
	assert_non_null(strstr(err, "t.conf:3: ambiguous mark"));
	ctb_daemon_settings_free(&s);
	/* a line inih cannot read, before one we refuse: the first is named */
	assert_int_equal(parse(&s, "ports = 80\nno equals sign\nforce = maybe\n"), -EINVAL);
	assert_string_equal(err, "t.conf:2: not 'key = value'");
	ctb_daemon_settings_free(&s);
	assert_int_equal(parse(&s, "[daemon]\nports = 80\n"), -EINVAL);
	assert_string_equal(err, "t.conf:2: unexpected section [daemon]: keys go at the top");
	ctb_daemon_settings_free(&s);
	assert_int_equal(parse(&s, "force = maybe\n"), -EINVAL);
	assert_string_equal(err, "t.conf:1: force: expected yes or no, not 'maybe'");
	ctb_daemon_settings_free(&s);
	assert_int_equal(parse(&s, "verify-interval = 0\n"), -EINVAL);
	assert_non_null(strstr(err, "t.conf:1: verify-interval: seconds from 0.1 to 3600"));
	ctb_daemon_settings_free(&s);
	/* ';' would read back as a comment once printed with a blank before it */
	assert_int_equal(parse(&s, "iface=;eth0\n"), -EINVAL);
	assert_string_equal(err, "t.conf:1: iface: ';eth0' is not an interface name");
	ctb_daemon_settings_free(&s);
	assert_int_equal(parse(&s, "iface = eth0,\n"), -EINVAL);
	ctb_daemon_settings_free(&s);
	assert_int_equal(parse(&s, "ports = 70000\n"), -EINVAL);
	assert_non_null(strstr(err, "t.conf:1: "));
	ctb_daemon_settings_free(&s);
}

/* A list over several lines: the key again, or an indented continuation; the values add up. */
static void lists_continue_over_lines(void **state)
{
	struct ctb_daemon_settings s;

	(void)state;
	assert_int_equal(parse(&s, "ports = 80\n"
				   "ports = 443,8000-8002\n"
				   "    9000\n"
				   "upstream = 198.18.0.7:3128\n"
				   "upstream = 198.18.0.8:3128\n"
				   "iface = eth0\n"
				   "iface = eth1\n"
				   "accept = state-3f9a2c\n"
				   "accept = nat-000001\n"),
			 0);
	assert_true(ctb_portset_has(&s.cfg.ports, 80));
	assert_true(ctb_portset_has(&s.cfg.ports, 443));
	assert_true(ctb_portset_has(&s.cfg.ports, 8001));
	assert_true(ctb_portset_has(&s.cfg.ports, 9000));
	assert_int_equal(s.cfg.upstreams.count, 2);
	assert_string_equal(s.cfg.iface_list, "eth0,eth1");
	assert_string_equal(s.accept, "state-3f9a2c,nat-000001");
	ctb_daemon_settings_free(&s);
}

/* inih reads 200 bytes a line: a longer one is an error naming it, never read in two. */
static void a_long_line_is_an_error(void **state)
{
	struct ctb_daemon_settings s;
	char text[600];

	(void)state;
	snprintf(text, sizeof(text), "ports = 80\nupstream = ");
	for (int i = 1; i <= 20; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s198.19.0.%d:3128",
			 i > 1 ? "," : "", i);
	strcat(text, "\n");
	assert_int_equal(parse(&s, text), -EINVAL);
	assert_non_null(strstr(err, "t.conf:2: longer than 198 characters"));
	ctb_daemon_settings_free(&s);
}

/* What --check-config prints reads back the same, long lists included (wrapped). */
static void printed_settings_read_back(void **state)
{
	struct ctb_daemon_settings s, back;
	char *out = NULL, *again = NULL;
	size_t len = 0, len2 = 0;
	FILE *f;

	(void)state;
	ctb_daemon_settings_init(&s);
	for (int i = 1; i <= 300; i++) {
		struct ctb_upstream up;
		char text[64];

		snprintf(text, sizeof(text), "198.19.%d.%d:3128", i / 200, i % 200 + 1);
		assert_int_equal(ctb_upstream_parse(text, &up, err, sizeof(err)), 0);
		assert_int_equal(ctb_upstream_list_add(&s.cfg.upstreams, &up), 0);
	}
	for (int p = 1; p < 65536; p += 2)
		ctb_portset_add(&s.cfg.ports, (uint16_t)p);
	f = open_memstream(&out, &len);
	ctb_daemon_settings_print(f, &s);
	fclose(f);
	for (char *line = out; *line;) {
		size_t n = strcspn(line, "\n");

		assert_true(n <= 150);
		line += n + (line[n] == '\n');
	}
	assert_int_equal(parse(&back, out), 0);
	f = open_memstream(&again, &len2);
	ctb_daemon_settings_print(f, &back);
	fclose(f);
	assert_string_equal(out, again);
	free(out);
	free(again);
	ctb_daemon_settings_free(&s);
	ctb_daemon_settings_free(&back);
}

static void settings_default_off_and_deny_ssh(void **state)
{
	struct ctb_daemon_settings s;

	(void)state;
	assert_int_equal(parse_checked(&s, ""), 0);
	assert_false(ctb_guard_enabled(&s.guard));
	assert_true(ctb_portset_has(&s.guard.deny, 22));
	assert_true(s.guard.fill == 90 && s.guard.release_fill == 70);
	assert_true(s.guard.release_minutes == 0);
	ctb_daemon_settings_free(&s);
}

static void settings_keys(void **state)
{
	struct ctb_daemon_settings s;

	(void)state;
	assert_int_equal(parse_checked(&s, "guard-ports = 80,443\n"
				   "guard-ports = 8080\n"
				   "guard-upstreams = 198.18.0.0/24:3128\n"
				   "guard-deny = none\n"
				   "guard-fill = 85\n"
				   "guard-release-fill = 60.5\n"
				   "guard-release = 15\n"),
			 0);
	assert_true(ctb_guard_enabled(&s.guard));
	assert_true(ctb_portset_has(&s.guard.ports, 80) && ctb_portset_has(&s.guard.ports, 8080));
	assert_int_equal(s.guard.upstreams.count, 1);
	assert_true(ctb_portset_empty(&s.guard.deny));
	assert_true(s.guard.fill == 85 && s.guard.release_fill == 60.5);
	assert_true(s.guard.release_minutes == 15);
	ctb_daemon_settings_free(&s);

	assert_int_equal(parse_checked(&s, "guard-ports = auto\nguard-upstreams = auto\n"), 0);
	assert_true(s.guard.ports_auto && s.guard.upstreams_auto);
	ctb_daemon_settings_free(&s);
}

static void settings_errors(void **state)
{
	struct ctb_daemon_settings s;

	(void)state;
	assert_int_equal(parse_checked(&s, "guard-fill = 101\n"), -EINVAL);
	assert_non_null(strstr(err, "t.conf:1: guard-fill: a percentage from 1 to 100"));
	ctb_daemon_settings_free(&s);
	assert_int_equal(parse_checked(&s, "guard-release = 0\n"), -EINVAL);
	ctb_daemon_settings_free(&s);
	assert_int_equal(parse_checked(&s, "guard-ports = auto\nguard-ports = 80\n"), -EINVAL);
	ctb_daemon_settings_free(&s);
	/* the release level at or above the fill level would flap */
	assert_int_equal(parse_checked(&s, "guard-fill = 80\nguard-release-fill = 80\n"), -EINVAL);
	assert_non_null(strstr(err, "must be below guard-fill"));
	ctb_daemon_settings_free(&s);
	/* unset, it follows the fill level */
	assert_int_equal(parse_checked(&s, "guard-fill = 60\n"), 0);
	assert_true(s.guard.release_fill == 40);
	ctb_daemon_settings_free(&s);
	assert_int_equal(parse_checked(&s, "guard-fill = 10\n"), 0);
	assert_true(s.guard.release_fill == 5);
	ctb_daemon_settings_free(&s);
}

static void settings_print_reads_back(void **state)
{
	struct ctb_daemon_settings s, back;
	char *out = NULL, *again = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(parse_checked(&s, "guard-ports = 80,8000-8010\nguard-upstreams = auto\n"
				   "guard-deny = 22,25\nguard-release = 2.5\n"),
			 0);
	f = open_memstream(&out, &len);
	ctb_daemon_settings_print(f, &s);
	fclose(f);
	assert_non_null(strstr(out, "guard-ports = 80,8000-8010\n"));
	assert_non_null(strstr(out, "guard-upstreams = auto\n"));
	assert_non_null(strstr(out, "guard-release = 2.5\n"));
	assert_int_equal(parse_checked(&back, out), 0);
	f = open_memstream(&again, &len);
	ctb_daemon_settings_print(f, &back);
	fclose(f);
	assert_string_equal(out, again);
	free(out);
	free(again);
	ctb_daemon_settings_free(&s);
	ctb_daemon_settings_free(&back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_key),
		cmocka_unit_test(an_empty_file_is_valid),
		cmocka_unit_test(flags_override_keys),
		cmocka_unit_test(errors_name_file_and_line),
		cmocka_unit_test(lists_continue_over_lines),
		cmocka_unit_test(a_long_line_is_an_error),
		cmocka_unit_test(printed_settings_read_back),
		cmocka_unit_test(settings_default_off_and_deny_ssh),
		cmocka_unit_test(settings_keys),
		cmocka_unit_test(settings_errors),
		cmocka_unit_test(settings_print_reads_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
