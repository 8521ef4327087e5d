// SPDX-License-Identifier: GPL-2.0
/*
 * iptables-save text (legacy or nft backend) read into the firewall model.
 *
 * Strict: a value that does not parse exactly (a port over 65535, a mask that
 * is no prefix, a state name we do not know) makes its match FW_M_UNKNOWN, and
 * a target we cannot follow makes the verdict FW_V_UNKNOWN. The rule itself is
 * always kept: dropping it, or guessing, would let the analysis vouch for
 * traffic it never evaluated.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "firewall_model.h"

struct token {
	char *s;
	bool quoted; /* a "quoted string": an argument even if it starts with '-' */
};

/* Where a rule is read: what a target name is resolved against. */
struct rule_ctx {
	struct fw_ruleset *rs;
	enum fw_source source;
	const char *fam; /* "ip" or "ip6" */
	const char *table;
	const struct fw_chain *chain;
	int family;
};

static enum fw_hook builtin_hook(const char *chain)
{
	if (!strcmp(chain, "PREROUTING"))
		return FW_HOOK_PREROUTING;
	if (!strcmp(chain, "INPUT"))
		return FW_HOOK_INPUT;
	if (!strcmp(chain, "FORWARD"))
		return FW_HOOK_FORWARD;
	if (!strcmp(chain, "OUTPUT"))
		return FW_HOOK_OUTPUT;
	if (!strcmp(chain, "POSTROUTING"))
		return FW_HOOK_POSTROUTING;
	return FW_HOOK_NONE;
}

static struct fw_chain *find_chain(struct fw_ruleset *rs, enum fw_source source,
				   const char *family, const char *table, const char *name)
{
	struct fw_chain probe = { .source = source };

	snprintf(probe.family, sizeof(probe.family), "%s", family);
	snprintf(probe.table, sizeof(probe.table), "%s", table);
	return (struct fw_chain *)fw_ruleset_find(rs, &probe, name);
}

/* Decimal LEN chars of S, no sign, no leading zero (but "0"), at most MAX. */
static int parse_decimal(const char *s, size_t len, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!len || (len > 1 && s[0] == '0'))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > max)
			return -ERANGE;
	}
	*out = v;
	return 0;
}

/* "80" or "80<SEP>90", SEP ':' in matches and '-' in NAT targets. */
static int parse_port_range(const char *s, size_t len, char sep, struct fw_port_range *r)
{
	const char *mid = memchr(s, sep, len);
	unsigned long lo, hi;

	if (parse_decimal(s, mid ? (size_t)(mid - s) : len, 65535, &lo))
		return -EINVAL;
	hi = lo;
	if (mid && parse_decimal(mid + 1, len - (size_t)(mid + 1 - s), 65535, &hi))
		return -EINVAL;
	if (lo > hi)
		return -EINVAL;
	r->lo = (uint16_t)lo;
	r->hi = (uint16_t)hi;
	return 0;
}

/* "80", "8000:8010", "80,443,8000:8010" (multiport) */
static int parse_ports(struct fw_match *m, const char *list)
{
	const char *item = list;

	for (;;) {
		size_t len = strcspn(item, ",");

		if (m->port_count >= FW_MAX_PORT_RANGES)
			return -E2BIG;
		if (parse_port_range(item, len, ':', &m->ports[m->port_count]))
			return -EINVAL;
		m->port_count++;
		if (!item[len])
			return 0;
		item += len + 1;
	}
}

/* A dotted (or v6) netmask as a prefix length; -EINVAL if its ones are not contiguous. */
static int mask_length(const uint8_t *mask, int bytes)
{
	int len = 0, i = 0;

	for (; i < bytes && mask[i] == 0xff; i++)
		len += 8;
	if (i < bytes) {
		uint8_t b = mask[i++];

		while (b & 0x80) {
			b = (uint8_t)(b << 1);
			len++;
		}
		if (b)
			return -EINVAL;
	}
	for (; i < bytes; i++)
		if (mask[i])
			return -EINVAL;
	return len;
}

/* "10.0.0.0/8", "10.0.0.1/255.255.0.0", "fd00::/64", "fd00::/ffff:ffff::" */
static int parse_prefix(struct fw_prefix *p, const char *text, int family)
{
	int af = family == 4 ? AF_INET : AF_INET6, max = family == 4 ? 32 : 128;
	char buf[INET6_ADDRSTRLEN + 1 + INET6_ADDRSTRLEN];
	char *slash;
	unsigned long len = (unsigned long)max;

	if (strlen(text) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, text);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	memset(p, 0, sizeof(*p));
	p->family = family;
	if (inet_pton(af, buf, p->addr) != 1)
		return -EINVAL;
	if (slash && strpbrk(slash, ".:")) {
		uint8_t mask[16];
		int n;

		if (inet_pton(af, slash, mask) != 1)
			return -EINVAL;
		n = mask_length(mask, max / 8);
		if (n < 0)
			return n;
		len = (unsigned long)n;
	} else if (slash && parse_decimal(slash, strlen(slash), (unsigned long)max, &len)) {
		return -EINVAL;
	}
	p->len = (uint8_t)len;
	return 0;
}

static int parse_states(const char *list, unsigned int *mask)
{
	static const struct {
		const char *name;
		unsigned int bit;
	} states[] = {
		{ "NEW", FW_CT_NEW }, { "ESTABLISHED", FW_CT_ESTABLISHED },
		{ "RELATED", FW_CT_RELATED }, { "INVALID", FW_CT_INVALID },
		{ "UNTRACKED", FW_CT_UNTRACKED }, { "DNAT", FW_CT_DNAT }, { "SNAT", FW_CT_SNAT },
	};
	const char *item = list;

	*mask = 0;
	for (;;) {
		size_t len = strcspn(item, ","), i;

		for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
			if (strlen(states[i].name) == len && !strncmp(item, states[i].name, len))
				break;
		if (i == sizeof(states) / sizeof(states[0]))
			return -EINVAL; /* a mask without it would claim too little */
		*mask |= states[i].bit;
		if (!item[len])
			return 0;
		item += len + 1;
	}
}

static unsigned int proto_bit(const char *p)
{
	if (!strcmp(p, "tcp") || !strcmp(p, "6"))
		return FW_L4_TCP;
	if (!strcmp(p, "udp") || !strcmp(p, "17"))
		return FW_L4_UDP;
	if (!strcmp(p, "icmp") || !strcmp(p, "1"))
		return FW_L4_ICMP;
	if (!strcmp(p, "ipv6-icmp") || !strcmp(p, "icmpv6") || !strcmp(p, "58"))
		return FW_L4_ICMPV6;
	return FW_L4_OTHER;
}

/*
 * Match options we do not model, with the number of arguments each takes, so
 * that a flag printed last (`--rsource`, `--physdev-is-bridged`) never takes
 * the `-j` that follows as its argument. MODULE NULL: any module. Conntrack-
 * derived ones are FW_M_CT_DERIVED (false for an untracked packet).
 */
static const struct opt_spec {
	const char *module;
	const char *name;
	int args;
	enum fw_match_kind kind;
} known_opts[] = {
	/* connmark's --mark reads the entry; mark's is the packet's own */
	{ "connmark", "--mark", 1, FW_M_CT_DERIVED },
	{ "conntrack", "--ctproto", 1, FW_M_CT_DERIVED },
	{ "conntrack", "--ctorigsrc", 1, FW_M_CT_DERIVED },
	{ "conntrack", "--ctorigdst", 1, FW_M_CT_DERIVED },
	{ "conntrack", "--ctreplsrc", 1, FW_M_CT_DERIVED },
	{ "conntrack", "--ctrepldst", 1, FW_M_CT_DERIVED },
	{ "conntrack", "--ctorigsrcport", 1, FW_M_CT_DERIVED },
	{ "conntrack", "--ctorigdstport", 1, FW_M_CT_DERIVED },
	{ "conntrack", "--ctreplsrcport", 1, FW_M_CT_DERIVED },
	{ "conntrack", "--ctrepldstport", 1, FW_M_CT_DERIVED },
	{ "conntrack", "--ctstatus", 1, FW_M_CT_DERIVED },
	{ "conntrack", "--ctexpire", 1, FW_M_CT_DERIVED },
	{ "conntrack", "--ctdir", 1, FW_M_CT_DERIVED },
	{ "connlimit", "--connlimit-upto", 1, FW_M_CT_DERIVED },
	{ "connlimit", "--connlimit-above", 1, FW_M_CT_DERIVED },
	{ "connlimit", "--connlimit-mask", 1, FW_M_CT_DERIVED },
	{ "connlimit", "--connlimit-saddr", 0, FW_M_CT_DERIVED },
	{ "connlimit", "--connlimit-daddr", 0, FW_M_CT_DERIVED },
	{ "connbytes", "--connbytes", 1, FW_M_CT_DERIVED },
	{ "connbytes", "--connbytes-dir", 1, FW_M_CT_DERIVED },
	{ "connbytes", "--connbytes-mode", 1, FW_M_CT_DERIVED },
	{ "helper", "--helper", 1, FW_M_CT_DERIVED },
	{ NULL, "--mark", 1, FW_M_UNKNOWN },
	{ NULL, "-f", 0, FW_M_UNKNOWN },
	{ NULL, "--fragment", 0, FW_M_UNKNOWN },
	{ NULL, "--syn", 0, FW_M_UNKNOWN },
	{ NULL, "--tcp-flags", 2, FW_M_UNKNOWN },
	{ NULL, "--tcp-option", 1, FW_M_UNKNOWN },
	{ NULL, "--ports", 1, FW_M_UNKNOWN }, /* multiport, either direction */
	{ NULL, "--icmp-type", 1, FW_M_UNKNOWN },
	{ NULL, "--icmpv6-type", 1, FW_M_UNKNOWN },
	{ NULL, "--name", 1, FW_M_UNKNOWN }, /* recent */
	{ NULL, "--set", 0, FW_M_UNKNOWN },
	{ NULL, "--rcheck", 0, FW_M_UNKNOWN },
	{ NULL, "--update", 0, FW_M_UNKNOWN },
	{ NULL, "--remove", 0, FW_M_UNKNOWN },
	{ NULL, "--rsource", 0, FW_M_UNKNOWN },
	{ NULL, "--rdest", 0, FW_M_UNKNOWN },
	{ NULL, "--rttl", 0, FW_M_UNKNOWN },
	{ NULL, "--reap", 0, FW_M_UNKNOWN },
	{ NULL, "--seconds", 1, FW_M_UNKNOWN },
	{ NULL, "--hitcount", 1, FW_M_UNKNOWN },
	{ NULL, "--mask", 1, FW_M_UNKNOWN },
	{ NULL, "--physdev-in", 1, FW_M_UNKNOWN },
	{ NULL, "--physdev-out", 1, FW_M_UNKNOWN },
	{ NULL, "--physdev-is-in", 0, FW_M_UNKNOWN },
	{ NULL, "--physdev-is-out", 0, FW_M_UNKNOWN },
	{ NULL, "--physdev-is-bridged", 0, FW_M_UNKNOWN },
	{ NULL, "--src-type", 1, FW_M_UNKNOWN },
	{ NULL, "--dst-type", 1, FW_M_UNKNOWN },
	{ NULL, "--limit-iface-in", 0, FW_M_UNKNOWN },
	{ NULL, "--limit-iface-out", 0, FW_M_UNKNOWN },
	{ NULL, "--limit", 1, FW_M_UNKNOWN },
	{ NULL, "--limit-burst", 1, FW_M_UNKNOWN },
	{ NULL, "--hashlimit", 1, FW_M_UNKNOWN },
	{ NULL, "--hashlimit-upto", 1, FW_M_UNKNOWN },
	{ NULL, "--hashlimit-above", 1, FW_M_UNKNOWN },
	{ NULL, "--hashlimit-burst", 1, FW_M_UNKNOWN },
	{ NULL, "--hashlimit-mode", 1, FW_M_UNKNOWN },
	{ NULL, "--hashlimit-name", 1, FW_M_UNKNOWN },
	{ NULL, "--hashlimit-srcmask", 1, FW_M_UNKNOWN },
	{ NULL, "--hashlimit-dstmask", 1, FW_M_UNKNOWN },
	{ NULL, "--hashlimit-htable-size", 1, FW_M_UNKNOWN },
	{ NULL, "--hashlimit-htable-max", 1, FW_M_UNKNOWN },
	{ NULL, "--hashlimit-htable-expire", 1, FW_M_UNKNOWN },
	{ NULL, "--hashlimit-htable-gcinterval", 1, FW_M_UNKNOWN },
	{ NULL, "--hashlimit-rate-match", 0, FW_M_UNKNOWN },
	{ NULL, "--hashlimit-rate-interval", 1, FW_M_UNKNOWN },
	{ NULL, "--match-set", 2, FW_M_UNKNOWN },
	{ NULL, "--return-nomatch", 0, FW_M_UNKNOWN },
	{ NULL, "--update-counters", 0, FW_M_UNKNOWN },
	{ NULL, "--update-subcounters", 0, FW_M_UNKNOWN },
	{ NULL, "--packets-eq", 1, FW_M_UNKNOWN },
	{ NULL, "--packets-lt", 1, FW_M_UNKNOWN },
	{ NULL, "--packets-gt", 1, FW_M_UNKNOWN },
	{ NULL, "--bytes-eq", 1, FW_M_UNKNOWN },
	{ NULL, "--bytes-lt", 1, FW_M_UNKNOWN },
	{ NULL, "--bytes-gt", 1, FW_M_UNKNOWN },
	{ NULL, "--uid-owner", 1, FW_M_UNKNOWN },
	{ NULL, "--gid-owner", 1, FW_M_UNKNOWN },
	{ NULL, "--socket-exists", 0, FW_M_UNKNOWN },
	{ NULL, "--suppl-groups", 0, FW_M_UNKNOWN },
	{ NULL, "--transparent", 0, FW_M_UNKNOWN },
	{ NULL, "--nowildcard", 0, FW_M_UNKNOWN },
	{ NULL, "--restore-skmark", 0, FW_M_UNKNOWN },
	{ NULL, "--dir", 1, FW_M_UNKNOWN }, /* policy */
	{ NULL, "--pol", 1, FW_M_UNKNOWN },
	{ NULL, "--strict", 0, FW_M_UNKNOWN },
	{ NULL, "--next", 0, FW_M_UNKNOWN },
	{ NULL, "--reqid", 1, FW_M_UNKNOWN },
	{ NULL, "--spi", 1, FW_M_UNKNOWN },
	{ NULL, "--proto", 1, FW_M_UNKNOWN },
	{ NULL, "--mode", 1, FW_M_UNKNOWN },
	{ NULL, "--tunnel-src", 1, FW_M_UNKNOWN },
	{ NULL, "--tunnel-dst", 1, FW_M_UNKNOWN },
	{ NULL, "--mac-source", 1, FW_M_UNKNOWN },
	{ NULL, "--src-range", 1, FW_M_UNKNOWN },
	{ NULL, "--dst-range", 1, FW_M_UNKNOWN },
	{ NULL, "--algo", 1, FW_M_UNKNOWN },
	{ NULL, "--from", 1, FW_M_UNKNOWN },
	{ NULL, "--to", 1, FW_M_UNKNOWN },
	{ NULL, "--string", 1, FW_M_UNKNOWN },
	{ NULL, "--hex-string", 1, FW_M_UNKNOWN },
	{ NULL, "--icase", 0, FW_M_UNKNOWN },
	{ NULL, "--u32", 1, FW_M_UNKNOWN },
	{ NULL, "--length", 1, FW_M_UNKNOWN },
	{ NULL, "--ttl-eq", 1, FW_M_UNKNOWN },
	{ NULL, "--ttl-lt", 1, FW_M_UNKNOWN },
	{ NULL, "--ttl-gt", 1, FW_M_UNKNOWN },
	{ NULL, "--hl-eq", 1, FW_M_UNKNOWN },
	{ NULL, "--hl-lt", 1, FW_M_UNKNOWN },
	{ NULL, "--hl-gt", 1, FW_M_UNKNOWN },
	{ NULL, "--pkt-type", 1, FW_M_UNKNOWN },
	{ NULL, "--src-group", 1, FW_M_UNKNOWN },
	{ NULL, "--dst-group", 1, FW_M_UNKNOWN },
	{ NULL, "--loose", 0, FW_M_UNKNOWN },
	{ NULL, "--validmark", 0, FW_M_UNKNOWN },
	{ NULL, "--accept-local", 0, FW_M_UNKNOWN },
	{ NULL, "--invert", 0, FW_M_UNKNOWN },
	{ NULL, "--probability", 1, FW_M_UNKNOWN },
	{ NULL, "--every", 1, FW_M_UNKNOWN },
	{ NULL, "--packet", 1, FW_M_UNKNOWN },
	{ NULL, "--timestart", 1, FW_M_UNKNOWN },
	{ NULL, "--timestop", 1, FW_M_UNKNOWN },
	{ NULL, "--datestart", 1, FW_M_UNKNOWN },
	{ NULL, "--datestop", 1, FW_M_UNKNOWN },
	{ NULL, "--monthdays", 1, FW_M_UNKNOWN },
	{ NULL, "--weekdays", 1, FW_M_UNKNOWN },
	{ NULL, "--kerneltz", 0, FW_M_UNKNOWN },
	{ NULL, "--contiguous", 0, FW_M_UNKNOWN },
	{ NULL, "--path", 1, FW_M_UNKNOWN },
	{ NULL, "--cgroup", 1, FW_M_UNKNOWN },
	{ NULL, "--bytecode", 1, FW_M_UNKNOWN },
	{ NULL, "--object-pinned", 1, FW_M_UNKNOWN },
	{ NULL, "--dscp", 1, FW_M_UNKNOWN },
	{ NULL, "--dscp-class", 1, FW_M_UNKNOWN },
	{ NULL, "--tos", 1, FW_M_UNKNOWN },
	{ NULL, "--mss", 1, FW_M_UNKNOWN },
	{ NULL, "--quota", 1, FW_M_UNKNOWN },
};

static const struct opt_spec *lookup_opt(const char *module, const char *name)
{
	for (size_t i = 0; i < sizeof(known_opts) / sizeof(known_opts[0]); i++) {
		const struct opt_spec *o = &known_opts[i];

		if (!strcmp(o->name, name) && (!o->module || (module && !strcmp(o->module, module))))
			return o;
	}
	return NULL;
}

/* Whether TOK can be an option's argument rather than the next option or a negation. */
static bool is_arg(const struct token *tok)
{
	if (tok->quoted)
		return true;
	if (!strcmp(tok->s, "!"))
		return false;
	return tok->s[0] != '-' || (tok->s[1] >= '0' && tok->s[1] <= '9');
}

/* Parses an address of FAMILY into P (len: the full address). */
static int parse_host(struct fw_prefix *p, const char *text, int family)
{
	memset(p, 0, sizeof(*p));
	p->family = family;
	p->len = family == 4 ? 32 : 128;
	return inet_pton(family == 4 ? AF_INET : AF_INET6, text, p->addr) == 1 ? 0 : -EINVAL;
}

/*
 * DNAT/SNAT's --to-destination/--to-source: [ADDR[-ADDR]][:PORT[-PORT]];
 * ip6tables brackets addresses that have ports: [fd00::1]-[fd00::5]:80-90.
 */
static int parse_nat_spec(struct fw_nat *nat, const char *spec, int family)
{
	char buf[2 * INET6_ADDRSTRLEN + 24];
	char *addr = buf, *addr2 = NULL, *ports = NULL;
	struct fw_prefix last;

	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, spec);
	if (family == 6 && buf[0] == '[') {
		char *rest = strchr(buf, ']');

		if (!rest)
			return -EINVAL;
		*rest++ = '\0';
		addr = buf + 1;
		if (rest[0] == '-') {
			if (rest[1] != '[')
				return -EINVAL;
			addr2 = rest + 2;
			rest = strchr(addr2, ']');
			if (!rest)
				return -EINVAL;
			*rest++ = '\0';
		}
		if (*rest == ':')
			ports = rest + 1;
		else if (*rest)
			return -EINVAL;
	} else {
		/* v6 without brackets has no port: its colons are the address's */
		if (family == 4) {
			ports = strchr(buf, ':');
			if (ports)
				*ports++ = '\0';
		}
		addr2 = strchr(buf, '-');
		if (addr2)
			*addr2++ = '\0';
	}
	if (!*addr && !ports)
		return -EINVAL;
	if (*addr) {
		if (parse_host(&nat->addr, addr, family))
			return -EINVAL;
		nat->addr_given = true;
	}
	if (addr2 && (!*addr || parse_host(&last, addr2, family)))
		return -EINVAL;
	if (ports) {
		if (parse_port_range(ports, strlen(ports), '-', &nat->ports))
			return -EINVAL;
		nat->ports_given = true;
	}
	return 0;
}

/* Reads a NAT target's options (TOK, N: what follows the target's name). */
static void parse_nat(struct fw_rule *rule, const char *target, struct token *tok, int n,
		      const struct rule_ctx *ctx)
{
	struct fw_nat *nat = &rule->nat;
	bool dnat = !strcmp(target, "DNAT"), snat = !strcmp(target, "SNAT");
	const char *addr_opt = dnat ? "--to-destination" : "--to-source";
	int specs = 0, ports = 0;

	nat->kind = dnat ? FW_NAT_DNAT : snat ? FW_NAT_SNAT
		  : !strcmp(target, "MASQUERADE") ? FW_NAT_MASQUERADE : FW_NAT_REDIRECT;
	nat->understood = true;
	for (int i = 0; i < n; i++) {
		const char *arg = i + 1 < n && is_arg(&tok[i + 1]) ? tok[i + 1].s : NULL;

		if ((dnat || snat) && !strcmp(tok[i].s, addr_opt)) {
			/* Several ranges (old kernels) are not one translation we can name. */
			if (!arg || specs++ || parse_nat_spec(nat, arg, ctx->family))
				nat->understood = false;
		} else if (!dnat && !snat && !strcmp(tok[i].s, "--to-ports")) {
			if (!arg || ports++ ||
			    parse_port_range(arg, strlen(arg), '-', &nat->ports))
				nat->understood = false;
			else
				nat->ports_given = true;
		} else if (strcmp(tok[i].s, "--random") && strcmp(tok[i].s, "--random-fully") &&
			   strcmp(tok[i].s, "--persistent")) {
			nat->understood = false; /* an option we do not know may change it */
			continue;
		} else {
			continue;
		}
		i++;
	}
	if ((dnat || snat) && !specs)
		nat->understood = false;
}

/* The target and its options: TOK[0] is the target's name, if any. */
static void parse_target(struct fw_rule *rule, struct token *tok, int n, bool jump,
			 const struct rule_ctx *ctx)
{
	const char *t;

	rule->verdict = FW_V_UNKNOWN;
	if (n < 1 || !is_arg(&tok[0]))
		return; /* `-j` with nothing after it */
	t = tok[0].s;
	snprintf(rule->target, sizeof(rule->target), "%s", t);
	if (!strcmp(t, "ACCEPT")) {
		rule->verdict = FW_V_ACCEPT;
	} else if (!strcmp(t, "DROP") || !strcmp(t, "REJECT")) {
		rule->verdict = FW_V_DROP;
	} else if (!strcmp(t, "RETURN")) {
		rule->verdict = FW_V_RETURN;
	} else if (find_chain(ctx->rs, ctx->source, ctx->fam, ctx->table, t)) {
		/* before the target names: iptables resolves a user chain first */
		rule->verdict = jump ? FW_V_JUMP : FW_V_GOTO;
	} else if (!strcmp(t, "DNAT") || !strcmp(t, "SNAT") || !strcmp(t, "MASQUERADE") ||
		   !strcmp(t, "REDIRECT")) {
		rule->verdict = FW_V_NAT;
		parse_nat(rule, t, tok + 1, n - 1, ctx);
	} else if (!strcmp(t, "NETMAP")) {
		/* A prefix-to-prefix map: its direction is the hook's, its result not one address. */
		enum fw_hook hook = ctx->chain->hook;

		rule->verdict = FW_V_NAT;
		rule->nat.kind = hook == FW_HOOK_POSTROUTING || hook == FW_HOOK_INPUT
					 ? FW_NAT_SNAT : FW_NAT_DNAT;
		rule->nat.understood = false;
	} else if (fw_target_continues(t)) {
		rule->verdict = FW_V_CONTINUE;
		if (!strcmp(t, "CT"))
			for (int k = 1; k + 1 < n; k++)
				if (!strcmp(tok[k].s, "--helper"))
					snprintf(rule->helper, sizeof(rule->helper), "%s",
						 tok[k + 1].s);
	}
	/* anything else (NFQUEUE, SYNPROXY, TPROXY, a chain not listed): FW_V_UNKNOWN */
}

static struct fw_match *add_unknown(struct fw_rule *rule)
{
	return fw_rule_add_match(rule, FW_M_UNKNOWN);
}

/* One modelled option OPT with its argument ARG; 0, or -ENOMEM. */
static int parse_modelled(struct fw_rule *rule, const char *opt, const char *arg, bool negate,
			  int family, bool *done)
{
	struct fw_match *m = NULL;
	bool bad = false;

	*done = true;
	if (!strcmp(opt, "-p") || !strcmp(opt, "--protocol")) {
		if (!strcmp(arg, "all") || !strcmp(arg, "0")) {
			/* any protocol: restricts nothing, unless negated */
			return negate && !add_unknown(rule) ? -ENOMEM : 0;
		}
		m = fw_rule_add_match(rule, FW_M_L4);
		if (m)
			m->l4 = proto_bit(arg);
	} else if (!strcmp(opt, "--dport") || !strcmp(opt, "--dports") ||
		   !strcmp(opt, "--destination-port") || !strcmp(opt, "--destination-ports")) {
		m = fw_rule_add_match(rule, FW_M_DPORT);
		bad = m && parse_ports(m, arg);
	} else if (!strcmp(opt, "--sport") || !strcmp(opt, "--sports") ||
		   !strcmp(opt, "--source-port") || !strcmp(opt, "--source-ports")) {
		m = fw_rule_add_match(rule, FW_M_SPORT);
		bad = m && parse_ports(m, arg);
	} else if (!strcmp(opt, "-s") || !strcmp(opt, "--source") || !strcmp(opt, "-d") ||
		   !strcmp(opt, "--destination")) {
		bool src = !strcmp(opt, "-s") || !strcmp(opt, "--source");

		m = fw_rule_add_match(rule, src ? FW_M_SADDR : FW_M_DADDR);
		bad = m && parse_prefix(&m->prefixes[0], arg, family);
		if (m && !bad)
			m->prefix_count = 1;
	} else if (!strcmp(opt, "--state") || !strcmp(opt, "--ctstate")) {
		m = fw_rule_add_match(rule, FW_M_CT_STATE);
		bad = m && parse_states(arg, &m->ct_states);
	} else if (!strcmp(opt, "-i") || !strcmp(opt, "--in-interface") || !strcmp(opt, "-o") ||
		   !strcmp(opt, "--out-interface")) {
		bool in = !strcmp(opt, "-i") || !strcmp(opt, "--in-interface");

		m = fw_rule_add_match(rule, in ? FW_M_IIF : FW_M_OIF);
		if (m)
			snprintf(m->ifname, sizeof(m->ifname), "%.63s", arg);
	} else if ((!strcmp(opt, "--icmp-type") || !strcmp(opt, "--icmpv6-type")) &&
		   !strcmp(arg, "any") && !negate) {
		return 0; /* "any" restricts nothing */
	} else if (!strcmp(opt, "--comment")) {
		return 0; /* a comment matches everything */
	} else if ((!strcmp(opt, "--src-type") || !strcmp(opt, "--dst-type")) &&
		   !strcmp(arg, "LOCAL")) {
		/* addrtype; other type lists (BROADCAST, "LOCAL,UNICAST") stay unknown */
		m = fw_rule_add_match(rule, opt[2] == 's' ? FW_M_SADDR_LOCAL : FW_M_DADDR_LOCAL);
	} else {
		*done = false;
		return 0;
	}
	if (!m)
		return -ENOMEM;
	if (bad) {
		memset(m, 0, sizeof(*m));
		m->kind = FW_M_UNKNOWN;
	} else {
		m->negate = negate;
	}
	return 0;
}

static int parse_rule(struct fw_rule *rule, struct token *tok, int n, const struct rule_ctx *ctx)
{
	const char *module = NULL;

	for (int i = 0; i < n;) {
		bool negate = false, done;
		const struct opt_spec *spec;
		struct fw_match *m;
		const char *opt;
		int ret;

		if (!tok[i].quoted && !strcmp(tok[i].s, "!")) {
			negate = true;
			if (++i >= n)
				return add_unknown(rule) ? 0 : -ENOMEM;
		}
		opt = tok[i++].s;
		if (!strcmp(opt, "-j") || !strcmp(opt, "--jump") || !strcmp(opt, "-g") ||
		    !strcmp(opt, "--goto")) {
			/* target options follow: not matches */
			parse_target(rule, tok + i, n - i, opt[1] == 'j' || opt[2] == 'j', ctx);
			return 0;
		}
		if (!strcmp(opt, "-m") || !strcmp(opt, "--match")) {
			/* the module's own options follow */
			module = i < n && is_arg(&tok[i]) ? tok[i++].s : NULL;
			continue;
		}
		if (i < n && !tok[i].quoted && !strcmp(tok[i].s, "!")) {
			negate = true; /* old form: --dport ! 80 */
			i++;
		}
		if (i < n && is_arg(&tok[i])) {
			ret = parse_modelled(rule, opt, tok[i].s, negate, ctx->family, &done);
			if (ret)
				return ret;
			if (done) {
				i++;
				continue;
			}
		}
		spec = lookup_opt(module, opt);
		m = fw_rule_add_match(rule, spec ? spec->kind : FW_M_UNKNOWN);
		if (!m)
			return -ENOMEM;
		if (m->kind == FW_M_CT_DERIVED)
			m->negate = negate;
		/* A known option takes its own count; an unknown one, every argument-like token. */
		for (int k = 0; (!spec || k < spec->args) && i < n && is_arg(&tok[i]); k++)
			i++;
	}
	return 0;
}

/* Splits LINE in place at blanks; a "quoted string" (a comment) stays one token. */
static int tokenize(char *line, struct token *tok)
{
	int n = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		tok[n].quoted = *p == '"';
		if (tok[n].quoted) {
			tok[n++].s = ++p;
			while (*p && (*p != '"' || p[-1] == '\\'))
				p++;
		} else {
			tok[n++].s = p;
			while (*p && *p != ' ' && *p != '\t')
				p++;
		}
		if (*p)
			*p++ = '\0';
	}
	return n;
}

static int parse_chain_line(struct fw_ruleset *rs, const char *line, const char *fam,
			    const char *table, enum fw_source source)
{
	char name[FW_NAME_LEN], policy[16];
	struct fw_chain *ch;

	if (sscanf(line + 1, "%63s %15s", name, policy) != 2) {
		fw_ruleset_add_unreadable(rs, "%s table %s: chain line '%.40s'", fam, table, line);
		return 0;
	}
	ch = fw_ruleset_add_chain(rs);
	if (!ch)
		return -ENOMEM;
	ch->source = source;
	snprintf(ch->family, sizeof(ch->family), "%s", fam);
	snprintf(ch->table, sizeof(ch->table), "%s", table);
	snprintf(ch->name, sizeof(ch->name), "%s", name);
	ch->hook = strcmp(policy, "-") ? builtin_hook(name) : FW_HOOK_NONE;
	ch->nat = !strcmp(table, "nat");
	ch->policy_drop = !strcmp(policy, "DROP");
	return 0;
}

static int parse_rule_line(struct rule_ctx *ctx, char *line)
{
	char text[FW_TEXT_LEN];
	/* every token takes a character and a separator: no line has more */
	struct token *tok = calloc(strlen(line) / 2 + 2, sizeof(*tok));
	struct fw_chain *ch;
	struct fw_rule *rule;
	int n, ret = 0;

	if (!tok)
		return -ENOMEM;
	snprintf(text, sizeof(text), "%s", line);
	n = tokenize(line, tok);
	ch = n > 1 ? find_chain(ctx->rs, ctx->source, ctx->fam, ctx->table, tok[1].s) : NULL;
	if (!ch) {
		fw_ruleset_add_unreadable(ctx->rs, "%s table %s: rules of an undeclared chain %.32s",
					  ctx->fam, ctx->table, n > 1 ? tok[1].s : "");
		goto out;
	}
	rule = fw_chain_add_rule(ch);
	if (!rule) {
		ret = -ENOMEM;
		goto out;
	}
	rule->handle = ch->rule_count; /* 1-based position, as `iptables -I` takes */
	snprintf(rule->text, sizeof(rule->text), "%s", text);
	ctx->chain = ch;
	ret = parse_rule(rule, tok + 2, n - 2, ctx);
out:
	free(tok);
	return ret;
}

int fw_parse_iptables_save(struct fw_ruleset *rs, const char *text, int family,
			   enum fw_source source)
{
	char table[FW_NAME_LEN] = "";
	struct rule_ctx ctx = { .rs = rs, .source = source, .fam = family == 4 ? "ip" : "ip6",
				.table = table, .family = family };
	char *copy = strdup(text), *save = NULL;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	for (char *line = strtok_r(copy, "\n", &save); line && !ret;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '*')
			snprintf(table, sizeof(table), "%s", line + 1);
		else if (line[0] == ':')
			ret = parse_chain_line(rs, line, ctx.fam, table, source);
		else if (!strncmp(line, "-A ", 3))
			ret = parse_rule_line(&ctx, line);
	}
	free(copy);
	return ret;
}
