/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the daemon listens to instead of polling: rtnetlink's link and TC
 * groups (an interface appears or comes up, a qdisc or filter is deleted) and
 * nfnetlink's nftables group (a table is flushed, any ruleset change). Each
 * read says only which kinds of thing changed; the daemon then looks at the
 * whole state, so a lost or merged notification costs nothing but a look.
 */
#ifndef CTB_DAEMON_EVENTS_H
#define CTB_DAEMON_EVENTS_H

#include <stdbool.h>

enum ctb_event_kind {
	CTB_EVENT_LINK = 1 << 0,
	CTB_EVENT_TC = 1 << 1,
	CTB_EVENT_NFT = 1 << 2,
	/* The socket overran (ENOBUFS): notifications were lost, look at everything. */
	CTB_EVENT_LOST = 1 << 3,
	/* Not a notification: the daemon's own tcx watch (daemon_tcx_watch.h) saw a change. */
	CTB_EVENT_TCX = 1 << 4,
};

struct ctb_events {
	struct mnl_socket *rtnl, *nfnl;
};

/* Subscribes in the current namespace. 0 or a negative errno. */
int ctb_events_open(struct ctb_events *ev);
void ctb_events_close(struct ctb_events *ev);

/* The two descriptors to poll for POLLIN. */
int ctb_events_fd_rtnl(const struct ctb_events *ev);
int ctb_events_fd_nfnl(const struct ctb_events *ev);

/* Reads every pending notification of both sockets: CTB_EVENT_* bits seen. */
unsigned int ctb_events_drain(struct ctb_events *ev);

#endif
