// SPDX-License-Identifier: GPL-2.0
/* doctor candidates: roles from direction and listening sockets, ranking, commands. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>
#include "doctor_candidates.h"

static struct ctb_doctor_addr local_addrs[2];
static struct ctb_doctor_host host;

static struct ctb_flow flow4(uint8_t proto, const char *src, uint16_t sport, const char *dst,
			     uint16_t dport)
{
	struct ctb_flow f = {.family = AF_INET, .l4proto = proto, .sport = sport, .dport = dport};

	inet_pton(AF_INET, src, f.saddr);
	inet_pton(AF_INET, dst, f.daddr);
	return f;
}

static void add_n(struct ctb_doctor_cands *c, struct ctb_flow f, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(ctb_doctor_cands_add(c, &host, &f), 0);
}

static int setup(void **state)
{
	(void)state;
	memset(&host, 0, sizeof(host));
	local_addrs[0].family = AF_INET;
	inet_pton(AF_INET, "198.18.0.1", local_addrs[0].addr);
	local_addrs[1].family = AF_INET6;
	inet_pton(AF_INET6, "fd00:c7::1", local_addrs[1].addr);
	host.addrs = local_addrs;
	host.naddrs = 2;
	ctb_portset_add(&host.listen_tcp, 80);
	ctb_portset_add(&host.listen_udp, 53);
	return 0;
}

static void squid_and_server_are_told_apart(void **state)
{
	struct ctb_doctor_cands c = {0};
	struct ctb_doctor_cand *out;
	struct ctb_config cfg;
	char cmd[256];
	size_t n;

	(void)state;
	/* The host connects to an upstream's 3128: 300 entries. */
	add_n(&c, flow4(IPPROTO_TCP, "198.18.0.1", 40000, "198.18.0.2", 3128), 300);
	/* Clients reach its nginx on 80: 200 entries. */
	add_n(&c, flow4(IPPROTO_TCP, "198.18.0.2", 50000, "198.18.0.1", 80), 200);
	/* Picked up mid-stream from a reply: reversed, still port 80 served here. */
	add_n(&c, flow4(IPPROTO_TCP, "198.18.0.1", 80, "198.18.0.9", 50001), 5);
	/* UDP to our resolver. */
	add_n(&c, flow4(IPPROTO_UDP, "198.18.0.3", 5353, "198.18.0.1", 53), 7);
	/* Forwarded: neither end is ours. */
	add_n(&c, flow4(IPPROTO_TCP, "10.0.0.1", 1234, "10.0.0.2", 443), 11);
	/* ICMP counts in the total only. */
	add_n(&c, flow4(IPPROTO_ICMP, "198.18.0.2", 0, "198.18.0.1", 0), 2);

	assert_int_equal(c.total, 525);
	assert_int_equal(c.forwarded, 11);
	assert_int_equal(ctb_doctor_cands_rank(&c, &host, 10, &out, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(out[0].role, CTB_ROLE_UPSTREAM);
	assert_int_equal(out[0].port, 3128);
	assert_int_equal(out[0].entries, 300);
	assert_int_equal(out[1].role, CTB_ROLE_SERVER);
	assert_int_equal(out[1].port, 80);
	assert_int_equal(out[1].entries, 205);
	assert_true(out[1].listening);
	assert_int_equal(out[2].l4proto, IPPROTO_UDP);
	assert_int_equal(out[2].port, 53);

	assert_int_equal(ctb_doctor_cand_config(&out[0], &cfg), 0);
	ctb_doctor_attach_command(NULL, &cfg, cmd, sizeof(cmd));
	assert_string_equal(cmd, "ctbypass attach --upstream 198.18.0.2:3128");
	ctb_config_free(&cfg);
	assert_int_equal(ctb_doctor_cand_config(&out[1], &cfg), 0);
	ctb_doctor_attach_command("web", &cfg, cmd, sizeof(cmd));
	assert_string_equal(cmd, "ctbypass -n web attach --ports 80");
	ctb_config_free(&cfg);
	assert_int_equal(ctb_doctor_cand_config(&out[2], &cfg), 0);
	ctb_doctor_attach_command(NULL, &cfg, cmd, sizeof(cmd));
	assert_string_equal(cmd, "ctbypass attach --ports 53 --proto udp");
	ctb_config_free(&cfg);
	free(out);
	ctb_doctor_cands_free(&c);
}

static void not_listening_and_ipv6(void **state)
{
	struct ctb_doctor_cands c = {0};
	struct ctb_doctor_cand *out;
	struct ctb_flow f = {
	    .family = AF_INET6, .l4proto = IPPROTO_TCP, .sport = 41000, .dport = 443};
	struct ctb_config cfg;
	char cmd[256];
	size_t n;

	(void)state;
	inet_pton(AF_INET6, "fd00:c7::1", f.saddr);
	inet_pton(AF_INET6, "fd00:c7::2", f.daddr);
	add_n(&c, f, 4);
	/* To our address, nothing listens: still a server port, flagged. */
	add_n(&c, flow4(IPPROTO_TCP, "198.18.0.7", 1000, "198.18.0.1", 8443), 3);
	assert_int_equal(ctb_doctor_cands_rank(&c, &host, 1, &out, &n), 0);
	assert_int_equal(n, 1); /* capped */
	free(out);
	assert_int_equal(ctb_doctor_cands_rank(&c, &host, 10, &out, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].role, CTB_ROLE_UPSTREAM);
	assert_int_equal(out[0].family, AF_INET6);
	assert_int_equal(ctb_doctor_cand_config(&out[0], &cfg), 0);
	ctb_doctor_attach_command(NULL, &cfg, cmd, sizeof(cmd));
	assert_string_equal(cmd, "ctbypass attach --upstream [fd00:c7::2]:443");
	ctb_config_free(&cfg);
	assert_int_equal(out[1].role, CTB_ROLE_SERVER);
	assert_int_equal(out[1].port, 8443);
	assert_false(out[1].listening);
	free(out);
	ctb_doctor_cands_free(&c);
}

static void ties_are_stable(void **state)
{
	struct ctb_doctor_cands c = {0};
	struct ctb_doctor_cand *out;
	size_t n;

	(void)state;
	ctb_portset_add(&host.listen_tcp, 443);
	add_n(&c, flow4(IPPROTO_TCP, "198.18.0.2", 1, "198.18.0.1", 443), 5);
	add_n(&c, flow4(IPPROTO_TCP, "198.18.0.2", 1, "198.18.0.1", 80), 5);
	add_n(&c, flow4(IPPROTO_TCP, "198.18.0.1", 2, "198.18.0.2", 25), 5);
	assert_int_equal(ctb_doctor_cands_rank(&c, &host, 10, &out, &n), 0);
	assert_int_equal(n, 3);
	/* Equal counts: servers before upstreams, lower port first. */
	assert_int_equal(out[0].port, 80);
	assert_int_equal(out[1].port, 443);
	assert_int_equal(out[2].role, CTB_ROLE_UPSTREAM);
	free(out);
	ctb_doctor_cands_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(squid_and_server_are_told_apart, setup),
	    cmocka_unit_test_setup(not_listening_and_ipv6, setup),
	    cmocka_unit_test_setup(ties_are_stable, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
