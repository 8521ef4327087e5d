// SPDX-License-Identifier: GPL-2.0
/* Upstream parsing: strict input, canonical output, lists that never half-apply. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include "upstream.h"

static char err[256];

static void assert_rejected(const char *text, const char *expect_in_message)
{
	struct ctb_upstream up;

	err[0] = '\0';
	assert_int_equal(ctb_upstream_parse(text, &up, err, sizeof(err)), -22);
	if (!strstr(err, expect_in_message))
		fail_msg("'%s': message '%s' lacks '%s'", text, err, expect_in_message);
}

static void bad_upstreams_are_rejected(void **state)
{
	(void)state;
	assert_rejected("1.2.3.4", "expected ADDR");
	assert_rejected("1.2.3.4:0", "port must be 1-65535");
	assert_rejected("1.2.3.4:65536", "port must be 1-65535");
	assert_rejected("1.2.3.4:", "port must be 1-65535");
	assert_rejected("1.2.3.4/33:80", "prefix length must be 0-32");
	assert_rejected("1.2.3.4/:80", "prefix length");
	assert_rejected("host:80", "not a numeric");
	assert_rejected("1.2.3:80", "not a numeric");
	assert_rejected("fd00::1:80", "expected ADDR"); /* IPv6 needs brackets */
	assert_rejected("[fd00::1]", "expected ADDR");
	assert_rejected("[fd00::1:80", "expected ADDR");
	assert_rejected("[fd00::1]/129:80", "prefix length must be 0-128");
	assert_rejected("[1.2.3.4]:80", "brackets are for IPv6");
	assert_rejected("[host]:80", "brackets are for IPv6");
	assert_rejected("198.18.0.7/24:80", "bits set beyond /24");
	assert_rejected("[::ffff:1.2.3.4]:80", "IPv4");
	assert_rejected("1.2.3.4:80x", "port must be 1-65535");
}

static void canonical(const char *in, const char *out)
{
	struct ctb_upstream up;
	char text[CTB_UPSTREAM_STRLEN];

	assert_int_equal(ctb_upstream_parse(in, &up, err, sizeof(err)), 0);
	ctb_upstream_format(&up, text);
	assert_string_equal(text, out);
}

static void good_upstreams_print_canonically(void **state)
{
	(void)state;
	canonical("198.18.0.7:3128", "198.18.0.7:3128");
	canonical("198.18.0.7/32:3128", "198.18.0.7:3128");
	canonical("198.18.4.0/24:3128", "198.18.4.0/24:3128");
	canonical("0.0.0.0/0:53", "0.0.0.0/0:53");
	canonical("[fd00:c7::7]:3128", "[fd00:c7::7]:3128");
	canonical("[fd00:c7:0::/64]:443", "[fd00:c7::/64]:443");
	canonical("[fd00:c7::]/64:443", "[fd00:c7::/64]:443");
}

static void covers_checks_prefix_bits(void **state)
{
	struct ctb_upstream up;
	uint8_t a[16] = { 0 };

	(void)state;
	assert_int_equal(ctb_upstream_parse("198.18.4.0/23:80", &up, err, sizeof(err)), 0);
	inet_pton(AF_INET, "198.18.5.200", a);
	assert_true(ctb_upstream_covers(&up, AF_INET, a));
	inet_pton(AF_INET, "198.18.6.1", a);
	assert_false(ctb_upstream_covers(&up, AF_INET, a));
	assert_false(ctb_upstream_covers(&up, AF_INET6, a));
}

static void lists_deduplicate_and_never_half_apply(void **state)
{
	struct ctb_upstream_list list = { 0 };

	(void)state;
	assert_int_equal(ctb_upstream_list_parse(&list, "198.18.0.7:3128,198.18.0.7/32:3128,"
							"[fd00:c7::7]:3128", err, sizeof(err)), 0);
	assert_int_equal(list.count, 2);
	assert_int_equal(ctb_upstream_list_parse(&list, "198.18.0.8:80,bad:80", err, sizeof(err)),
			 -22);
	assert_int_equal(list.count, 2);
	assert_int_equal(ctb_upstream_list_parse(&list, "198.18.0.8:80,", err, sizeof(err)), -22);
	assert_non_null(strstr(err, "empty item"));
	assert_int_equal(ctb_upstream_list_parse(&list, "", err, sizeof(err)), -22);
	assert_int_equal(list.count, 2);
	struct ctb_upstream up;

	ctb_upstream_parse("198.18.0.7:3128", &up, err, sizeof(err));
	ctb_upstream_list_remove(&list, &up);
	assert_int_equal(list.count, 1);
	assert_false(ctb_upstream_list_has(&list, &up));
	ctb_upstream_list_free(&list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bad_upstreams_are_rejected),
		cmocka_unit_test(good_upstreams_print_canonically),
		cmocka_unit_test(covers_checks_prefix_bits),
		cmocka_unit_test(lists_deduplicate_and_never_half_apply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
