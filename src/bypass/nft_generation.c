// SPDX-License-Identifier: GPL-2.0
#include <endian.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include "netlink_request.h"
#include "nft_generation.h"

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(a) == NFTA_GEN_ID && mnl_attr_get_payload_len(a) >= 4)
			*(int64_t *)data = be32toh(mnl_attr_get_u32(a));
	return MNL_CB_OK;
}

int64_t ctb_nft_generation(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = ctb_nft_request(buf, NFT_MSG_GETGEN, NLM_F_ACK);
	int64_t gen = -1;

	if (ctb_nl_request(NETLINK_NETFILTER, nlh, gen_cb, &gen))
		return -1;
	return gen;
}
