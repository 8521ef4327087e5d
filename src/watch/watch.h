/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `ctbypass watch`: what one interval holds, and the backends that fill it.
 * A backend counts (per-CPU counters it diffs each interval) and, with --top,
 * feeds per-event detail into the top-K tables.
 */
#ifndef CTB_WATCH_H
#define CTB_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "watch_topk.h"

enum ctb_watch_metric {
	CTB_W_INSERTS,
	CTB_W_DROPS,
	CTB_W_EARLY_DROPS,
	CTB_W_INSERT_FAILED,
	CTB_W_DESTROYS,
	CTB_W_LOST,
	CTB_W_METRICS,
};

/* The JSON field name of each metric (also used in messages). */
extern const char *const ctb_watch_metric_names[CTB_W_METRICS];

enum ctb_watch_backend_kind {
	CTB_WATCH_AUTO,
	CTB_WATCH_FENTRY,
	CTB_WATCH_KPROBE,
	CTB_WATCH_NETLINK,
};

const char *ctb_watch_backend_name(enum ctb_watch_backend_kind kind);

/* Per interval: new entries and drops, by source address and by destination port. */
struct ctb_watch_top {
	struct ctb_topk new_sources, new_ports, drop_sources, drop_ports;
};

int ctb_watch_top_init(struct ctb_watch_top *top);
void ctb_watch_top_reset(struct ctb_watch_top *top);
void ctb_watch_top_free(struct ctb_watch_top *top);

/* One event's detail (struct ctb_ct_event, or a netlink NEW event) into TOP. */
void ctb_watch_top_add(struct ctb_watch_top *top, bool drop, uint8_t family, uint8_t l4proto,
		       const uint8_t *saddr, uint16_t dport_host);

struct ctb_watch_backend {
	enum ctb_watch_backend_kind kind;
	bool avail[CTB_W_METRICS];
	char why[CTB_W_METRICS][160]; /* why a metric is unavailable */
	char drop_detail_why[160]; /* empty: drop events attribute drops to flows */
	int poll_fds[2]; /* readable: call drain; -1 unused */
	struct ctb_watch_top *top; /* NULL without --top */
	void *priv;
	/* Adds what happened since the previous call to DELTA (the first call sets a baseline). */
	int (*read)(struct ctb_watch_backend *b, uint64_t delta[CTB_W_METRICS]);
	/* Consumes pending events into TOP. */
	int (*drain)(struct ctb_watch_backend *b);
	void (*close)(struct ctb_watch_backend *b);
};

/*
 * Opens and attaches a backend in the current namespace, whose inode is NETNS
 * (kernel-side filter); with B->top set, event detail feeds it. On failure
 * WHY says what failed, in one line.
 */
int ctb_watch_probes_open(struct ctb_watch_backend *b, enum ctb_watch_backend_kind kind,
			  uint32_t netns, char *why, size_t whylen);
int ctb_watch_netlink_open(struct ctb_watch_backend *b, uint32_t netns, char *why, size_t whylen);

/* nf_conntrack_count of the current namespace and the global nf_conntrack_max. */
int ctb_watch_table_size(int64_t *entries, int64_t *max);

/* Packets ctbypass bypassed in the current namespace so far; -ENOENT: not attached. */
int ctb_watch_bypassed_total(uint64_t *packets);

#endif
