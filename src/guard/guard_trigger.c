// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <string.h>
#include "guard_trigger.h"

void ctb_guard_trigger_init(struct ctb_guard_trigger *t, double fill, double release_fill,
			    double release_minutes)
{
	memset(t, 0, sizeof(*t));
	t->fill = fill;
	t->release_fill = release_fill;
	t->release_minutes = release_minutes;
	t->below_since_ms = -1;
	for (size_t i = 0; i < CTB_GUARD_ACTIONS_PER_MINUTE; i++)
		t->actions_ms[i] = -1;
}

/* Whether the limits let an action through at NOW_MS. */
static bool may_act(const struct ctb_guard_trigger *t, long long now_ms)
{
	size_t last = (t->next_action + CTB_GUARD_ACTIONS_PER_MINUTE - 1) %
		      CTB_GUARD_ACTIONS_PER_MINUTE;
	long long oldest = t->actions_ms[t->next_action];

	if (t->actions_ms[last] >= 0 && now_ms - t->actions_ms[last] < CTB_GUARD_HOLDOFF_MS)
		return false;
	/* The ring holds the last N actions: the oldest must be a minute ago. */
	return oldest < 0 || now_ms - oldest >= 60000;
}

enum ctb_guard_verdict ctb_guard_trigger_sample(struct ctb_guard_trigger *t, long long now_ms,
						uint64_t entries, uint64_t max, bool have_drops,
						uint64_t drops, bool guarded, char *why,
						size_t whylen)
{
	double pct = max ? 100.0 * (double)entries / (double)max : 0;
	/* A counter that went down restarted (another CPU set, a module reload): no drop. */
	uint64_t dropped = have_drops && t->have_drops && drops > t->drops ? drops - t->drops : 0;
	bool full = max && pct >= t->fill;

	if (have_drops) {
		t->drops = drops;
		t->have_drops = true;
	}
	if (max && pct < t->release_fill) {
		if (t->below_since_ms < 0)
			t->below_since_ms = now_ms;
	} else {
		t->below_since_ms = -1;
	}
	if (full || dropped) {
		if (!may_act(t, now_ms)) {
			if (t->limited_said)
				return CTB_GUARD_IDLE;
			t->limited_said = true;
			snprintf(why, whylen, "table %.1f %% full, %llu drops", pct,
				 (unsigned long long)dropped);
			return CTB_GUARD_LIMITED;
		}
		if (dropped)
			snprintf(why, whylen, "%llu drops, table %.1f %% full (%llu of %llu)",
				 (unsigned long long)dropped, pct, (unsigned long long)entries,
				 (unsigned long long)max);
		else
			snprintf(why, whylen, "table %.1f %% full (%llu of %llu)", pct,
				 (unsigned long long)entries, (unsigned long long)max);
		return CTB_GUARD_ACT;
	}
	if (guarded && t->release_minutes > 0 && t->below_since_ms >= 0 &&
	    (double)(now_ms - t->below_since_ms) >= t->release_minutes * 60000.0) {
		snprintf(why, whylen, "table below %g %% for %g min (now %.1f %%)", t->release_fill,
			 t->release_minutes, pct);
		return CTB_GUARD_RELEASE;
	}
	return CTB_GUARD_IDLE;
}

void ctb_guard_trigger_acted(struct ctb_guard_trigger *t, long long now_ms)
{
	t->actions_ms[t->next_action] = now_ms;
	t->next_action = (t->next_action + 1) % CTB_GUARD_ACTIONS_PER_MINUTE;
	t->limited_said = false;
}

void ctb_guard_trigger_released(struct ctb_guard_trigger *t)
{
	t->below_since_ms = -1;
}
