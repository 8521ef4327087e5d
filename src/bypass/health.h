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

/* What a problem is about: the `kind` label of the ctbypass_problems metric. */
enum ctb_problem_kind {
	CTB_PROBLEM_CLEANUP_PENDING,
	CTB_PROBLEM_TABLE_MISSING,
	CTB_PROBLEM_RULES_MISSING,
	CTB_PROBLEM_DUPLICATE_CLASSIFIERS,
	CTB_PROBLEM_BACKSTOP,
	CTB_PROBLEM_MARK_TRANSITION,
	CTB_PROBLEM_UNCOVERED_INTERFACES,
	CTB_PROBLEM_MAPS_UNREADABLE,
	CTB_PROBLEM_MIXED_PROGRAMS,
	CTB_PROBLEM_MAPS_DISAGREE,
	CTB_PROBLEM_PREFLIGHT,
	CTB_PROBLEM_FOREIGN_AHEAD,
	CTB_PROBLEM_KINDS,
};

/* The label value of each kind: lower case, stable across versions. */
extern const char *const ctb_problem_kind_names[CTB_PROBLEM_KINDS];

struct ctb_health {
	char **problems; /* one line each, for people and for JSON */
	enum ctb_problem_kind *kinds;
	/* Per problem: true when applying the configuration again cannot fix it
	 * (the backstop's recent rate): reported, never a reason to repair. */
	bool *advisory;
	size_t count;
	size_t uncovered; /* interfaces that should carry the classifier and do not */
	bool changing; /* another command holds the lock right now */
	struct ctb_lock_holder holder; /* who, when changing */
};

/* Checks ATT (found in the current namespace). Nothing is attached: no problems. */
int ctb_health_check(const struct ctb_attachment *att, struct ctb_health *out);
/* The same, by the holder of the namespace's lock: nothing is in motion but us. */
int ctb_health_check_locked(const struct ctb_attachment *att, struct ctb_health *out);
void ctb_health_free(struct ctb_health *h);

/* Adds one problem line (printf-style); -ENOMEM. For checks made elsewhere (the preflight). */
int ctb_health_add(struct ctb_health *h, enum ctb_problem_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Problems applying the configuration again would fix. */
size_t ctb_health_repairable(const struct ctb_health *h);

/* After a change: the backstop count from which the next status measures a rate. */
void ctb_health_baseline(const struct ctb_attachment *att);

#endif
