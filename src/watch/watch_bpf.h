/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The conntrack probes object (bpf/ct_probes.bpf.c) as both kinds of backend
 * use it: opened with every program switched off (the backend switches on
 * what it uses), loaded, its per-CPU counters diffed, its events drained.
 */
#ifndef CTB_WATCH_BPF_H
#define CTB_WATCH_BPF_H

#include <linux/types.h>
#include "ct_probes.h"
#include "watch.h"
#include "watch_rates.h"

struct ct_probes;
struct ring_buffer;

struct ctb_watch_bpf {
	struct ct_probes *skel;
	struct ring_buffer *rb; /* only with events */
	struct ctb_rates rates;
	struct ctb_ct_stats *percpu; /* one per possible CPU */
	int ncpus;
	struct ctb_watch_top *top;
};

/* Opens the object for namespace NETNS; EVENTS: ring buffer records for TOP. */
int ctb_watch_bpf_open(struct ctb_watch_bpf *w, uint32_t netns, struct ctb_watch_top *top);
int ctb_watch_bpf_load(struct ctb_watch_bpf *w);
/* Adds the counters' change since the previous call to DELTA (first call: baseline). */
int ctb_watch_bpf_read(struct ctb_watch_bpf *w, uint64_t delta[CTB_CT_COUNTERS]);
int ctb_watch_bpf_drain(struct ctb_watch_bpf *w);
int ctb_watch_bpf_poll_fd(const struct ctb_watch_bpf *w);
/* Detaches and unloads everything. */
void ctb_watch_bpf_close(struct ctb_watch_bpf *w);

#endif
