// SPDX-License-Identifier: GPL-2.0
/* doctor sizing: the seeds' formula, the kernel's default, and what is recommended. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "doctor_sizing.h"

#define GIB (1024ull * 1024 * 1024)

static void seeds_worked_example(void **state)
{
	(void)state;
	/* 8 GiB on x86_64: 8589934592 / 16384 / (64 / 32) = 262144. */
	assert_int_equal(ctb_sizing_seeds_max(8 * GIB, 64), 262144);
	assert_int_equal(ctb_sizing_seeds_max(8 * GIB, 32), 524288);
	assert_int_equal(ctb_sizing_seeds_max(2 * GIB, 64), 65536);
}

static void kernel_default(void **state)
{
	(void)state;
	/* Above 4 GiB on 64-bit the kernel sets 262144 whatever the RAM. */
	assert_int_equal(ctb_sizing_kernel_buckets(8 * GIB, 64), 262144);
	assert_int_equal(ctb_sizing_kernel_buckets(64 * GIB, 64), 262144);
	/* Above 1 GiB: 65536. */
	assert_int_equal(ctb_sizing_kernel_buckets(2 * GIB, 64), 65536);
	assert_int_equal(ctb_sizing_kernel_buckets(8 * GIB, 32), 65536);
	/* Below: RAM / 16384 / 8 on 64-bit; 512 MiB -> 4096. */
	assert_int_equal(ctb_sizing_kernel_buckets(512ull << 20, 64), 4096);
	/* Never below 1024. */
	assert_int_equal(ctb_sizing_kernel_buckets(64ull << 20, 64), 1024);
}

static void recommends_raising_with_lines(void **state)
{
	struct ctb_sizing_input in = {
	    .ram_bytes = 8 * GIB,
	    .arch_bits = 64,
	    .cur_entries = 1000,
	    .cur_max = 65536,
	    .cur_buckets = 16384,
	    .cur_tcp_established = 432000,
	    .objsize = 256,
	    .initial_netns = true,
	};
	struct ctb_sizing s;

	(void)state;
	ctb_sizing_compute(&in, &s);
	assert_int_equal(s.seeds_max, 262144);
	assert_int_equal(s.kernel_max, 262144);
	assert_int_equal(s.rec_max, 262144);
	assert_int_equal(s.rec_buckets, 262144);
	assert_true(s.raise_max && s.raise_buckets);
	assert_false(s.objsize_assumed);
	assert_int_equal(s.mem_entries, 1000ull * 256 + 16384 * 8);
	assert_int_equal(s.mem_rec_max, 262144ull * 256 + 262144 * 8);
	assert_int_equal(s.rec_tcp_established, 86400);
	assert_non_null(strstr(s.timeout_reason, "432000"));
	assert_int_equal(s.napply, 3);
	assert_string_equal(s.apply[0], "sysctl -w net.netfilter.nf_conntrack_max=262144");
	assert_string_equal(s.apply[1], "sysctl -w net.netfilter.nf_conntrack_buckets=262144");
	assert_string_equal(s.apply[2],
			    "sysctl -w net.netfilter.nf_conntrack_tcp_timeout_established=86400");
	assert_string_equal(s.persist[0], "net.netfilter.nf_conntrack_max = 262144");
	assert_string_equal(s.modprobe, "options nf_conntrack hashsize=262144");
	assert_string_equal(s.netns_note, "");
}

static void never_recommends_lowering(void **state)
{
	struct ctb_sizing_input in = {
	    .ram_bytes = 8 * GIB,
	    .arch_bits = 64,
	    .cur_max = 1048576,
	    .cur_buckets = 1048576,
	    .cur_tcp_established = 3600,
	};
	struct ctb_sizing s;

	(void)state;
	ctb_sizing_compute(&in, &s);
	assert_int_equal(s.rec_max, 1048576);
	assert_int_equal(s.rec_buckets, 1048576);
	assert_false(s.raise_max || s.raise_buckets);
	assert_int_equal(s.rec_tcp_established, 0);
	assert_int_equal(s.napply, 0);
	assert_string_equal(s.modprobe, "");
	/* slabinfo unreadable: the assumed size, said so. */
	assert_true(s.objsize_assumed);
	assert_int_equal(s.objsize, CTB_SIZING_ASSUMED_OBJSIZE);
	/* Not the initial namespace: said so. */
	assert_non_null(strstr(s.netns_note, "global"));
}

static void buckets_round_to_pages(void **state)
{
	struct ctb_sizing_input in = {.ram_bytes = 24 * GIB - 12345678,
				      .arch_bits = 64,
				      .cur_max = 262144,
				      .cur_buckets = 262144,
				      .netns = "web",
				      .cur_tcp_established = 432000};
	struct ctb_sizing s;

	(void)state;
	ctb_sizing_compute(&in, &s);
	assert_int_equal(s.rec_buckets % 512, 0);
	assert_true(s.rec_buckets >= s.rec_max && s.rec_buckets - s.rec_max < 512);
	/* The per-namespace timeout is applied in the namespace; the global max is not. */
	assert_string_equal(
	    s.apply[2],
	    "ip netns exec web sysctl -w net.netfilter.nf_conntrack_tcp_timeout_established=86400");
	assert_true(!strncmp(s.apply[0], "sysctl -w net.netfilter.nf_conntrack_max=", 41));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(seeds_worked_example),
	    cmocka_unit_test(kernel_default),
	    cmocka_unit_test(recommends_raising_with_lines),
	    cmocka_unit_test(never_recommends_lowering),
	    cmocka_unit_test(buckets_round_to_pages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
