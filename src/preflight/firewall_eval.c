// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include "firewall_eval.h"

#define MAX_ASSUMPTIONS 24
#define MAX_DEPTH 16
#define SEARCH_BUDGET 20000

enum tri { NO, YES, MAYBE };

struct assumptions {
	const struct fw_rule *rule[MAX_ASSUMPTIONS];
	bool matches[MAX_ASSUMPTIONS];
	size_t count;
};

static enum tri negate(enum tri t, bool neg)
{
	if (!neg || t == MAYBE)
		return t;
	return t == YES ? NO : YES;
}

static bool prefix_covers(const struct fw_prefix *p, int family, const uint8_t *addr)
{
	if (p->family != family)
		return false;
	for (int i = 0; i < p->len; i++) {
		uint8_t bit = 0x80 >> (i % 8);

		if ((addr[i / 8] & bit) != (p->addr[i / 8] & bit))
			return false;
	}
	return true;
}

static enum tri port_in(const struct fw_match *m, uint16_t port)
{
	if (!port)
		return MAYBE;
	for (size_t i = 0; i < m->port_count; i++)
		if (port >= m->ports[i].lo && port <= m->ports[i].hi)
			return YES;
	return NO;
}

static enum tri addr_in(const struct fw_match *m, int family, bool known, const uint8_t *addr)
{
	if (!known)
		return MAYBE;
	for (size_t i = 0; i < m->prefix_count; i++)
		if (prefix_covers(&m->prefixes[i], family, addr))
			return YES;
	return NO;
}

static enum tri match_eval(const struct fw_match *m, const struct fw_probe *p)
{
	switch (m->kind) {
	case FW_M_L4:
		return negate(m->l4 & p->l4 ? YES : NO, m->negate);
	case FW_M_DPORT:
		return negate(port_in(m, p->dport), m->negate);
	case FW_M_SPORT:
		return negate(port_in(m, p->sport), m->negate);
	case FW_M_SADDR:
		return negate(addr_in(m, p->family, p->saddr_known, p->saddr), m->negate);
	case FW_M_DADDR:
		return negate(addr_in(m, p->family, p->daddr_known, p->daddr), m->negate);
	case FW_M_CT_STATE:
		return negate(m->ct_states & p->ct_state ? YES : NO, m->negate);
	case FW_M_IIF:
	case FW_M_OIF:
		/* Bypassed traffic never crosses loopback on the classifier's side. */
		return negate(!strcmp(m->ifname, "lo") ? NO : MAYBE, m->negate);
	case FW_M_FAMILY:
		return negate(m->family == p->family ? YES : NO, m->negate);
	default:
		return MAYBE;
	}
}

static enum tri rule_eval(const struct fw_rule *rule, const struct fw_probe *p)
{
	enum tri all = YES;

	for (size_t i = 0; i < rule->match_count; i++) {
		enum tri t = match_eval(&rule->matches[i], p);

		if (t == NO)
			return NO;
		if (t == MAYBE)
			all = MAYBE;
	}
	return all;
}

/* Runs PROBE through BASE. Returns 0 with *hit, or 1 with *need: an unknown to assume. */
static int run_chain(const struct fw_ruleset *rs, const struct fw_chain *base,
		     const struct fw_probe *p, const struct assumptions *a, struct fw_hit *hit,
		     const struct fw_rule **need)
{
	struct {
		const struct fw_chain *chain;
		size_t pos;
	} stack[MAX_DEPTH];
	const struct fw_chain *cur = base;
	size_t pos = 0, depth = 0;

	for (;;) {
		const struct fw_rule *rule;
		enum tri t;

		if (pos >= cur->rule_count) {
			if (!depth)
				break; /* off the end of the base chain: its policy */
			depth--;
			cur = stack[depth].chain;
			pos = stack[depth].pos;
			continue;
		}
		rule = &cur->rules[pos++];
		t = rule_eval(rule, p);
		if (t == MAYBE) {
			size_t i;

			for (i = 0; i < a->count && a->rule[i] != rule; i++)
				;
			if (i == a->count) {
				*need = rule;
				return 1;
			}
			t = a->matches[i] ? YES : NO;
		}
		if (t == NO)
			continue;
		switch (rule->verdict) {
		case FW_V_ACCEPT:
		case FW_V_DROP:
		case FW_V_NAT:
			*hit = (struct fw_hit){ cur, rule, rule->verdict };
			return 0;
		case FW_V_RETURN:
			pos = cur->rule_count; /* leave this chain */
			break;
		case FW_V_JUMP:
		case FW_V_GOTO: {
			const struct fw_chain *next = fw_ruleset_find(rs, cur, rule->target);

			if (!next || (rule->verdict == FW_V_JUMP && depth == MAX_DEPTH))
				break; /* unknown target: as if the rule did nothing */
			if (rule->verdict == FW_V_JUMP) {
				stack[depth].chain = cur;
				stack[depth].pos = pos;
				depth++;
			}
			cur = next;
			pos = 0;
			break;
		}
		default:
			break;
		}
	}
	*hit = (struct fw_hit){ base, NULL, base->policy_drop ? FW_V_DROP : FW_V_ACCEPT };
	return 0;
}

struct search {
	const struct fw_ruleset *rs;
	const struct fw_chain *base;
	const struct fw_probe *before;
	size_t before_count;
	const struct fw_probe *after; /* NULL: looking for NAT */
	int budget;
	struct fw_hit first, second;
};

static enum fw_answer search(struct search *s, struct assumptions *a);

static enum fw_answer branch(struct search *s, struct assumptions *a, const struct fw_rule *need)
{
	enum fw_answer ans;

	if (a->count == MAX_ASSUMPTIONS)
		return FW_ANSWER_TOO_COMPLEX;
	a->rule[a->count] = need;
	for (int v = 1; v >= 0; v--) {
		a->matches[a->count] = v;
		a->count++;
		ans = search(s, a);
		a->count--;
		if (ans != FW_ANSWER_NO)
			return ans;
	}
	return FW_ANSWER_NO;
}

static enum fw_answer search(struct search *s, struct assumptions *a)
{
	const struct fw_rule *need;
	struct fw_hit hit;

	if (--s->budget < 0)
		return FW_ANSWER_TOO_COMPLEX;
	for (size_t i = 0; i < s->before_count; i++) {
		if (run_chain(s->rs, s->base, &s->before[i], a, &hit, &need))
			return branch(s, a, need);
		if (!s->after && hit.verdict == FW_V_NAT) {
			s->first = hit;
			return FW_ANSWER_YES;
		}
		if (s->after && hit.verdict != FW_V_ACCEPT)
			return FW_ANSWER_NO; /* dropped today already: nothing to break */
		s->first = hit;
	}
	if (!s->after)
		return FW_ANSWER_NO;
	if (run_chain(s->rs, s->base, s->after, a, &hit, &need))
		return branch(s, a, need);
	if (hit.verdict != FW_V_DROP)
		return FW_ANSWER_NO;
	s->second = hit;
	return FW_ANSWER_YES;
}

enum fw_answer fw_find_breakage(const struct fw_ruleset *rs, const struct fw_chain *base,
				const struct fw_probe *before, size_t before_count,
				const struct fw_probe *after, struct fw_hit *accepted,
				struct fw_hit *dropped)
{
	struct search s = { rs, base, before, before_count, after, SEARCH_BUDGET };
	struct assumptions a = { .count = 0 };
	enum fw_answer ans = search(&s, &a);

	if (ans == FW_ANSWER_YES) {
		*accepted = s.first;
		*dropped = s.second;
	}
	return ans;
}

enum fw_answer fw_find_nat(const struct fw_ruleset *rs, const struct fw_chain *base,
			   const struct fw_probe *probe, struct fw_hit *nat)
{
	struct search s = { rs, base, probe, 1, NULL, SEARCH_BUDGET };
	struct assumptions a = { .count = 0 };
	enum fw_answer ans = search(&s, &a);

	if (ans == FW_ANSWER_YES)
		*nat = s.first;
	return ans;
}
