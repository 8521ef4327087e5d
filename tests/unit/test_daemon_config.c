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
				   "verify-interval = 2.5\n"),
			 0);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_key),
		cmocka_unit_test(an_empty_file_is_valid),
		cmocka_unit_test(flags_override_keys),
		cmocka_unit_test(errors_name_file_and_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
