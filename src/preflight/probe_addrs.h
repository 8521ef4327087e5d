/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The local addresses a server-port probe uses. ctbypass untracks only packets
 * addressed to (and replies sent from) this host, so a rule about another
 * address (a ClusterIP's DNAT, a container's) never meets bypassed traffic.
 * Probing every local address would cost one search each; addresses that every
 * address match of the ruleset treats alike fare alike, so one address per
 * such class is enough, however many the host has.
 */
#ifndef CTB_PROBE_ADDRS_H
#define CTB_PROBE_ADDRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "firewall_model.h"
#include "local_addrs.h"

/* Beyond this many classes in a family, the rest is probed as "unknown". */
#define CTB_PROBE_CLASSES_MAX 64

struct ctb_probe_addr {
	bool known; /* false: an address we do not know (every match on it may hold) */
	uint8_t addr[16];
	bool loopback; /* 127.0.0.0/8 or ::1: the packet crosses lo */
};

struct ctb_probe_addrs {
	struct ctb_probe_addr items[CTB_PROBE_CLASSES_MAX + 1];
	size_t count;
};

/*
 * One representative address per class of FAMILY's (4 or 6) local addresses
 * in LOCALS, classes being the regions the ruleset's prefixes cut the local
 * prefixes into. LOCALS NULL: one unknown address. No local address in the
 * family: no probe (no traffic of that family can be bypassed).
 */
int ctb_probe_addrs_build(const struct fw_ruleset *rs, const struct ctb_local_addrs *locals,
			  int family, struct ctb_probe_addrs *out);

#endif
