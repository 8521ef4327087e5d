// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "firewall_eval.h"
#include "firewall_read.h"
#include "bogus_peers.h"
#include "preflight.h"
#include "probe_addrs.h"

enum direction { ARRIVAL, DEPARTURE };

/* One finding being gathered: every port that meets the same rules joins it. */
struct gathered {
	enum ctb_finding_kind kind;
	enum direction dir;
	unsigned int l4;
	int family;
	const struct ctb_upstream *up; /* NULL: server ports */
	bool forwarded; /* NAT: of connections forwarded through this host */
	struct fw_hit accepted, dropped; /* NAT: dropped is the NAT rule */
	struct ctb_portset ports;
};

struct analysis {
	const struct ctb_config *cfg;
	const struct fw_ruleset *rs;
	const struct ctb_host_facts *facts;
	struct gathered *items;
	size_t count;
	struct ctb_findings *out;
	struct fw_budget budget;
	struct ctb_probe_addrs local[2]; /* server-port probe addresses: IPv4, IPv6 */
};

static const struct {
	const char *name, *module, *what;
	unsigned int l4;
	uint16_t port;
} helpers[] = {
	{ "ftp", "nf_conntrack_ftp", "FTP data connections", FW_L4_TCP, 21 },
	{ "tftp", "nf_conntrack_tftp", "TFTP transfers", FW_L4_UDP, 69 },
	{ "sip", "nf_conntrack_sip", "SIP media streams", FW_L4_UDP | FW_L4_TCP, 5060 },
	{ "irc", "nf_conntrack_irc", "IRC DCC connections", FW_L4_TCP, 6667 },
	{ "h323", "nf_conntrack_h323", "H.323 media", FW_L4_TCP, 1720 },
	{ "pptp", "nf_conntrack_pptp", "PPTP GRE tunnels", FW_L4_TCP, 1723 },
	{ "amanda", "nf_conntrack_amanda", "Amanda backup connections", FW_L4_UDP, 10080 },
	{ "sane", "nf_conntrack_sane", "SANE data connections", FW_L4_TCP, 6566 },
	{ "snmp", "nf_conntrack_snmp", "SNMP replies", FW_L4_UDP, 161 },
	{ "netbios-ns", "nf_conntrack_netbios_ns", "NetBIOS name replies", FW_L4_UDP, 137 },
};

static const char *l4_name(unsigned int l4)
{
	return l4 == FW_L4_TCP ? "tcp" : "udp";
}

static bool chain_sees(const struct fw_chain *ch, int family)
{
	if (!strcmp(ch->family, "inet"))
		return true;
	return !strcmp(ch->family, family == 4 ? "ip" : "ip6");
}

static const char *source_name(enum fw_source s)
{
	return s == FW_SRC_NFT ? "nftables" : s == FW_SRC_IPTABLES_NFT ? "iptables-nft"
									 : "iptables-legacy";
}

/* Files G (its ports included) with the finding it joins, or as a new one. */
static struct gathered *gather(struct analysis *an, const struct gathered *g)
{
	for (size_t i = 0; i < an->count; i++) {
		struct gathered *o = &an->items[i];

		if (o->kind == g->kind && o->dir == g->dir && o->l4 == g->l4 && o->up == g->up &&
		    o->forwarded == g->forwarded &&
		    o->dropped.chain == g->dropped.chain && o->dropped.rule == g->dropped.rule &&
		    o->accepted.rule == g->accepted.rule && o->accepted.chain == g->accepted.chain) {
			ctb_portset_union(&o->ports, &g->ports);
			return o;
		}
	}
	struct gathered *grown = realloc(an->items, (an->count + 1) * sizeof(*grown));

	if (!grown)
		return NULL;
	an->items = grown;
	grown[an->count] = *g;
	return &grown[an->count++];
}

/* ---- probes ---- */

/*
 * A probe for a server port (UP NULL; LOCAL: this host's address in it) or an
 * upstream (UP and its index; the local end is the source the host picks).
 */
static struct fw_probe probe_for(int family, unsigned int l4, enum direction dir, uint16_t port,
				 const struct ctb_probe_addr *local, const struct ctb_upstream *up,
				 const struct ctb_host_facts *facts, size_t up_index,
				 unsigned int ct_state)
{
	struct fw_probe p = { .family = family, .l4 = l4, .ct_state = ct_state };

	if (!up) {
		/* A server port: arrivals to it, departures from it. */
		/* Our end is ours; the peer is too only across loopback. */
		signed char peer_local = local->loopback ? 1 : -1;

		if (dir == ARRIVAL) {
			p.dport = port;
			p.daddr_known = local->known;
			memcpy(p.daddr, local->addr, 16);
			p.daddr_local = 1;
			p.saddr_local = peer_local;
		} else {
			p.sport = port;
			p.saddr_known = local->known;
			memcpy(p.saddr, local->addr, 16);
			p.saddr_local = 1;
			p.daddr_local = peer_local;
		}
		p.loopback = local->loopback;
		p.unknown_not_loopback = local->known && !local->loopback;
		return p;
	}
	uint8_t *remote = dir == ARRIVAL ? p.saddr : p.daddr;
	uint8_t *ours = dir == ARRIVAL ? p.daddr : p.saddr;
	bool local_known = facts->upstream_source_known && facts->upstream_source_known[up_index];

	memcpy(remote, up->addr, 16);
	if (local_known)
		memcpy(ours, facts->upstream_source[up_index], 16);
	signed char up_local = !facts->locals ? 0
			       : ctb_local_addrs_has(facts->locals, up->family, up->addr) ? 1 : -1;

	p.saddr_local = dir == ARRIVAL ? up_local : 1;
	p.daddr_local = dir == ARRIVAL ? 1 : up_local;
	if (dir == ARRIVAL) {
		p.sport = up->port;
		p.saddr_known = true;
		p.daddr_known = local_known;
	} else {
		p.dport = up->port;
		p.daddr_known = true;
		p.saddr_known = local_known;
	}
	return p;
}

/* Connections start in this direction: NEW then ESTABLISHED; replies only ESTABLISHED. */
static size_t tracked_states(enum direction dir, bool upstream, unsigned int states[2])
{
	bool initiating = upstream ? dir == DEPARTURE : dir == ARRIVAL;

	states[0] = FW_CT_ESTABLISHED;
	if (!initiating)
		return 1;
	states[0] = FW_CT_NEW;
	states[1] = FW_CT_ESTABLISHED;
	return 2;
}

/*
 * A server port's peer is any address, so a drop that needs the peer in some
 * prefixes (the dropping rule matches the remote address) breaks only the
 * connections of peers there: returns that match, or NULL.
 */
static const struct fw_match *peer_scope(const struct gathered *g, const struct fw_rule *rule)
{
	enum fw_match_kind remote = g->dir == ARRIVAL ? FW_M_SADDR : FW_M_DADDR;

	if (g->up || !rule)
		return NULL;
	for (size_t m = 0; m < rule->match_count; m++)
		if (rule->matches[m].kind == remote && !rule->matches[m].negate &&
		    rule->matches[m].prefix_count)
			return &rule->matches[m];
	return NULL;
}

/* "2002:a00::/24, …" (BUF may be NULL) and whether every prefix is one no real peer has. */
static bool peers_text(const struct fw_match *m, char *buf, size_t len)
{
	char scratch[512];

	if (!buf) {
		buf = scratch;
		len = sizeof(scratch);
	}
	bool bogus = true;
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < m->prefix_count && used + 64 < len; i++) {
		const struct fw_prefix *p = &m->prefixes[i];
		char addr[INET6_ADDRSTRLEN];

		inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->addr, addr, sizeof(addr));
		used += (size_t)snprintf(buf + used, len - used, "%s%s/%u", i ? ", " : "", addr,
					 p->len);
		bogus = bogus && ctb_prefix_is_bogus_peer(p);
	}
	if (m->prefix_count == FW_MAX_PREFIXES)
		bogus = false; /* a longer list, cut: some may be real */
	return bogus;
}

struct tolerance {
	struct analysis *an;
	const struct gathered *g;
	int err;
};

/* A drop only peers no real host has would meet: noted as a warning, and the search goes on. */
static bool tolerate_bogus_peers(const struct fw_hit *accepted, const struct fw_hit *dropped,
				 void *ctx)
{
	struct tolerance *t = ctx;
	const struct fw_match *scope = peer_scope(t->g, dropped->rule);
	struct gathered found = *t->g;

	if (!scope || !peers_text(scope, NULL, 0))
		return false;
	found.kind = CTB_FINDING_STATEFUL;
	found.accepted = *accepted;
	found.dropped = *dropped;
	if (!gather(t->an, &found))
		t->err = -ENOMEM;
	return true;
}

static int check_stateful(struct analysis *an, struct gathered *g, uint16_t port,
			  const struct ctb_probe_addr *local, size_t up_index)
{
	unsigned int states[2];
	size_t n = tracked_states(g->dir, g->up != NULL, states);
	enum fw_hook hook = g->dir == ARRIVAL ? FW_HOOK_INPUT : FW_HOOK_OUTPUT;
	struct fw_probe before[2], after;

	for (size_t i = 0; i < n; i++)
		before[i] = probe_for(g->family, g->l4, g->dir, port, local, g->up, an->facts,
				      up_index, states[i]);
	after = probe_for(g->family, g->l4, g->dir, port, local, g->up, an->facts, up_index,
			  FW_CT_UNTRACKED);
	for (size_t c = 0; c < an->rs->chain_count; c++) {
		const struct fw_chain *ch = &an->rs->chains[c];
		struct gathered found = *g, *slot;
		enum fw_answer ans;

		if (ch->hook != hook || ch->nat || !chain_sees(ch, g->family))
			continue;
		struct tolerance tol = { an, g, 0 };

		ans = fw_find_breakage_tolerating(an->rs, ch, before, n, &after, &an->budget,
						  tolerate_bogus_peers, &tol, &found.accepted,
						  &found.dropped);
		if (tol.err)
			return tol.err;
		if (ans == FW_ANSWER_NO)
			continue;
		found.kind = ans == FW_ANSWER_YES ? CTB_FINDING_STATEFUL : CTB_FINDING_UNANALYZED;
		if (ans != FW_ANSWER_YES)
			found.dropped = (struct fw_hit){ ch, NULL, FW_V_DROP };
		slot = gather(an, &found);
		if (!slot)
			return -ENOMEM;
	}
	return 0;
}

/*
 * NAT decides at a connection's first packet, in the direction that starts it.
 * G->forwarded: a connection to the upstream that another host (a container)
 * starts through this one, its source not ours: masqueraded, its replies come
 * to this host from the upstream and would be untracked, never translated back.
 */
static int check_nat(struct analysis *an, struct gathered *g, uint16_t port,
		     const struct ctb_probe_addr *local, size_t up_index)
{
	struct fw_probe p = probe_for(g->family, g->l4, g->dir, port, local, g->up, an->facts,
				      up_index, FW_CT_NEW);

	if (g->forwarded) {
		p.saddr_known = false;
		p.saddr_local = -1; /* another host's connection */
	}

	for (size_t c = 0; c < an->rs->chain_count; c++) {
		const struct fw_chain *ch = &an->rs->chains[c];
		bool starts_here = g->dir == ARRIVAL ? (ch->hook == FW_HOOK_PREROUTING ||
							ch->hook == FW_HOOK_INPUT)
						     : (ch->hook == FW_HOOK_OUTPUT ||
							ch->hook == FW_HOOK_POSTROUTING);
		struct gathered found = *g, *slot;
		enum fw_answer ans;

		if (g->forwarded)
			starts_here = ch->hook == FW_HOOK_POSTROUTING;
		if (!ch->nat || !starts_here || !chain_sees(ch, g->family))
			continue;
		ans = fw_find_nat(an->rs, ch, &p, &an->budget, &found.dropped);
		if (ans == FW_ANSWER_NO)
			continue;
		found.kind = ans == FW_ANSWER_YES ? CTB_FINDING_NAT : CTB_FINDING_UNANALYZED;
		if (ans != FW_ANSWER_YES)
			found.dropped = (struct fw_hit){ ch, NULL, FW_V_NAT };
		slot = gather(an, &found);
		if (!slot)
			return -ENOMEM;
	}
	return 0;
}

/*
 * Ports between two boundaries of the rules' port matches all fare alike, so
 * one probe per such stretch covers the whole set, however large.
 */
static void port_boundaries(const struct fw_ruleset *rs, struct ctb_portset *starts)
{
	ctb_portset_clear(starts);
	ctb_portset_add(starts, 1);
	for (size_t c = 0; c < rs->chain_count; c++)
		for (size_t r = 0; r < rs->chains[c].rule_count; r++)
			for (size_t m = 0; m < rs->chains[c].rules[r].match_count; m++) {
				const struct fw_match *fm = &rs->chains[c].rules[r].matches[m];

				if (fm->kind != FW_M_DPORT && fm->kind != FW_M_SPORT)
					continue;
				for (size_t i = 0; i < fm->port_count; i++) {
					ctb_portset_add(starts, fm->ports[i].lo);
					if (fm->ports[i].hi < 65535)
						ctb_portset_add(starts, (uint16_t)(fm->ports[i].hi + 1));
				}
			}
}

/* Probes one stretch of ports alike (PORTS, PROBE_PORT one of them) from every local address class. */
static int probe_stretch(struct analysis *an, unsigned int l4, int family, enum direction dir,
			 const struct ctb_portset *ports, uint16_t probe_port)
{
	const struct ctb_probe_addrs *locals = &an->local[family == 4 ? 0 : 1];

	for (size_t a = 0; a < locals->count; a++) {
		struct gathered g = { .dir = dir, .l4 = l4, .family = family, .ports = *ports };
		int ret = check_stateful(an, &g, probe_port, &locals->items[a], 0);

		if (!ret && dir == ARRIVAL)
			ret = check_nat(an, &g, probe_port, &locals->items[a], 0);
		if (ret)
			return ret;
	}
	return 0;
}

static int analyse_server_ports(struct analysis *an)
{
	struct ctb_portset starts, stretch;

	port_boundaries(an->rs, &starts);
	for (unsigned int l4 = FW_L4_TCP; l4 <= FW_L4_UDP; l4 <<= 1) {
		if (!(an->cfg->protocols & (l4 == FW_L4_TCP ? CTB_PROTO_TCP : CTB_PROTO_UDP)))
			continue;
		for (int family = 4; family <= 6; family += 2)
			for (int dir = ARRIVAL; dir <= DEPARTURE; dir++) {
				const struct ctb_portset *ports = &an->cfg->ports;
				uint32_t q, end;

				/* Q: the first bypassed port of its stretch, which ends at the
				 * next boundary; the stretch's bypassed ports share its outcome. */
				for (q = ctb_portset_next(ports, 1); q < CTB_PORTS;
				     q = ctb_portset_next(ports, end)) {
					int ret;

					end = ctb_portset_next(&starts, q + 1);
					ctb_portset_clear(&stretch);
					for (uint32_t r = q; r < end; r = ctb_portset_next(ports, r + 1))
						ctb_portset_add(&stretch, (uint16_t)r);
					ret = probe_stretch(an, l4, family, dir, &stretch, (uint16_t)q);
					if (ret)
						return ret;
				}
			}
	}
	return 0;
}

static int analyse_upstreams(struct analysis *an)
{
	for (size_t i = 0; i < an->cfg->upstreams.count; i++) {
		const struct ctb_upstream *up = &an->cfg->upstreams.items[i];

		for (unsigned int l4 = FW_L4_TCP; l4 <= FW_L4_UDP; l4 <<= 1) {
			if (!(an->cfg->protocols & (l4 == FW_L4_TCP ? CTB_PROTO_TCP : CTB_PROTO_UDP)))
				continue;
			for (int dir = ARRIVAL; dir <= DEPARTURE; dir++) {
				struct gathered g = { .dir = dir, .l4 = l4, .up = up,
						      .family = up->family == AF_INET ? 4 : 6 };
				int ret = check_stateful(an, &g, up->port, NULL, i);

				if (!ret && dir == DEPARTURE)
					ret = check_nat(an, &g, up->port, NULL, i);
				if (!ret && dir == DEPARTURE) {
					g.forwarded = true;
					ret = check_nat(an, &g, up->port, NULL, i);
				}
				if (ret)
					return ret;
			}
		}
	}
	return 0;
}

/* ---- findings as text ---- */

static struct ctb_finding *new_finding(struct ctb_findings *out, enum ctb_finding_kind kind,
				       bool blocking)
{
	struct ctb_finding *grown = realloc(out->items, (out->count + 1) * sizeof(*grown));

	if (!grown)
		return NULL;
	out->items = grown;
	memset(&grown[out->count], 0, sizeof(*grown));
	grown[out->count].kind = kind;
	grown[out->count].blocking = blocking;
	return &grown[out->count++];
}

/* "80,81,8000-8010" with a separator and range mark of the target syntax. */
static void ports_text(const struct ctb_portset *ports, char *buf, size_t len, const char *sep,
		       char range_mark, size_t *items)
{
	uint32_t cursor = 0;
	uint16_t lo, hi;
	size_t used = 0;

	*items = 0;
	buf[0] = '\0';
	while (ctb_portset_next_range(ports, &cursor, &lo, &hi) && used + 16 < len) {
		used += (size_t)snprintf(buf + used, len - used, "%s%u", *items ? sep : "", lo);
		if (hi != lo)
			used += (size_t)snprintf(buf + used, len - used, "%c%u", range_mark, hi);
		(*items)++;
	}
}

static void describe_traffic(const struct gathered *g, char *buf, size_t len)
{
	char ports[128], up[CTB_UPSTREAM_STRLEN];
	size_t items;

	if (g->up) {
		ctb_upstream_format(g->up, up);
		snprintf(buf, len, "%s %s %s", l4_name(g->l4),
			 g->dir == ARRIVAL ? "arrivals from" : "departures to", up);
		return;
	}
	ports_text(&g->ports, ports, sizeof(ports), ",", '-', &items);
	snprintf(buf, len, "%s/%s %s", l4_name(g->l4), ports,
		 g->dir == ARRIVAL ? "arrivals" : "departures (replies)");
}

static void describe_where(const struct fw_chain *ch, char *buf, size_t len)
{
	snprintf(buf, len, "table %s %s chain %s (%s)", ch->family, ch->table, ch->name,
		 source_name(ch->source));
}

/* The nft statement accepting exactly this untracked traffic. */
static void nft_accept_statement(const struct gathered *g, const char *chain_family, char *buf,
				 size_t len)
{
	const char *l4 = l4_name(g->l4);

	if (g->up) {
		char addr[INET6_ADDRSTRLEN];
		const char *fam = g->up->family == AF_INET ? "ip" : "ip6";
		bool host = g->up->prefixlen == (g->up->family == AF_INET ? 32 : 128);

		(void)chain_family;
		inet_ntop(g->up->family, g->up->addr, addr, sizeof(addr));
		if (host)
			snprintf(buf, len, "ct state untracked %s %s %s %s %s %u accept", fam,
				 g->dir == ARRIVAL ? "saddr" : "daddr", addr, l4,
				 g->dir == ARRIVAL ? "sport" : "dport", g->up->port);
		else
			snprintf(buf, len, "ct state untracked %s %s %s/%u %s %s %u accept", fam,
				 g->dir == ARRIVAL ? "saddr" : "daddr", addr, g->up->prefixlen, l4,
				 g->dir == ARRIVAL ? "sport" : "dport", g->up->port);
		return;
	}
	char ports[512];
	size_t items;

	ports_text(&g->ports, ports, sizeof(ports), ", ", '-', &items);
	snprintf(buf, len, items > 1 ? "ct state untracked %s %s { %s } accept"
				     : "ct state untracked %s %s %s accept",
		 l4, g->dir == ARRIVAL ? "dport" : "sport", ports);
}

/* iptables rule bodies; multiport takes at most 15 ports, so longer lists split. */
static void iptables_fix(const struct gathered *g, const struct ctb_host_facts *facts,
			 const char *chain, uint64_t pos, char *buf, size_t len)
{
	const struct fw_chain *ch = g->dropped.chain;
	int family = !strcmp(ch->family, "ip6") ? 6 : 4;
	const char *cmd = ch->source == FW_SRC_IPTABLES_NFT ? facts->iptables_nft_cmd
							    : facts->iptables_legacy_cmd;
	const char *l4 = l4_name(g->l4);

	if (family == 6)
		cmd = ctb_iptables_command(ch->source == FW_SRC_IPTABLES_NFT ? "nft" : "legacy", 6);
	if (g->up) {
		char addr[INET6_ADDRSTRLEN];

		inet_ntop(g->up->family, g->up->addr, addr, sizeof(addr));
		snprintf(buf, len,
			 "%s -I %s %llu %s %s/%u -p %s --%s %u -m conntrack --ctstate UNTRACKED "
			 "-j ACCEPT",
			 cmd, chain, (unsigned long long)pos, g->dir == ARRIVAL ? "-s" : "-d", addr,
			 g->up->prefixlen, l4, g->dir == ARRIVAL ? "sport" : "dport", g->up->port);
		return;
	}
	struct ctb_portset rest = g->ports;
	size_t used = 0;

	buf[0] = '\0';
	while (!ctb_portset_empty(&rest) && used + 200 < len) {
		struct ctb_portset chunk;
		uint32_t cursor = 0;
		uint16_t lo, hi;
		char ports[128];
		size_t items = 0, n;

		ctb_portset_clear(&chunk);
		while (items < 7 && ctb_portset_next_range(&rest, &cursor, &lo, &hi)) {
			for (uint32_t p = lo; p <= hi; p++)
				ctb_portset_add(&chunk, (uint16_t)p);
			items++;
		}
		ctb_portset_subtract(&rest, &chunk);
		ports_text(&chunk, ports, sizeof(ports), ",", ':', &n);
		/* one port or range needs no multiport */
		used += (size_t)snprintf(buf + used, len - used,
					 "%s%s -I %s %llu -p %s %s--%s%s %s -m conntrack "
					 "--ctstate UNTRACKED -j ACCEPT",
					 used ? "; " : "", cmd, chain, (unsigned long long)pos, l4,
					 n > 1 ? "-m multiport " : "",
					 g->dir == ARRIVAL ? "dport" : "sport", n > 1 ? "s" : "", ports);
	}
}

/* ---- fixes in the terms of the manager that owns the chain ---- */

enum fw_manager { MANAGER_NONE, MANAGER_FIREWALLD, MANAGER_UFW };

/* Who rebuilds this chain: a plain rule added to it would vanish on a reload. */
static enum fw_manager manager_of(const struct fw_chain *ch)
{
	if (!ch)
		return MANAGER_NONE;
	if (ch->source == FW_SRC_NFT && !strcmp(ch->table, "firewalld"))
		return MANAGER_FIREWALLD;
	if (ch->source != FW_SRC_NFT &&
	    (!strncmp(ch->name, "ufw-", 4) || !strncmp(ch->name, "ufw6-", 5)))
		return MANAGER_UFW;
	return MANAGER_NONE;
}

/*
 * firewalld: a permanent port or rich rule, which its zones accept as
 * `ct state { new, untracked }` and which a --reload keeps. Only arrivals:
 * firewalld accepts departures unless a policy says otherwise.
 */
static bool firewalld_fix(const struct gathered *g, char *buf, size_t len)
{
	const char *l4 = l4_name(g->l4);

	if (g->dir != ARRIVAL)
		return false;
	if (g->up) {
		char addr[INET6_ADDRSTRLEN];

		inet_ntop(g->up->family, g->up->addr, addr, sizeof(addr));
		snprintf(buf, len,
			 "firewall-cmd --permanent --add-rich-rule='rule family=\"%s\" source "
			 "address=\"%s/%u\" source-port port=\"%u\" protocol=\"%s\" accept' && "
			 "firewall-cmd --reload",
			 g->up->family == AF_INET ? "ipv4" : "ipv6", addr, g->up->prefixlen,
			 g->up->port, l4);
		return true;
	}
	uint32_t cursor = 0;
	uint16_t lo, hi;
	size_t used = (size_t)snprintf(buf, len, "firewall-cmd --permanent");

	while (ctb_portset_next_range(&g->ports, &cursor, &lo, &hi) && used + 48 < len) {
		if (lo == hi)
			used += (size_t)snprintf(buf + used, len - used, " --add-port=%u/%s", lo, l4);
		else
			used += (size_t)snprintf(buf + used, len - used, " --add-port=%u-%u/%s", lo,
						 hi, l4);
	}
	snprintf(buf + used, len - used, " && firewall-cmd --reload");
	return true;
}

/* ufw: its own rules (kept in /etc/ufw/user.rules), which match without ct state. */
static bool ufw_fix(const struct gathered *g, char *buf, size_t len)
{
	const char *l4 = l4_name(g->l4);
	const char *way = g->dir == ARRIVAL ? "in" : "out";

	if (g->up) {
		char addr[INET6_ADDRSTRLEN];

		inet_ntop(g->up->family, g->up->addr, addr, sizeof(addr));
		snprintf(buf, len, "ufw allow %s proto %s %s %s/%u port %u", way, l4,
			 g->dir == ARRIVAL ? "from" : "to", addr, g->up->prefixlen, g->up->port);
		return true;
	}
	char ports[128];
	size_t items;

	ports_text(&g->ports, ports, sizeof(ports), ",", ':', &items);
	if (items > 15)
		return false; /* ufw takes at most 15 ports in a rule */
	snprintf(buf, len, "ufw allow %s proto %s %s any port %s", way, l4,
		 g->dir == ARRIVAL ? "to" : "from", ports);
	return true;
}

static bool managed_fix(const struct gathered *g, char *buf, size_t len)
{
	enum fw_manager m = manager_of(g->dropped.chain);

	if (m == MANAGER_NONE)
		m = manager_of(g->accepted.chain);
	if (m == MANAGER_FIREWALLD)
		return firewalld_fix(g, buf, len);
	if (m == MANAGER_UFW)
		return ufw_fix(g, buf, len);
	return false;
}

static void fix_line(const struct gathered *g, const struct ctb_host_facts *facts, char *buf,
		     size_t len)
{
	/* Right after the rule that accepts it while tracked; else just before the drop. */
	const struct fw_hit *at = g->accepted.rule ? &g->accepted : &g->dropped;
	const struct fw_chain *ch = at->chain;
	char stmt[600];

	if (managed_fix(g, buf, len))
		return;

	if (!at->rule) {
		/* dropped by policy and accepted by policy: cannot both be; append */
		nft_accept_statement(g, ch->family, stmt, sizeof(stmt));
		snprintf(buf, len, "nft add rule %s %s %s %s", ch->family, ch->table, ch->name, stmt);
		return;
	}
	if (ch->source != FW_SRC_NFT) {
		iptables_fix(g, facts, ch->name, g->accepted.rule ? at->rule->handle + 1
								  : at->rule->handle,
			     buf, len);
		return;
	}
	nft_accept_statement(g, ch->family, stmt, sizeof(stmt));
	snprintf(buf, len, "nft %s rule %s %s %s position %llu %s",
		 g->accepted.rule ? "add" : "insert", ch->family, ch->table, ch->name,
		 (unsigned long long)at->rule->handle, stmt);
}

/* "rule 'TEXT' in WHERE", or "the policy of WHERE". */
static void describe_hit(const struct fw_hit *hit, const char *text, const char *where,
			 char *buf, size_t len)
{
	if (hit->rule)
		snprintf(buf, len, "rule '%s' in %s", text, where);
	else
		snprintf(buf, len, "the policy of %s", where);
}

static int emit_gathered(struct analysis *an)
{
	for (size_t i = 0; i < an->count; i++) {
		const struct gathered *g = &an->items[i];
		const struct fw_match *scope =
			g->kind == CTB_FINDING_STATEFUL ? peer_scope(g, g->dropped.rule) : NULL;
		char peers[512] = "";
		bool bogus = scope && peers_text(scope, peers, sizeof(peers));
		struct ctb_finding *f = new_finding(an->out, g->kind, !bogus);

		if (!f)
			return -ENOMEM;
		describe_traffic(g, f->traffic, sizeof(f->traffic));
		if (!g->up)
			snprintf(f->subject, sizeof(f->subject), "%s server-port %s", l4_name(g->l4),
				 g->dir == ARRIVAL ? "arrivals" : "departures");
		describe_where(g->dropped.chain, f->where, sizeof(f->where));
		snprintf(f->rule, sizeof(f->rule), "%s",
			 g->dropped.rule ? g->dropped.rule->text : "the chain's drop policy");
		if (g->kind == CTB_FINDING_STATEFUL) {
			describe_where(g->accepted.chain, f->accepted_where, sizeof(f->accepted_where));
			snprintf(f->accepted_rule, sizeof(f->accepted_rule), "%s",
				 g->accepted.rule ? g->accepted.rule->text : "the policy accept");
		}
		if (g->kind == CTB_FINDING_NAT && g->forwarded) {
			snprintf(f->message, sizeof(f->message),
				 "NAT would break connections forwarded through this host to %s: "
				 "rule '%s' in %s masquerades them, so their replies come to this "
				 "host, would be untracked and never translated back (containers "
				 "or VMs behind this host lose them); if none connect there, "
				 "--accept this finding",
				 f->traffic, f->rule, f->where);
		} else if (g->kind == CTB_FINDING_NAT) {
			snprintf(f->message, sizeof(f->message),
				 "NAT would stop applying to %s: rule '%s' in %s translates it, and "
				 "untracked packets are never translated",
				 f->traffic, f->rule, f->where);
		} else if (g->kind == CTB_FINDING_STATEFUL) {
			char accepting[600], dropping[600];

			fix_line(g, an->facts, f->fix, sizeof(f->fix));
			describe_hit(&g->accepted, f->accepted_rule, f->accepted_where, accepting,
				     sizeof(accepting));
			describe_hit(&g->dropped, f->rule, f->where, dropping, sizeof(dropping));
			if (bogus)
				snprintf(f->message, sizeof(f->message),
					 "stateful firewall would drop %s for peers in %s only "
					 "(addresses no real peer has): %s accepts them only while "
					 "tracked; untracked they meet %s. If you want them: %s",
					 f->traffic, peers, accepting, dropping, f->fix);
			else if (scope)
				snprintf(f->message, sizeof(f->message),
					 "stateful firewall would drop %s for peers in %s: %s "
					 "accepts them only while tracked; untracked they meet %s. "
					 "Add: %s",
					 f->traffic, peers, accepting, dropping, f->fix);
			else
				snprintf(f->message, sizeof(f->message),
					 "stateful firewall would drop %s: %s accepts them only "
					 "while tracked; untracked they meet %s. Add: %s",
					 f->traffic, accepting, dropping, f->fix);
			if (manager_of(g->dropped.chain) == MANAGER_FIREWALLD &&
			    !strncmp(f->fix, "nft ", 4)) {
				size_t used = strlen(f->message);

				snprintf(f->message + used, sizeof(f->message) - used,
					 " (firewalld rebuilds its table on --reload and drops "
					 "this rule: add it again after each reload, or express it "
					 "as a firewalld policy)");
			}
		} else {
			snprintf(f->message, sizeof(f->message),
				 "could not analyse %s for %s (too many unknown matches or "
				 "evaluation steps): check by hand, then --accept this finding",
				 f->where, f->traffic);
		}
	}
	return 0;
}

/*
 * firewall-cmd --reload swaps firewalld's table for a temporary one that
 * accepts only established and related packets until the new one is loaded:
 * untracked packets are dropped meanwhile (about 0.25 s measured).
 */
static int check_firewalld_reload(struct analysis *an)
{
	for (size_t c = 0; c < an->rs->chain_count; c++) {
		struct ctb_finding *f;

		if (manager_of(&an->rs->chains[c]) != MANAGER_FIREWALLD)
			continue;
		f = new_finding(an->out, CTB_FINDING_RELOAD_WINDOW, false);
		if (!f)
			return -ENOMEM;
		snprintf(f->traffic, sizeof(f->traffic), "all bypassed traffic");
		describe_where(&an->rs->chains[c], f->where, sizeof(f->where));
		snprintf(f->message, sizeof(f->message),
			 "firewalld is active: during each 'firewall-cmd --reload' its temporary "
			 "ruleset accepts only established and related packets, so bypassed "
			 "packets are dropped for the length of the reload (about 0.25 s)");
		return 0;
	}
	return 0;
}

/* A part of the firewall that could not be read might hold any rule: never vouch for it. */
static int check_unreadable(struct analysis *an)
{
	for (size_t i = 0; i < an->rs->unreadable_count; i++) {
		struct ctb_finding *f = new_finding(an->out, CTB_FINDING_UNANALYZED, true);

		if (!f)
			return -ENOMEM;
		snprintf(f->traffic, sizeof(f->traffic), "all bypassed traffic");
		snprintf(f->where, sizeof(f->where), "%s", an->rs->unreadable[i]);
		snprintf(f->message, sizeof(f->message),
			 "could not read %s, so its rules were not analysed: check them by "
			 "hand, then --accept this finding",
			 f->where);
	}
	return 0;
}

/* ---- NAT onto a bypassed port ---- */

/* Marks in SEEN every chain a packet can reach from CH. */
static void mark_reachable(const struct fw_ruleset *rs, const struct fw_chain *ch, bool *seen)
{
	size_t idx = (size_t)(ch - rs->chains);

	if (seen[idx])
		return;
	seen[idx] = true;
	for (size_t r = 0; r < ch->rule_count; r++) {
		const struct fw_rule *rule = &ch->rules[r];
		const struct fw_chain *next;

		if (rule->verdict != FW_V_JUMP && rule->verdict != FW_V_GOTO)
			continue;
		next = fw_ruleset_find(rs, ch, rule->target);
		if (next)
			mark_reachable(rs, next, seen);
	}
}

/* The ports a rule matches as destination (all of them if it names none). */
static void rule_dports(const struct fw_rule *rule, struct ctb_portset *out, bool *any)
{
	*any = true;
	ctb_portset_clear(out);
	for (size_t m = 0; m < rule->match_count; m++) {
		const struct fw_match *fm = &rule->matches[m];

		if (fm->kind != FW_M_DPORT || fm->negate)
			continue;
		*any = false;
		for (size_t i = 0; i < fm->port_count; i++)
			for (uint32_t p = fm->ports[i].lo; p <= fm->ports[i].hi; p++)
				ctb_portset_add(out, (uint16_t)p);
	}
}

static unsigned int rule_l4(const struct fw_rule *rule)
{
	for (size_t m = 0; m < rule->match_count; m++)
		if (rule->matches[m].kind == FW_M_L4 && !rule->matches[m].negate)
			return rule->matches[m].l4;
	return FW_L4_TCP | FW_L4_UDP;
}

/* Can the rule's DNAT or REDIRECT send packets to an address of this host? */
static bool translates_to_local(const struct analysis *an, const struct fw_rule *rule)
{
	const struct fw_nat *nat = &rule->nat;

	if (nat->kind == FW_NAT_REDIRECT || !nat->addr_given || !an->facts->locals)
		return true;
	return ctb_local_addrs_has(an->facts->locals, nat->addr.family == 4 ? AF_INET : AF_INET6,
				   nat->addr.addr);
}

/*
 * A DNAT or REDIRECT onto a bypassed local port: the arrival is tracked (its
 * port before NAT is not bypassed) and translated, but the reply leaves from
 * the bypassed port, untracked, and is never translated back, so the client
 * gets it from the wrong port (Docker or NodePort backends on this host,
 * `--dport 8080 -j REDIRECT --to-ports 80`).
 */
static int check_nat_rule_to_bypassed(struct analysis *an, const struct fw_chain *ch,
				      const struct fw_rule *rule)
{
	struct ctb_portset before, after;
	unsigned int l4 = rule_l4(rule);
	char from[128], to[128];
	bool any_port;
	size_t n;

	if (rule->verdict != FW_V_NAT ||
	    (rule->nat.kind != FW_NAT_DNAT && rule->nat.kind != FW_NAT_REDIRECT))
		return 0;
	if (!(((l4 & FW_L4_TCP) && (an->cfg->protocols & CTB_PROTO_TCP)) ||
	      ((l4 & FW_L4_UDP) && (an->cfg->protocols & CTB_PROTO_UDP))))
		return 0;
	if (rule->nat.kind == FW_NAT_DNAT && rule->nat.understood && !rule->nat.addr_given &&
	    !rule->nat.ports_given)
		return 0; /* translates nothing */
	if (!translates_to_local(an, rule))
		return 0;
	rule_dports(rule, &before, &any_port);
	/* Arrivals to a bypassed port are untracked before NAT sees them: the NAT
	 * finding speaks for those; only the ports still tracked come in here. */
	if (!any_port) {
		ctb_portset_subtract(&before, &an->cfg->ports);
		if (ctb_portset_empty(&before))
			return 0;
	}
	if (!rule->nat.understood) {
		ctb_portset_clear(&after);
		ctb_portset_union(&after, &an->cfg->ports);
	} else if (rule->nat.ports_given) {
		ctb_portset_clear(&after);
		for (uint32_t p = rule->nat.ports.lo; p <= rule->nat.ports.hi; p++)
			if (ctb_portset_has(&an->cfg->ports, (uint16_t)p))
				ctb_portset_add(&after, (uint16_t)p);
	} else {
		/* The port is kept: the bypassed ones among those it matches. */
		struct ctb_portset outside = an->cfg->ports;

		after = an->cfg->ports;
		if (!any_port) {
			ctb_portset_subtract(&outside, &before);
			ctb_portset_subtract(&after, &outside);
		}
	}
	if (ctb_portset_empty(&after))
		return 0;

	struct ctb_finding *f = new_finding(an->out, rule->nat.understood
							     ? CTB_FINDING_NAT_TO_BYPASSED
							     : CTB_FINDING_UNANALYZED,
					    true);

	if (!f)
		return -ENOMEM;
	if (any_port)
		snprintf(from, sizeof(from), "any port");
	else
		ports_text(&before, from, sizeof(from), ",", '-', &n);
	ports_text(&after, to, sizeof(to), ",", '-', &n);
	snprintf(f->traffic, sizeof(f->traffic), "%s%s %s translated to bypassed port%s %s",
		 l4 & FW_L4_TCP ? "tcp" : "udp", l4 == (FW_L4_TCP | FW_L4_UDP) ? "/udp" : "", from,
		 n > 1 ? "s" : "", to);
	describe_where(ch, f->where, sizeof(f->where));
	snprintf(f->rule, sizeof(f->rule), "%s", rule->text);
	snprintf(f->subject, sizeof(f->subject), "nat to a bypassed port");
	if (!rule->nat.understood)
		snprintf(f->message, sizeof(f->message),
			 "cannot tell where rule '%s' in %s translates to: if it sends "
			 "connections to bypassed port %s of this host, their replies would be "
			 "untracked and never translated back; check by hand, then --accept "
			 "this finding",
			 f->rule, f->where, to);
	else
		snprintf(f->message, sizeof(f->message),
			 "NAT would break %s: rule '%s' in %s sends them to this host, whose "
			 "replies from the bypassed port would be untracked and never "
			 "translated back, so those connections fail; leave port %s out of "
			 "the bypass, or --accept this finding if no client uses the rule",
			 f->traffic, f->rule, f->where, to);
	return 0;
}

static int check_nat_to_bypassed(struct analysis *an)
{
	bool *seen;
	int ret = 0;

	if (ctb_portset_empty(&an->cfg->ports) || !an->rs->chain_count)
		return 0;
	seen = calloc(an->rs->chain_count, sizeof(*seen));
	if (!seen)
		return -ENOMEM;
	/* DNAT applies where connections start: prerouting, and output for local ones. */
	for (size_t c = 0; c < an->rs->chain_count; c++) {
		const struct fw_chain *ch = &an->rs->chains[c];

		if (ch->nat && (ch->hook == FW_HOOK_PREROUTING || ch->hook == FW_HOOK_OUTPUT))
			mark_reachable(an->rs, ch, seen);
	}
	for (size_t c = 0; c < an->rs->chain_count && !ret; c++)
		for (size_t r = 0; seen[c] && r < an->rs->chains[c].rule_count && !ret; r++)
			ret = check_nat_rule_to_bypassed(an, &an->rs->chains[c],
							 &an->rs->chains[c].rules[r]);
	free(seen);
	return ret;
}

static int check_helpers(struct analysis *an)
{
	for (size_t h = 0; h < sizeof(helpers) / sizeof(helpers[0]); h++) {
		bool assigned = false;

		for (size_t c = 0; c < an->rs->chain_count && !assigned; c++)
			for (size_t r = 0; r < an->rs->chains[c].rule_count; r++)
				if (strstr(an->rs->chains[c].rules[r].helper, helpers[h].name))
					assigned = true;
		if (!assigned && !(an->facts->loaded_helpers & (1u << h)))
			continue;
		if (!ctb_portset_has(&an->cfg->ports, helpers[h].port))
			continue;
		if (!((helpers[h].l4 & FW_L4_TCP && an->cfg->protocols & CTB_PROTO_TCP) ||
		      (helpers[h].l4 & FW_L4_UDP && an->cfg->protocols & CTB_PROTO_UDP)))
			continue;
		struct ctb_finding *f = new_finding(an->out, CTB_FINDING_HELPER, false);

		if (!f)
			return -ENOMEM;
		snprintf(f->traffic, sizeof(f->traffic), "port %u", helpers[h].port);
		snprintf(f->message, sizeof(f->message),
			 "conntrack helper '%s' watches port %u: untracked, its %s are no longer "
			 "recognised as related",
			 helpers[h].name, helpers[h].port, helpers[h].what);
	}
	return 0;
}

static int check_ephemeral(struct analysis *an)
{
	struct ctb_portset inside;
	char ports[128];
	size_t items;

	ctb_portset_clear(&inside);
	for (uint32_t p = an->facts->ephemeral_lo; p && p <= an->facts->ephemeral_hi; p++)
		if (ctb_portset_has(&an->cfg->ports, (uint16_t)p))
			ctb_portset_add(&inside, (uint16_t)p);
	if (ctb_portset_empty(&inside))
		return 0;
	struct ctb_finding *f = new_finding(an->out, CTB_FINDING_EPHEMERAL, false);

	if (!f)
		return -ENOMEM;
	ports_text(&inside, ports, sizeof(ports), ",", '-', &items);
	snprintf(f->traffic, sizeof(f->traffic), "ports %s", ports);
	snprintf(f->message, sizeof(f->message),
		 "ports %s lie in net.ipv4.ip_local_port_range (%u-%u): this host's own outgoing "
		 "connections that pick them as source ports would be bypassed too",
		 ports, an->facts->ephemeral_lo, an->facts->ephemeral_hi);
	return 0;
}

/* The ICMP errors a bypassed flow needs, in the words of CH's manager or tool. */
static const char *icmp_accept_text(const struct fw_chain *ch, int family)
{
	if (manager_of(ch) == MANAGER_FIREWALLD)
		return "them (firewalld accepts them unless an ICMP block or a zone target drops "
		       "them)";
	if (ch->source != FW_SRC_NFT)
		return family == 4 ? "'-p icmp --icmp-type destination-unreachable -j ACCEPT' and "
				     "'-p icmp --icmp-type time-exceeded -j ACCEPT'"
				   : "'-p ipv6-icmp --icmpv6-type packet-too-big -j ACCEPT' and "
				     "'-p ipv6-icmp --icmpv6-type destination-unreachable -j ACCEPT'";
	return family == 4 ? "icmp type { destination-unreachable, time-exceeded }"
			   : "icmpv6 type { packet-too-big, destination-unreachable }";
}

/* ICMP errors about an untracked flow find no entry: no longer RELATED, but INVALID. */
static int check_icmp(struct analysis *an)
{
	for (int family = 4; family <= 6; family += 2) {
		unsigned int l4 = family == 4 ? FW_L4_ICMP : FW_L4_ICMPV6;
		/* From a router or peer, to this host: loopback plays no part. */
		struct fw_probe related = { .family = family, .l4 = l4, .ct_state = FW_CT_RELATED,
					    .unknown_not_loopback = true, .daddr_local = 1 };
		struct fw_probe invalid = related;

		invalid.ct_state = FW_CT_INVALID;
		for (size_t c = 0; c < an->rs->chain_count; c++) {
			const struct fw_chain *ch = &an->rs->chains[c];
			struct fw_hit a, d;
			struct ctb_finding *f;

			if (ch->hook != FW_HOOK_INPUT || ch->nat || !chain_sees(ch, family) ||
			    fw_find_breakage(an->rs, ch, &related, 1, &invalid, &an->budget, &a,
					     &d) != FW_ANSWER_YES)
				continue;
			f = new_finding(an->out, CTB_FINDING_ICMP, false);
			if (!f)
				return -ENOMEM;
			describe_where(ch, f->where, sizeof(f->where));
			snprintf(f->traffic, sizeof(f->traffic), "ICMP%s errors",
				 family == 6 ? "v6" : "");
			snprintf(f->message, sizeof(f->message),
				 "%s accepts %s only as RELATED: bypassed flows get none (path MTU "
				 "discovery, unreachable); accept %s explicitly",
				 f->where, f->traffic, icmp_accept_text(ch, family));
		}
	}
	return 0;
}

/*
 * Arrivals from an upstream are matched on source address and port so that no
 * other sender can use the port. A prefix of /0 matches every source address:
 * any packet from that source port skips conntrack again, and with the
 * `ct state untracked accept` a firewall needs for bypassed traffic, the
 * firewall too. Legitimate for a forward proxy fetching from anywhere, so it
 * blocks with the reason, and --force accepts it.
 */
static int check_any_source(struct analysis *an)
{
	for (size_t i = 0; i < an->cfg->upstreams.count; i++) {
		const struct ctb_upstream *up = &an->cfg->upstreams.items[i];
		char text[CTB_UPSTREAM_STRLEN];
		struct ctb_finding *f;

		if (up->prefixlen)
			continue;
		f = new_finding(an->out, CTB_FINDING_ANY_SOURCE, true);
		if (!f)
			return -ENOMEM;
		ctb_upstream_format(up, text);
		snprintf(f->traffic, sizeof(f->traffic), "upstream %s", text);
		snprintf(f->message, sizeof(f->message),
			 "upstream %s covers every address: any sender that picks source port %u "
			 "would skip conntrack, and the firewall with it where untracked packets "
			 "are accepted (the hole of source-port NOTRACK rules); right only for a "
			 "forward proxy that fetches from anywhere: name the upstreams' prefixes, "
			 "or accept this with --force",
			 text, up->port);
	}
	return 0;
}

int ctb_preflight_analyse(const struct ctb_config *cfg, const struct fw_ruleset *rs,
			  const struct ctb_host_facts *facts, struct ctb_findings *out)
{
	struct analysis an = { .cfg = cfg, .rs = rs, .facts = facts, .out = out,
			       .budget = { facts->step_budget > 0 ? facts->step_budget
								  : FW_BUDGET_DEFAULT } };
	int ret;

	memset(out, 0, sizeof(*out));
	ret = ctb_probe_addrs_build(rs, facts->locals, 4, &an.local[0]);
	if (!ret)
		ret = ctb_probe_addrs_build(rs, facts->locals, 6, &an.local[1]);
	if (!ret)
		ret = analyse_server_ports(&an);
	if (!ret)
		ret = analyse_upstreams(&an);
	if (!ret)
		ret = emit_gathered(&an);
	if (!ret)
		ret = check_nat_to_bypassed(&an);
	if (!ret && ctb_config_has_targets(cfg))
		ret = check_unreadable(&an);
	if (!ret && ctb_config_has_targets(cfg))
		ret = check_firewalld_reload(&an);
	if (!ret)
		ret = check_helpers(&an);
	if (!ret)
		ret = check_ephemeral(&an);
	if (!ret)
		ret = check_any_source(&an);
	if (!ret && ctb_config_has_targets(cfg))
		ret = check_icmp(&an);
	if (!ret)
		ctb_findings_name(out);
	free(an.items);
	if (ret)
		ctb_findings_free(out);
	return ret;
}

/* ---- the live host ---- */

static void read_port_range(struct ctb_host_facts *facts)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	unsigned int lo = 0, hi = 0;

	if (f && fscanf(f, "%u %u", &lo, &hi) == 2 && lo <= hi && hi < 65536) {
		facts->ephemeral_lo = (uint16_t)lo;
		facts->ephemeral_hi = (uint16_t)hi;
	}
	if (f)
		fclose(f);
}

static unsigned int loaded_helpers(void)
{
	unsigned int bits = 0;

	for (size_t h = 0; h < sizeof(helpers) / sizeof(helpers[0]); h++) {
		char path[96];
		struct stat st;

		snprintf(path, sizeof(path), "/sys/module/%s", helpers[h].module);
		if (!stat(path, &st))
			bits |= 1u << h;
	}
	return bits;
}

/* The source address the kernel would pick towards ADDR: connect() a UDP socket, ask. */
static bool route_source(const struct ctb_upstream *up, uint8_t out[16])
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int fd = socket(up->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok = false;

	if (fd < 0)
		return false;
	if (up->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(up->port);
		memcpy(&sin->sin_addr, up->addr, 4);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(up->port);
		memcpy(&sin6->sin6_addr, up->addr, 16);
		len = sizeof(*sin6);
	}
	if (!connect(fd, (struct sockaddr *)&ss, len)) {
		len = sizeof(ss);
		if (!getsockname(fd, (struct sockaddr *)&ss, &len)) {
			memset(out, 0, 16);
			if (up->family == AF_INET)
				memcpy(out, &((struct sockaddr_in *)&ss)->sin_addr, 4);
			else
				memcpy(out, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
			ok = true;
		}
	}
	close(fd);
	return ok;
}

/* Host facts and analysis of CFG against RS, read already. */
static int analyse_live(const struct ctb_config *cfg, const struct fw_ruleset *rs,
			struct ctb_host_facts facts, struct ctb_findings *out)
{
	size_t n = cfg->upstreams.count ? cfg->upstreams.count : 1;
	uint8_t(*sources)[16] = calloc(n, 16);
	bool *known = calloc(n, sizeof(bool));
	int ret;

	memset(out, 0, sizeof(*out));
	if (!sources || !known) {
		free(sources);
		free(known);
		return -ENOMEM;
	}
	for (size_t i = 0; i < cfg->upstreams.count; i++)
		known[i] = route_source(&cfg->upstreams.items[i], sources[i]);
	facts.upstream_source = (const uint8_t(*)[16])sources;
	facts.upstream_source_known = known;
	ret = ctb_preflight_analyse(cfg, rs, &facts, out);
	free(sources);
	free(known);
	return ret;
}

int ctb_preflight_each(const struct ctb_config *cfgs, size_t count, struct ctb_findings *outs,
		       char *err, size_t errlen)
{
	struct ctb_host_facts facts = {
		.iptables_nft_cmd = ctb_iptables_command("nft", 4),
		.iptables_legacy_cmd = ctb_iptables_command("legacy", 4),
		.loaded_helpers = loaded_helpers(),
	};
	struct ctb_local_addrs locals = { 0 };
	struct fw_ruleset rs;
	int ret;

	for (size_t i = 0; i < count; i++)
		memset(&outs[i], 0, sizeof(outs[i]));
	/* Without them every address might be ours: more findings, never fewer. */
	if (!ctb_local_addrs_read(&locals))
		facts.locals = &locals;
	read_port_range(&facts);
	ret = ctb_firewall_read(&rs, err, errlen);
	for (size_t i = 0; !ret && i < count; i++) {
		ret = analyse_live(&cfgs[i], &rs, facts, &outs[i]);
		if (ret)
			snprintf(err, errlen, "preflight analysis failed: %s", strerror(-ret));
	}
	if (ret)
		for (size_t i = 0; i < count; i++)
			ctb_findings_free(&outs[i]);
	fw_ruleset_free(&rs);
	ctb_local_addrs_free(&locals);
	return ret;
}

int ctb_preflight(const struct ctb_config *cfg, struct ctb_findings *out, char *err,
		  size_t errlen)
{
	return ctb_preflight_each(cfg, 1, out, err, errlen);
}
