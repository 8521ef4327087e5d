/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Upstreams: remote services this host connects to, as ADDR[/LEN]:PORT or
 * [ADDR6][/LEN]:PORT, parsed strictly and printed canonically.
 */
#ifndef CTB_UPSTREAM_H
#define CTB_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTB_UPSTREAM_STRLEN 64 /* "[ffff:...:ffff/128]:65535" fits */
#define CTB_MAX_UPSTREAM_ITEMS 2048 /* each takes one trie entry per protocol */

struct ctb_upstream {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes */
	uint8_t prefixlen; /* 32 or 128 for a single host */
	uint16_t port; /* host order */
};

struct ctb_upstream_list {
	struct ctb_upstream *items;
	size_t count;
};

/* Parses one upstream. Returns -EINVAL with a one-line message on bad input. */
int ctb_upstream_parse(const char *text, struct ctb_upstream *out, char *err, size_t errlen);

/* Adds each comma-separated upstream of LIST (duplicates once); LIST unchanged on error. */
int ctb_upstream_list_parse(struct ctb_upstream_list *list, const char *text, char *err,
			    size_t errlen);

int ctb_upstream_list_add(struct ctb_upstream_list *list, const struct ctb_upstream *up);
bool ctb_upstream_list_has(const struct ctb_upstream_list *list, const struct ctb_upstream *up);
void ctb_upstream_list_remove(struct ctb_upstream_list *list, const struct ctb_upstream *up);
int ctb_upstream_list_copy(struct ctb_upstream_list *dst, const struct ctb_upstream_list *src);
void ctb_upstream_list_free(struct ctb_upstream_list *list);

bool ctb_upstream_equal(const struct ctb_upstream *a, const struct ctb_upstream *b);
/* True when ADDR (same family as UP, network order) lies inside UP's prefix. */
bool ctb_upstream_covers(const struct ctb_upstream *up, int family, const uint8_t *addr);
void ctb_upstream_format(const struct ctb_upstream *up, char buf[CTB_UPSTREAM_STRLEN]);

#endif
