// SPDX-License-Identifier: GPL-2.0
/* Port-list parsing and formatting: every bad input leaves the set unchanged. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "portset.h"

static char err[256];

static void assert_rejected(const char *list, const char *expect_in_message)
{
	struct ctb_portset set;

	ctb_portset_clear(&set);
	ctb_portset_add(&set, 443);
	err[0] = '\0';
	assert_int_equal(ctb_portset_parse(&set, list, err, sizeof(err)), -22);
	assert_non_null(strstr(err, expect_in_message));
	assert_int_equal(ctb_portset_count(&set), 1); /* never half-applied */
	assert_true(ctb_portset_has(&set, 443));
}

static void bad_lists_are_rejected(void **state)
{
	(void)state;
	assert_rejected("0", "out of range");
	assert_rejected("65536", "out of range");
	assert_rejected("99999", "out of range");
	assert_rejected("123456", "not a port");
	assert_rejected("80-70", "reversed");
	assert_rejected("abc", "not a port");
	assert_rejected("80,,81", "empty item");
	assert_rejected("", "empty port list");
	assert_rejected("80,", "empty item");
	assert_rejected(",80", "empty item");
	assert_rejected("80-", "not a port");
	assert_rejected("-80", "not a port");
	assert_rejected("80-81-82", "not a port");
	assert_rejected(" 80", "not a port");
	assert_rejected("80 ", "not a port");
	assert_rejected("+80", "not a port");
	assert_rejected("0x50", "not a port");
	assert_rejected("80,0", "out of range");
	assert_rejected("1-65536", "out of range");
	assert_rejected("8.0", "not a port");
}

static void null_list_is_rejected(void **state)
{
	struct ctb_portset set;

	(void)state;
	ctb_portset_clear(&set);
	assert_int_equal(ctb_portset_parse(&set, NULL, err, sizeof(err)), -22);
}

static void singles_ranges_and_duplicates(void **state)
{
	struct ctb_portset set;
	char text[64];

	(void)state;
	ctb_portset_clear(&set);
	assert_int_equal(ctb_portset_parse(&set, "80,81,82,8000-8010,81,8005", err, sizeof(err)), 0);
	assert_int_equal(ctb_portset_count(&set), 3 + 11);
	assert_true(ctb_portset_has(&set, 8000) && ctb_portset_has(&set, 8010));
	assert_false(ctb_portset_has(&set, 7999) || ctb_portset_has(&set, 8011));
	ctb_portset_format(&set, text, sizeof(text));
	assert_string_equal(text, "80-82,8000-8010");
}

static void full_range_and_edges(void **state)
{
	struct ctb_portset set;
	char text[64];

	(void)state;
	ctb_portset_clear(&set);
	assert_int_equal(ctb_portset_parse(&set, "1-65535", err, sizeof(err)), 0);
	assert_int_equal(ctb_portset_count(&set), 65535);
	assert_false(ctb_portset_has(&set, 0));
	assert_true(ctb_portset_has(&set, 65535));
	ctb_portset_format(&set, text, sizeof(text));
	assert_string_equal(text, "1-65535");
	ctb_portset_clear(&set);
	assert_int_equal(ctb_portset_parse(&set, "65535,1,00080", err, sizeof(err)), 0);
	ctb_portset_format(&set, text, sizeof(text));
	assert_string_equal(text, "1,80,65535");
}

static void union_subtract_and_ranges(void **state)
{
	struct ctb_portset a, b;
	uint32_t cursor = 0;
	uint16_t lo, hi;

	(void)state;
	ctb_portset_clear(&a);
	ctb_portset_clear(&b);
	ctb_portset_parse(&a, "8000-8010", err, sizeof(err));
	ctb_portset_parse(&b, "8005", err, sizeof(err));
	ctb_portset_subtract(&a, &b);
	assert_true(ctb_portset_next_range(&a, &cursor, &lo, &hi));
	assert_int_equal(lo, 8000);
	assert_int_equal(hi, 8004);
	assert_true(ctb_portset_next_range(&a, &cursor, &lo, &hi));
	assert_int_equal(lo, 8006);
	assert_int_equal(hi, 8010);
	assert_false(ctb_portset_next_range(&a, &cursor, &lo, &hi));
	ctb_portset_union(&a, &b);
	assert_int_equal(ctb_portset_count(&a), 11);
	ctb_portset_subtract(&a, &a);
	assert_true(ctb_portset_empty(&a));
}

/* next: the first member at or after a port, across word boundaries, or CTB_PORTS. */
static void next_finds_members_across_words(void **state)
{
	struct ctb_portset s;

	(void)state;
	ctb_portset_clear(&s);
	assert_int_equal(ctb_portset_next(&s, 0), CTB_PORTS);
	ctb_portset_add(&s, 63);
	ctb_portset_add(&s, 64);
	ctb_portset_add(&s, 65535);
	assert_int_equal(ctb_portset_next(&s, 0), 63);
	assert_int_equal(ctb_portset_next(&s, 63), 63);
	assert_int_equal(ctb_portset_next(&s, 64), 64);
	assert_int_equal(ctb_portset_next(&s, 65), 65535);
	assert_int_equal(ctb_portset_next(&s, 65535), 65535);
	assert_int_equal(ctb_portset_next(&s, CTB_PORTS), CTB_PORTS);
}

static void format_reports_needed_length(void **state)
{
	struct ctb_portset set;
	char small[8];

	(void)state;
	ctb_portset_clear(&set);
	ctb_portset_parse(&set, "1,3,5,7,9,11", err, sizeof(err));
	assert_int_equal(ctb_portset_format(&set, NULL, 0), strlen("1,3,5,7,9,11"));
	ctb_portset_format(&set, small, sizeof(small));
	assert_true(strlen(small) < sizeof(small)); /* truncated at an item, terminated */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bad_lists_are_rejected),
		cmocka_unit_test(null_list_is_rejected),
		cmocka_unit_test(singles_ranges_and_duplicates),
		cmocka_unit_test(full_range_and_edges),
		cmocka_unit_test(union_subtract_and_ranges),
		cmocka_unit_test(format_reports_needed_length),
		cmocka_unit_test(next_finds_members_across_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
