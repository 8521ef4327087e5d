/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Whether what the kernel holds still does what ctbypass meant: every
 * interface that should carry the classifier does, once; the classifier's
 * maps and the nftables sets agree; the table is there; nothing an
 * interrupted command left is pending. `status` reports it, and `attach`
 * again heals every problem listed here.
 */
#ifndef CTB_HEALTH_H
#define CTB_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include "attachment.h"
#include "lock.h"

struct ctb_health {
	char **problems; /* one line each, for people and for JSON */
	/* Per problem: true when applying the configuration again cannot fix it
	 * (the backstop's recent rate): reported, never a reason to repair. */
	bool *advisory;
	size_t count;
	bool changing; /* another command holds the lock right now */
	struct ctb_lock_holder holder; /* who, when changing */
};

/* Checks ATT (found in the current namespace). Nothing is attached: no problems. */
int ctb_health_check(const struct ctb_attachment *att, struct ctb_health *out);
/* The same, by the holder of the namespace's lock: nothing is in motion but us. */
int ctb_health_check_locked(const struct ctb_attachment *att, struct ctb_health *out);
void ctb_health_free(struct ctb_health *h);

/* Adds one problem line (printf-style); -ENOMEM. For checks made elsewhere (the preflight). */
int ctb_health_add(struct ctb_health *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Problems applying the configuration again would fix. */
size_t ctb_health_repairable(const struct ctb_health *h);

/* After a change: the backstop count from which the next status measures a rate. */
void ctb_health_baseline(const struct ctb_attachment *att);

#endif
