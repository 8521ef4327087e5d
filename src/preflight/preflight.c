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
#include "preflight.h"

enum direction { ARRIVAL, DEPARTURE };

/* One finding being gathered: every port that meets the same rules joins it. */
struct gathered {
	enum ctb_finding_kind kind;
	enum direction dir;
	unsigned int l4;
	int family;
	const struct ctb_upstream *up; /* NULL: server ports */
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

static struct gathered *gather(struct analysis *an, const struct gathered *g)
{
	for (size_t i = 0; i < an->count; i++) {
		struct gathered *o = &an->items[i];

		if (o->kind == g->kind && o->dir == g->dir && o->l4 == g->l4 && o->up == g->up &&
		    o->dropped.chain == g->dropped.chain && o->dropped.rule == g->dropped.rule &&
		    o->accepted.rule == g->accepted.rule && o->accepted.chain == g->accepted.chain)
			return o;
	}
	struct gathered *grown = realloc(an->items, (an->count + 1) * sizeof(*grown));

	if (!grown)
		return NULL;
	an->items = grown;
	grown[an->count] = *g;
	ctb_portset_clear(&grown[an->count].ports);
	return &grown[an->count++];
}

/* ---- probes ---- */

static struct fw_probe probe_for(int family, unsigned int l4, enum direction dir, uint16_t port,
				 const struct ctb_upstream *up, const struct ctb_host_facts *facts,
				 size_t up_index, unsigned int ct_state)
{
	struct fw_probe p = { .family = family, .l4 = l4, .ct_state = ct_state };

	if (!up) {
		/* A server port: arrivals to it, departures from it. */
		if (dir == ARRIVAL)
			p.dport = port;
		else
			p.sport = port;
		return p;
	}
	uint8_t *remote = dir == ARRIVAL ? p.saddr : p.daddr;
	uint8_t *local = dir == ARRIVAL ? p.daddr : p.saddr;
	bool local_known = facts->upstream_source_known && facts->upstream_source_known[up_index];

	memcpy(remote, up->addr, 16);
	if (local_known)
		memcpy(local, facts->upstream_source[up_index], 16);
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

static int check_stateful(struct analysis *an, struct gathered *g, uint16_t port, size_t up_index)
{
	unsigned int states[2];
	size_t n = tracked_states(g->dir, g->up != NULL, states);
	enum fw_hook hook = g->dir == ARRIVAL ? FW_HOOK_INPUT : FW_HOOK_OUTPUT;
	struct fw_probe before[2], after;

	for (size_t i = 0; i < n; i++)
		before[i] = probe_for(g->family, g->l4, g->dir, port, g->up, an->facts, up_index,
				      states[i]);
	after = probe_for(g->family, g->l4, g->dir, port, g->up, an->facts, up_index,
			  FW_CT_UNTRACKED);
	for (size_t c = 0; c < an->rs->chain_count; c++) {
		const struct fw_chain *ch = &an->rs->chains[c];
		struct gathered found = *g, *slot;
		enum fw_answer ans;

		if (ch->hook != hook || ch->nat || !chain_sees(ch, g->family))
			continue;
		ans = fw_find_breakage(an->rs, ch, before, n, &after, &found.accepted,
				       &found.dropped);
		if (ans == FW_ANSWER_NO)
			continue;
		found.kind = ans == FW_ANSWER_YES ? CTB_FINDING_STATEFUL : CTB_FINDING_UNANALYZED;
		if (ans != FW_ANSWER_YES)
			found.dropped = (struct fw_hit){ ch, NULL, FW_V_DROP };
		slot = gather(an, &found);
		if (!slot)
			return -ENOMEM;
		if (!g->up)
			ctb_portset_add(&slot->ports, port);
	}
	return 0;
}

/* NAT decides at a connection's first packet, in the direction that starts it. */
static int check_nat(struct analysis *an, struct gathered *g, uint16_t port, size_t up_index)
{
	struct fw_probe p = probe_for(g->family, g->l4, g->dir, port, g->up, an->facts, up_index,
				      FW_CT_NEW);

	for (size_t c = 0; c < an->rs->chain_count; c++) {
		const struct fw_chain *ch = &an->rs->chains[c];
		bool starts_here = g->dir == ARRIVAL ? (ch->hook == FW_HOOK_PREROUTING ||
							ch->hook == FW_HOOK_INPUT)
						     : (ch->hook == FW_HOOK_OUTPUT ||
							ch->hook == FW_HOOK_POSTROUTING);
		struct gathered found = *g, *slot;
		enum fw_answer ans;

		if (!ch->nat || !starts_here || !chain_sees(ch, g->family))
			continue;
		ans = fw_find_nat(an->rs, ch, &p, &found.dropped);
		if (ans == FW_ANSWER_NO)
			continue;
		found.kind = ans == FW_ANSWER_YES ? CTB_FINDING_NAT : CTB_FINDING_UNANALYZED;
		if (ans != FW_ANSWER_YES)
			found.dropped = (struct fw_hit){ ch, NULL, FW_V_NAT };
		slot = gather(an, &found);
		if (!slot)
			return -ENOMEM;
		if (!g->up)
			ctb_portset_add(&slot->ports, port);
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

static int analyse_server_ports(struct analysis *an)
{
	struct ctb_portset starts;

	port_boundaries(an->rs, &starts);
	for (unsigned int l4 = FW_L4_TCP; l4 <= FW_L4_UDP; l4 <<= 1) {
		if (!(an->cfg->protocols & (l4 == FW_L4_TCP ? CTB_PROTO_TCP : CTB_PROTO_UDP)))
			continue;
		for (int family = 4; family <= 6; family += 2)
			for (int dir = ARRIVAL; dir <= DEPARTURE; dir++) {
				uint32_t p = 1;

				while (p < CTB_PORTS) {
					uint32_t end = p + 1;
					uint16_t probe_port = 0;
					size_t before = an->count;

					while (end < CTB_PORTS && !ctb_portset_has(&starts, (uint16_t)end))
						end++;
					for (uint32_t q = p; q < end && !probe_port; q++)
						if (ctb_portset_has(&an->cfg->ports, (uint16_t)q))
							probe_port = (uint16_t)q;
					if (probe_port) {
						struct gathered g = { .dir = dir, .l4 = l4,
								      .family = family };
						int ret = check_stateful(an, &g, probe_port, 0);

						if (!ret && dir == ARRIVAL)
							ret = check_nat(an, &g, probe_port, 0);
						if (ret)
							return ret;
						/* the whole stretch shares the outcome */
						for (size_t i = before; i < an->count; i++)
							for (uint32_t q = p; q < end; q++)
								if (ctb_portset_has(&an->cfg->ports, (uint16_t)q))
									ctb_portset_add(&an->items[i].ports, (uint16_t)q);
					}
					p = end;
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
				int ret = check_stateful(an, &g, up->port, i);

				if (!ret && dir == DEPARTURE)
					ret = check_nat(an, &g, up->port, i);
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

static void fix_line(const struct gathered *g, const struct ctb_host_facts *facts, char *buf,
		     size_t len)
{
	/* Right after the rule that accepts it while tracked; else just before the drop. */
	const struct fw_hit *at = g->accepted.rule ? &g->accepted : &g->dropped;
	const struct fw_chain *ch = at->chain;
	char stmt[600];

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

static int emit_gathered(struct analysis *an)
{
	for (size_t i = 0; i < an->count; i++) {
		const struct gathered *g = &an->items[i];
		struct ctb_finding *f = new_finding(an->out, g->kind, true);

		if (!f)
			return -ENOMEM;
		describe_traffic(g, f->traffic, sizeof(f->traffic));
		describe_where(g->dropped.chain, f->where, sizeof(f->where));
		snprintf(f->rule, sizeof(f->rule), "%s",
			 g->dropped.rule ? g->dropped.rule->text : "the chain's drop policy");
		if (g->kind == CTB_FINDING_NAT) {
			snprintf(f->message, sizeof(f->message),
				 "NAT would stop applying to %s: rule '%s' in %s translates it, and "
				 "untracked packets are never translated",
				 f->traffic, f->rule, f->where);
		} else if (g->kind == CTB_FINDING_STATEFUL) {
			fix_line(g, an->facts, f->fix, sizeof(f->fix));
			snprintf(f->message, sizeof(f->message),
				 "stateful firewall would drop %s: %s accepts them only while "
				 "tracked (%s); untracked they meet %s. Add: %s",
				 f->traffic, f->where,
				 g->accepted.rule ? g->accepted.rule->text : "policy accept",
				 g->dropped.rule ? g->dropped.rule->text : "the drop policy", f->fix);
		} else {
			snprintf(f->message, sizeof(f->message),
				 "could not analyse %s for %s (too many unknown matches): check by "
				 "hand, then use --force",
				 f->where, f->traffic);
		}
	}
	return 0;
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

/* ICMP errors about an untracked flow find no entry: no longer RELATED, but INVALID. */
static int check_icmp(struct analysis *an)
{
	for (int family = 4; family <= 6; family += 2) {
		unsigned int l4 = family == 4 ? FW_L4_ICMP : FW_L4_ICMPV6;
		struct fw_probe related = { .family = family, .l4 = l4, .ct_state = FW_CT_RELATED };
		struct fw_probe invalid = related;

		invalid.ct_state = FW_CT_INVALID;
		for (size_t c = 0; c < an->rs->chain_count; c++) {
			const struct fw_chain *ch = &an->rs->chains[c];
			struct fw_hit a, d;
			struct ctb_finding *f;

			if (ch->hook != FW_HOOK_INPUT || ch->nat || !chain_sees(ch, family) ||
			    fw_find_breakage(an->rs, ch, &related, 1, &invalid, &a, &d) !=
				    FW_ANSWER_YES)
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
				 f->where, f->traffic,
				 family == 4 ? "icmp type { destination-unreachable, time-exceeded }"
					     : "icmpv6 type { packet-too-big, destination-unreachable }");
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
	struct analysis an = { .cfg = cfg, .rs = rs, .facts = facts, .out = out };
	int ret;

	memset(out, 0, sizeof(*out));
	ret = analyse_server_ports(&an);
	if (!ret)
		ret = analyse_upstreams(&an);
	if (!ret)
		ret = emit_gathered(&an);
	if (!ret)
		ret = check_helpers(&an);
	if (!ret)
		ret = check_ephemeral(&an);
	if (!ret)
		ret = check_any_source(&an);
	if (!ret && ctb_config_has_targets(cfg))
		ret = check_icmp(&an);
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

int ctb_preflight(const struct ctb_config *cfg, struct ctb_findings *out, char *err,
		  size_t errlen)
{
	size_t n = cfg->upstreams.count ? cfg->upstreams.count : 1;
	uint8_t(*sources)[16] = calloc(n, 16);
	bool *known = calloc(n, sizeof(bool));
	struct ctb_host_facts facts = {
		.iptables_nft_cmd = ctb_iptables_command("nft", 4),
		.iptables_legacy_cmd = ctb_iptables_command("legacy", 4),
		.loaded_helpers = loaded_helpers(),
	};
	struct fw_ruleset rs;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!sources || !known) {
		free(sources);
		free(known);
		return -ENOMEM;
	}
	read_port_range(&facts);
	for (size_t i = 0; i < cfg->upstreams.count; i++)
		known[i] = route_source(&cfg->upstreams.items[i], sources[i]);
	facts.upstream_source = (const uint8_t(*)[16])sources;
	facts.upstream_source_known = known;
	ret = ctb_firewall_read(&rs, err, errlen);
	if (!ret) {
		ret = ctb_preflight_analyse(cfg, &rs, &facts, out);
		if (ret)
			snprintf(err, errlen, "preflight analysis failed: %s", strerror(-ret));
	}
	fw_ruleset_free(&rs);
	free(sources);
	free(known);
	return ret;
}

void ctb_findings_free(struct ctb_findings *f)
{
	free(f->items);
	f->items = NULL;
	f->count = 0;
}

size_t ctb_findings_blocking(const struct ctb_findings *f)
{
	size_t n = 0;

	for (size_t i = 0; i < f->count; i++)
		n += f->items[i].blocking;
	return n;
}

void ctb_findings_print(FILE *out, const struct ctb_findings *f)
{
	for (size_t i = 0; i < f->count; i++)
		fprintf(out, "preflight: %s: %s\n", f->items[i].blocking ? "refuse" : "warning",
			f->items[i].message);
}
