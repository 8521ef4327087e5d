// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <stdlib.h>
#include <string.h>
#include "ct_stats.h"
#include "doctor_ctnetlink.h"

struct dump_ctx {
	ctb_doctor_entry_cb cb;
	void *data;
	int ret;
};

/* nfct_get_attr is NULL for an attribute the message lacked: the address stays zero. */
static void copy_attr(uint8_t *dst, const struct nf_conntrack *ct, enum nf_conntrack_attr type,
		      size_t len)
{
	const void *v = nfct_get_attr(ct, type);

	if (v)
		memcpy(dst, v, len);
}

static void entry_from_ct(const struct nf_conntrack *ct, struct ctb_doctor_entry *e)
{
	struct ctb_flow *f = &e->flow;

	memset(e, 0, sizeof(*e));
	f->family = nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO);
	f->l4proto = nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO);
	if (f->family == AF_INET) {
		copy_attr(f->saddr, ct, ATTR_ORIG_IPV4_SRC, 4);
		copy_attr(f->daddr, ct, ATTR_ORIG_IPV4_DST, 4);
	} else if (f->family == AF_INET6) {
		copy_attr(f->saddr, ct, ATTR_ORIG_IPV6_SRC, 16);
		copy_attr(f->daddr, ct, ATTR_ORIG_IPV6_DST, 16);
	}
	if (f->l4proto == IPPROTO_TCP || f->l4proto == IPPROTO_UDP) {
		f->sport = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC));
		f->dport = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST));
	}
	e->tcp_state = f->l4proto == IPPROTO_TCP && nfct_attr_is_set(ct, ATTR_TCP_STATE) > 0
			   ? nfct_get_attr_u8(ct, ATTR_TCP_STATE)
			   : -1;
}

static int dump_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	struct dump_ctx *ctx = data;
	struct ctb_doctor_entry e;

	(void)type;
	entry_from_ct(ct, &e);
	ctx->ret = ctx->cb(&e, ctx->data);
	return ctx->ret ? NFCT_CB_STOP : NFCT_CB_CONTINUE;
}

int ctb_doctor_dump(ctb_doctor_entry_cb cb, void *data)
{
	struct dump_ctx ctx = {.cb = cb, .data = data};
	struct nfct_handle *h = nfct_open(CONNTRACK, 0);
	uint32_t family = AF_UNSPEC;
	int ret = 0;

	if (!h)
		return -errno;
	nfct_callback_register(h, NFCT_T_ALL, dump_cb, &ctx);
	if (nfct_query(h, NFCT_Q_DUMP, &family) && !ctx.ret)
		ret = errno ? -errno : -EIO;
	nfct_close(h);
	return ctx.ret ? ctx.ret : ret;
}

int ctb_doctor_ctstats(struct ctb_doctor_ctstats *st)
{
	uint64_t sums[CTB_CTSTATS];
	int ret = ctb_ctstats_sum(sums, &st->cpus, &st->have_chaintoolong);

	st->drop = sums[CTB_CTSTAT_DROP];
	st->early_drop = sums[CTB_CTSTAT_EARLY_DROP];
	st->insert_failed = sums[CTB_CTSTAT_INSERT_FAILED];
	st->chaintoolong = sums[CTB_CTSTAT_CHAIN_TOOLONG];
	return ret;
}
