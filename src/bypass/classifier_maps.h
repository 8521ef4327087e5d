/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The classifier's program and maps: loaded fresh or found again from the
 * program a TC filter holds, written from a configuration, and read for counters.
 * Nothing is pinned: the TC filter keeps the program and its maps alive.
 */
#ifndef CTB_CLASSIFIER_MAPS_H
#define CTB_CLASSIFIER_MAPS_H

#include <linux/types.h>
#include <stdbool.h>
#include "config.h"
#include "ctbypass.h"

struct classifier;

struct ctb_maps {
	int ports_fd, upstreams_fd, stats_fd;
	struct ctb_port_entry *ports; /* the mmapped `ports` array */
};

struct ctb_counter_line {
	bool upstream; /* else a server port */
	uint8_t l4proto;
	uint16_t port; /* server port */
	struct ctb_upstream up; /* upstream, when `upstream` */
	struct ctb_counter counter;
};

/* Opens the maps of the loaded program PROG_ID (found through a TC filter). */
int ctb_maps_open_from_prog(__u32 prog_id, struct ctb_maps *maps);
void ctb_maps_close(struct ctb_maps *maps);

/*
 * Loads the classifier with MARK. With REUSE, the new program shares those
 * maps (its entries and counters carry over); otherwise it gets new ones.
 */
int ctb_classifier_load(__u32 mark, const struct ctb_maps *reuse, struct classifier **skel,
			struct ctb_maps *maps);

/*
 * Makes the maps hold exactly CFG. Entries in CFG are added before the others
 * are removed, so traffic bypassed before and after is never left out between.
 */
int ctb_maps_write(struct ctb_maps *maps, const struct ctb_config *cfg);

/* Per-port and per-upstream counters, summed over CPUs; caller frees *lines. */
int ctb_maps_read_counters(const struct ctb_maps *maps, const struct ctb_config *cfg,
			   struct ctb_counter_line **lines, size_t *count);

/*
 * Compares the maps with CFG (what the nftables sets hold). Returns how many
 * ports and upstreams disagree (0: they agree) and describes the first few in
 * BUF, e.g. "tcp/8080 only in nftables; tcp/81 only in the classifier".
 * Reading the mmapped array costs no syscall; the trie is walked once.
 */
int ctb_maps_compare(const struct ctb_maps *maps, const struct ctb_config *cfg, char *buf,
		     size_t len);

/* True when the program PROG_ID is a ctbypass classifier. */
bool ctb_prog_is_classifier(__u32 prog_id);

#endif
