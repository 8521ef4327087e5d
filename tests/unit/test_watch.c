// SPDX-License-Identifier: GPL-2.0
/*
 * `watch` arithmetic and output: per-CPU deltas (resets, wraps, CPUs coming and
 * going), the interval clock (overruns), top-K aggregation, and the JSON object.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <cmocka.h>
#include "watch_output.h"
#include "watch_rates.h"
#include "watch_topk.h"

#define S 1000000000ull

static void counter_delta_and_reset(void **state)
{
	(void)state;
	assert_int_equal(ctb_counter_delta(10, 15), 5);
	assert_int_equal(ctb_counter_delta(10, 10), 0);
	/* Restarted (program reloaded, counters zeroed): what it counted since. */
	assert_int_equal(ctb_counter_delta(1000, 7), 7);
	/* The kernel's 32-bit statistics wrap instead. */
	assert_int_equal(ctb_counter_delta_wrapping(0xfffffffeull, 3, 32), 5);
	assert_int_equal(ctb_counter_delta_wrapping(5, 9, 32), 4);
	assert_int_equal(ctb_counter_delta_wrapping(UINT64_MAX, 1, 64), 2);
}

static void rates_sum_per_cpu_deltas(void **state)
{
	struct ctb_rates r;
	uint64_t v[2 * 2], d[2] = { 0 };

	(void)state;
	assert_int_equal(ctb_rates_init(&r, 2, true, 0), 0);
	memcpy(v, (uint64_t[]){ 100, 5, 200, 7 }, sizeof(v));
	assert_int_equal(ctb_rates_update(&r, v, NULL, 2, d), 0);
	assert_int_equal(d[0], 0); /* the first sample is the baseline */
	memcpy(v, (uint64_t[]){ 110, 5, 230, 9 }, sizeof(v));
	ctb_rates_update(&r, v, NULL, 2, d);
	assert_int_equal(d[0], 40);
	assert_int_equal(d[1], 2);
	/* CPU 1 reset to 4: counts 4, not a huge negative. */
	memset(d, 0, sizeof(d));
	memcpy(v, (uint64_t[]){ 111, 5, 4, 9 }, sizeof(v));
	ctb_rates_update(&r, v, NULL, 2, d);
	assert_int_equal(d[0], 1 + 4);
	assert_int_equal(d[1], 0);
	ctb_rates_free(&r);
}

static void rates_cpus_coming_and_going(void **state)
{
	struct ctb_rates bpf, kernel;
	uint64_t v[3] = { 10, 20, 0 }, d[1] = { 0 }, dk[1] = { 0 };
	uint8_t present[3] = { 1, 1, 0 };

	(void)state;
	ctb_rates_init(&bpf, 1, true, 0);
	ctb_rates_init(&kernel, 1, false, 32);
	ctb_rates_update(&bpf, v, present, 3, d);
	ctb_rates_update(&kernel, v, present, 3, dk);
	/* CPU 1 stops being reported: it adds nothing and keeps its last value. */
	present[1] = 0;
	v[0] = 15;
	v[1] = 999;
	ctb_rates_update(&bpf, v, present, 3, d);
	assert_int_equal(d[0], 5);
	/* CPU 1 is back: only what it gained since it was last seen. CPU 2 appears:
	 * our counters started at zero, so all of it; the kernel's predate us. */
	present[1] = present[2] = 1;
	v[1] = 26;
	v[2] = 8;
	d[0] = 0;
	ctb_rates_update(&bpf, v, present, 3, d);
	assert_int_equal(d[0], 6 + 8);
	ctb_rates_update(&kernel, v, present, 3, dk);
	assert_int_equal(dk[0], 5 + 6);
	/* A CPU beyond any seen so far: the table grows. */
	{
		uint64_t w[5] = { 15, 26, 8, 0, 3 };

		d[0] = 0;
		assert_int_equal(ctb_rates_update(&bpf, w, NULL, 5, d), 0);
		assert_int_equal(d[0], 3);
	}
	ctb_rates_free(&bpf);
	ctb_rates_free(&kernel);
}

static void interval_clock_and_overruns(void **state)
{
	uint64_t skipped, next;

	(void)state;
	/* On time: the next tick. */
	next = ctb_interval_next(0, S, S, S + S / 10, &skipped);
	assert_int_equal(next, 2 * S);
	assert_int_equal(skipped, 0);
	/* Sampling ran past two ticks: sleep to the one after now, say two were missed. */
	next = ctb_interval_next(0, S, S, 3 * S + 5, &skipped);
	assert_int_equal(next, 4 * S);
	assert_int_equal(skipped, 2);
	/* Exactly on the next tick: it is due, not missed. */
	next = ctb_interval_next(0, S, S, 2 * S, &skipped);
	assert_int_equal(next, 2 * S);
	assert_int_equal(skipped, 0);
	/* The grid stays anchored at the start, whatever the interval. */
	next = ctb_interval_next(7, 250, 257, 1000, &skipped);
	assert_int_equal(next, 1007);
	assert_int_equal(skipped, 2);
	assert_true(ctb_rate_per_sec(30, 2 * S) > 14.99 && ctb_rate_per_sec(30, 2 * S) < 15.01);
	assert_true(ctb_rate_per_sec(30, 0) == 0.0);
}

static struct ctb_topk_key addr_key(const char *a)
{
	struct ctb_topk_key k = { .family = AF_INET };

	inet_pton(AF_INET, a, k.addr);
	return k;
}

static void topk_ranks_and_ties(void **state)
{
	struct ctb_topk t;
	struct ctb_topk_entry out[3];
	struct ctb_topk_key a = addr_key("10.0.0.1"), b = addr_key("10.0.0.2"),
			    c = addr_key("10.0.0.3"), d = addr_key("10.0.0.4");

	(void)state;
	assert_int_equal(ctb_topk_init(&t, 100), 0);
	assert_int_equal(ctb_topk_top(&t, 3, out), 0);
	ctb_topk_add(&t, &a, 1);
	ctb_topk_add(&t, &b, 5);
	ctb_topk_add(&t, &c, 3);
	ctb_topk_add(&t, &d, 3);
	ctb_topk_add(&t, &a, 1);
	assert_int_equal(ctb_topk_top(&t, 3, out), 3);
	assert_memory_equal(&out[0].key, &b, sizeof(b));
	assert_int_equal(out[0].count, 5);
	/* Equal counts in key order: c before d, every time. */
	assert_memory_equal(&out[1].key, &c, sizeof(c));
	assert_memory_equal(&out[2].key, &d, sizeof(d));
	assert_int_equal(ctb_topk_top(&t, 1, out), 1);
	assert_memory_equal(&out[0].key, &b, sizeof(b));
	ctb_topk_reset(&t);
	assert_int_equal(ctb_topk_top(&t, 3, out), 0);
	ctb_topk_free(&t);
}

static void topk_many_keys_and_limit(void **state)
{
	struct ctb_topk t;
	struct ctb_topk_entry out[2];
	uint64_t total = 0;

	(void)state;
	ctb_topk_init(&t, 5000);
	/* Enough keys to grow the table several times; key i added i % 7 + 1 times. */
	for (uint32_t i = 0; i < 6000; i++) {
		struct ctb_topk_key k = { .l4proto = 6, .port = (uint16_t)i };

		ctb_topk_add(&t, &k, i % 7 + 1);
		total += i % 7 + 1;
	}
	assert_int_equal(t.count, 5000);
	{
		uint64_t held = t.other;

		for (size_t i = 0; i < t.cap; i++)
			if (t.used[i])
				held += t.slots[i].count;
		assert_int_equal(held, total); /* nothing lost, beyond the limit in `other` */
	}
	ctb_topk_top(&t, 2, out);
	assert_int_equal(out[0].count, 7);
	assert_int_equal(out[0].key.port, 6); /* the smallest key of count 7 */
	assert_int_equal(out[1].key.port, 13);
	ctb_topk_free(&t);
}

static void json_interval(void **state)
{
	struct ctb_watch_top top;
	struct ctb_watch_interval iv = {
		.ts = 1700000000.5,
		.elapsed = 1.25,
		.backend = "netlink",
		.entries = 90,
		.max = 100,
		.seconds_to_full = 2.5,
		.count = { [CTB_W_INSERTS] = 12, [CTB_W_DROPS] = 3, [CTB_W_DESTROYS] = 2 },
		.avail = { true, true, false, true, true, true },
		.attached = false,
	};
	uint8_t cli[16] = { 198, 18, 0, 2 }, other[16] = { 198, 18, 0, 3 };
	char *text;
	json_t *o;

	(void)state;
	assert_int_equal(ctb_watch_top_init(&top), 0);
	o = ctb_watch_json(&iv);
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_string_equal(text,
			    "{\"ts\":1700000000.5,\"interval\":1.25,\"backend\":\"netlink\","
			    "\"entries\":90,\"max\":100,\"seconds_to_full\":2.5,\"inserts\":12,\"drops\":3,"
			    "\"early_drops\":null,\"insert_failed\":0,\"destroys\":2,"
			    "\"bypassed\":null,\"lost_events\":0}");
	free(text);
	json_decref(o);

	ctb_watch_top_add(&top, true, AF_INET, 6, cli, 80);
	ctb_watch_top_add(&top, true, AF_INET, 6, cli, 80);
	ctb_watch_top_add(&top, true, AF_INET, 6, other, 443);
	ctb_watch_top_add(&top, false, AF_INET, 17, other, 53);
	iv.top = &top;
	iv.top_k = 1;
	iv.attached = true;
	iv.bypassed = 42;
	iv.entries = iv.max = -1;
	iv.seconds_to_full = INFINITY; /* not filling: JSON has no infinity */
	o = ctb_watch_json(&iv);
	text = json_dumps(json_object_get(o, "top_sources"), JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_string_equal(text, "{\"new\":[{\"addr\":\"198.18.0.3\",\"count\":1}],"
				  "\"drops\":[{\"addr\":\"198.18.0.2\",\"count\":2}]}");
	free(text);
	text = json_dumps(json_object_get(o, "top_ports"), JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_string_equal(text, "{\"new\":[{\"port\":53,\"protocol\":\"udp\",\"count\":1}],"
				  "\"drops\":[{\"port\":80,\"protocol\":\"tcp\",\"count\":2}]}");
	free(text);
	assert_int_equal(json_integer_value(json_object_get(o, "bypassed")), 42);
	assert_true(json_is_null(json_object_get(o, "entries")));
	assert_true(json_is_null(json_object_get(o, "seconds_to_full")));
	json_decref(o);
	ctb_watch_top_free(&top);
}

static void ipv6_addresses_format(void **state)
{
	uint8_t a[16] = { 0xfd, 0, 0, 0xc7, [15] = 2 };
	char buf[46];

	(void)state;
	ctb_watch_format_addr(AF_INET6, a, buf);
	assert_string_equal(buf, "fd00:c7::2");
	ctb_watch_format_addr(0, a, buf);
	assert_string_equal(buf, "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counter_delta_and_reset),
		cmocka_unit_test(rates_sum_per_cpu_deltas),
		cmocka_unit_test(rates_cpus_coming_and_going),
		cmocka_unit_test(interval_clock_and_overruns),
		cmocka_unit_test(topk_ranks_and_ties),
		cmocka_unit_test(topk_many_keys_and_limit),
		cmocka_unit_test(json_interval),
		cmocka_unit_test(ipv6_addresses_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
