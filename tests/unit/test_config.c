// SPDX-License-Identifier: GPL-2.0
/* Protocol and mark options. Which entries a flush deletes: test_ct_flush_match.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "config.h"

static char err[256];

static void protocols(void **state)
{
	unsigned int p;

	(void)state;
	assert_int_equal(ctb_protocols_parse("tcp", &p, err, sizeof(err)), 0);
	assert_int_equal(p, CTB_PROTO_TCP);
	assert_int_equal(ctb_protocols_parse("udp,tcp", &p, err, sizeof(err)), 0);
	assert_int_equal(p, CTB_PROTO_TCP | CTB_PROTO_UDP);
	assert_string_equal(ctb_protocols_name(p), "tcp,udp");
	assert_int_equal(ctb_protocols_parse("sctp", &p, err, sizeof(err)), -22);
	assert_int_equal(ctb_protocols_parse("tcp,", &p, err, sizeof(err)), -22);
	assert_int_equal(ctb_protocols_parse("", &p, err, sizeof(err)), -22);
	assert_int_equal(ctb_protocols_parse("TCP", &p, err, sizeof(err)), -22);
}

static void marks(void **state)
{
	uint32_t m;

	(void)state;
	/* octal to iproute2 and iptables, decimal to strtoul(…, 10): refused */
	assert_int_equal(ctb_mark_parse("010", &m, err, sizeof(err)), -22);
	assert_non_null(strstr(err, "ambiguous mark"));
	assert_int_equal(ctb_mark_parse("10", &m, err, sizeof(err)), 0);
	assert_int_equal(m, 10);
	assert_int_equal(ctb_mark_parse("0x1000", &m, err, sizeof(err)), 0);
	assert_int_equal(m, 0x1000);
	assert_int_equal(ctb_mark_parse("4096", &m, err, sizeof(err)), 0);
	assert_int_equal(m, 0x1000);
	assert_int_equal(ctb_mark_parse("0xffffffff", &m, err, sizeof(err)), 0);
	assert_int_equal(ctb_mark_parse("0", &m, err, sizeof(err)), -22);
	assert_int_equal(ctb_mark_parse("0x100000000", &m, err, sizeof(err)), -22);
	assert_int_equal(ctb_mark_parse("-1", &m, err, sizeof(err)), -22);
	assert_int_equal(ctb_mark_parse("0x10zz", &m, err, sizeof(err)), -22);
	assert_int_equal(ctb_mark_parse("", &m, err, sizeof(err)), -22);
	assert_non_null(strstr(err, "bad mark"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(protocols),
		cmocka_unit_test(marks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
