// SPDX-License-Identifier: GPL-2.0
/*
 * Which conntrack entries a flush deletes: server ports only as this host's
 * end, upstreams only as the far end, never NAT, never forwarded flows.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <netinet/in.h>
#include <cmocka.h>
#include "ct_flush_match.h"

#define LOCAL4 "198.18.0.1"
#define REMOTE4 "198.18.0.2"
#define CONTAINER4 "198.18.9.2" /* behind us, not ours */
#define UPSTREAM4 "198.18.0.7"

static char err[256];

struct fixture {
	struct ctb_config cfg;
	struct ctb_local_addrs locals;
	struct ctb_flush_scope scope;
};

static void add_local(struct ctb_local_addrs *l, const char *addr, uint8_t len)
{
	int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	uint8_t buf[16] = {0};

	assert_int_equal(inet_pton(family, addr, buf), 1);
	assert_int_equal(ctb_local_addrs_add(l, family, buf, len), 0);
}

/* What the local table of a host with one address a family, lo and AnyIP holds. */
static int setup(void **state)
{
	static struct fixture fx;

	memset(&fx, 0, sizeof(fx));
	ctb_config_init(&fx.cfg);
	assert_int_equal(ctb_portset_parse(&fx.cfg.ports, "80", err, sizeof(err)), 0);
	assert_int_equal(ctb_upstream_list_parse(&fx.cfg.upstreams,
						 UPSTREAM4 ":3128,[fd00:c7::/64]:443", err,
						 sizeof(err)),
			 0);
	add_local(&fx.locals, "127.0.0.0", 8);
	add_local(&fx.locals, "127.0.0.1", 32);
	add_local(&fx.locals, LOCAL4, 32);
	add_local(&fx.locals, "198.18.5.0", 24); /* ip route add local 198.18.5.0/24 dev lo */
	add_local(&fx.locals, "::1", 128);
	add_local(&fx.locals, "fd00:c7::1", 128);
	ctb_flush_scope_init(&fx.scope, &fx.cfg, &fx.locals);
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	ctb_config_free(&fx->cfg);
	ctb_local_addrs_free(&fx->locals);
	return 0;
}

static struct ctb_flow flow(uint8_t proto, const char *src, uint16_t sport, const char *dst,
			    uint16_t dport)
{
	struct ctb_flow f = {.l4proto = proto, .sport = sport, .dport = dport};

	f.family = strchr(src, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(f.family, src, f.saddr), 1);
	assert_int_equal(inet_pton(f.family, dst, f.daddr), 1);
	return f;
}

static bool tcp_match(struct fixture *fx, const char *src, uint16_t sport, const char *dst,
		      uint16_t dport, uint32_t status)
{
	struct ctb_flow f = flow(IPPROTO_TCP, src, sport, dst, dport);

	return ctb_flush_scope_match(&fx->scope, &f, status);
}

static void server_port_is_our_end(void **state)
{
	struct fixture *fx = *state;
	uint32_t st = IPS_ASSURED | IPS_SEEN_REPLY | IPS_CONFIRMED;

	/* A client connecting in, and a connection we opened from the port. */
	assert_true(tcp_match(fx, REMOTE4, 40000, LOCAL4, 80, st));
	assert_true(tcp_match(fx, LOCAL4, 80, REMOTE4, 40000, st));
	/* Our own download from someone's port 80. */
	assert_false(tcp_match(fx, LOCAL4, 40000, REMOTE4, 80, st));
	/* docker-proxy (us) to a container's port 80. */
	assert_false(tcp_match(fx, LOCAL4, 40000, CONTAINER4, 80, st));
	/* An unrelated port. */
	assert_false(tcp_match(fx, REMOTE4, 40000, LOCAL4, 8080, st));
}

static void loopback_and_anyip_are_local(void **state)
{
	struct fixture *fx = *state;

	assert_true(tcp_match(fx, "127.0.0.1", 40000, "127.0.0.53", 80, 0));
	assert_true(tcp_match(fx, REMOTE4, 40000, "198.18.5.255", 80, 0));
	assert_false(tcp_match(fx, REMOTE4, 40000, "198.18.6.0", 80, 0));
	assert_true(tcp_match(fx, "fd00:c7::2", 40000, "fd00:c7::1", 80, 0));
	assert_true(tcp_match(fx, "::1", 40000, "::1", 80, 0));
	/* The same bytes in another family are not ours. */
	assert_false(tcp_match(fx, "fd00:c7::2", 40000, "c612:1::", 80, 0));
}

static void nat_and_forwarded_flows_stay(void **state)
{
	struct fixture *fx = *state;

	/* A masqueraded container's download: original tuple from the container. */
	assert_false(tcp_match(fx, CONTAINER4, 40000, REMOTE4, 80, IPS_SRC_NAT));
	assert_false(tcp_match(fx, CONTAINER4, 40000, REMOTE4, 80, 0));
	/* A published port (DNAT to a container), even though the address is ours. */
	assert_false(tcp_match(fx, REMOTE4, 40000, LOCAL4, 80, IPS_DST_NAT));
	/* SNAT of a flow that would otherwise match. */
	assert_false(tcp_match(fx, LOCAL4, 80, REMOTE4, 40000, IPS_SRC_NAT | IPS_SRC_NAT_DONE));
	/* Forwarded through us, to and from port 80. */
	assert_false(tcp_match(fx, REMOTE4, 40000, CONTAINER4, 80, 0));
	assert_false(tcp_match(fx, CONTAINER4, 80, REMOTE4, 40000, 0));
}

static void upstream_is_the_far_end(void **state)
{
	struct fixture *fx = *state;

	/* We as its client; it connecting to us from its port. */
	assert_true(tcp_match(fx, LOCAL4, 40000, UPSTREAM4, 3128, 0));
	assert_true(tcp_match(fx, UPSTREAM4, 3128, LOCAL4, 40000, 0));
	/* Port 3128 at another address, either way. */
	assert_false(tcp_match(fx, LOCAL4, 40000, "198.18.0.8", 3128, 0));
	assert_false(tcp_match(fx, "198.18.0.8", 3128, LOCAL4, 40000, 0));
	/* Another port of the upstream. */
	assert_false(tcp_match(fx, LOCAL4, 40000, UPSTREAM4, 3129, 0));
	/* Someone else's connection to the upstream, forwarded through us. */
	assert_false(tcp_match(fx, CONTAINER4, 40000, UPSTREAM4, 3128, 0));
	assert_false(tcp_match(fx, UPSTREAM4, 3128, CONTAINER4, 40000, 0));
	/* Masqueraded: the original tuple's source is the container anyway. */
	assert_false(tcp_match(fx, CONTAINER4, 40000, UPSTREAM4, 3128, IPS_SRC_NAT));
	/* A prefix upstream. */
	assert_true(tcp_match(fx, "fd00:c7::1", 40000, "fd00:c7::99", 443, 0));
	assert_false(tcp_match(fx, "fd00:c7::1", 40000, "fd00:c8::99", 443, 0));
}

static void protocols_count(void **state)
{
	struct fixture *fx = *state;
	struct ctb_flow f = flow(IPPROTO_UDP, REMOTE4, 40000, LOCAL4, 80);

	assert_false(ctb_flush_scope_match(&fx->scope, &f, 0));
	fx->cfg.protocols = CTB_PROTO_TCP | CTB_PROTO_UDP;
	assert_true(ctb_flush_scope_match(&fx->scope, &f, 0));
	f = flow(IPPROTO_UDP, LOCAL4, 40000, UPSTREAM4, 3128);
	assert_true(ctb_flush_scope_match(&fx->scope, &f, 0));
	fx->cfg.protocols = CTB_PROTO_UDP;
	f = flow(IPPROTO_TCP, REMOTE4, 40000, LOCAL4, 80);
	assert_false(ctb_flush_scope_match(&fx->scope, &f, 0));
	fx->cfg.protocols = CTB_PROTO_TCP;
}

static void local_prefixes(void **state)
{
	struct ctb_local_addrs l = {0};
	uint8_t a[16] = {0};

	(void)state;
	assert_false(ctb_local_addrs_has(&l, AF_INET, a));
	assert_int_equal(ctb_local_addrs_add(&l, AF_INET, a, 33), -22);
	assert_int_equal(ctb_local_addrs_add(&l, AF_INET6, a, 129), -22);
	assert_int_equal(ctb_local_addrs_add(&l, AF_UNIX, a, 0), -22);
	add_local(&l, "198.18.4.0", 23);
	inet_pton(AF_INET, "198.18.5.77", a);
	assert_true(ctb_local_addrs_has(&l, AF_INET, a));
	inet_pton(AF_INET, "198.18.3.255", a);
	assert_false(ctb_local_addrs_has(&l, AF_INET, a));
	/* `local default`: every address of the family. */
	add_local(&l, "::", 0);
	inet_pton(AF_INET6, "2001:db8::1", a);
	assert_true(ctb_local_addrs_has(&l, AF_INET6, a));
	/* Grows past its first allocation. */
	for (int i = 0; i < 40; i++)
		add_local(&l, "fd00:c7::5", 128);
	assert_int_equal(l.count, 42);
	ctb_local_addrs_free(&l);
	assert_int_equal(l.count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(server_port_is_our_end, setup, teardown),
		cmocka_unit_test_setup_teardown(loopback_and_anyip_are_local, setup, teardown),
		cmocka_unit_test_setup_teardown(nat_and_forwarded_flows_stay, setup, teardown),
		cmocka_unit_test_setup_teardown(upstream_is_the_far_end, setup, teardown),
		cmocka_unit_test_setup_teardown(protocols_count, setup, teardown),
		cmocka_unit_test(local_prefixes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
