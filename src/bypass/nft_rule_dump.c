// SPDX-License-Identifier: GPL-2.0
#include <endian.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <string.h>
#include "nft_rule_dump.h"
#include "nft_table.h"
#include "netlink_request.h"

/* libnftnl's NFTNL_UDATA_RULE_COMMENT: a rule's userdata is type-length-value records. */
#define UDATA_RULE_COMMENT 0

static void parse_userdata(const uint8_t *p, size_t len, struct ctb_nft_rule *out)
{
	while (len >= 2) {
		uint8_t type = p[0], vlen = p[1];

		if ((size_t)vlen + 2 > len)
			return;
		/* The comment is stored with its terminating NUL; take it only if it has one. */
		if (type == UDATA_RULE_COMMENT && vlen && p[2 + vlen - 1] == '\0' &&
		    vlen <= sizeof(out->comment))
			memcpy(out->comment, p + 2, vlen);
		p += 2 + vlen;
		len -= 2 + vlen;
	}
}

static int parse_counter(const struct nlattr *data, struct ctb_nft_rule *out)
{
	const struct nlattr *attr;

	mnl_attr_for_each_nested(attr, data) {
		uint16_t type = mnl_attr_get_type(attr);
		uint64_t v;

		/* Others, e.g. NFTA_COUNTER_PAD where the kernel aligns 64-bit values. */
		if (type != NFTA_COUNTER_PACKETS && type != NFTA_COUNTER_BYTES)
			continue;
		if (mnl_attr_validate(attr, MNL_TYPE_U64))
			return -EPROTO;
		v = be64toh(mnl_attr_get_u64(attr));
		if (type == NFTA_COUNTER_PACKETS)
			out->packets += v;
		else
			out->bytes += v;
	}
	out->counters++;
	return 0;
}

/* NFTA_LIST_ELEM { NFTA_EXPR_NAME "counter", NFTA_EXPR_DATA { … } } */
static int parse_expr(const struct nlattr *elem, struct ctb_nft_rule *out)
{
	const struct nlattr *attr, *data = NULL;
	const char *name = NULL;

	if (mnl_attr_validate(elem, MNL_TYPE_NESTED))
		return -EPROTO;
	mnl_attr_for_each_nested(attr, elem) {
		if (mnl_attr_get_type(attr) == NFTA_EXPR_NAME) {
			if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING))
				return -EPROTO;
			name = mnl_attr_get_str(attr);
		} else if (mnl_attr_get_type(attr) == NFTA_EXPR_DATA) {
			if (mnl_attr_validate(attr, MNL_TYPE_NESTED))
				return -EPROTO;
			data = attr;
		}
	}
	if (name && data && !strcmp(name, "counter"))
		return parse_counter(data, out);
	return 0;
}

int ctb_nft_rule_parse(const struct nlmsghdr *nlh, struct ctb_nft_rule *out)
{
	const struct nlattr *attr, *elem;

	memset(out, 0, sizeof(*out));
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct nfgenmsg)))
		return -EPROTO;
	mnl_attr_for_each(attr, nlh, sizeof(struct nfgenmsg)) {
		switch (mnl_attr_get_type(attr)) {
		case NFTA_RULE_CHAIN:
			if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING))
				return -EPROTO;
			snprintf(out->chain, sizeof(out->chain), "%s", mnl_attr_get_str(attr));
			break;
		case NFTA_RULE_USERDATA:
			parse_userdata(mnl_attr_get_payload(attr), mnl_attr_get_payload_len(attr),
				       out);
			break;
		case NFTA_RULE_EXPRESSIONS:
			if (mnl_attr_validate(attr, MNL_TYPE_NESTED))
				return -EPROTO;
			mnl_attr_for_each_nested(elem, attr) {
				int ret = parse_expr(elem, out);

				if (ret)
					return ret;
			}
			break;
		}
	}
	return out->chain[0] ? 0 : -EPROTO;
}

struct read_ctx {
	int (*cb)(const struct ctb_nft_rule *rule, void *data);
	void *data;
	int ret;
};

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct read_ctx *ctx = data;
	struct ctb_nft_rule rule;

	ctx->ret = ctb_nft_rule_parse(nlh, &rule);
	if (!ctx->ret)
		ctx->ret = ctx->cb(&rule, ctx->data);
	return ctx->ret ? MNL_CB_ERROR : MNL_CB_OK;
}

int ctb_nft_rules_read(int (*cb)(const struct ctb_nft_rule *rule, void *data), void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = ctb_nft_request(buf, NFT_MSG_GETRULE, NLM_F_DUMP);
	struct read_ctx ctx = { cb, data, 0 };
	int ret;

	/* The kernel dumps only this table's rules. */
	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, CTB_NFT_TABLE);
	ret = ctb_nl_request(NETLINK_NETFILTER, nlh, rule_cb, &ctx);
	return ctx.ret ? ctx.ret : ret;
}
