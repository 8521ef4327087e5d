// SPDX-License-Identifier: GPL-2.0
/*
 * nftables' JSON listing read into the firewall model (firewall_model.h).
 *
 * Every value jansson hands back may be NULL or of another type: the listing
 * comes from whatever wrote the ruleset. What we cannot read becomes an
 * FW_M_UNKNOWN match or an FW_V_UNKNOWN verdict, never a dropped rule.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "firewall_model.h"

/* Past this many elements a verdict map is one unknown rule, not that many rules. */
#define FW_MAX_VMAP_ELEMS 4096

/* The named sets and maps of the listing, so "@name" in a rule can be expanded. */
struct set_index {
	json_t *sets; /* object: "family table name" -> elem array */
};

/* The rule being read: where it is, and how many model rules it has become. */
struct rule_ctx {
	struct fw_ruleset *rs;
	const struct set_index *idx;
	struct fw_chain *chain;
	const char *scope; /* "family table" */
	size_t emitted;
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

/* A set element, unwrapped from {"elem": {"val": …}} (elements with counters). */
static json_t *elem_value(json_t *e)
{
	json_t *val = json_object_get(json_object_get(e, "elem"), "val");

	return val ? val : e;
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
			int ret = fn(m, elem_value(e));

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

/* A port number: an integer 0..65535, not truncated into one. */
static int port_value(json_t *v, uint16_t *port)
{
	json_int_t n;

	if (!json_is_integer(v))
		return -EPROTO;
	n = json_integer_value(v);
	if (n < 0 || n > 65535)
		return -ERANGE;
	*port = (uint16_t)n;
	return 0;
}

/* 80, or {"range": [80, 90]} */
static int port_range(json_t *elem, struct fw_port_range *r)
{
	json_t *range = json_object_get(elem, "range");

	if (range) {
		if (json_array_size(range) != 2 || port_value(json_array_get(range, 0), &r->lo) ||
		    port_value(json_array_get(range, 1), &r->hi) || r->lo > r->hi)
			return -EPROTO;
		return 0;
	}
	if (port_value(elem, &r->lo))
		return -EPROTO; /* a service name or an expression: not modelled */
	r->hi = r->lo;
	return 0;
}

static int add_port(struct fw_match *m, json_t *elem)
{
	if (m->port_count >= FW_MAX_PORT_RANGES)
		return -E2BIG;
	if (port_range(elem, &m->ports[m->port_count]))
		return -EPROTO;
	m->port_count++;
	return 0;
}

static int add_prefix(struct fw_match *m, json_t *elem)
{
	json_t *prefix = json_object_get(elem, "prefix");
	const char *addr = json_string_value(prefix ? json_object_get(prefix, "addr") : elem);
	struct fw_prefix *p;
	json_t *len;
	json_int_t max;

	if (!addr || m->prefix_count >= FW_MAX_PREFIXES)
		return -EPROTO;
	p = &m->prefixes[m->prefix_count];
	memset(p, 0, sizeof(*p));
	p->family = strchr(addr, ':') ? 6 : 4;
	if (inet_pton(p->family == 4 ? AF_INET : AF_INET6, addr, p->addr) != 1)
		return -EPROTO;
	max = p->family == 4 ? 32 : 128;
	p->len = (uint8_t)max;
	if (prefix) {
		/* No length is no prefix we know, not /0. The analysis reads LEN bits. */
		len = json_object_get(prefix, "len");
		if (!json_is_integer(len) || json_integer_value(len) < 0 ||
		    json_integer_value(len) > max)
			return -EPROTO;
		p->len = (uint8_t)json_integer_value(len);
	}
	m->prefix_count++;
	return 0;
}

static int add_l4(struct fw_match *m, json_t *elem)
{
	if (json_is_string(elem))
		m->l4 |= l4_bit(json_string_value(elem));
	else if (json_is_integer(elem))
		m->l4 |= l4_bit_num(json_integer_value(elem));
	else
		return -EPROTO;
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

static struct fw_match *add_match(struct fw_rule *rule, enum fw_match_kind kind, int *err)
{
	struct fw_match *m = fw_rule_add_match(rule, kind);

	if (!m)
		*err = -ENOMEM;
	return m;
}

/* `fib daddr type local` (or saddr, with iif/oif): the address is this host's. */
static int parse_fib_local(json_t *fib, json_t *right, bool negate, struct fw_rule *rule)
{
	const char *result = json_string_value(json_object_get(fib, "result"));
	const char *type = json_string_value(right);
	json_t *flags = json_object_get(fib, "flags"), *f;
	enum fw_match_kind kind = FW_M_UNKNOWN;
	struct fw_match *m;
	size_t i;
	int err = 0;

	if (result && !strcmp(result, "type") && type && !strcmp(type, "local"))
		json_array_foreach(flags, i, f) {
			const char *name = json_string_value(f);

			if (name && !strcmp(name, "saddr"))
				kind = FW_M_SADDR_LOCAL;
			else if (name && !strcmp(name, "daddr"))
				kind = FW_M_DADDR_LOCAL;
		}
	m = add_match(rule, kind, &err);
	if (m && kind != FW_M_UNKNOWN)
		m->negate = negate;
	return m ? 0 : err;
}

/* Fills RULE's matches from one `match` expression; FW_M_UNKNOWN if not modelled. */
static int parse_match(const struct set_index *idx, const char *scope, json_t *match,
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
	int err = 0;

	if (ct && !(key && !strcmp(key, "state"))) {
		/* mark, status, count, direction, original/reply …: read from the entry */
		m = add_match(rule, key ? FW_M_CT_DERIVED : FW_M_UNKNOWN, &err);
		if (m && key)
			m->negate = negate;
		return err;
	}
	if (op && strcmp(op, "==") && strcmp(op, "!=") && strcmp(op, "in"))
		goto unknown;
	if (json_object_get(left, "fib"))
		return parse_fib_local(json_object_get(left, "fib"), right, negate, rule);
	if (proto && field) {
		bool l4hdr = !strcmp(proto, "tcp") || !strcmp(proto, "udp") || !strcmp(proto, "th");

		if (l4hdr && (!strcmp(field, "dport") || !strcmp(field, "sport"))) {
			if (strcmp(proto, "th")) {
				/* `tcp dport` also says "tcp" */
				m = add_match(rule, FW_M_L4, &err);
				if (!m)
					return err;
				m->l4 = l4_bit(proto);
			}
			kind = field[0] == 'd' ? FW_M_DPORT : FW_M_SPORT;
			fn = add_port;
		} else if ((!strcmp(proto, "ip") || !strcmp(proto, "ip6")) &&
			   (!strcmp(field, "saddr") || !strcmp(field, "daddr"))) {
			m = add_match(rule, FW_M_FAMILY, &err);
			if (!m)
				return err;
			m->family = proto[2] ? 6 : 4;
			kind = field[0] == 's' ? FW_M_SADDR : FW_M_DADDR;
			fn = add_prefix;
		} else if ((!strcmp(proto, "ip") && !strcmp(field, "protocol")) ||
			   (!strcmp(proto, "ip6") && !strcmp(field, "nexthdr"))) {
			kind = FW_M_L4;
			fn = add_l4;
		} else if (!strcmp(proto, "icmp") || !strcmp(proto, "icmpv6")) {
			m = add_match(rule, FW_M_L4, &err);
			if (!m)
				return err;
			m->l4 = l4_bit(proto);
			goto unknown; /* the type or code itself is not modelled */
		}
	} else if (key && meta) {
		const char *nfproto = json_string_value(right);

		if (!strcmp(key, "nfproto") && !negate && nfproto &&
		    (!strcmp(nfproto, "ipv4") || !strcmp(nfproto, "ipv6"))) {
			/* firewalld's `meta nfproto ipv4`: the rule's family */
			m = add_match(rule, FW_M_FAMILY, &err);
			if (m)
				m->family = nfproto[3] == '4' ? 4 : 6;
			return err;
		}
		if (!strcmp(key, "l4proto")) {
			kind = FW_M_L4;
			fn = add_l4;
		} else if (!strcmp(key, "iifname") || !strcmp(key, "oifname") ||
			   !strcmp(key, "iif") || !strcmp(key, "oif")) {
			const char *name = json_string_value(right);

			if (!name)
				goto unknown;
			m = add_match(rule, key[0] == 'i' ? FW_M_IIF : FW_M_OIF, &err);
			if (!m)
				return err;
			m->negate = negate;
			snprintf(m->ifname, sizeof(m->ifname), "%s", name);
			return 0;
		}
	} else if (key && ct) {
		kind = FW_M_CT_STATE;
		fn = add_ct_state;
	}
	if (!fn)
		goto unknown;
	m = add_match(rule, kind, &err);
	if (!m)
		return err;
	m->negate = negate;
	if (for_each_elem(idx, scope, right, m, fn)) {
		memset(m, 0, sizeof(*m));
		m->kind = FW_M_UNKNOWN;
	}
	return 0;
unknown:
	return add_match(rule, FW_M_UNKNOWN, &err) ? 0 : err;
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

/* A jump or goto: to a chain of this table, or somewhere we did not read. */
static void set_jump(const struct rule_ctx *ctx, struct fw_rule *rule, json_t *v, bool jump)
{
	const char *target = json_string_value(json_object_get(v, "target"));

	if (!target || !fw_ruleset_find(ctx->rs, ctx->chain, target))
		set_verdict(rule, FW_V_UNKNOWN, target);
	else
		set_verdict(rule, jump ? FW_V_JUMP : FW_V_GOTO, target);
}

/* A verdict object: {"accept": null}, {"jump": {"target": …}} …; -EPROTO if none. */
static int parse_verdict(const struct rule_ctx *ctx, json_t *v, struct fw_rule *rule)
{
	json_t *t;

	if (json_object_get(v, "accept"))
		set_verdict(rule, FW_V_ACCEPT, NULL);
	else if (json_object_get(v, "drop") || json_object_get(v, "reject"))
		set_verdict(rule, FW_V_DROP, NULL);
	else if (json_object_get(v, "return"))
		set_verdict(rule, FW_V_RETURN, NULL);
	else if ((t = json_object_get(v, "jump")))
		set_jump(ctx, rule, t, true);
	else if ((t = json_object_get(v, "goto")))
		set_jump(ctx, rule, t, false);
	else if (!json_object_get(v, "continue"))
		return -EPROTO;
	return 0;
}

/* An iptables extension compiled into nftables: its options are a blob we cannot read. */
static int parse_xt(json_t *xt, struct fw_rule *rule)
{
	const char *type = json_string_value(json_object_get(xt, "type"));
	const char *name = json_string_value(json_object_get(xt, "name"));

	if (!type || !name || strcmp(type, "target"))
		return fw_rule_add_match(rule, FW_M_UNKNOWN) ? 0 : -ENOMEM;
	if (!strcmp(name, "REJECT") || !strcmp(name, "DROP")) {
		set_verdict(rule, FW_V_DROP, NULL);
	} else if (!strcmp(name, "ACCEPT")) {
		set_verdict(rule, FW_V_ACCEPT, NULL);
	} else if (!strcmp(name, "RETURN")) {
		set_verdict(rule, FW_V_RETURN, NULL);
	} else if (!strcmp(name, "DNAT") || !strcmp(name, "SNAT") ||
		   !strcmp(name, "MASQUERADE") || !strcmp(name, "REDIRECT")) {
		if (rule->verdict == FW_V_CONTINUE) {
			rule->nat.kind = name[0] == 'D' ? FW_NAT_DNAT : name[0] == 'S' ? FW_NAT_SNAT
					 : name[0] == 'M' ? FW_NAT_MASQUERADE : FW_NAT_REDIRECT;
			rule->nat.understood = false;
		}
		set_verdict(rule, FW_V_NAT, name);
	} else if (!fw_target_continues(name)) {
		set_verdict(rule, FW_V_UNKNOWN, name);
	}
	return 0;
}

/* An address to translate to: "10.0.0.1", or {"range": [first, last]}. */
static int nat_addr(json_t *v, struct fw_prefix *p)
{
	json_t *range = json_object_get(v, "range");
	const char *text = json_string_value(range ? json_array_get(range, 0) : v);

	if (!text || (range && !json_is_string(json_array_get(range, 1))))
		return -EPROTO;
	memset(p, 0, sizeof(*p));
	p->family = strchr(text, ':') ? 6 : 4;
	p->len = p->family == 4 ? 32 : 128;
	return inet_pton(p->family == 4 ? AF_INET : AF_INET6, text, p->addr) == 1 ? 0 : -EPROTO;
}

/* dnat/snat/masquerade/redirect: {"addr": …, "port": …} or null. */
static void parse_nat(struct fw_rule *rule, const char *kind, json_t *v)
{
	struct fw_nat *nat = &rule->nat;
	const char *key;
	json_t *val;

	if (rule->verdict != FW_V_CONTINUE)
		return; /* a verdict before it: the translation never runs */
	set_verdict(rule, FW_V_NAT, kind);
	nat->kind = kind[0] == 'd' ? FW_NAT_DNAT : kind[0] == 's' ? FW_NAT_SNAT
		  : kind[0] == 'm' ? FW_NAT_MASQUERADE : FW_NAT_REDIRECT;
	nat->understood = json_is_null(v) || json_is_object(v);
	json_object_foreach(v, key, val) {
		if (!strcmp(key, "addr")) {
			/* a map (`dnat to ip daddr map …`) or a prefix: not one address */
			if (nat_addr(val, &nat->addr))
				nat->understood = false;
			else
				nat->addr_given = true;
		} else if (!strcmp(key, "port")) {
			if (port_range(val, &nat->ports))
				nat->understood = false;
			else
				nat->ports_given = true;
		} else if (strcmp(key, "family") && strcmp(key, "flags")) {
			nat->understood = false; /* type_flags (prefix …), or newer */
		}
	}
	if ((nat->kind == FW_NAT_DNAT || nat->kind == FW_NAT_SNAT) && !nat->addr_given)
		nat->understood = false;
}

/* Statements that never end evaluation nor filter: counters, logging, marks … */
static bool is_noop_statement(const char *key)
{
	static const char *const names[] = {
		"counter", "log", "mangle", "notrack", "dup", "set", "map", "meter",
		"ct helper", "ct timeout", "ct expectation", "secmark", "flow", "continue",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(key, names[i]))
			return true;
	return false;
}

/* One statement other than a verdict map. */
static int parse_statement(const struct rule_ctx *ctx, json_t *stmt, struct fw_rule *rule)
{
	static const char *const nat[] = { "dnat", "snat", "masquerade", "redirect" };
	const char *key;
	json_t *v;

	if ((v = json_object_get(stmt, "match")))
		return parse_match(ctx->idx, ctx->scope, v, rule);
	if ((v = json_object_get(stmt, "xt")))
		return parse_xt(v, rule);
	if (!parse_verdict(ctx, stmt, rule))
		return 0;
	for (size_t i = 0; i < sizeof(nat) / sizeof(nat[0]); i++)
		if ((v = json_object_get(stmt, nat[i]))) {
			parse_nat(rule, nat[i], v);
			return 0;
		}
	if ((v = json_object_get(stmt, "mangle"))) {
		json_t *ct = json_object_get(json_object_get(v, "key"), "ct");
		const char *what = json_string_value(json_object_get(ct, "key"));
		const char *name = json_string_value(json_object_get(v, "value"));

		if (what && name && !strcmp(what, "helper"))
			snprintf(rule->helper, sizeof(rule->helper), "%s", name);
		return 0;
	}
	if ((v = json_object_get(stmt, "ct helper"))) {
		/* `ct helper set "name"`: the name of a ct helper object of this table */
		if (json_string_value(v))
			snprintf(rule->helper, sizeof(rule->helper), "%s", json_string_value(v));
		return 0;
	}
	if (json_object_get(stmt, "ct count"))
		return fw_rule_add_match(rule, FW_M_CT_DERIVED) ? 0 : -ENOMEM;
	if (json_object_get(stmt, "limit") || json_object_get(stmt, "quota") ||
	    json_object_get(stmt, "last"))
		return fw_rule_add_match(rule, FW_M_UNKNOWN) ? 0 : -ENOMEM;
	if (json_object_size(stmt) == 1) {
		json_object_foreach(stmt, key, v)
			if (is_noop_statement(key))
				return 0;
	}
	/* queue, synproxy, tproxy, fwd, or one newer than this reader */
	set_verdict(rule, FW_V_UNKNOWN, NULL);
	return 0;
}

/* Moves RULE (and its matches) into the chain. */
static int emit(struct rule_ctx *ctx, struct fw_rule *rule)
{
	struct fw_rule *r = fw_chain_add_rule(ctx->chain);

	if (!r)
		return -ENOMEM;
	*r = *rule;
	rule->matches = NULL;
	rule->match_count = 0;
	ctx->emitted++;
	return 0;
}

static int clone_rule(const struct fw_rule *from, struct fw_rule *to)
{
	*to = *from;
	to->matches = NULL;
	if (from->match_count) {
		to->matches = malloc(from->match_count * sizeof(*to->matches));
		if (!to->matches)
			return -ENOMEM;
		memcpy(to->matches, from->matches, from->match_count * sizeof(*to->matches));
	}
	return 0;
}

/* BASE with a match that may or may not hold and a verdict that may be anything. */
static int emit_unknown(struct rule_ctx *ctx, const struct fw_rule *base)
{
	struct fw_rule r;
	int ret = clone_rule(base, &r);

	if (!ret && !fw_rule_add_match(&r, FW_M_UNKNOWN))
		ret = -ENOMEM;
	r.verdict = FW_V_UNKNOWN;
	r.target[0] = '\0';
	if (!ret)
		ret = emit(ctx, &r);
	free(r.matches);
	return ret;
}

/* The matches KEY == VAL add, for one element of a verdict map; -EPROTO if unreadable. */
static int add_key_matches(const struct rule_ctx *ctx, struct fw_rule *rule, json_t *key,
			   json_t *val)
{
	json_t *keys = json_object_get(key, "concat"), *vals, *match;
	size_t before = rule->match_count;
	int ret = 0;

	if (keys) {
		vals = json_object_get(val, "concat");
		if (!json_is_array(keys) || json_array_size(keys) != json_array_size(vals))
			return -EPROTO;
		for (size_t i = 0; i < json_array_size(keys) && !ret; i++)
			ret = add_key_matches(ctx, rule, json_array_get(keys, i),
					      json_array_get(vals, i));
		return ret;
	}
	/* "@x" in a map's key is a value, never a set to look up */
	if (!val || json_is_array(val) || json_object_get(val, "set") ||
	    (json_string_value(val) && json_string_value(val)[0] == '@'))
		return -EPROTO;
	match = json_pack("{s:s, s:O, s:O}", "op", "==", "left", key, "right", val);
	if (!match)
		return -ENOMEM;
	ret = parse_match(ctx->idx, ctx->scope, match, rule);
	json_decref(match);
	/* A ct-derived key (ct mark vmap …) is still a rule we can state. */
	for (size_t i = before; !ret && i < rule->match_count; i++)
		if (rule->matches[i].kind == FW_M_UNKNOWN)
			ret = -EPROTO;
	return ret;
}

static int parse_statements(struct rule_ctx *ctx, struct fw_rule *rule, json_t *expr,
			    size_t from);

/*
 * `KEY vmap { k1 : v1, … }` as one rule per element, in order: the rule's
 * earlier matches, KEY == k, the element's verdict. A packet matching no
 * element goes on through the rule's later statements: a last rule, BASE with
 * those statements, stands for it (and for elements that say `continue`).
 */
static int expand_vmap(struct rule_ctx *ctx, struct fw_rule *base, json_t *vmap, json_t *expr,
		       size_t next)
{
	json_t *key = json_object_get(vmap, "key"), *data = json_object_get(vmap, "data");
	json_t *elems = json_object_get(data, "set"), *e;
	const char *name = json_string_value(data);
	bool last_unknown = false;
	size_t i;
	int ret = 0;

	if (name && name[0] == '@') {
		char k[3 * FW_NAME_LEN];

		snprintf(k, sizeof(k), "%s %s", ctx->scope, name + 1);
		elems = json_object_get(ctx->idx->sets, k);
	}
	if (!key || !json_is_array(elems) || json_array_size(elems) > FW_MAX_VMAP_ELEMS ||
	    ctx->emitted + json_array_size(elems) > FW_MAX_VMAP_ELEMS)
		return emit_unknown(ctx, base);
	json_array_foreach(elems, i, e) {
		struct fw_rule r;

		if (clone_rule(base, &r))
			return -ENOMEM;
		ret = json_array_size(e) == 2 ? 0 : -EPROTO;
		if (!ret)
			ret = add_key_matches(ctx, &r, key, elem_value(json_array_get(e, 0)));
		if (ret == -EPROTO && json_array_size(e) == 2) {
			/* a key we cannot read (numgen, a hash): the element may or may
			 * not match, but where it leads (kube-proxy's endpoints) stays */
			free(r.matches);
			ret = clone_rule(base, &r) ? -ENOMEM : 0;
			if (!ret && !fw_rule_add_match(&r, FW_M_UNKNOWN))
				ret = -ENOMEM;
		}
		if (!ret && parse_verdict(ctx, json_array_get(e, 1), &r))
			ret = -EPROTO;
		if (ret == -EPROTO) {
			/* one unknown stands for a run of unreadable elements */
			ret = last_unknown ? 0 : emit_unknown(ctx, base);
			last_unknown = true;
		} else if (!ret && r.verdict != FW_V_CONTINUE) {
			ret = emit(ctx, &r);
			last_unknown = false;
		}
		free(r.matches);
		if (ret)
			return ret;
	}
	if (next < json_array_size(expr))
		return parse_statements(ctx, base, expr, next);
	return 0;
}

/* Reads EXPR[FROM…] into RULE and emits it (or what a verdict map makes of it). */
static int parse_statements(struct rule_ctx *ctx, struct fw_rule *rule, json_t *expr,
			    size_t from)
{
	for (size_t i = from; i < json_array_size(expr); i++) {
		json_t *stmt = json_array_get(expr, i), *vmap = json_object_get(stmt, "vmap");
		int ret;

		if (vmap && rule->verdict == FW_V_CONTINUE)
			return expand_vmap(ctx, rule, vmap, expr, i + 1);
		ret = vmap ? 0 : parse_statement(ctx, stmt, rule);
		if (ret)
			return ret;
	}
	return emit(ctx, rule);
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

static int add_chain(struct fw_ruleset *rs, json_t *obj, const char *family, const char *table)
{
	const char *name = json_string_value(json_object_get(obj, "name"));
	const char *type = json_string_value(json_object_get(obj, "type"));
	const char *policy = json_string_value(json_object_get(obj, "policy"));
	struct fw_chain *ch;

	if (!name) {
		fw_ruleset_add_unreadable(rs, "nftables table %s %s: a chain without a name",
					  family, table);
		return 0;
	}
	ch = fw_ruleset_add_chain(rs);
	if (!ch)
		return -ENOMEM;
	ch->source = FW_SRC_NFT;
	snprintf(ch->family, sizeof(ch->family), "%s", family);
	snprintf(ch->table, sizeof(ch->table), "%s", table);
	snprintf(ch->name, sizeof(ch->name), "%s", name);
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
	struct rule_ctx ctx = { .rs = rs, .idx = idx, .scope = scope };
	struct fw_rule rule = { 0 };
	int ret;

	if (!family || !table || !chain) {
		fw_ruleset_add_unreadable(rs, "nftables: a rule without its family, table or chain");
		return 0;
	}
	snprintf(probe.family, sizeof(probe.family), "%s", family);
	snprintf(probe.table, sizeof(probe.table), "%s", table);
	ctx.chain = (struct fw_chain *)fw_ruleset_find(rs, &probe, chain);
	if (!ctx.chain)
		return 0; /* its table was skipped */
	rule.handle = (uint64_t)json_integer_value(json_object_get(obj, "handle"));
	snprintf(rule.text, sizeof(rule.text), "handle %llu", (unsigned long long)rule.handle);
	snprintf(scope, sizeof(scope), "%s %s", family, table);
	ret = parse_statements(&ctx, &rule, json_object_get(obj, "expr"), 0);
	free(rule.matches);
	return ret;
}

int fw_parse_nft_json(struct fw_ruleset *rs, const char *text, const char *const *skip,
		      size_t skip_count)
{
	json_error_t jerr;
	json_t *root = json_loads(text, 0, &jerr), *items, *item, *obj;
	struct set_index idx = { .sets = json_object() };
	size_t i;
	int ret = 0;

	if (!root || !idx.sets || !json_is_array(items = json_object_get(root, "nftables"))) {
		json_decref(idx.sets);
		json_decref(root);
		return -EPROTO;
	}
	/* Sets, maps and chains first: rules refer to them. */
	json_array_foreach(items, i, item) {
		const char *family, *table, *name;

		obj = json_object_get(item, "set");
		if (!obj)
			obj = json_object_get(item, "map");
		if (!obj)
			obj = json_object_get(item, "chain");
		if (!obj)
			continue;
		family = json_string_value(json_object_get(obj, "family"));
		table = json_string_value(json_object_get(obj, "table"));
		if (!family || !table) {
			fw_ruleset_add_unreadable(rs, "nftables: an object without its table");
			continue;
		}
		if (skipped(family, table, skip, skip_count))
			continue;
		if (json_object_get(item, "chain")) {
			ret = add_chain(rs, obj, family, table);
			if (ret)
				break;
			continue;
		}
		name = json_string_value(json_object_get(obj, "name"));
		if (name) {
			json_t *elems = json_object_get(obj, "elem");
			char key[3 * FW_NAME_LEN];

			snprintf(key, sizeof(key), "%s %s %s", family, table, name);
			/* no elements: an empty set, which a rule can still name */
			if (elems)
				json_object_set(idx.sets, key, elems);
			else
				json_object_set_new(idx.sets, key, json_array());
		}
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
