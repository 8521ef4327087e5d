/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The daemon's guard (guard-* keys): samples the table often, forecasts when
 * it will be full, and when it nears full (or drops) picks the allowed
 * traffic holding the most entries for the daemon to bypass through its
 * usual reconcile. What it added is kept in the guard record (guard_record.h)
 * until released. The preflight's verdict for each candidate is computed
 * ahead, when the rules change, so an action does not wait for it.
 */
#ifndef CTB_DAEMON_GUARD_H
#define CTB_DAEMON_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include "config.h"
#include "doctor_candidates.h"
#include "fill_forecast.h"
#include "guard_record.h"
#include "guard_settings.h"
#include "guard_trigger.h"
#include "metrics.h"

#define CTB_GUARD_SAMPLE_MS 100 /* with the guard on: a drop is seen within this */
#define CTB_FORECAST_SAMPLE_MS 1000 /* without it: the forecast alone */
#define CTB_FORECAST_WARN_S 300 /* the log warns when full is nearer than this */

struct ctb_guard_verdict_cache;

struct ctb_daemon_guard {
	const struct ctb_guard_settings *settings; /* the daemon's, followed across reloads */
	bool enabled;
	struct ctb_guard_trigger trigger;
	struct ctb_fill_forecast forecast;
	struct ctb_guard_record *record; /* what the guard added and is in place */
	struct ctb_guard_verdict_cache *verdicts;
	bool warned; /* the forecast's warning was logged; again once it cleared */
	long long next_sample_ms;
	struct ctb_metrics_daemon *state; /* the counters and gauges it keeps */
};

/* Adopts the record a previous run left. 0, or -ENOMEM. */
int ctb_daemon_guard_start(struct ctb_daemon_guard *g, const struct ctb_guard_settings *s,
			   struct ctb_metrics_daemon *state);
void ctb_daemon_guard_stop(struct ctb_daemon_guard *g);

/* New settings (a reload): levels and allowlists follow; the record stays. */
void ctb_daemon_guard_settings(struct ctb_daemon_guard *g, const struct ctb_guard_settings *s);

/*
 * Drops record items the configuration CFG now bypasses itself, or of
 * protocols it no longer bypasses; saves the record if that changed it.
 */
void ctb_daemon_guard_prune(struct ctb_daemon_guard *g, const struct ctb_config *cfg);

/*
 * One sample of the table at NOW_MS: the forecast, its warning, and the
 * trigger's verdict (WHY: the numbers behind it).
 */
enum ctb_guard_verdict ctb_daemon_guard_sample(struct ctb_daemon_guard *g, long long now_ms,
					       char *why, size_t whylen);

/*
 * The preflight's verdicts, ahead of need, for the candidates known without
 * a look at the table (guard-ports and single-host guard-upstreams, or the
 * listening ports for auto), against BYPASSED's protocols and ACCEPT's ids.
 * Called when the rules may have changed.
 */
void ctb_daemon_guard_prepare(struct ctb_daemon_guard *g, const struct ctb_config *bypassed,
			      const char *accept);

/*
 * What to add, with BYPASSED in place now: reads the table, ranks its traffic
 * as doctor does, keeps what the settings allow and the preflight lets
 * through, and picks. NEXT gets the record with the picks added (stamped
 * with WHY); SUMMARY one line of what was picked and what was passed over.
 * Returns how many were picked, or a negative errno.
 */
int ctb_daemon_guard_pick(struct ctb_daemon_guard *g, const struct ctb_config *bypassed,
			  const char *accept, const char *why, struct ctb_guard_record *next,
			  char *summary, size_t summarylen);

/* NEXT is in place now: it becomes the record, saved. */
void ctb_daemon_guard_commit(struct ctb_daemon_guard *g, const struct ctb_guard_record *next);

#endif
