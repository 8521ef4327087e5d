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

/* Our two handles: at most this many of our filters on one interface. */
#define CTB_TC_HANDLES 2

/* Finds our filter on IFINDEX. -ENOENT when there is none. */
int ctb_tc_find(int ifindex, struct ctb_tc_filter *out);

/*
 * Finds all our filters on IFINDEX: more than one only after concurrent
 * commands of an old version raced. Returns how many.
 */
size_t ctb_tc_find_all(int ifindex, struct ctb_tc_filter out[CTB_TC_HANDLES]);

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

/*
 * Removes IFINDEX's clsact qdisc if it has no filter at all (one the intent
 * log names as possibly ours). 1 if removed, 0 if kept or absent.
 */
int ctb_tc_remove_bare_clsact(int ifindex);

#endif
