/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the guard may bypass and what it picks. A candidate (doctor's: a
 * server port or an upstream, with the entries it holds) is allowed when the
 * allowlist names it, the deny list does not, it is of the daemon's
 * protocols and not bypassed already; the preflight's verdict is the
 * caller's. Of the allowed ones with a clean preflight, the guard takes the
 * most entries first until the table, once their entries are flushed, would
 * be below the release level (at least one). Pure: unit-tested.
 */
#ifndef CTB_GUARD_PICK_H
#define CTB_GUARD_PICK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "doctor_candidates.h"
#include "guard_settings.h"

/*
 * Whether G allows CAND with the daemon bypassing BYPASSED (its protocols,
 * and what is bypassed already). When not, WHY says why ("denied",
 * "not in guard-ports", ...).
 */
bool ctb_guard_allows(const struct ctb_guard_settings *g, const struct ctb_config *bypassed,
		      const struct ctb_doctor_cand *cand, char *why, size_t whylen);

/* BYPASSED already covers CAND: its traffic is untracked, there is nothing to add. */
bool ctb_guard_covered(const struct ctb_config *bypassed, const struct ctb_doctor_cand *cand);

/*
 * CANDS ranked most entries first; OK[i]: allowed and the preflight is clean.
 * Writes the indices picked into PICKED (room for N) and returns how many:
 * none when no candidate with entries is OK.
 */
size_t ctb_guard_choose(const struct ctb_doctor_cand *cands, const bool *ok, size_t n,
			uint64_t entries, uint64_t max, double release_fill, size_t *picked);

/* "tcp/80" or "tcp/198.18.0.2:3128": how logs, status and the record name it. */
void ctb_guard_cand_name(const struct ctb_doctor_cand *cand, char *buf, size_t len);

#endif
