// SPDX-License-Identifier: GPL-2.0
/* Protocol and mark options, and which conntrack entries a configuration covers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
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

static struct ctb_flow flow4(uint8_t proto, const char *src, uint16_t sport, const char *dst,
			     uint16_t dport)
{
	struct ctb_flow f = { .family = AF_INET, .l4proto = proto, .sport = sport,
			      .dport = dport };

	inet_pton(AF_INET, src, f.saddr);
	inet_pton(AF_INET, dst, f.daddr);
	return f;
}

static void flows_covered(void **state)
{
	struct ctb_config cfg;
	struct ctb_flow f;

	(void)state;
	ctb_config_init(&cfg);
	ctb_portset_parse(&cfg.ports, "80", err, sizeof(err));
	ctb_upstream_list_parse(&cfg.upstreams, "198.18.0.7:3128", err, sizeof(err));

	/* A client connecting to our server port, and a connection we opened from it. */
	f = flow4(IPPROTO_TCP, "198.18.0.2", 40000, "198.18.0.1", 80);
	assert_true(ctb_config_covers_flow(&cfg, &f));
	f = flow4(IPPROTO_TCP, "198.18.0.1", 80, "198.18.0.2", 40000);
	assert_true(ctb_config_covers_flow(&cfg, &f));
	/* We as client of the upstream; and the upstream's port at another address. */
	f = flow4(IPPROTO_TCP, "198.18.0.1", 40000, "198.18.0.7", 3128);
	assert_true(ctb_config_covers_flow(&cfg, &f));
	f = flow4(IPPROTO_TCP, "198.18.0.1", 40000, "198.18.0.8", 3128);
	assert_false(ctb_config_covers_flow(&cfg, &f));
	/* Protocol not bypassed; unrelated ports. */
	f = flow4(IPPROTO_UDP, "198.18.0.2", 40000, "198.18.0.1", 80);
	assert_false(ctb_config_covers_flow(&cfg, &f));
	f = flow4(IPPROTO_TCP, "198.18.0.2", 40000, "198.18.0.1", 8080);
	assert_false(ctb_config_covers_flow(&cfg, &f));
	ctb_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(protocols),
		cmocka_unit_test(marks),
		cmocka_unit_test(flows_covered),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
