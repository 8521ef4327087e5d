/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Nothing notifies of changes on the tcx hook (a program placed in front of
 * ours, ours detached by hand), unlike a clsact qdisc or filter deleted, which
 * rtnetlink reports. So the daemon asks, once a second: is each interface's
 * first tcx program still the classifier it left there? One bpf() query per
 * interface carrying it. Each takes the RTNL lock for a moment (and may wait
 * behind another tool's tcx change holding it); the full look would wait
 * for the verify interval otherwise.
 */
#ifndef CTB_DAEMON_TCX_WATCH_H
#define CTB_DAEMON_TCX_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "attachment.h"

#define CTB_TCX_WATCH_MS 1000

struct ctb_tcx_watch_item {
	int ifindex;
	__u32 prog_id; /* the classifier that should run first there */
};

struct ctb_tcx_watch {
	struct ctb_tcx_watch_item *items; /* empty: nothing on tcx, nothing to ask */
	size_t count;
	long long next_ms; /* when to ask next (CLOCK_MONOTONIC ms) */
};

/* Notes where ATT (just read) has the classifier on tcx, and which program. */
void ctb_tcx_watch_note(struct ctb_tcx_watch *w, const struct ctb_attachment *att);

/* True when some noted interface's tcx hook no longer starts with its classifier. */
bool ctb_tcx_watch_changed(const struct ctb_tcx_watch *w);

void ctb_tcx_watch_free(struct ctb_tcx_watch *w);

#endif
