// SPDX-License-Identifier: GPL-2.0
/*
 * The guard's pure parts (its settings are in test_daemon_config.c): when it acts and lets go (levels,
 * drops, rate limit, hysteresis), what it may bypass and picks, the record
 * it keeps, and the fill forecast.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>
#include "fill_forecast.h"
#include "guard_pick.h"
#include "guard_record.h"
#include "guard_settings.h"
#include "guard_trigger.h"

static char err[256];

/* ---- trigger ---- */

static enum ctb_guard_verdict sample(struct ctb_guard_trigger *t, long long ms, uint64_t entries,
				     uint64_t drops, bool guarded)
{
	char why[160];

	return ctb_guard_trigger_sample(t, ms, entries, 1000, true, drops, guarded, why,
					sizeof(why));
}

static void trigger_acts_at_the_fill_level(void **state)
{
	struct ctb_guard_trigger t;
	char why[160];

	(void)state;
	ctb_guard_trigger_init(&t, 90, 70, 0);
	assert_int_equal(sample(&t, 0, 899, 0, false), CTB_GUARD_IDLE);
	assert_int_equal(ctb_guard_trigger_sample(&t, 100, 900, 1000, true, 0, false, why,
						  sizeof(why)),
			 CTB_GUARD_ACT);
	assert_non_null(strstr(why, "table 90.0 % full (900 of 1000)"));
}

static void trigger_acts_on_a_drop(void **state)
{
	struct ctb_guard_trigger t;

	(void)state;
	ctb_guard_trigger_init(&t, 90, 70, 0);
	/* the first sample is the baseline: drops before the daemon are not new */
	assert_int_equal(sample(&t, 0, 100, 50, false), CTB_GUARD_IDLE);
	assert_int_equal(sample(&t, 100, 100, 50, false), CTB_GUARD_IDLE);
	assert_int_equal(sample(&t, 200, 100, 51, false), CTB_GUARD_ACT);
	/* a counter that went down restarted: not a drop */
	ctb_guard_trigger_acted(&t, 200);
	assert_int_equal(sample(&t, 5000, 100, 3, false), CTB_GUARD_IDLE);
}

static void trigger_rate_limit(void **state)
{
	struct ctb_guard_trigger t;
	long long ms = 0;
	int acts = 0, limited = 0;

	(void)state;
	ctb_guard_trigger_init(&t, 90, 70, 0);
	/* Full for a whole minute, sampled every 100 ms: 4 actions, 2 s apart at least. */
	for (; ms < 59000; ms += 100) {
		enum ctb_guard_verdict v = sample(&t, ms, 950, 0, false);

		if (v == CTB_GUARD_ACT) {
			acts++;
			ctb_guard_trigger_acted(&t, ms);
		} else if (v == CTB_GUARD_LIMITED) {
			limited++;
		}
	}
	assert_int_equal(acts, CTB_GUARD_ACTIONS_PER_MINUTE);
	/* LIMITED is said once after each action, not every sample */
	assert_int_equal(limited, CTB_GUARD_ACTIONS_PER_MINUTE);
	/* the minute after the first action: one more */
	assert_int_equal(sample(&t, 60000, 950, 0, false), CTB_GUARD_ACT);
}

static void trigger_holdoff(void **state)
{
	struct ctb_guard_trigger t;

	(void)state;
	ctb_guard_trigger_init(&t, 90, 70, 0);
	assert_int_equal(sample(&t, 0, 950, 0, false), CTB_GUARD_ACT);
	ctb_guard_trigger_acted(&t, 0);
	assert_int_equal(sample(&t, CTB_GUARD_HOLDOFF_MS - 100, 950, 0, false), CTB_GUARD_LIMITED);
	assert_int_equal(sample(&t, CTB_GUARD_HOLDOFF_MS, 950, 0, false), CTB_GUARD_ACT);
}

static void trigger_release_with_hysteresis(void **state)
{
	struct ctb_guard_trigger t;

	(void)state;
	ctb_guard_trigger_init(&t, 90, 70, 1); /* a minute below 70 % */
	/* between the levels: neither acts nor lets go, however long */
	for (long long ms = 0; ms <= 600000; ms += 1000)
		assert_int_equal(sample(&t, ms, 800, 0, true), CTB_GUARD_IDLE);
	/* below: after a minute, not before */
	assert_int_equal(sample(&t, 601000, 600, 0, true), CTB_GUARD_IDLE);
	assert_int_equal(sample(&t, 660000, 600, 0, true), CTB_GUARD_IDLE);
	/* a sample above the release level restarts the clock */
	assert_int_equal(sample(&t, 660500, 750, 0, true), CTB_GUARD_IDLE);
	assert_int_equal(sample(&t, 661000, 600, 0, true), CTB_GUARD_IDLE);
	assert_int_equal(sample(&t, 720000, 600, 0, true), CTB_GUARD_IDLE);
	assert_int_equal(sample(&t, 721000, 600, 0, true), CTB_GUARD_RELEASE);
	/* nothing guarded, nothing to release */
	ctb_guard_trigger_released(&t);
	assert_int_equal(sample(&t, 800000, 600, 0, false), CTB_GUARD_IDLE);
}

static void trigger_never_releases_by_default(void **state)
{
	struct ctb_guard_trigger t;

	(void)state;
	ctb_guard_trigger_init(&t, 90, 70, 0);
	for (long long ms = 0; ms <= 3600000; ms += 60000)
		assert_int_equal(sample(&t, ms, 0, 0, true), CTB_GUARD_IDLE);
}

/* ---- what it may bypass, and picks ---- */

static struct ctb_doctor_cand server(uint16_t port, uint64_t entries, bool listening)
{
	return (struct ctb_doctor_cand){ .role = CTB_ROLE_SERVER, .l4proto = IPPROTO_TCP,
					 .port = port, .entries = entries,
					 .listening = listening };
}

static struct ctb_doctor_cand upstream(const char *text, uint64_t entries)
{
	struct ctb_upstream up;
	struct ctb_doctor_cand c = { .role = CTB_ROLE_UPSTREAM, .l4proto = IPPROTO_TCP };

	assert_int_equal(ctb_upstream_parse(text, &up, err, sizeof(err)), 0);
	c.family = up.family;
	memcpy(c.addr, up.addr, 16);
	c.port = up.port;
	c.entries = entries;
	return c;
}

static void allows(void **state)
{
	struct ctb_guard_settings g;
	struct ctb_config bypassed;
	struct ctb_doctor_cand udp53 = server(53, 10, true);
	char why[96];

	(void)state;
	ctb_guard_settings_init(&g);
	ctb_config_init(&bypassed);
	ctb_portset_add(&bypassed.ports, 443);
	assert_int_equal(ctb_guard_set(&g, "guard-ports", "22,80,443", err, sizeof(err)), 0);
	assert_int_equal(ctb_guard_set(&g, "guard-upstreams", "198.18.1.0/24:3128", err,
				       sizeof(err)),
			 0);
	/* a listed port, listening or not */
	assert_true(ctb_guard_allows(&g, &bypassed, &(struct ctb_doctor_cand){ .role =
		CTB_ROLE_SERVER, .l4proto = IPPROTO_TCP, .port = 80 }, why, sizeof(why)));
	/* even a listening port outside the list is not the guard's */
	assert_false(ctb_guard_allows(&g, &bypassed, &(struct ctb_doctor_cand){ .role =
		CTB_ROLE_SERVER, .l4proto = IPPROTO_TCP, .port = 8080, .listening = true },
				      why, sizeof(why)));
	assert_string_equal(why, "not in guard-ports");
	/* the deny list wins over the allowlist */
	assert_false(ctb_guard_allows(&g, &bypassed, &(struct ctb_doctor_cand){ .role =
		CTB_ROLE_SERVER, .l4proto = IPPROTO_TCP, .port = 22 }, why, sizeof(why)));
	assert_string_equal(why, "port 22 is in guard-deny");
	assert_false(ctb_guard_allows(&g, &bypassed, &(struct ctb_doctor_cand){ .role =
		CTB_ROLE_SERVER, .l4proto = IPPROTO_TCP, .port = 443 }, why, sizeof(why)));
	assert_string_equal(why, "bypassed already");
	/* never widens the protocols: a tcp daemon leaves udp alone */
	assert_false(ctb_guard_allows(&g, &bypassed, &(struct ctb_doctor_cand){ .role =
		CTB_ROLE_SERVER, .l4proto = IPPROTO_UDP, .port = 80 }, why, sizeof(why)));
	/* upstreams inside the allowed prefix, on its port only */
	struct ctb_doctor_cand in = upstream("198.18.1.9:3128", 5), out = upstream("198.18.2.9:3128", 5),
			       other = upstream("198.18.1.9:80", 5);

	assert_true(ctb_guard_allows(&g, &bypassed, &in, why, sizeof(why)));
	assert_false(ctb_guard_allows(&g, &bypassed, &out, why, sizeof(why)));
	assert_false(ctb_guard_allows(&g, &bypassed, &other, why, sizeof(why)));
	/* auto: only what listens */
	assert_int_equal(ctb_guard_set(&g, "guard-ports", "auto", err, sizeof(err)), 0);
	assert_true(ctb_guard_allows(&g, &bypassed, &(struct ctb_doctor_cand){ .role =
		CTB_ROLE_SERVER, .l4proto = IPPROTO_TCP, .port = 8080, .listening = true },
				     why, sizeof(why)));
	assert_false(ctb_guard_allows(&g, &bypassed, &(struct ctb_doctor_cand){ .role =
		CTB_ROLE_SERVER, .l4proto = IPPROTO_TCP, .port = 9999 }, why, sizeof(why)));
	bypassed.protocols = CTB_PROTO_TCP | CTB_PROTO_UDP;
	assert_true(ctb_guard_allows(&g, &bypassed, &udp53, why, sizeof(why)));
	ctb_config_free(&bypassed);
	ctb_guard_settings_free(&g);
}

static void choose_most_entries_until_below_release(void **state)
{
	struct ctb_doctor_cand c[4] = { server(80, 500, true), server(81, 300, true),
					server(82, 100, true), server(83, 50, true) };
	bool ok[4] = { true, false, true, true };
	size_t picked[4];

	(void)state;
	/* 950 of 1000, release at 70 %: 80 brings it to 450, enough */
	assert_int_equal(ctb_guard_choose(c, ok, 4, 950, 1000, 70, picked), 1);
	assert_int_equal(picked[0], 0);
	/* release at 30 %: 80 (450 left), 81 refused, 82 (350 left), 83 (300: still not
	 * below 300) */
	assert_int_equal(ctb_guard_choose(c, ok, 4, 950, 1000, 30, picked), 3);
	assert_int_equal(picked[1], 2);
	assert_int_equal(picked[2], 3);
	/* at a low fill (a drop woke it): still one, the heaviest allowed */
	assert_int_equal(ctb_guard_choose(c, ok, 4, 100, 1000, 70, picked), 1);
	/* nothing allowed, or nothing with entries: none */
	ok[0] = ok[2] = ok[3] = false;
	assert_int_equal(ctb_guard_choose(c, ok, 4, 950, 1000, 70, picked), 0);
	c[1].entries = 0;
	ok[1] = true;
	assert_int_equal(ctb_guard_choose(c, ok, 4, 950, 1000, 70, picked), 0);
}

/* ---- the record ---- */

static void record_reads_back(void **state)
{
	struct ctb_guard_record *r = calloc(1, sizeof(*r)), *back = calloc(1, sizeof(*back));
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	r->items[0] = (struct ctb_guard_item){ .cand = server(80, 41200, true), .added = 1765000000,
					       .entries = 41200 };
	snprintf(r->items[0].why, sizeof(r->items[0].why), "table 92.3 %% full (60500 of 65536)");
	r->items[1] = (struct ctb_guard_item){ .cand = upstream("[fd00:c7::9]:6379", 7),
					       .added = 1765000001, .entries = 7 };
	r->items[1].cand.l4proto = IPPROTO_UDP;
	snprintf(r->items[1].why, sizeof(r->items[1].why), "3 drops\nforged");
	r->count = 2;
	f = open_memstream(&out, &len);
	ctb_guard_record_format(f, r);
	fclose(f);
	assert_string_equal(out, "port tcp 80 1765000000 41200 table 92.3 % full (60500 of 65536)\n"
				 "upstream udp [fd00:c7::9]:6379 1765000001 7 3 drops?forged\n");
	assert_int_equal(ctb_guard_record_parse(back, out, len), 0);
	assert_int_equal(back->count, 2);
	assert_int_equal(back->items[0].cand.port, 80);
	assert_int_equal(back->items[0].entries, 41200);
	assert_int_equal(back->items[1].cand.role, CTB_ROLE_UPSTREAM);
	assert_int_equal(back->items[1].cand.l4proto, IPPROTO_UDP);
	assert_int_equal(back->items[1].cand.family, AF_INET6);
	assert_string_equal(back->items[1].why, "3 drops?forged");
	free(out);
	free(r);
	free(back);
}

static void record_refuses_what_it_did_not_write(void **state)
{
	static const char *const bad[] = {
		"port tcp 80 1 2 why", /* no newline: cut short */
		"port tcp 0 1 2 x\n",
		"port tcp 65536 1 2 x\n",
		"port sctp 80 1 2 x\n",
		"ports tcp 80 1 2 x\n",
		"port tcp 80 -1 2 x\n",
		"port tcp 80 1 99999999999999999999999 x\n",
		"upstream tcp 198.18.0.0/24:80 1 2 x\n", /* the guard adds single hosts */
		"upstream tcp 198.18.0.1 1 2 x\n",
		"port tcp 80 1 2 a\tb\n",
		"port tcp 80\n",
		"\n",
	};
	struct ctb_guard_record *r = calloc(1, sizeof(*r));

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ctb_guard_record_parse(r, bad[i], strlen(bad[i])), -EINVAL);
	assert_int_equal(ctb_guard_record_parse(r, "", 0), 0);
	assert_int_equal(r->count, 0);
	/* an empty reason is fine */
	assert_int_equal(ctb_guard_record_parse(r, "port udp 53 1 2 \n", 17), 0);
	free(r);
}

static void record_applies_to_a_config(void **state)
{
	struct ctb_guard_record *r = calloc(1, sizeof(*r));
	struct ctb_config cfg;

	(void)state;
	ctb_config_init(&cfg);
	r->items[0].cand = server(80, 1, true);
	r->items[1].cand = upstream("198.18.0.9:3128", 1);
	r->items[2].cand = upstream("198.18.0.9:3128", 1);
	r->count = 3;
	assert_int_equal(ctb_guard_record_apply(r, &cfg), 0);
	assert_true(ctb_portset_has(&cfg.ports, 80));
	assert_int_equal(cfg.upstreams.count, 1);
	assert_int_equal(cfg.upstreams.items[0].prefixlen, 32);
	ctb_config_free(&cfg);
	free(r);
}

/* ---- forecast ---- */

static void forecast(void **state)
{
	struct ctb_fill_forecast f;

	(void)state;
	ctb_fill_forecast_reset(&f);
	/* 100 entries a second, sampled every 100 ms, with jitter */
	for (int i = 0; i <= 50; i++)
		ctb_fill_forecast_add(&f, i * 100, (uint64_t)(1000 + i * 10 + (i % 2 ? 3 : -3)));
	assert_true(fabs(ctb_fill_forecast_rate(&f) - 100) < 2);
	assert_true(fabs(ctb_fill_forecast_seconds(&f, 1500, 2500) - 10) < 0.3);
	assert_true(ctb_fill_forecast_seconds(&f, 2500, 2500) == 0);
	/* a window shorter than 2 s says nothing */
	ctb_fill_forecast_reset(&f);
	ctb_fill_forecast_add(&f, 0, 0);
	ctb_fill_forecast_add(&f, 1000, 1000);
	assert_true(isinf(ctb_fill_forecast_seconds(&f, 1000, 5000)));
	/* flat or falling: not filling */
	ctb_fill_forecast_reset(&f);
	for (int i = 0; i <= 30; i++)
		ctb_fill_forecast_add(&f, i * 1000, (uint64_t)(5000 - i * 10));
	assert_true(isinf(ctb_fill_forecast_seconds(&f, 4700, 10000)));
	/* only the last 10 s count: an old climb is forgotten */
	ctb_fill_forecast_reset(&f);
	for (int i = 0; i <= 10; i++)
		ctb_fill_forecast_add(&f, i * 1000, (uint64_t)(i * 1000));
	for (int i = 11; i <= 40; i++)
		ctb_fill_forecast_add(&f, i * 1000, 10000);
	assert_true(isinf(ctb_fill_forecast_seconds(&f, 10000, 20000)));
	/* a sample not later than the last is ignored */
	ctb_fill_forecast_add(&f, 40000, 0);
	assert_true(isinf(ctb_fill_forecast_seconds(&f, 10000, 20000)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(trigger_acts_at_the_fill_level),
		cmocka_unit_test(trigger_acts_on_a_drop),
		cmocka_unit_test(trigger_rate_limit),
		cmocka_unit_test(trigger_holdoff),
		cmocka_unit_test(trigger_release_with_hysteresis),
		cmocka_unit_test(trigger_never_releases_by_default),
		cmocka_unit_test(allows),
		cmocka_unit_test(choose_most_entries_until_below_release),
		cmocka_unit_test(record_reads_back),
		cmocka_unit_test(record_refuses_what_it_did_not_write),
		cmocka_unit_test(record_applies_to_a_config),
		cmocka_unit_test(forecast),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
