// SPDX-License-Identifier: GPL-2.0
#include <linux/netfilter/nf_conntrack_common.h>
#include <string.h>
#include "ct_flush_match.h"

void ctb_flush_scope_init(struct ctb_flush_scope *scope, const struct ctb_config *cfg,
			  const struct ctb_local_addrs *locals)
{
	memset(scope, 0, sizeof(*scope));
	scope->cfg = cfg;
	scope->locals = locals;
	for (size_t i = 0; i < cfg->upstreams.count; i++)
		ctb_portset_add(&scope->upstream_ports, cfg->upstreams.items[i].port);
}

static bool is_upstream(const struct ctb_flush_scope *scope, int family, const uint8_t *addr,
			uint16_t port)
{
	const struct ctb_upstream_list *ups = &scope->cfg->upstreams;

	if (!ctb_portset_has(&scope->upstream_ports, port))
		return false;
	for (size_t i = 0; i < ups->count; i++) {
		if (ups->items[i].port == port && ctb_upstream_covers(&ups->items[i], family, addr))
			return true;
	}
	return false;
}

static bool is_local(const struct ctb_flush_scope *scope, int family, const uint8_t *addr)
{
	return ctb_local_addrs_has(scope->locals, family, addr);
}

bool ctb_flush_scope_match(const struct ctb_flush_scope *scope, const struct ctb_flow *flow,
			   uint32_t status)
{
	const struct ctb_portset *served = &scope->cfg->ports;
	int fam = flow->family;

	/* Untracking would break the translation, and the preflight let it be. */
	if (status & (IPS_SRC_NAT | IPS_DST_NAT))
		return false;
	if (!(scope->cfg->protocols & ctb_protocol_bit(flow->l4proto)))
		return false;
	/* Cheap port tests first: the address lookups run only for candidates. */
	if (ctb_portset_has(served, flow->dport) && is_local(scope, fam, flow->daddr))
		return true;
	if (ctb_portset_has(served, flow->sport) && is_local(scope, fam, flow->saddr))
		return true;
	if (is_upstream(scope, fam, flow->daddr, flow->dport) && is_local(scope, fam, flow->saddr))
		return true;
	return is_upstream(scope, fam, flow->saddr, flow->sport) &&
	       is_local(scope, fam, flow->daddr);
}
