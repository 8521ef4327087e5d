/* SPDX-License-Identifier: GPL-2.0 */
/* One netlink request on a fresh socket of the current namespace, answers run through a callback. */
#ifndef CTB_NETLINK_REQUEST_H
#define CTB_NETLINK_REQUEST_H

#include <libmnl/libmnl.h>

/*
 * Sends NLH (built by the caller with mnl_nlmsg_put_header and its payload;
 * sequence number set here) on a new socket of PROTOCOL, and runs CB on every
 * answer until the kernel is done. Returns 0 or a negative errno.
 */
int ctb_nl_request(int protocol, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);

/*
 * Starts an nf_tables request of MSG_TYPE (NFT_MSG_GET…) for the inet family
 * in BUF (MNL_SOCKET_BUFFER_SIZE bytes), with FLAGS besides NLM_F_REQUEST;
 * the caller adds attributes and sends it with ctb_nl_request.
 */
struct nlmsghdr *ctb_nft_request(char *buf, int msg_type, int flags);

#endif
