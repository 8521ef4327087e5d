// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <netinet/in.h>
#include <string.h>
#include "ct_flush.h"
#include "log.h"

struct flush_ctx {
	const struct ctb_config *cfg;
	struct nfct_handle *deleter; /* a second socket: the first is busy dumping */
	unsigned long deleted;
};

static bool entry_flow(const struct nf_conntrack *ct, struct ctb_flow *flow)
{
	memset(flow, 0, sizeof(*flow));
	flow->family = nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO);
	flow->l4proto = nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO);
	if (flow->l4proto != IPPROTO_TCP && flow->l4proto != IPPROTO_UDP)
		return false;
	if (flow->family == AF_INET) {
		memcpy(flow->saddr, nfct_get_attr(ct, ATTR_ORIG_IPV4_SRC), 4);
		memcpy(flow->daddr, nfct_get_attr(ct, ATTR_ORIG_IPV4_DST), 4);
	} else if (flow->family == AF_INET6) {
		memcpy(flow->saddr, nfct_get_attr(ct, ATTR_ORIG_IPV6_SRC), 16);
		memcpy(flow->daddr, nfct_get_attr(ct, ATTR_ORIG_IPV6_DST), 16);
	} else {
		return false;
	}
	flow->sport = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC));
	flow->dport = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST));
	return true;
}

static int flush_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	struct flush_ctx *ctx = data;
	struct ctb_flow flow;

	(void)type;
	if (!entry_flow(ct, &flow) || !ctb_config_covers_flow(ctx->cfg, &flow))
		return NFCT_CB_CONTINUE;
	/* ENOENT: it timed out meanwhile, which is as good. */
	if (!nfct_query(ctx->deleter, NFCT_Q_DESTROY, ct))
		ctx->deleted++;
	return NFCT_CB_CONTINUE;
}

int ctb_ct_flush(const struct ctb_config *cfg, unsigned long *deleted)
{
	struct flush_ctx ctx = { .cfg = cfg };
	struct nfct_handle *dumper;
	uint32_t family = AF_UNSPEC;
	int ret = 0;

	*deleted = 0;
	dumper = nfct_open(CONNTRACK, 0);
	ctx.deleter = nfct_open(CONNTRACK, 0);
	if (!dumper || !ctx.deleter) {
		ret = -errno;
		goto out;
	}
	nfct_callback_register(dumper, NFCT_T_ALL, flush_cb, &ctx);
	if (nfct_query(dumper, NFCT_Q_DUMP, &family))
		ret = -errno;
	*deleted = ctx.deleted;
out:
	if (dumper)
		nfct_close(dumper);
	if (ctx.deleter)
		nfct_close(ctx.deleter);
	return ret;
}
