// SPDX-License-Identifier: GPL-2.0
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include "guard_pick.h"

void ctb_guard_cand_name(const struct ctb_doctor_cand *cand, char *buf, size_t len)
{
	const char *proto = cand->l4proto == IPPROTO_UDP ? "udp" : "tcp";

	if (cand->role == CTB_ROLE_SERVER) {
		snprintf(buf, len, "%s/%u", proto, cand->port);
	} else {
		struct ctb_upstream up = { .family = cand->family,
					   .prefixlen = cand->family == AF_INET ? 32 : 128,
					   .port = cand->port };
		char text[CTB_UPSTREAM_STRLEN];

		memcpy(up.addr, cand->addr, 16);
		ctb_upstream_format(&up, text);
		snprintf(buf, len, "%s/%s", proto, text);
	}
}

bool ctb_guard_covered(const struct ctb_config *bypassed, const struct ctb_doctor_cand *cand)
{
	if (!(bypassed->protocols & ctb_protocol_bit(cand->l4proto)))
		return false;
	if (cand->role == CTB_ROLE_SERVER)
		return ctb_portset_has(&bypassed->ports, cand->port);
	for (size_t i = 0; i < bypassed->upstreams.count; i++) {
		const struct ctb_upstream *up = &bypassed->upstreams.items[i];

		if (up->port == cand->port && up->family == cand->family &&
		    ctb_upstream_covers(up, cand->family, cand->addr))
			return true;
	}
	return false;
}

bool ctb_guard_allows(const struct ctb_guard_settings *g, const struct ctb_config *bypassed,
		      const struct ctb_doctor_cand *cand, char *why, size_t whylen)
{
	if (ctb_portset_has(&g->deny, cand->port)) {
		snprintf(why, whylen, "port %u is in guard-deny", cand->port);
		return false;
	}
	/* One protocol setting covers every port: the guard cannot widen it. */
	if (!(bypassed->protocols & ctb_protocol_bit(cand->l4proto))) {
		snprintf(why, whylen, "not of the daemon's protocols (%s)",
			 ctb_protocols_name(bypassed->protocols));
		return false;
	}
	if (ctb_guard_covered(bypassed, cand)) {
		snprintf(why, whylen, "bypassed already");
		return false;
	}
	if (cand->role == CTB_ROLE_SERVER) {
		if (g->ports_auto && cand->listening)
			return true;
		if (ctb_portset_has(&g->ports, cand->port))
			return true;
		snprintf(why, whylen, g->ports_auto ? "nothing listens on it"
						    : "not in guard-ports");
		return false;
	}
	if (g->upstreams_auto)
		return true;
	for (size_t i = 0; i < g->upstreams.count; i++) {
		const struct ctb_upstream *up = &g->upstreams.items[i];

		if (up->port == cand->port && up->family == cand->family &&
		    ctb_upstream_covers(up, cand->family, cand->addr))
			return true;
	}
	snprintf(why, whylen, "not in guard-upstreams");
	return false;
}

size_t ctb_guard_choose(const struct ctb_doctor_cand *cands, const bool *ok, size_t n,
			uint64_t entries, uint64_t max, double release_fill, size_t *picked)
{
	double target = release_fill / 100.0 * (double)max;
	uint64_t left = entries;
	size_t count = 0;

	for (size_t i = 0; i < n; i++) {
		if (!ok[i] || !cands[i].entries)
			continue;
		/* Enough once the flush would bring the table under the release level. */
		if (count && (double)left < target)
			break;
		picked[count++] = i;
		left = left > cands[i].entries ? left - cands[i].entries : 0;
	}
	return count;
}
