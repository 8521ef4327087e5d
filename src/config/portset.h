/* SPDX-License-Identifier: GPL-2.0 */
/* Sets of ports 1-65535 as a bitmap, parsed from and printed as "80,81,8000-8010". */
#ifndef CTB_PORTSET_H
#define CTB_PORTSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTB_PORTS 65536

struct ctb_portset {
	uint64_t bits[CTB_PORTS / 64];
};

/* Adds every port of LIST to SET. On bad input returns -EINVAL, SET unchanged. */
int ctb_portset_parse(struct ctb_portset *set, const char *list, char *err, size_t errlen);

void ctb_portset_clear(struct ctb_portset *set);
void ctb_portset_add(struct ctb_portset *set, uint16_t port);
void ctb_portset_del(struct ctb_portset *set, uint16_t port);
bool ctb_portset_has(const struct ctb_portset *set, uint16_t port);
/* The first port of SET at or after FROM, or CTB_PORTS: a word at a time. */
uint32_t ctb_portset_next(const struct ctb_portset *set, uint32_t from);
size_t ctb_portset_count(const struct ctb_portset *set);
bool ctb_portset_empty(const struct ctb_portset *set);
void ctb_portset_union(struct ctb_portset *dst, const struct ctb_portset *src);
void ctb_portset_subtract(struct ctb_portset *dst, const struct ctb_portset *src);

/*
 * Walks maximal runs of consecutive ports: start with *first = 0; returns false
 * when no run is left.
 */
bool ctb_portset_next_range(const struct ctb_portset *set, uint32_t *first, uint16_t *lo,
			    uint16_t *hi);

/* Formats as "80-82,8000"; returns the length it needed (like snprintf). */
size_t ctb_portset_format(const struct ctb_portset *set, char *buf, size_t len);

#endif
