/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The classifier's TC filter on clsact ingress: added beside foreign filters,
 * found again by its fixed priority and handle, and removed without touching
 * anything that is not ours.
 */
#ifndef CTB_TC_HOOK_H
#define CTB_TC_HOOK_H

#include <stdbool.h>
#include <linux/types.h>

struct ctb_tc_filter {
	int ifindex;
	__u32 handle; /* CTB_TC_HANDLE_OWN_QDISC or CTB_TC_HANDLE_SHARED_QDISC */
	__u32 prog_id;
};

/* Finds our filter on IFINDEX. -ENOENT when there is none. */
int ctb_tc_find(int ifindex, struct ctb_tc_filter *out);

/*
 * Puts PROG_FD on IFINDEX: replaces our existing filter in place (no gap), or
 * adds one, creating the clsact qdisc if there is none. *added tells which.
 */
int ctb_tc_attach(int ifindex, int prog_fd, bool *added, struct ctb_tc_filter *out);

/*
 * Removes our filter, and the clsact qdisc too if ctbypass created it and no
 * other filter is left on it.
 */
int ctb_tc_detach(const struct ctb_tc_filter *filter);

#endif
