// SPDX-License-Identifier: GPL-2.0
/* iptables-save text (legacy or nft backend) read into the firewall model. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "firewall_model.h"

#define MAX_TOKENS 128

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

/* "80", "8000:8010", "80,443,8000:8010" (multiport) */
static int parse_ports(struct fw_match *m, char *list)
{
	for (char *item = strtok(list, ","); item; item = strtok(NULL, ",")) {
		char *colon = strchr(item, ':');

		if (m->port_count >= FW_MAX_PORT_RANGES)
			return -E2BIG;
		m->ports[m->port_count].lo = (uint16_t)atoi(item);
		m->ports[m->port_count].hi = (uint16_t)(colon ? atoi(colon + 1) : atoi(item));
		m->port_count++;
	}
	return 0;
}

static int parse_addr(struct fw_match *m, const char *text, int family)
{
	char buf[64];
	char *slash;
	struct fw_prefix *p = &m->prefixes[0];
	int len, max = family == 4 ? 32 : 128;

	snprintf(buf, sizeof(buf), "%.63s", text);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	p->family = family;
	if (inet_pton(family == 4 ? AF_INET : AF_INET6, buf, p->addr) != 1)
		return -EPROTO;
	len = slash ? atoi(slash + 1) : max;
	/* The analysis reads LEN bits of a 16-byte address. */
	if (len < 0 || len > max)
		return -EPROTO;
	p->len = (uint8_t)len;
	m->prefix_count = 1;
	return 0;
}

static unsigned int parse_states(char *list)
{
	unsigned int mask = 0;

	for (char *s = strtok(list, ","); s; s = strtok(NULL, ",")) {
		if (!strcmp(s, "NEW"))
			mask |= FW_CT_NEW;
		else if (!strcmp(s, "ESTABLISHED"))
			mask |= FW_CT_ESTABLISHED;
		else if (!strcmp(s, "RELATED"))
			mask |= FW_CT_RELATED;
		else if (!strcmp(s, "INVALID"))
			mask |= FW_CT_INVALID;
		else if (!strcmp(s, "UNTRACKED"))
			mask |= FW_CT_UNTRACKED;
	}
	return mask;
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

/* Options that take one argument we do not model: skipped with their argument. */
static bool takes_argument(const char *opt)
{
	return opt[0] == '-' && opt[1] == '-' && strcmp(opt, "--syn");
}

static void set_target(struct fw_rule *rule, const char *target, bool jump)
{
	if (!strcmp(target, "ACCEPT"))
		rule->verdict = FW_V_ACCEPT;
	else if (!strcmp(target, "DROP") || !strcmp(target, "REJECT"))
		rule->verdict = FW_V_DROP;
	else if (!strcmp(target, "RETURN"))
		rule->verdict = FW_V_RETURN;
	else if (!strcmp(target, "DNAT") || !strcmp(target, "SNAT") ||
		 !strcmp(target, "MASQUERADE") || !strcmp(target, "REDIRECT"))
		rule->verdict = FW_V_NAT;
	else if (!strcmp(target, "CT") || !strcmp(target, "LOG") || !strcmp(target, "MARK") ||
		 !strcmp(target, "CONNMARK") || !strcmp(target, "NOTRACK"))
		rule->verdict = FW_V_CONTINUE;
	else
		rule->verdict = jump ? FW_V_JUMP : FW_V_GOTO;
	snprintf(rule->target, sizeof(rule->target), "%s", target);
}

static int parse_rule(struct fw_rule *rule, char **tok, int n, int family)
{
	for (int i = 0; i < n; i++) {
		bool negate = !strcmp(tok[i], "!");
		const char *opt;
		const char *arg;
		struct fw_match *m = NULL;

		if (negate && ++i >= n)
			return -EPROTO;
		opt = tok[i];
		arg = i + 1 < n ? tok[i + 1] : NULL;
		if (arg && !strcmp(arg, "!")) { /* old form: --dport ! 80 */
			negate = true;
			i++;
			arg = i + 1 < n ? tok[i + 1] : NULL;
		}
		if (!strcmp(opt, "-m")) {
			i++; /* the module's own options follow */
			continue;
		}
		if (!strcmp(opt, "-j") || !strcmp(opt, "-g")) {
			if (!arg)
				return -EPROTO;
			set_target(rule, arg, opt[1] == 'j');
			if (!strcmp(arg, "CT"))
				for (int k = i + 2; k + 1 < n; k++)
					if (!strcmp(tok[k], "--helper"))
						snprintf(rule->helper, sizeof(rule->helper), "%s",
							 tok[k + 1]);
			return 0; /* target options follow: not matches */
		}
		if (!arg) {
			fw_rule_add_match(rule, FW_M_UNKNOWN);
			continue;
		}
		char value[512];

		snprintf(value, sizeof(value), "%s", arg);
		if (!strcmp(opt, "-p") || !strcmp(opt, "--protocol")) {
			m = fw_rule_add_match(rule, FW_M_L4);
			if (m)
				m->l4 = proto_bit(value);
		} else if (!strcmp(opt, "--dport") || !strcmp(opt, "--dports") ||
			   !strcmp(opt, "--destination-port")) {
			m = fw_rule_add_match(rule, FW_M_DPORT);
			if (m && parse_ports(m, value))
				m->kind = FW_M_UNKNOWN;
		} else if (!strcmp(opt, "--sport") || !strcmp(opt, "--sports") ||
			   !strcmp(opt, "--source-port")) {
			m = fw_rule_add_match(rule, FW_M_SPORT);
			if (m && parse_ports(m, value))
				m->kind = FW_M_UNKNOWN;
		} else if (!strcmp(opt, "-s") || !strcmp(opt, "-d")) {
			m = fw_rule_add_match(rule, opt[1] == 's' ? FW_M_SADDR : FW_M_DADDR);
			if (m && parse_addr(m, value, family))
				m->kind = FW_M_UNKNOWN;
		} else if (!strcmp(opt, "--state") || !strcmp(opt, "--ctstate")) {
			m = fw_rule_add_match(rule, FW_M_CT_STATE);
			if (m)
				m->ct_states = parse_states(value);
		} else if (!strcmp(opt, "-i") || !strcmp(opt, "-o")) {
			m = fw_rule_add_match(rule, opt[1] == 'i' ? FW_M_IIF : FW_M_OIF);
			if (m)
				snprintf(m->ifname, sizeof(m->ifname), "%.63s", value);
		} else if ((!strcmp(opt, "--icmp-type") || !strcmp(opt, "--icmpv6-type")) &&
			   !strcmp(value, "any")) {
			i++; /* "any" restricts nothing */
			continue;
		} else if (!strcmp(opt, "--comment")) {
			i++; /* a comment matches everything */
			continue;
		} else {
			m = fw_rule_add_match(rule, FW_M_UNKNOWN);
			if (!takes_argument(opt))
				continue; /* a flag such as --syn: no argument to skip */
		}
		if (!m)
			return -ENOMEM;
		m->negate = m->kind != FW_M_UNKNOWN && negate;
		i++; /* the argument */
	}
	return 0;
}

/* Splits LINE in place at blanks; a "quoted string" (a comment) stays one token. */
static int tokenize(char *line, char **tok)
{
	int n = 0;
	char *p = line;

	while (*p && n < MAX_TOKENS) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (*p == '"') {
			tok[n++] = ++p;
			while (*p && (*p != '"' || p[-1] == '\\'))
				p++;
		} else {
			tok[n++] = p;
			while (*p && *p != ' ' && *p != '\t')
				p++;
		}
		if (*p)
			*p++ = '\0';
	}
	return n;
}

int fw_parse_iptables_save(struct fw_ruleset *rs, const char *text, int family,
			   enum fw_source source)
{
	const char *fam = family == 4 ? "ip" : "ip6";
	char table[FW_NAME_LEN] = "";
	char *copy = strdup(text), *save = NULL;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	for (char *line = strtok_r(copy, "\n", &save); line && !ret;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '*') {
			snprintf(table, sizeof(table), "%s", line + 1);
		} else if (line[0] == ':') {
			struct fw_chain *ch = fw_ruleset_add_chain(rs);
			char name[FW_NAME_LEN], policy[16];

			if (!ch || sscanf(line + 1, "%63s %15s", name, policy) != 2) {
				ret = ch ? -EPROTO : -ENOMEM;
				break;
			}
			ch->source = source;
			snprintf(ch->family, sizeof(ch->family), "%s", fam);
			snprintf(ch->table, sizeof(ch->table), "%s", table);
			snprintf(ch->name, sizeof(ch->name), "%s", name);
			ch->hook = strcmp(policy, "-") ? builtin_hook(name) : FW_HOOK_NONE;
			ch->nat = !strcmp(table, "nat");
			ch->policy_drop = !strcmp(policy, "DROP");
		} else if (!strncmp(line, "-A ", 3)) {
			char text_copy[FW_TEXT_LEN];
			char *tok[MAX_TOKENS];
			struct fw_chain *ch;
			struct fw_rule *rule;
			int n;

			snprintf(text_copy, sizeof(text_copy), "%s", line);
			n = tokenize(line, tok);
			ch = n > 1 ? find_chain(rs, source, fam, table, tok[1]) : NULL;
			if (!ch)
				continue;
			rule = fw_chain_add_rule(ch);
			if (!rule) {
				ret = -ENOMEM;
				break;
			}
			rule->handle = ch->rule_count; /* 1-based position, as `iptables -I` takes */
			snprintf(rule->text, sizeof(rule->text), "%s", text_copy);
			ret = parse_rule(rule, tok + 2, n - 2, family);
		}
	}
	free(copy);
	return ret;
}
