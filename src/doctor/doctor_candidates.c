// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "doctor_candidates.h"

/*
 * A candidate's key: role, protocol, family, 0, port (host order, big end
 * first so keys sort by port), 0, 0, then the upstream's address (zero for servers).
 */
static void cand_key(const struct ctb_doctor_cand *c, uint8_t key[CTB_DOCTOR_KEY_LEN])
{
	memset(key, 0, CTB_DOCTOR_KEY_LEN);
	key[0] = (uint8_t)c->role;
	key[1] = c->l4proto;
	key[2] = c->family == AF_INET6 ? 6 : c->family == AF_INET ? 4 : 0;
	key[4] = (uint8_t)(c->port >> 8);
	key[5] = (uint8_t)c->port;
	memcpy(key + 8, c->addr, 16);
}

static void cand_from_key(const uint8_t *key, struct ctb_doctor_cand *c)
{
	memset(c, 0, sizeof(*c));
	c->role = (enum ctb_doctor_role)key[0];
	c->l4proto = key[1];
	c->family = key[2] == 6 ? AF_INET6 : key[2] == 4 ? AF_INET : 0;
	c->port = (uint16_t)(key[4] << 8 | key[5]);
	memcpy(c->addr, key + 8, 16);
}

bool ctb_doctor_host_is_local(const struct ctb_doctor_host *host, int family, const uint8_t *addr)
{
	size_t len = family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < host->naddrs; i++)
		if (host->addrs[i].family == family && !memcmp(host->addrs[i].addr, addr, len))
			return true;
	return false;
}

static bool listens(const struct ctb_doctor_host *host, uint8_t l4proto, uint16_t port)
{
	return ctb_portset_has(l4proto == IPPROTO_TCP ? &host->listen_tcp : &host->listen_udp,
			       port);
}

int ctb_doctor_cands_add(struct ctb_doctor_cands *c, const struct ctb_doctor_host *host,
			 const struct ctb_flow *flow)
{
	bool src_local, dst_local;
	struct ctb_doctor_cand cand = {.l4proto = flow->l4proto};
	uint8_t key[CTB_DOCTOR_KEY_LEN];

	c->total++;
	if (flow->l4proto != IPPROTO_TCP && flow->l4proto != IPPROTO_UDP)
		return 0;
	src_local = ctb_doctor_host_is_local(host, flow->family, flow->saddr);
	dst_local = ctb_doctor_host_is_local(host, flow->family, flow->daddr);
	if (dst_local && listens(host, flow->l4proto, flow->dport)) {
		cand.role = CTB_ROLE_SERVER;
		cand.port = flow->dport;
	} else if (src_local && listens(host, flow->l4proto, flow->sport)) {
		/* Picked up mid-stream from a reply: the original direction is reversed. */
		cand.role = CTB_ROLE_SERVER;
		cand.port = flow->sport;
	} else if (src_local) {
		/* This host opened it: the remote end is an upstream. */
		cand.role = CTB_ROLE_UPSTREAM;
		cand.family = flow->family;
		memcpy(cand.addr, flow->daddr, flow->family == AF_INET ? 4 : 16);
		cand.port = flow->dport;
	} else if (dst_local) {
		/* Addressed to us, but nothing listens (yet, or any more). */
		cand.role = CTB_ROLE_SERVER;
		cand.port = flow->dport;
	} else {
		c->forwarded++;
		return 0;
	}
	if (!cand.port)
		return 0;
	cand_key(&cand, key);
	return ctb_doctor_counts_add(&c->counts, key, 1);
}

void ctb_doctor_cands_free(struct ctb_doctor_cands *c)
{
	ctb_doctor_counts_free(&c->counts);
	memset(c, 0, sizeof(*c));
}

int ctb_doctor_cands_rank(const struct ctb_doctor_cands *c, const struct ctb_doctor_host *host,
			  size_t max, struct ctb_doctor_cand **out, size_t *count)
{
	struct ctb_doctor_count *sorted;
	size_t n;
	int ret = ctb_doctor_counts_sorted(&c->counts, &sorted, &n);

	*out = NULL;
	*count = 0;
	if (ret)
		return ret;
	if (n > max)
		n = max;
	*out = calloc(n ? n : 1, sizeof(**out));
	if (!*out) {
		free(sorted);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		cand_from_key(sorted[i].key, &(*out)[i]);
		(*out)[i].entries = sorted[i].count;
		if ((*out)[i].role == CTB_ROLE_SERVER)
			(*out)[i].listening = listens(host, (*out)[i].l4proto, (*out)[i].port);
	}
	*count = n;
	free(sorted);
	return 0;
}

int ctb_doctor_cand_config(const struct ctb_doctor_cand *cand, struct ctb_config *cfg)
{
	ctb_config_init(cfg);
	cfg->protocols = ctb_protocol_bit(cand->l4proto);
	if (cand->role == CTB_ROLE_SERVER) {
		ctb_portset_add(&cfg->ports, cand->port);
		return 0;
	}
	struct ctb_upstream up = {
	    .family = cand->family,
	    .prefixlen = cand->family == AF_INET ? 32 : 128,
	    .port = cand->port,
	};

	memcpy(up.addr, cand->addr, 16);
	return ctb_upstream_list_add(&cfg->upstreams, &up);
}

void ctb_doctor_attach_command(const char *netns, const struct ctb_config *cfg, char *buf,
			       size_t len)
{
	size_t off = 0;

	off += snprintf(buf + off, len - off, "ctbypass%s%s attach", netns ? " -n " : "",
			netns ? netns : "");
	if (off < len && !ctb_portset_empty(&cfg->ports)) {
		off += snprintf(buf + off, len - off, " --ports ");
		if (off < len)
			off += ctb_portset_format(&cfg->ports, buf + off, len - off);
	}
	for (size_t i = 0; off < len && i < cfg->upstreams.count; i++) {
		char text[CTB_UPSTREAM_STRLEN];

		ctb_upstream_format(&cfg->upstreams.items[i], text);
		off += snprintf(buf + off, len - off, "%s%s", i ? "," : " --upstream ", text);
	}
	if (off < len && cfg->protocols != CTB_PROTO_TCP)
		snprintf(buf + off, len - off, " --proto %s", ctb_protocols_name(cfg->protocols));
}
