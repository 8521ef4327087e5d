/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The addresses of the current namespace, as `fib daddr type local` sees them:
 * the prefixes of the local routing table's `local` routes. Prefixes, not host
 * addresses, so that 127.0.0.0/8 and AnyIP routes (`ip route add local
 * 198.18.1.0/24 dev lo`) count as local too, the way the kernel treats them.
 */
#ifndef CTB_LOCAL_ADDRS_H
#define CTB_LOCAL_ADDRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ctb_local_prefix {
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network order; IPv4 in the first 4 bytes */
	uint8_t prefixlen;
};

struct ctb_local_addrs {
	struct ctb_local_prefix *items;
	size_t count, cap;
};

/* Reads the local routing table of the current namespace into an empty LOCALS. */
int ctb_local_addrs_read(struct ctb_local_addrs *locals);

/* Adds one prefix; -EINVAL for a bad family or length. */
int ctb_local_addrs_add(struct ctb_local_addrs *locals, int family, const uint8_t *addr,
			uint8_t prefixlen);

/* True when ADDR (FAMILY, network order) lies in one of the prefixes. */
bool ctb_local_addrs_has(const struct ctb_local_addrs *locals, int family, const uint8_t *addr);

void ctb_local_addrs_free(struct ctb_local_addrs *locals);

#endif
