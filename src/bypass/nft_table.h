/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The `inet ctbypass` nftables table: raw-priority prerouting (NOTRACK what the
 * classifier marked) and output (NOTRACK what this host sends as a server or to
 * an upstream, and loopback arrivals). Its sets and its prerouting rule's
 * comment hold the configuration, so any later process can read it back.
 */
#ifndef CTB_NFT_TABLE_H
#define CTB_NFT_TABLE_H

#include <linux/types.h>
#include <stdbool.h>
#include "config.h"
#include "ctbypass.h"
#include "ifaces.h"

#define CTB_NFT_TABLE "ctbypass"

struct ctb_nft_state {
	bool present; /* the table exists */
	struct ctb_config cfg; /* read back from sets and the rule comment */
	struct ctb_counter arrivals; /* the prerouting NOTRACK rule */
	struct ctb_counter departures; /* output rules, all sets */
	struct ctb_counter loopback; /* loopback rules, all sets */
	bool in_transition; /* a second mark rule was left by an interrupted run */
	__u32 transition_mark; /* its mark (0 when written by a version that did not say) */
	bool has_backstop; /* written by a version with the backstop chain */
	bool complete; /* every fixed rule is there (none deleted by hand, not an old layout) */
	bool backstop_jump;
	unsigned int rules_output, rules_loopback, rules_backstop;
	bool saw_config; /* the prerouting rule's comment was read */
	struct ctb_counter backstop; /* arrivals the classifier missed, untracked anyway */
	struct ctb_iface_list classified; /* set `classified`: ifindex only */
};

/* Reads the table. *state->present is false when there is none. */
int ctb_nft_read(struct ctb_nft_state *state, char *err, size_t errlen);
void ctb_nft_state_free(struct ctb_nft_state *state);

/*
 * One transaction of a change. A change has two, so that the sets always hold
 * at least what the classifier marks (reconcile.c explains the order): GROW
 * adds what WANT has and HAVE lacks, SHRINK deletes what HAVE has and WANT
 * lacks. Set elements in both are never touched. Both rewrite the prerouting
 * chain for WANT's mark; GROW with EXTRA_MARK also NOTRACKs that mark (the
 * previous classifier's, while a new one replaces it).
 */
struct ctb_nft_step {
	const struct ctb_config *want;
	const struct ctb_config *have; /* NULL: no table yet, create it */
	bool grow;
	bool upgrade; /* HAVE lacks some fixed rules (older version, deleted by hand): rewrite them */
	/* Also NOTRACK these marks while the classifiers that set them may run
	 * (the previous one's, and one an interrupted change left); 0: none. */
	__u32 extra_marks[2];
	/* Interfaces whose marks the prerouting rule trusts (set `classified`). */
	const struct ctb_iface_list *classified_want, *classified_have;
};

int ctb_nft_apply(const struct ctb_nft_step *step, char *err, size_t errlen);

/* The script ctb_nft_apply would run, for --dry-run. Caller frees. */
char *ctb_nft_render(const struct ctb_nft_step *step);

/* Deletes the table; 0 if it was not there. */
int ctb_nft_delete(char *err, size_t errlen);

#endif
