/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The classifier on an interface's TC ingress: first on the tcx hook where
 * the kernel has one (6.6 and later), else a filter on clsact ingress. Added
 * beside foreign programs, found again (on tcx by its program's name, on
 * clsact by its fixed priority and handle), and removed without touching
 * anything that is not ours.
 */
#ifndef CTB_TC_HOOK_H
#define CTB_TC_HOOK_H

#include <stdbool.h>
#include <linux/types.h>

enum ctb_tc_hook {
	CTB_HOOK_CLSACT,
	CTB_HOOK_TCX,
};

/* The hook new attachments use on this kernel: tcx where there is one. */
enum ctb_tc_hook ctb_tc_hook_in_use(void);

struct ctb_tc_filter {
	int ifindex;
	enum ctb_tc_hook hook;
	__u32 handle; /* clsact: CTB_TC_HANDLE_OWN_QDISC or CTB_TC_HANDLE_SHARED_QDISC */
	__u32 prog_id;
	/* How many tcx programs not ours run before ours (on clsact: every one
	 * on the tcx hook), and the first one's name. One that ends the list
	 * (TCX_PASS, TCX_DROP) hides packets from us. */
	unsigned int foreign_ahead;
	char ahead_name[16];
};

/* At most this many of our programs found on one interface: two clsact
 * handles, and on tcx those an interrupted change or older versions left. */
#define CTB_TC_MAX_FOUND 4

/* Finds our filter on IFINDEX (tcx first). -ENOENT when there is none. */
int ctb_tc_find(int ifindex, struct ctb_tc_filter *out);

/*
 * Finds all our filters on IFINDEX, tcx ones first: more than one only after
 * concurrent commands of an old version raced, or an upgrade from clsact to
 * tcx was interrupted. Returns how many.
 */
size_t ctb_tc_find_all(int ifindex, struct ctb_tc_filter out[CTB_TC_MAX_FOUND]);

/*
 * Puts PROG_FD on IFINDEX, replacing ours without a gap, and *added says
 * whether there was none before. On tcx: PROG_FD goes in front of the list
 * (which also takes back a place a foreign program took), then every other
 * program of ours on either hook goes. On clsact: our filter is replaced in
 * place, or one is added, creating the clsact qdisc if there is none.
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
