// SPDX-License-Identifier: GPL-2.0
/* The ctnetlink dump parser: what it takes from an entry, and what it refuses. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <netinet/in.h>
#include <cmocka.h>
#include "ct_dump.h"

/* Which parts of an entry message to write, and how. */
struct shape {
	int family;
	uint8_t proto;
	bool no_id, no_status, no_ports, no_tuple, short_status;
	uint16_t zone;
	uint16_t type; /* message type; 0: IPCTNL_MSG_CT_NEW */
};

static uint32_t buf32[1024]; /* aligned like a netlink buffer */

static void put_tuple(struct nlmsghdr *nlh, uint16_t type, const struct shape *s)
{
	struct nlattr *tuple = mnl_attr_nest_start(nlh, type), *nest;
	uint8_t src[16], dst[16];

	nest = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	if (s->family == AF_INET) {
		inet_pton(AF_INET, "198.18.0.2", src);
		inet_pton(AF_INET, "198.18.0.1", dst);
		mnl_attr_put(nlh, CTA_IP_V4_SRC, 4, src);
		mnl_attr_put(nlh, CTA_IP_V4_DST, 4, dst);
	} else {
		inet_pton(AF_INET6, "fd00:c7::2", src);
		inet_pton(AF_INET6, "fd00:c7::1", dst);
		mnl_attr_put(nlh, CTA_IP_V6_SRC, 16, src);
		mnl_attr_put(nlh, CTA_IP_V6_DST, 16, dst);
	}
	mnl_attr_nest_end(nlh, nest);
	nest = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, s->proto);
	if (!s->no_ports) {
		mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT,
				 htons(type == CTA_TUPLE_ORIG ? 40000 : 80));
		mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT,
				 htons(type == CTA_TUPLE_ORIG ? 80 : 40000));
	}
	mnl_attr_nest_end(nlh, nest);
	mnl_attr_nest_end(nlh, tuple);
}

/* An entry as the kernel sends it: reply tuple first, unknown attributes too. */
static struct nlmsghdr *entry(const struct shape *s)
{
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;

	memset(buf32, 0, sizeof(buf32));
	nlh = mnl_nlmsg_put_header(buf32);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | (s->type ? s->type : IPCTNL_MSG_CT_NEW);
	nlh->nlmsg_flags = NLM_F_MULTI;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = s->family;
	nfg->version = NFNETLINK_V0;
	put_tuple(nlh, CTA_TUPLE_REPLY, s);
	if (!s->no_tuple)
		put_tuple(nlh, CTA_TUPLE_ORIG, s);
	if (s->short_status)
		mnl_attr_put_u16(nlh, CTA_STATUS, 1);
	else if (!s->no_status)
		mnl_attr_put_u32(nlh, CTA_STATUS, htonl(IPS_ASSURED | IPS_SRC_NAT));
	mnl_attr_put_u32(nlh, CTA_TIMEOUT, htonl(300));
	if (s->zone)
		mnl_attr_put_u16(nlh, CTA_ZONE, htons(s->zone));
	if (!s->no_id)
		mnl_attr_put_u32(nlh, CTA_ID, htonl(0xdeadbeef));
	mnl_attr_put_u32(nlh, 200, 7); /* from a newer kernel */
	return nlh;
}

static void ipv4_entry(void **state)
{
	struct shape s = {.family = AF_INET, .proto = IPPROTO_TCP};
	struct ctb_ct_entry e;
	uint8_t want[4];

	(void)state;
	assert_int_equal(ctb_ct_dump_parse(entry(&s), &e), 0);
	assert_int_equal(e.flow.family, AF_INET);
	assert_int_equal(e.flow.l4proto, IPPROTO_TCP);
	inet_pton(AF_INET, "198.18.0.2", want);
	assert_memory_equal(e.flow.saddr, want, 4);
	inet_pton(AF_INET, "198.18.0.1", want);
	assert_memory_equal(e.flow.daddr, want, 4);
	/* The original direction's ports, not the reply's. */
	assert_int_equal(e.flow.sport, 40000);
	assert_int_equal(e.flow.dport, 80);
	assert_int_equal(e.status, IPS_ASSURED | IPS_SRC_NAT);
	assert_int_equal(e.id, htonl(0xdeadbeef));
	assert_int_equal(e.zone, 0);
}

static void ipv6_udp_entry_in_a_zone(void **state)
{
	struct shape s = {.family = AF_INET6, .proto = IPPROTO_UDP, .zone = 7};
	struct ctb_ct_entry e;
	uint8_t want[16];

	(void)state;
	assert_int_equal(ctb_ct_dump_parse(entry(&s), &e), 0);
	assert_int_equal(e.flow.family, AF_INET6);
	assert_int_equal(e.flow.l4proto, IPPROTO_UDP);
	inet_pton(AF_INET6, "fd00:c7::1", want);
	assert_memory_equal(e.flow.daddr, want, 16);
	assert_int_equal(e.zone, 7);
}

static void other_protocols_are_skipped(void **state)
{
	struct shape s = {.family = AF_INET, .proto = IPPROTO_ICMP, .no_ports = true};
	struct ctb_ct_entry e;

	(void)state;
	assert_int_equal(ctb_ct_dump_parse(entry(&s), &e), -EOPNOTSUPP);
	s = (struct shape){.family = AF_BRIDGE, .proto = IPPROTO_TCP};
	assert_int_equal(ctb_ct_dump_parse(entry(&s), &e), -EOPNOTSUPP);
}

static void incomplete_entries_are_refused(void **state)
{
	struct shape s = {.family = AF_INET, .proto = IPPROTO_TCP};
	struct ctb_ct_entry e;

	(void)state;
	s.no_id = true; /* a delete without the id could hit a newer entry */
	assert_int_equal(ctb_ct_dump_parse(entry(&s), &e), -EPROTO);
	s.no_id = false;
	s.no_status = true; /* NAT could not be told */
	assert_int_equal(ctb_ct_dump_parse(entry(&s), &e), -EPROTO);
	s.no_status = false;
	s.short_status = true;
	assert_int_equal(ctb_ct_dump_parse(entry(&s), &e), -EPROTO);
	s.short_status = false;
	s.no_tuple = true;
	assert_int_equal(ctb_ct_dump_parse(entry(&s), &e), -EPROTO);
	s.no_tuple = false;
	s.no_ports = true;
	assert_int_equal(ctb_ct_dump_parse(entry(&s), &e), -EPROTO);
	s.no_ports = false;
	s.type = IPCTNL_MSG_CT_DELETE;
	assert_int_equal(ctb_ct_dump_parse(entry(&s), &e), -EPROTO);
}

static void malformed_messages_are_refused(void **state)
{
	struct shape s = {.family = AF_INET, .proto = IPPROTO_TCP};
	struct nlmsghdr *nlh;
	struct nlattr *a;
	struct ctb_ct_entry e;

	(void)state;
	/* An IPv6 family with IPv4 addresses. */
	nlh = entry(&s);
	((struct nfgenmsg *)mnl_nlmsg_get_payload(nlh))->nfgen_family = AF_INET6;
	assert_int_equal(ctb_ct_dump_parse(nlh, &e), -EPROTO);
	/* No room for the nfgenmsg. */
	nlh = entry(&s);
	nlh->nlmsg_len = sizeof(*nlh) + 2;
	assert_int_equal(ctb_ct_dump_parse(nlh, &e), -EPROTO);
	/* The message cut in the middle of the original tuple: the tuple is lost. */
	nlh = entry(&s);
	a = mnl_nlmsg_get_payload_offset(nlh, sizeof(struct nfgenmsg));
	a = mnl_attr_next(a); /* CTA_TUPLE_ORIG */
	nlh->nlmsg_len = (uint32_t)((char *)a - (char *)nlh) + 12;
	assert_int_equal(ctb_ct_dump_parse(nlh, &e), -EPROTO);
	/* The tuple not nested, but a flat attribute of the same type. */
	nlh = entry(&s);
	a = mnl_attr_next(mnl_nlmsg_get_payload_offset(nlh, sizeof(struct nfgenmsg)));
	a->nla_len = 6;
	assert_int_equal(ctb_ct_dump_parse(nlh, &e), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ipv4_entry),
		cmocka_unit_test(ipv6_udp_entry_in_a_zone),
		cmocka_unit_test(other_protocols_are_skipped),
		cmocka_unit_test(incomplete_entries_are_refused),
		cmocka_unit_test(malformed_messages_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
