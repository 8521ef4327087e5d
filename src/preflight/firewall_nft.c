// SPDX-License-Identifier: GPL-2.0
/* nftables' JSON listing read into the firewall model (firewall_model.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include "firewall_model.h"

/* The named sets of the listing, so "@name" in a rule can be expanded. */
struct set_index {
	json_t *sets; /* object: "family table name" -> elem array */
};

static unsigned int l4_bit(const char *name)
{
	if (!strcmp(name, "tcp"))
		return FW_L4_TCP;
	if (!strcmp(name, "udp"))
		return FW_L4_UDP;
	if (!strcmp(name, "icmp"))
		return FW_L4_ICMP;
	if (!strcmp(name, "icmpv6") || !strcmp(name, "ipv6-icmp"))
		return FW_L4_ICMPV6;
	return FW_L4_OTHER;
}

static unsigned int l4_bit_num(json_int_t n)
{
	return n == 6 ? FW_L4_TCP : n == 17 ? FW_L4_UDP : n == 1 ? FW_L4_ICMP
	       : n == 58 ? FW_L4_ICMPV6 : FW_L4_OTHER;
}

static unsigned int ct_bit(const char *name)
{
	static const struct {
		const char *name;
		unsigned int bit;
	} states[] = { { "new", FW_CT_NEW }, { "established", FW_CT_ESTABLISHED },
		       { "related", FW_CT_RELATED }, { "invalid", FW_CT_INVALID },
		       { "untracked", FW_CT_UNTRACKED } };

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (!strcmp(name, states[i].name))
			return states[i].bit;
	return 0;
}

/* Calls FN on each element of a right-hand side: a value, a set, or "@set". */
typedef int (*elem_fn)(struct fw_match *m, json_t *elem);

static int for_each_elem(const struct set_index *idx, const char *scope, json_t *right,
			 struct fw_match *m, elem_fn fn)
{
	json_t *set = json_object_get(right, "set"), *e;
	const char *name = json_string_value(right);
	size_t i;

	if (name && name[0] == '@') {
		char key[3 * FW_NAME_LEN];

		snprintf(key, sizeof(key), "%s %s", scope, name + 1);
		set = json_object_get(idx->sets, key);
		if (!set)
			return -ENOENT;
	}
	if (json_is_array(set)) {
		json_array_foreach(set, i, e) {
			/* set elements with counters are wrapped: {"elem": {"val": …}} */
			json_t *val = json_object_get(json_object_get(e, "elem"), "val");
			int ret = fn(m, val ? val : e);

			if (ret)
				return ret;
		}
		return 0;
	}
	if (json_is_array(right)) {
		json_array_foreach(right, i, e) {
			int ret = fn(m, e);

			if (ret)
				return ret;
		}
		return 0;
	}
	return fn(m, right);
}

static int add_port(struct fw_match *m, json_t *elem)
{
	json_t *range = json_object_get(elem, "range");
	json_int_t lo, hi;

	if (m->port_count >= FW_MAX_PORT_RANGES)
		return -E2BIG;
	if (range) {
		lo = json_integer_value(json_array_get(range, 0));
		hi = json_integer_value(json_array_get(range, 1));
	} else if (json_is_integer(elem)) {
		lo = hi = json_integer_value(elem);
	} else {
		return -EPROTO; /* a service name or an expression: not modelled */
	}
	m->ports[m->port_count].lo = (uint16_t)lo;
	m->ports[m->port_count].hi = (uint16_t)hi;
	m->port_count++;
	return 0;
}

static int add_prefix(struct fw_match *m, json_t *elem)
{
	json_t *prefix = json_object_get(elem, "prefix");
	const char *addr = json_string_value(prefix ? json_object_get(prefix, "addr") : elem);
	struct fw_prefix *p;
	json_int_t len, max;

	if (!addr || m->prefix_count >= FW_MAX_PREFIXES)
		return -EPROTO;
	p = &m->prefixes[m->prefix_count];
	p->family = strchr(addr, ':') ? 6 : 4;
	if (inet_pton(p->family == 4 ? AF_INET : AF_INET6, addr, p->addr) != 1)
		return -EPROTO;
	max = p->family == 4 ? 32 : 128;
	len = prefix ? json_integer_value(json_object_get(prefix, "len")) : max;
	/* The analysis reads LEN bits of a 16-byte address. */
	if (len < 0 || len > max)
		return -EPROTO;
	p->len = (uint8_t)len;
	m->prefix_count++;
	return 0;
}

static int add_l4(struct fw_match *m, json_t *elem)
{
	m->l4 |= json_is_string(elem) ? l4_bit(json_string_value(elem))
				      : l4_bit_num(json_integer_value(elem));
	return 0;
}

static int add_ct_state(struct fw_match *m, json_t *elem)
{
	unsigned int bit = json_is_string(elem) ? ct_bit(json_string_value(elem)) : 0;

	if (!bit)
		return -EPROTO;
	m->ct_states |= bit;
	return 0;
}

/* Fills M from one `match` expression; M->kind FW_M_UNKNOWN if not modelled. */
static void parse_match(const struct set_index *idx, const char *scope, json_t *match,
			struct fw_rule *rule)
{
	const char *op = json_string_value(json_object_get(match, "op"));
	json_t *left = json_object_get(match, "left"), *right = json_object_get(match, "right");
	json_t *payload = json_object_get(left, "payload"), *meta = json_object_get(left, "meta");
	json_t *ct = json_object_get(left, "ct");
	const char *proto = json_string_value(json_object_get(payload, "protocol"));
	const char *field = json_string_value(json_object_get(payload, "field"));
	const char *key = json_string_value(json_object_get(meta ? meta : ct, "key"));
	bool negate = op && !strcmp(op, "!=");
	enum fw_match_kind kind = FW_M_UNKNOWN;
	elem_fn fn = NULL;
	struct fw_match *m;

	if (op && strcmp(op, "==") && strcmp(op, "!=") && strcmp(op, "in"))
		goto unknown;
	if (proto && field) {
		bool l4hdr = !strcmp(proto, "tcp") || !strcmp(proto, "udp") || !strcmp(proto, "th");

		if (l4hdr && (!strcmp(field, "dport") || !strcmp(field, "sport"))) {
			if (strcmp(proto, "th")) {
				/* `tcp dport` also says "tcp" */
				fw_rule_add_match(rule, FW_M_L4)->l4 = l4_bit(proto);
			}
			kind = field[0] == 'd' ? FW_M_DPORT : FW_M_SPORT;
			fn = add_port;
		} else if ((!strcmp(proto, "ip") || !strcmp(proto, "ip6")) &&
			   (!strcmp(field, "saddr") || !strcmp(field, "daddr"))) {
			fw_rule_add_match(rule, FW_M_FAMILY)->family = proto[2] ? 6 : 4;
			kind = field[0] == 's' ? FW_M_SADDR : FW_M_DADDR;
			fn = add_prefix;
		} else if ((!strcmp(proto, "ip") && !strcmp(field, "protocol")) ||
			   (!strcmp(proto, "ip6") && !strcmp(field, "nexthdr"))) {
			kind = FW_M_L4;
			fn = add_l4;
		} else if (!strcmp(proto, "icmp") || !strcmp(proto, "icmpv6")) {
			fw_rule_add_match(rule, FW_M_L4)->l4 = l4_bit(proto);
			goto unknown; /* the type or code itself is not modelled */
		}
	} else if (key && meta) {
		if (!strcmp(key, "l4proto")) {
			kind = FW_M_L4;
			fn = add_l4;
		} else if (!strcmp(key, "iifname") || !strcmp(key, "oifname") ||
			   !strcmp(key, "iif") || !strcmp(key, "oif")) {
			const char *name = json_string_value(right);

			if (!name)
				goto unknown;
			m = fw_rule_add_match(rule, key[0] == 'i' ? FW_M_IIF : FW_M_OIF);
			m->negate = negate;
			snprintf(m->ifname, sizeof(m->ifname), "%s", name);
			return;
		}
	} else if (key && ct && !strcmp(key, "state")) {
		kind = FW_M_CT_STATE;
		fn = add_ct_state;
	}
	if (!fn)
		goto unknown;
	m = fw_rule_add_match(rule, kind);
	m->negate = negate;
	if (for_each_elem(idx, scope, right, m, fn)) {
		m->kind = FW_M_UNKNOWN;
		m->negate = false;
	}
	return;
unknown:
	fw_rule_add_match(rule, FW_M_UNKNOWN);
}

static void set_verdict(struct fw_rule *rule, enum fw_verdict v, const char *target)
{
	/* The first verdict ends the rule; later statements never run. */
	if (rule->verdict != FW_V_CONTINUE)
		return;
	rule->verdict = v;
	if (target)
		snprintf(rule->target, sizeof(rule->target), "%s", target);
}

static void parse_xt(json_t *xt, struct fw_rule *rule)
{
	const char *type = json_string_value(json_object_get(xt, "type"));
	const char *name = json_string_value(json_object_get(xt, "name"));

	if (!type || !name || strcmp(type, "target")) {
		fw_rule_add_match(rule, FW_M_UNKNOWN);
		return;
	}
	if (!strcmp(name, "REJECT") || !strcmp(name, "DROP"))
		set_verdict(rule, FW_V_DROP, NULL);
	else if (!strcmp(name, "ACCEPT"))
		set_verdict(rule, FW_V_ACCEPT, NULL);
	else if (!strcmp(name, "DNAT") || !strcmp(name, "SNAT") || !strcmp(name, "MASQUERADE") ||
		 !strcmp(name, "REDIRECT"))
		set_verdict(rule, FW_V_NAT, name);
}

static void parse_statement(const struct set_index *idx, const char *scope, json_t *stmt,
			    struct fw_rule *rule)
{
	static const char *const nat[] = { "dnat", "snat", "masquerade", "redirect" };
	json_t *v;

	if ((v = json_object_get(stmt, "match"))) {
		parse_match(idx, scope, v, rule);
		return;
	}
	if (json_object_get(stmt, "accept"))
		set_verdict(rule, FW_V_ACCEPT, NULL);
	else if (json_object_get(stmt, "drop") || json_object_get(stmt, "reject"))
		set_verdict(rule, FW_V_DROP, NULL);
	else if (json_object_get(stmt, "return"))
		set_verdict(rule, FW_V_RETURN, NULL);
	else if ((v = json_object_get(stmt, "jump")))
		set_verdict(rule, FW_V_JUMP, json_string_value(json_object_get(v, "target")));
	else if ((v = json_object_get(stmt, "goto")))
		set_verdict(rule, FW_V_GOTO, json_string_value(json_object_get(v, "target")));
	else if ((v = json_object_get(stmt, "xt")))
		parse_xt(v, rule);
	else if ((v = json_object_get(stmt, "mangle"))) {
		json_t *key = json_object_get(json_object_get(v, "key"), "ct");
		const char *name = json_string_value(json_object_get(v, "value"));

		if (key && name && !strcmp(json_string_value(json_object_get(key, "key")), "helper"))
			snprintf(rule->helper, sizeof(rule->helper), "%s", name);
	} else {
		for (size_t i = 0; i < sizeof(nat) / sizeof(nat[0]); i++)
			if (json_object_get(stmt, nat[i]))
				set_verdict(rule, FW_V_NAT, nat[i]);
	}
}

static enum fw_hook hook_of(const char *name)
{
	static const char *const names[] = { "", "prerouting", "input", "forward", "output",
					     "postrouting" };

	for (size_t i = 1; name && i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i]))
			return (enum fw_hook)i;
	return FW_HOOK_NONE;
}

static bool skipped(const char *family, const char *table, const char *const *skip, size_t n)
{
	char key[2 * FW_NAME_LEN];

	snprintf(key, sizeof(key), "%s %s", family, table);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(skip[i], key))
			return true;
	/* ctbypass's own table only NOTRACKs; it never accepts or drops. */
	return !strcmp(family, "inet") && !strcmp(table, "ctbypass");
}

static int add_chain(struct fw_ruleset *rs, json_t *obj)
{
	struct fw_chain *ch = fw_ruleset_add_chain(rs);
	const char *type = json_string_value(json_object_get(obj, "type"));
	const char *policy = json_string_value(json_object_get(obj, "policy"));

	if (!ch)
		return -ENOMEM;
	ch->source = FW_SRC_NFT;
	snprintf(ch->family, sizeof(ch->family), "%s",
		 json_string_value(json_object_get(obj, "family")));
	snprintf(ch->table, sizeof(ch->table), "%s",
		 json_string_value(json_object_get(obj, "table")));
	snprintf(ch->name, sizeof(ch->name), "%s", json_string_value(json_object_get(obj, "name")));
	ch->hook = hook_of(json_string_value(json_object_get(obj, "hook")));
	ch->nat = type && !strcmp(type, "nat");
	ch->policy_drop = policy && !strcmp(policy, "drop");
	return 0;
}

static int add_rule(struct fw_ruleset *rs, const struct set_index *idx, json_t *obj)
{
	const char *family = json_string_value(json_object_get(obj, "family"));
	const char *table = json_string_value(json_object_get(obj, "table"));
	const char *chain = json_string_value(json_object_get(obj, "chain"));
	struct fw_chain probe = { .source = FW_SRC_NFT };
	char scope[2 * FW_NAME_LEN];
	struct fw_chain *ch;
	struct fw_rule *rule;
	json_t *stmt;
	size_t i;

	if (!family || !table || !chain)
		return -EPROTO;
	snprintf(probe.family, sizeof(probe.family), "%s", family);
	snprintf(probe.table, sizeof(probe.table), "%s", table);
	ch = (struct fw_chain *)fw_ruleset_find(rs, &probe, chain);
	if (!ch)
		return 0; /* its table was skipped */
	rule = fw_chain_add_rule(ch);
	if (!rule)
		return -ENOMEM;
	rule->handle = (uint64_t)json_integer_value(json_object_get(obj, "handle"));
	snprintf(rule->text, sizeof(rule->text), "handle %llu",
		 (unsigned long long)rule->handle);
	snprintf(scope, sizeof(scope), "%s %s", family, table);
	json_array_foreach(json_object_get(obj, "expr"), i, stmt)
		parse_statement(idx, scope, stmt, rule);
	return 0;
}

int fw_parse_nft_json(struct fw_ruleset *rs, const char *text, const char *const *skip,
		      size_t skip_count)
{
	json_error_t jerr;
	json_t *root = json_loads(text, 0, &jerr), *items, *item, *obj;
	struct set_index idx = { .sets = json_object() };
	size_t i;
	int ret = 0;

	if (!root) {
		json_decref(idx.sets);
		return -EPROTO;
	}
	items = json_object_get(root, "nftables");
	/* Sets and chains first: rules refer to both. */
	json_array_foreach(items, i, item) {
		const char *family = NULL, *table = NULL;

		if ((obj = json_object_get(item, "set")) || (obj = json_object_get(item, "chain"))) {
			family = json_string_value(json_object_get(obj, "family"));
			table = json_string_value(json_object_get(obj, "table"));
			if (!family || !table || skipped(family, table, skip, skip_count))
				continue;
		}
		if ((obj = json_object_get(item, "set"))) {
			char key[3 * FW_NAME_LEN];

			snprintf(key, sizeof(key), "%s %s %s", family, table,
				 json_string_value(json_object_get(obj, "name")));
			json_object_set(idx.sets, key, json_object_get(obj, "elem"));
		} else if ((obj = json_object_get(item, "chain"))) {
			ret = add_chain(rs, obj);
		}
		if (ret)
			break;
	}
	json_array_foreach(items, i, item) {
		if (ret)
			break;
		if ((obj = json_object_get(item, "rule")))
			ret = add_rule(rs, &idx, obj);
	}
	json_decref(idx.sets);
	json_decref(root);
	return ret;
}
