/* SPDX-License-Identifier: GPL-2.0 */
/*
 * When the guard acts and when it lets go, from the table's samples: it acts
 * when the fill reaches the fill level or the kernel dropped a packet for a
 * full table, at most CTB_GUARD_ACTIONS_PER_MINUTE times a minute and never
 * sooner than CTB_GUARD_HOLDOFF_MS after its last action (the table settles
 * first); it lets go once the fill stayed below the release level for the
 * release time. Pure: the daemon feeds it samples, the unit tests too.
 */
#ifndef CTB_GUARD_TRIGGER_H
#define CTB_GUARD_TRIGGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTB_GUARD_ACTIONS_PER_MINUTE 4
#define CTB_GUARD_HOLDOFF_MS 2000

enum ctb_guard_verdict {
	CTB_GUARD_IDLE,
	CTB_GUARD_ACT, /* bypass more */
	CTB_GUARD_RELEASE, /* remove what the guard added */
	CTB_GUARD_LIMITED, /* would act, but the rate limit says wait */
};

struct ctb_guard_trigger {
	double fill, release_fill, release_minutes; /* the settings */
	bool have_drops;
	uint64_t drops; /* drop + early_drop at the last sample */
	long long below_since_ms; /* under the release level since; -1: not now */
	long long actions_ms[CTB_GUARD_ACTIONS_PER_MINUTE]; /* the last actions, a ring */
	size_t next_action;
	bool limited_said; /* LIMITED returned once since the last action */
};

void ctb_guard_trigger_init(struct ctb_guard_trigger *t, double fill, double release_fill,
			    double release_minutes);

/*
 * One sample at NOW_MS: ENTRIES of MAX, DROPS (the kernel's drop and
 * early_drop counters summed; HAVE_DROPS false when unreadable). GUARDED:
 * something the guard added is in place. WHY gets the numbers behind an ACT
 * or RELEASE ("table 92.3 % full (60,500 of 65,536)", "12 drops").
 */
enum ctb_guard_verdict ctb_guard_trigger_sample(struct ctb_guard_trigger *t, long long now_ms,
						uint64_t entries, uint64_t max, bool have_drops,
						uint64_t drops, bool guarded, char *why,
						size_t whylen);

/* The daemon acted (bypassed, or found nothing to bypass) at NOW_MS: counts to the limits. */
void ctb_guard_trigger_acted(struct ctb_guard_trigger *t, long long now_ms);

/* What the guard added is gone (released, or removed by reload): the release clock stops. */
void ctb_guard_trigger_released(struct ctb_guard_trigger *t);

#endif
