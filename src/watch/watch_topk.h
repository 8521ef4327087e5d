/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Top-K per interval: counts per key (a source address, or a protocol and
 * destination port) in an open-addressing table, then the K largest. Pure: no
 * I/O, unit-tested. Keys beyond the table's limit are counted in `other`, so
 * the sum of all counts always equals what was added.
 */
#ifndef CTB_WATCH_TOPK_H
#define CTB_WATCH_TOPK_H

#include <stddef.h>
#include <stdint.h>

struct ctb_topk_key {
	uint8_t family; /* AF_INET, AF_INET6; 0 for port keys */
	uint8_t l4proto; /* port keys */
	uint16_t port; /* host byte order; port keys */
	uint8_t addr[16]; /* address keys; IPv4 in the first 4 bytes */
};

struct ctb_topk_entry {
	struct ctb_topk_key key;
	uint64_t count;
};

struct ctb_topk {
	struct ctb_topk_entry *slots;
	uint8_t *used;
	size_t cap; /* power of two */
	size_t count; /* distinct keys held */
	size_t max_keys;
	uint64_t other; /* added after max_keys distinct keys were held */
};

/* MAX_KEYS: distinct keys kept per interval (at least 1). */
int ctb_topk_init(struct ctb_topk *t, size_t max_keys);
void ctb_topk_free(struct ctb_topk *t);
void ctb_topk_reset(struct ctb_topk *t);
int ctb_topk_add(struct ctb_topk *t, const struct ctb_topk_key *key, uint64_t n);

/*
 * Writes the K largest into OUT (room for K), largest first; equal counts in
 * key order, so the output is deterministic. Returns how many were written.
 */
size_t ctb_topk_top(const struct ctb_topk *t, size_t k, struct ctb_topk_entry *out);

#endif
