// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "netlink_request.h"
#include "nft_tables_list.h"

struct tables {
	struct ctb_nft_table_name *items;
	size_t count, cap;
	int err;
};

static const char *family_name(unsigned int family)
{
	switch (family) {
	case NFPROTO_IPV4: return "ip";
	case NFPROTO_IPV6: return "ip6";
	case NFPROTO_INET: return "inet";
	case NFPROTO_ARP: return "arp";
	case NFPROTO_BRIDGE: return "bridge";
	case NFPROTO_NETDEV: return "netdev";
	default: return NULL;
	}
}

/* One NFT_MSG_NEWTABLE message of the dump: its family and name, when both are readable. */
static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nfgenmsg *nfg;
	struct tables *t = data;
	const struct nlattr *a;
	const char *family, *name = NULL;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*nfg)))
		return MNL_CB_OK;
	nfg = mnl_nlmsg_get_payload(nlh);
	family = family_name(nfg->nfgen_family);
	mnl_attr_for_each(a, nlh, sizeof(*nfg))
		if (mnl_attr_get_type(a) == NFTA_TABLE_NAME && !mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
			name = mnl_attr_get_str(a);
	if (!family || !name || !*name || strlen(name) >= sizeof(t->items[0].name))
		return MNL_CB_OK;
	if (t->count == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		struct ctb_nft_table_name *grown = realloc(t->items, cap * sizeof(*grown));

		if (!grown) {
			t->err = -ENOMEM;
			return MNL_CB_ERROR;
		}
		t->items = grown;
		t->cap = cap;
	}
	snprintf(t->items[t->count].family, sizeof(t->items[t->count].family), "%s", family);
	snprintf(t->items[t->count].name, sizeof(t->items[t->count].name), "%s", name);
	t->count++;
	return MNL_CB_OK;
}

int ctb_nft_tables_list(struct ctb_nft_table_name **out, size_t *count)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = ctb_nft_request(buf, NFT_MSG_GETTABLE, NLM_F_DUMP);
	struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	struct tables t = { 0 };
	int ret;

	nfg->nfgen_family = NFPROTO_UNSPEC; /* every family */
	ret = ctb_nl_request(NETLINK_NETFILTER, nlh, table_cb, &t);
	if (t.err)
		ret = t.err;
	if (ret) {
		free(t.items);
		t.items = NULL;
		t.count = 0;
	}
	*out = t.items;
	*count = t.count;
	return ret;
}
