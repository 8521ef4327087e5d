/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Deletes the conntrack entries of traffic a configuration bypasses. They
 * would otherwise keep the table full until they time out (TIME_WAIT 2 minutes,
 * ESTABLISHED 5 days), which during an outage is the problem itself. Only
 * those: which entries that is, is ctb_flush_scope_match's (ct_flush_match.h).
 */
#ifndef CTB_CT_FLUSH_H
#define CTB_CT_FLUSH_H

#include "config.h"

/*
 * Deletes matching entries of the current namespace; *deleted counts them.
 * Entries already gone when their delete arrives are not an error.
 */
int ctb_ct_flush(const struct ctb_config *cfg, unsigned long *deleted);

#endif
