// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <string.h>
#include "ct_dump.h"

/* Attributes of one nesting level, by type; later duplicates win. */
struct attr_table {
	const struct nlattr *tb[CTA_MAX + 1];
	unsigned int max;
};

static int table_cb(const struct nlattr *attr, void *data)
{
	struct attr_table *t = data;
	unsigned int type = mnl_attr_get_type(attr);

	/* Newer kernels may add attributes: not ours to judge. */
	if (type <= t->max)
		t->tb[type] = attr;
	return MNL_CB_OK;
}

static int parse_nested(const struct nlattr *nest, struct attr_table *t, unsigned int max)
{
	memset(t, 0, sizeof(*t));
	t->max = max;
	if (mnl_attr_validate(nest, MNL_TYPE_NESTED) < 0)
		return -EPROTO;
	return mnl_attr_parse_nested(nest, table_cb, t) < 0 ? -EPROTO : 0;
}

/* A fixed-size attribute, absent (NULL) or of exactly LEN bytes. */
static const void *fixed(const struct nlattr *attr, size_t len)
{
	if (!attr || mnl_attr_get_payload_len(attr) != len)
		return NULL;
	return mnl_attr_get_payload(attr);
}

static int parse_ip(const struct nlattr *nest, struct ctb_flow *flow)
{
	size_t len = flow->family == AF_INET ? 4 : 16;
	const void *src, *dst;
	struct attr_table t;

	if (parse_nested(nest, &t, CTA_IP_MAX))
		return -EPROTO;
	if (flow->family == AF_INET) {
		src = fixed(t.tb[CTA_IP_V4_SRC], len);
		dst = fixed(t.tb[CTA_IP_V4_DST], len);
	} else {
		src = fixed(t.tb[CTA_IP_V6_SRC], len);
		dst = fixed(t.tb[CTA_IP_V6_DST], len);
	}
	if (!src || !dst)
		return -EPROTO;
	memcpy(flow->saddr, src, len);
	memcpy(flow->daddr, dst, len);
	return 0;
}

static int parse_proto(const struct nlattr *nest, struct ctb_flow *flow)
{
	const uint8_t *num;
	const void *sport, *dport;
	struct attr_table t;
	uint16_t port;

	if (parse_nested(nest, &t, CTA_PROTO_MAX))
		return -EPROTO;
	num = fixed(t.tb[CTA_PROTO_NUM], 1);
	if (!num)
		return -EPROTO;
	if (*num != IPPROTO_TCP && *num != IPPROTO_UDP)
		return -EOPNOTSUPP;
	sport = fixed(t.tb[CTA_PROTO_SRC_PORT], 2);
	dport = fixed(t.tb[CTA_PROTO_DST_PORT], 2);
	if (!sport || !dport)
		return -EPROTO;
	flow->l4proto = *num;
	memcpy(&port, sport, 2);
	flow->sport = ntohs(port);
	memcpy(&port, dport, 2);
	flow->dport = ntohs(port);
	return 0;
}

static int parse_tuple(const struct nlattr *nest, struct ctb_flow *flow)
{
	struct attr_table t;
	int err;

	if (!nest || parse_nested(nest, &t, CTA_TUPLE_MAX) || !t.tb[CTA_TUPLE_IP] ||
	    !t.tb[CTA_TUPLE_PROTO])
		return -EPROTO;
	/* The protocol first: ICMP and others are skipped, however well formed. */
	err = parse_proto(t.tb[CTA_TUPLE_PROTO], flow);
	return err ? err : parse_ip(t.tb[CTA_TUPLE_IP], flow);
}

int ctb_ct_dump_parse(const struct nlmsghdr *nlh, struct ctb_ct_entry *e)
{
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	const void *status, *id, *zone;
	struct attr_table t = {.max = CTA_MAX};
	uint32_t status_be;
	uint16_t zone_be = 0;
	int err;

	memset(e, 0, sizeof(*e));
	/*
	 * libmnl walks attributes up to the aligned end of the message: an
	 * unaligned length (never the kernel's) would let it read past the buffer.
	 */
	if (nlh->nlmsg_type != ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW) ||
	    nlh->nlmsg_len != MNL_ALIGN(nlh->nlmsg_len) ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*nfg))
		return -EPROTO;
	if (nfg->nfgen_family != AF_INET && nfg->nfgen_family != AF_INET6)
		return -EOPNOTSUPP;
	e->flow.family = nfg->nfgen_family;
	if (mnl_attr_parse(nlh, sizeof(*nfg), table_cb, &t) < 0)
		return -EPROTO;
	err = parse_tuple(t.tb[CTA_TUPLE_ORIG], &e->flow);
	if (err)
		return err;
	status = fixed(t.tb[CTA_STATUS], 4);
	id = fixed(t.tb[CTA_ID], 4);
	zone = t.tb[CTA_ZONE] ? fixed(t.tb[CTA_ZONE], 2) : NULL;
	if (!status || !id || (t.tb[CTA_ZONE] && !zone))
		return -EPROTO;
	memcpy(&status_be, status, 4);
	memcpy(&e->id, id, 4);
	if (zone)
		memcpy(&zone_be, zone, 2);
	e->status = ntohl(status_be);
	e->zone = ntohs(zone_be);
	return 0;
}
