/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Crash safety for the one change the kernel cannot find again by itself: a
 * clsact qdisc ctbypass creates has no owner mark until our filter is on it,
 * and it is bare again between removing our filter and removing the qdisc. A
 * command killed in either gap would leave an empty clsact that nothing names
 * as ours. So before either step it writes the interface to
 * /run/ctbypass/netns-<inode>.intent; the next command that takes the lock
 * removes every such qdisc that is still empty, then clears the log. A qdisc
 * ctbypass did not create is never written there, so it is never removed.
 */
#ifndef CTB_INTENT_LOG_H
#define CTB_INTENT_LOG_H

#include <stddef.h>

/* Records that the clsact qdisc of IFINDEX may be ours and bare. Call under the lock. */
int ctb_intent_note_qdisc(int ifindex);

/*
 * Under the lock, before anything else: removes the qdiscs an interrupted
 * command left bare, and clears the log. *REMOVED counts them.
 */
int ctb_intent_recover(unsigned int *removed);

/* Forgets every entry; ctb_intent_recover calls it once all are resolved. */
void ctb_intent_clear(void);

/* For status: the interfaces an interrupted command left pending; caller frees. */
int ctb_intent_pending(int **ifindexes, size_t *count);

#endif
