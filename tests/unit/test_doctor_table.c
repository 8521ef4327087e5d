// SPDX-License-Identifier: GPL-2.0
/* doctor table: counts per protocol and TCP state, top-K sources and destination ports. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>
#include "doctor_table.h"

static void add(struct ctb_doctor_agg *agg, uint8_t proto, const char *src, uint16_t dport,
		int state, int n)
{
	struct ctb_doctor_entry e = {.tcp_state = state};

	e.flow.l4proto = proto;
	e.flow.dport = dport;
	e.flow.sport = 40000;
	if (strchr(src, ':')) {
		e.flow.family = AF_INET6;
		inet_pton(AF_INET6, src, e.flow.saddr);
	} else {
		e.flow.family = AF_INET;
		inet_pton(AF_INET, src, e.flow.saddr);
	}
	for (int i = 0; i < n; i++)
		assert_int_equal(ctb_doctor_agg_add(agg, &e), 0);
}

static void counts_states_and_protocols(void **state)
{
	struct ctb_doctor_agg agg;

	(void)state;
	assert_int_equal(ctb_doctor_agg_init(&agg), 0);
	add(&agg, IPPROTO_TCP, "198.18.0.1", 3128, 7 /* TIME_WAIT */, 300);
	add(&agg, IPPROTO_TCP, "198.18.0.2", 80, 3 /* ESTABLISHED */, 20);
	add(&agg, IPPROTO_UDP, "198.18.0.3", 53, -1, 4);
	add(&agg, IPPROTO_ICMP, "198.18.0.3", 0, -1, 2);
	add(&agg, 47 /* GRE */, "198.18.0.3", 0, -1, 1);
	assert_int_equal(agg.entries, 327);
	assert_int_equal(agg.tcp, 320);
	assert_int_equal(agg.udp, 4);
	assert_int_equal(agg.icmp, 2);
	assert_int_equal(agg.other, 1);
	assert_int_equal(agg.tcp_states[7], 300);
	assert_int_equal(agg.tcp_states[3], 20);
	assert_string_equal(ctb_doctor_tcp_state_name(7), "TIME_WAIT");
	assert_string_equal(ctb_doctor_tcp_state_name(3), "ESTABLISHED");
	assert_string_equal(ctb_doctor_tcp_state_name(2), "SYN_RECV");
	assert_string_equal(ctb_doctor_tcp_state_name(42), "UNKNOWN");
	ctb_doctor_agg_free(&agg);
}

static void top_k_ports_and_sources(void **state)
{
	struct ctb_doctor_source src[CTB_DOCTOR_TOPK];
	struct ctb_doctor_port ports[CTB_DOCTOR_TOPK];
	struct ctb_doctor_agg agg;
	char text[INET6_ADDRSTRLEN];
	size_t n;

	(void)state;
	assert_int_equal(ctb_doctor_agg_init(&agg), 0);
	/* 15 ports with 1..15 entries, each from its own source; one IPv6 source. */
	for (int p = 1; p <= 15; p++) {
		char addr[32];

		snprintf(addr, sizeof(addr), "10.0.0.%d", p);
		add(&agg, IPPROTO_TCP, addr, (uint16_t)(1000 + p), 3, p);
	}
	add(&agg, IPPROTO_UDP, "fd00::5", 1015, -1, 15); /* ties with tcp/1015 */
	n = ctb_doctor_top_ports(&agg, ports, CTB_DOCTOR_TOPK);
	assert_int_equal(n, 10);
	assert_int_equal(ports[0].l4proto, IPPROTO_TCP); /* tie: TCP first */
	assert_int_equal(ports[0].port, 1015);
	assert_int_equal(ports[1].l4proto, IPPROTO_UDP);
	assert_int_equal(ports[1].port, 1015);
	assert_int_equal(ports[2].port, 1014);
	assert_int_equal(ports[9].port, 1007);
	assert_int_equal(ports[9].entries, 7);
	for (size_t i = 1; i < n; i++)
		assert_true(ports[i - 1].entries >= ports[i].entries);

	n = ctb_doctor_top_sources(&agg, src, CTB_DOCTOR_TOPK);
	assert_int_equal(n, 10);
	assert_int_equal(src[0].entries, 15);
	assert_int_equal(src[1].entries, 15);
	assert_int_equal(src[9].entries, 7);
	/* Ties: IPv4 (key family 4) before IPv6. */
	inet_ntop(src[0].family, src[0].addr, text, sizeof(text));
	assert_string_equal(text, "10.0.0.15");
	inet_ntop(src[1].family, src[1].addr, text, sizeof(text));
	assert_string_equal(text, "fd00::5");
	/* Fewer than K. */
	assert_int_equal(ctb_doctor_top_ports(&agg, ports, 3), 3);
	ctb_doctor_agg_free(&agg);
}

static void counts_map_grows(void **state)
{
	struct ctb_doctor_counts c = {0};
	struct ctb_doctor_count *sorted;
	uint8_t key[CTB_DOCTOR_KEY_LEN];
	size_t n;

	(void)state;
	for (uint32_t i = 0; i < 100000; i++) {
		memset(key, 0, sizeof(key));
		memcpy(key, &i, sizeof(i));
		assert_int_equal(ctb_doctor_counts_add(&c, key, 1 + (i == 777) * 9), 0);
	}
	assert_int_equal(c.used, 100000);
	assert_int_equal(ctb_doctor_counts_sorted(&c, &sorted, &n), 0);
	assert_int_equal(n, 100000);
	assert_int_equal(sorted[0].count, 10);
	free(sorted);
	ctb_doctor_counts_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(counts_states_and_protocols),
	    cmocka_unit_test(top_k_ports_and_sources),
	    cmocka_unit_test(counts_map_grows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
