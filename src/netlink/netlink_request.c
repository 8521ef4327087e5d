// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include "netlink_request.h"

/*
 * The kernel fills each part of a dump up to the largest buffer the reader has
 * offered, at most 32 KiB. Four times libmnl's page-sized default means four
 * times fewer parts: it matters where the kernel restarts a walk from the
 * beginning for each part (nf_tables' set element dumps, quadratic in size).
 */
#define CTB_NL_RECV_SIZE (32 * 1024)

int ctb_nl_request(int protocol, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char *buf = malloc(CTB_NL_RECV_SIZE);
	struct mnl_socket *nl = mnl_socket_open(protocol);
	unsigned int portid;
	int ret = 0;

	if (!buf || !nl) {
		ret = buf ? -errno : -ENOMEM;
		goto out;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh->nlmsg_seq = (unsigned int)time(NULL);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, CTB_NL_RECV_SIZE);

		if (n < 0) {
			ret = -errno;
			break;
		}
		ret = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, portid, cb, data);
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

struct nlmsghdr *ctb_nft_request(char *buf, int msg_type, int flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | msg_type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = NFPROTO_INET;
	nfg->version = NFNETLINK_V0;
	return nlh;
}
