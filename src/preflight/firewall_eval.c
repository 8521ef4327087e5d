// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include "firewall_eval.h"

#define MAX_ASSUMPTIONS 24
#define MAX_DEPTH 16
/* One question may spend this much of the budget, so that one hard chain
 * leaves steps for the others. */
#define QUESTION_STEPS 2000000L

enum tri { NO, YES, MAYBE };

/*
 * How an unknown fell: for a rule with a known verdict, whether it matched
 * (CHOSE_NO or CHOSE_YES); for a rule whose verdict is unknown, what it did
 * (CHOSE_NO: let the packet go on, CHOSE_ACCEPT, CHOSE_DROP).
 */
enum choice { CHOSE_NO, CHOSE_YES, CHOSE_ACCEPT = CHOSE_YES, CHOSE_DROP };

struct assumptions {
	const struct fw_rule *rule[MAX_ASSUMPTIONS];
	enum choice chose[MAX_ASSUMPTIONS];
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

static bool within_loopback(const struct fw_prefix *p)
{
	static const uint8_t v6_loopback[16] = { [15] = 1 };

	if (p->family == 4)
		return p->len >= 8 && p->addr[0] == 127;
	return p->len == 128 && !memcmp(p->addr, v6_loopback, 16);
}

/* An unknown address outside loopback is in no loopback prefix. */
static enum tri unknown_addr_in(const struct fw_match *m, const struct fw_probe *p)
{
	if (!p->unknown_not_loopback)
		return MAYBE;
	for (size_t i = 0; i < m->prefix_count; i++)
		if (!within_loopback(&m->prefixes[i]))
			return MAYBE;
	return NO;
}

static enum tri addr_in(const struct fw_match *m, const struct fw_probe *p, bool known,
			const uint8_t *addr)
{
	int family = p->family;

	if (!known)
		return unknown_addr_in(m, p);
	for (size_t i = 0; i < m->prefix_count; i++)
		if (prefix_covers(&m->prefixes[i], family, addr))
			return YES;
	return NO;
}

static bool tracked(const struct fw_probe *p)
{
	return p->ct_state & (FW_CT_NEW | FW_CT_ESTABLISHED | FW_CT_RELATED);
}

/* DNAT/SNAT states hold only for some tracked packets: those translated. */
static enum tri ct_state_in(const struct fw_match *m, const struct fw_probe *p)
{
	if (m->ct_states & p->ct_state)
		return YES;
	if (m->ct_states & (FW_CT_DNAT | FW_CT_SNAT) && tracked(p))
		return MAYBE;
	return NO;
}

static enum tri iface_is(const struct fw_match *m, const struct fw_probe *p)
{
	bool lo = !strcmp(m->ifname, "lo");

	if (p->loopback)
		return lo ? YES : NO;
	/* Bypassed traffic never crosses loopback on the classifier's side. */
	return lo ? NO : MAYBE;
}

static enum tri local_is(signed char local)
{
	return local > 0 ? YES : local < 0 ? NO : MAYBE;
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
		return negate(addr_in(m, p, p->saddr_known, p->saddr), m->negate);
	case FW_M_DADDR:
		return negate(addr_in(m, p, p->daddr_known, p->daddr), m->negate);
	case FW_M_CT_STATE:
		return negate(ct_state_in(m, p), m->negate);
	case FW_M_CT_DERIVED:
		/* An untracked packet has no entry to read: the match is false. */
		return negate(tracked(p) ? MAYBE : NO, m->negate);
	case FW_M_IIF:
	case FW_M_OIF:
		return negate(iface_is(m, p), m->negate);
	case FW_M_SADDR_LOCAL:
		return negate(local_is(p->saddr_local), m->negate);
	case FW_M_DADDR_LOCAL:
		return negate(local_is(p->daddr_local), m->negate);
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

/*
 * Runs PROBE through BASE. Returns 0 with *hit, 1 with *need: an unknown to
 * assume, or -1 when the budget is spent.
 */
static int run_chain(const struct fw_ruleset *rs, const struct fw_chain *base,
		     const struct fw_probe *p, const struct assumptions *a,
		     struct fw_budget *budget, struct fw_hit *hit, const struct fw_rule **need)
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
		if (--budget->steps < 0)
			return -1;
		t = rule_eval(rule, p);
		enum fw_verdict verdict = rule->verdict;

		/* An unknown verdict is an unknown too, even when the matches hold. */
		if (t == MAYBE || (t == YES && verdict == FW_V_UNKNOWN)) {
			size_t i;

			for (i = 0; i < a->count && a->rule[i] != rule; i++)
				;
			if (i == a->count) {
				*need = rule;
				return 1;
			}
			t = a->chose[i] == CHOSE_NO ? NO : YES;
			if (verdict == FW_V_UNKNOWN)
				verdict = a->chose[i] == CHOSE_DROP ? FW_V_DROP : FW_V_ACCEPT;
		}
		if (t == NO)
			continue;
		switch (verdict) {
		case FW_V_ACCEPT:
		case FW_V_DROP:
		case FW_V_NAT:
			*hit = (struct fw_hit){ cur, rule, verdict };
			return 0;
		case FW_V_RETURN:
			pos = cur->rule_count; /* leave this chain */
			break;
		case FW_V_JUMP:
		case FW_V_GOTO: {
			const struct fw_chain *next = fw_ruleset_find(rs, cur, rule->target);

			if (!next || (rule->verdict == FW_V_JUMP && depth == MAX_DEPTH))
				break; /* readers make unknown targets FW_V_UNKNOWN */
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
	struct fw_budget *budget;
	fw_tolerate_fn tolerate;
	void *ctx;
	struct fw_hit first, second;
};

static enum fw_answer search(struct search *s, struct assumptions *a);

/* Runs the search on a share of BUDGET, then charges what it spent. */
static enum fw_answer search_within(struct search *s, struct fw_budget *budget)
{
	struct assumptions a = { .count = 0 };
	struct fw_budget share = { budget->steps < QUESTION_STEPS ? budget->steps
								   : QUESTION_STEPS };
	long granted = share.steps;
	enum fw_answer ans;

	if (granted <= 0)
		return FW_ANSWER_TOO_COMPLEX;
	s->budget = &share;
	ans = search(s, &a);
	budget->steps -= granted - (share.steps > 0 ? share.steps : 0);
	return ans;
}

static enum fw_answer branch(struct search *s, struct assumptions *a, const struct fw_rule *need)
{
	int last = need->verdict == FW_V_UNKNOWN ? CHOSE_DROP : CHOSE_YES;
	enum fw_answer ans;

	if (a->count == MAX_ASSUMPTIONS)
		return FW_ANSWER_TOO_COMPLEX;
	a->rule[a->count] = need;
	for (int v = last; v >= CHOSE_NO; v--) {
		a->chose[a->count] = (enum choice)v;
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
	int ret;

	for (size_t i = 0; i < s->before_count; i++) {
		ret = run_chain(s->rs, s->base, &s->before[i], a, s->budget, &hit, &need);
		if (ret < 0)
			return FW_ANSWER_TOO_COMPLEX;
		if (ret)
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
	ret = run_chain(s->rs, s->base, s->after, a, s->budget, &hit, &need);
	if (ret < 0)
		return FW_ANSWER_TOO_COMPLEX;
	if (ret)
		return branch(s, a, need);
	if (hit.verdict != FW_V_DROP)
		return FW_ANSWER_NO;
	s->second = hit;
	if (s->tolerate && s->tolerate(&s->first, &s->second, s->ctx))
		return FW_ANSWER_NO; /* noted: look on, under other assumptions */
	return FW_ANSWER_YES;
}

enum fw_answer fw_find_breakage(const struct fw_ruleset *rs, const struct fw_chain *base,
				const struct fw_probe *before, size_t before_count,
				const struct fw_probe *after, struct fw_budget *budget,
				struct fw_hit *accepted, struct fw_hit *dropped)
{
	return fw_find_breakage_tolerating(rs, base, before, before_count, after, budget, NULL,
					   NULL, accepted, dropped);
}

enum fw_answer fw_find_breakage_tolerating(const struct fw_ruleset *rs,
					   const struct fw_chain *base,
					   const struct fw_probe *before, size_t before_count,
					   const struct fw_probe *after, struct fw_budget *budget,
					   fw_tolerate_fn tolerate, void *ctx,
					   struct fw_hit *accepted, struct fw_hit *dropped)
{
	struct search s = { rs, base, before, before_count, after, NULL, tolerate, ctx };
	enum fw_answer ans = search_within(&s, budget);

	if (ans == FW_ANSWER_YES) {
		*accepted = s.first;
		*dropped = s.second;
	}
	return ans;
}

enum fw_answer fw_find_nat(const struct fw_ruleset *rs, const struct fw_chain *base,
			   const struct fw_probe *probe, struct fw_budget *budget,
			   struct fw_hit *nat)
{
	struct search s = { rs, base, probe, 1, NULL, NULL, NULL, NULL };
	enum fw_answer ans = search_within(&s, budget);

	if (ans == FW_ANSWER_YES)
		*nat = s.first;
	return ans;
}
