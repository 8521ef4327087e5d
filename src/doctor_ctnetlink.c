// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "doctor_ctnetlink.h"

struct dump_ctx {
	ctb_doctor_entry_cb cb;
	void *data;
	int ret;
};

static void entry_from_ct(const struct nf_conntrack *ct, struct ctb_doctor_entry *e)
{
	struct ctb_flow *f = &e->flow;

	memset(e, 0, sizeof(*e));
	f->family = nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO);
	f->l4proto = nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO);
	if (f->family == AF_INET) {
		memcpy(f->saddr, nfct_get_attr(ct, ATTR_ORIG_IPV4_SRC), 4);
		memcpy(f->daddr, nfct_get_attr(ct, ATTR_ORIG_IPV4_DST), 4);
	} else if (f->family == AF_INET6) {
		memcpy(f->saddr, nfct_get_attr(ct, ATTR_ORIG_IPV6_SRC), 16);
		memcpy(f->daddr, nfct_get_attr(ct, ATTR_ORIG_IPV6_DST), 16);
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

static uint64_t attr_be32(const struct nlattr *a)
{
	return mnl_attr_get_payload_len(a) >= 4 ? ntohl(mnl_attr_get_u32(a)) : 0;
}

static int stats_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ctb_doctor_ctstats *st = data;
	const struct nlattr *a;

	st->cpus++;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
	{
		switch (mnl_attr_get_type(a)) {
		case CTA_STATS_DROP:
			st->drop += attr_be32(a);
			break;
		case CTA_STATS_EARLY_DROP:
			st->early_drop += attr_be32(a);
			break;
		case CTA_STATS_INSERT_FAILED:
			st->insert_failed += attr_be32(a);
			break;
		case CTA_STATS_CHAIN_TOOLONG:
			st->chaintoolong += attr_be32(a);
			st->have_chaintoolong = true;
			break;
		}
	}
	return MNL_CB_OK;
}

int ctb_doctor_ctstats(struct ctb_doctor_ctstats *st)
{
	char *buf = malloc(MNL_SOCKET_BUFFER_SIZE);
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfh;
	uint32_t seq = (uint32_t)time(NULL), portid;
	int ret = 0;

	memset(st, 0, sizeof(*st));
	if (!buf || !nl) {
		ret = buf ? -errno : -ENOMEM;
		goto out;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET_STATS_CPU;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	nfh = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfh));
	nfh->nfgen_family = AF_UNSPEC;
	nfh->version = NFNETLINK_V0;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_BUFFER_SIZE);

		if (n < 0) {
			ret = -errno;
			break;
		}
		ret = mnl_cb_run(buf, n, seq, portid, stats_cb, st);
		if (ret <= MNL_CB_STOP) {
			ret = ret < 0 ? -errno : 0;
			break;
		}
	}
out:
	if (nl)
		mnl_socket_close(nl);
	free(buf);
	return ret;
}
