// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include "daemon_events.h"

static struct mnl_socket *subscribe(int bus, unsigned int groups, int group_add)
{
	struct mnl_socket *nl = mnl_socket_open2(bus, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (!nl)
		return NULL;
	/* ENOBUFS stays on: an overrun must be known, to look at everything. */
	if (mnl_socket_bind(nl, groups, MNL_SOCKET_AUTOPID) ||
	    (group_add && mnl_socket_setsockopt(nl, NETLINK_ADD_MEMBERSHIP, &group_add,
						sizeof(group_add)))) {
		mnl_socket_close(nl);
		return NULL;
	}
	return nl;
}

int ctb_events_open(struct ctb_events *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->rtnl = subscribe(NETLINK_ROUTE, RTMGRP_LINK | RTMGRP_TC, 0);
	if (!ev->rtnl)
		return -errno ? -errno : -EIO;
	ev->nfnl = subscribe(NETLINK_NETFILTER, 0, NFNLGRP_NFTABLES);
	if (!ev->nfnl) {
		int ret = -errno ? -errno : -EIO;

		ctb_events_close(ev);
		return ret;
	}
	return 0;
}

void ctb_events_close(struct ctb_events *ev)
{
	if (ev->rtnl)
		mnl_socket_close(ev->rtnl);
	if (ev->nfnl)
		mnl_socket_close(ev->nfnl);
	memset(ev, 0, sizeof(*ev));
}

int ctb_events_fd_rtnl(const struct ctb_events *ev)
{
	return mnl_socket_get_fd(ev->rtnl);
}

int ctb_events_fd_nfnl(const struct ctb_events *ev)
{
	return mnl_socket_get_fd(ev->nfnl);
}

static unsigned int kind_of(const struct nlmsghdr *nlh, bool nft)
{
	if (nft)
		return CTB_EVENT_NFT;
	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		return CTB_EVENT_LINK;
	case RTM_NEWQDISC:
	case RTM_DELQDISC:
	case RTM_NEWTFILTER:
	case RTM_DELTFILTER:
		return CTB_EVENT_TC;
	default:
		return 0;
	}
}

/* Reads one socket dry; only the message types matter, never their payloads. */
static unsigned int drain(struct mnl_socket *nl, bool nft)
{
	char buf[MNL_SOCKET_BUFFER_SIZE * 4];
	unsigned int kinds = 0;

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		int len;

		if (n < 0) {
			if (errno == ENOBUFS)
				kinds |= CTB_EVENT_LOST;
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			return kinds; /* EAGAIN: dry */
		}
		len = (int)n;
		for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len))
			kinds |= kind_of(nlh, nft);
	}
}

unsigned int ctb_events_drain(struct ctb_events *ev)
{
	return drain(ev->rtnl, false) | drain(ev->nfnl, true);
}
