/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Asks a firewall model how a packet fares. Matches we cannot decide (an
 * interface, an unknown module, an address we do not know) are unknowns; the
 * search tries both outcomes of each, the same for every packet compared, so a
 * finding means: some plausible packet is accepted today and dropped once
 * untracked.
 */
#ifndef CTB_FIREWALL_EVAL_H
#define CTB_FIREWALL_EVAL_H

#include "firewall_model.h"

struct fw_probe {
	int family; /* 4 or 6 */
	unsigned int l4; /* one FW_L4_* bit */
	uint16_t sport, dport; /* 0: unknown */
	bool saddr_known, daddr_known;
	uint8_t saddr[16], daddr[16];
	unsigned int ct_state; /* one FW_CT_* bit */
	/* The packet crosses loopback (an address of 127.0.0.0/8 or ::1): `iif lo`
	 * matches it and no other interface does. Else loopback is ruled out, the
	 * classifier's interfaces being the only way in. */
	bool loopback;
	/* The unknown address is outside 127.0.0.0/8 and ::1: a remote peer of a
	 * non-loopback address (the kernel drops martians from outside). */
	bool unknown_not_loopback;
	/* Is the address one of this host's (addrtype LOCAL, fib type local)?
	 * 1 yes, -1 no, 0 unknown. */
	signed char saddr_local, daddr_local;
};

/*
 * Evaluation steps (rules evaluated) the whole analysis may spend. Counted in
 * steps, not seconds, so a ruleset gets the same verdict on a busy machine as
 * on an idle one; once spent, every further question is TOO_COMPLEX.
 */
struct fw_budget {
	long steps;
};

#define FW_BUDGET_DEFAULT 20000000L

/* Where a packet's fate was decided: RULE NULL means the chain's policy. */
struct fw_hit {
	const struct fw_chain *chain;
	const struct fw_rule *rule;
	enum fw_verdict verdict;
};

enum fw_answer { FW_ANSWER_NO, FW_ANSWER_YES, FW_ANSWER_TOO_COMPLEX };

/*
 * Can the unknowns fall so that BASE accepts every BEFORE probe but drops AFTER?
 * On YES, *accepted is where BEFORE[BEFORE_COUNT - 1] was accepted and *dropped
 * where AFTER was dropped.
 */
enum fw_answer fw_find_breakage(const struct fw_ruleset *rs, const struct fw_chain *base,
				const struct fw_probe *before, size_t before_count,
				const struct fw_probe *after, struct fw_budget *budget,
				struct fw_hit *accepted, struct fw_hit *dropped);

/*
 * A breakage the caller can live with (a drop that only peers no real host
 * has would meet): return true to note it and have the search go on for
 * another, so one tolerable drop never hides an intolerable one behind it.
 */
typedef bool (*fw_tolerate_fn)(const struct fw_hit *accepted, const struct fw_hit *dropped,
			       void *ctx);

/* fw_find_breakage, handing each breakage to TOLERATE first (may be NULL). */
enum fw_answer fw_find_breakage_tolerating(const struct fw_ruleset *rs,
					   const struct fw_chain *base,
					   const struct fw_probe *before, size_t before_count,
					   const struct fw_probe *after, struct fw_budget *budget,
					   fw_tolerate_fn tolerate, void *ctx,
					   struct fw_hit *accepted, struct fw_hit *dropped);

/* Can PROBE reach a NAT rule of BASE? On YES, *nat is that rule. */
enum fw_answer fw_find_nat(const struct fw_ruleset *rs, const struct fw_chain *base,
			   const struct fw_probe *probe, struct fw_budget *budget,
			   struct fw_hit *nat);

#endif
