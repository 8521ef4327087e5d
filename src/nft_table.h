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

#define CTB_NFT_TABLE "ctbypass"

struct ctb_nft_state {
	bool present; /* the table exists */
	struct ctb_config cfg; /* read back from sets and the rule comment */
	struct ctb_counter arrivals; /* the prerouting NOTRACK rule */
	struct ctb_counter departures; /* output rules, all sets */
	struct ctb_counter loopback; /* loopback rules, all sets */
	bool in_transition; /* a second mark rule was left by an interrupted run */
};

/* Reads the table. *state->present is false when there is none. */
int ctb_nft_read(struct ctb_nft_state *state, char *err, size_t errlen);
void ctb_nft_state_free(struct ctb_nft_state *state);

/*
 * Makes the table hold CFG in one transaction. CUR is what it holds now (NULL:
 * no table yet, create it); set elements in both are left untouched. With
 * EXTRA_MARK non-zero, also NOTRACKs packets carrying that mark (the previous
 * classifier's, while a new one replaces it).
 */
int ctb_nft_apply(const struct ctb_config *cfg, const struct ctb_config *cur, __u32 extra_mark,
		  char *err, size_t errlen);

/* The script ctb_nft_apply would run, for --dry-run. Caller frees. */
char *ctb_nft_render(const struct ctb_config *cfg, const struct ctb_config *cur,
		     __u32 extra_mark);

/* Deletes the table; 0 if it was not there. */
int ctb_nft_delete(char *err, size_t errlen);

#endif
