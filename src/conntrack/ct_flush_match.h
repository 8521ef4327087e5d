/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which conntrack entries a flush deletes: those of traffic the bypass now
 * keeps out of conntrack, and no others. A server port counts only as this
 * host's end of a flow, an upstream only as the far end, and an entry that
 * NAT rewrote is never ours: with `--ports 80`, a container's masqueraded
 * download from some web server's port 80 keeps its entry, as does the host's
 * own download from one, as does docker-proxy's connection to a container.
 */
#ifndef CTB_CT_FLUSH_MATCH_H
#define CTB_CT_FLUSH_MATCH_H

#include <stdbool.h>
#include <stdint.h>
#include "config.h"
#include "local_addrs.h"

struct ctb_flush_scope {
	const struct ctb_config *cfg;
	const struct ctb_local_addrs *locals;
	/* Ports some upstream listens on: most entries are turned down on one bit. */
	struct ctb_portset upstream_ports;
};

/* CFG and LOCALS must outlive SCOPE; neither is copied. */
void ctb_flush_scope_init(struct ctb_flush_scope *scope, const struct ctb_config *cfg,
			  const struct ctb_local_addrs *locals);

/*
 * True when the entry with original tuple FLOW and STATUS (IPS_* bits) is to
 * be deleted: it has no NAT, its protocol is bypassed, and either
 *  - one end is this host's and its port there is a server port (a client
 *    connecting in: daddr local, dport served; or we sent from a served port:
 *    saddr local, sport served), or
 *  - one end is this host's and the other end is an upstream's address and
 *    port (saddr local to an upstream's daddr:dport, or from its saddr:sport
 *    to a local daddr).
 * Forwarded flows (neither end local) never match.
 */
bool ctb_flush_scope_match(const struct ctb_flush_scope *scope, const struct ctb_flow *flow,
			   uint32_t status);

#endif
