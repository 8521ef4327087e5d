/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Prometheus metrics: one sample of what the kernel and ctbypass hold in the
 * current namespace, and its text exposition. The daemon samples off the
 * request path and serves the last exposition (metrics_http.h); `ctbypass
 * metrics` samples once for node_exporter's textfile collector. README.md
 * "Metrics" documents every name.
 */
#ifndef CTB_METRICS_H
#define CTB_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "classifier_maps.h"
#include "health.h"

/*
 * Series limits, so a configuration of 65,535 ports does not make 131,070
 * series: the lowest ports of each protocol and the first upstreams get their
 * own label value, the rest (and the classifier's own overflow slot) are
 * summed under "other".
 */
#define CTB_METRICS_PORT_SERIES 100 /* per protocol */
#define CTB_METRICS_UPSTREAM_SERIES 100

/* The daemon's repairs, by reason: a problem kind, or one of these. */
enum ctb_repair_reason {
	CTB_REPAIR_NOT_ATTACHED = CTB_PROBLEM_KINDS, /* nothing was there (start, detach) */
	CTB_REPAIR_CONFIGURATION, /* the kernel held other traffic than configured */
	CTB_REPAIR_REASONS,
};

const char *ctb_repair_reason_name(enum ctb_repair_reason reason);

/* What the guard did, for ctbypass_guard_actions_total{action}. */
enum ctb_guard_action {
	CTB_GUARD_ACTION_BYPASS, /* added traffic to the bypass */
	CTB_GUARD_ACTION_RELEASE, /* removed what it had added */
	CTB_GUARD_ACTION_NONE_ALLOWED, /* would have acted: no allowed candidate held entries */
	CTB_GUARD_ACTION_FAILED, /* its apply failed, nothing changed */
	CTB_GUARD_ACTIONS,
};

extern const char *const ctb_guard_action_names[CTB_GUARD_ACTIONS];

/* What the daemon knows that the kernel does not: absent from `ctbypass metrics`. */
struct ctb_metrics_daemon {
	uint64_t repairs[CTB_REPAIR_REASONS];
	bool reload_ok; /* the last reload was applied (true before any) */
	size_t preflight_blocking; /* findings the preflight now refuses, not accepted */
	/* The table's trend: seconds until full (INFINITY: not filling); unknown when false. */
	bool have_forecast;
	double seconds_to_full;
	bool guard_enabled;
	uint64_t guard_actions[CTB_GUARD_ACTIONS];
	size_t guarded; /* items the guard added that are in place */
};

struct ctb_metrics_sample {
	bool have_table; /* the namespace's entries and the limit */
	int64_t entries, limit;
	bool have_ctstats; /* the kernel's per-CPU statistics */
	uint64_t drops, early_drops, insert_failed;
	const char *backend; /* what counts inserts: "fentry", "kprobe"; "stats": nothing does */
	bool have_inserts; /* the probes count inserts and lost events */
	uint64_t inserts, lost_events;
	bool have_attachment; /* what is attached could be read */
	bool attached;
	struct ctb_counter_line *lines; /* the classifier's counters, per port and upstream */
	size_t line_count;
	bool have_nft; /* the table's counters */
	struct ctb_counter arrivals, departures, loopback;
	bool have_backstop;
	struct ctb_counter backstop;
	bool have_health;
	size_t problems[CTB_PROBLEM_KINDS];
	size_t uncovered;
	const struct ctb_metrics_daemon *daemon; /* NULL: not the daemon */
	double taken_at; /* Unix time of the sample */
};

/*
 * Samples the current namespace: the table, the kernel's statistics, what is
 * attached with its counters and health. A part that cannot be read is left
 * out (absent, not 0). WITH_PREFLIGHT: health includes the preflight run
 * again, as `status` does (the daemon counts its own runs instead: a
 * preflight reads every ruleset, too slow for each sample). Free with
 * ctb_metrics_sample_free.
 */
void ctb_metrics_collect(struct ctb_metrics_sample *s, bool with_preflight);

/* Its parts: the table and the kernel's statistics (cheap: two netlink requests)... */
void ctb_metrics_collect_kernel(struct ctb_metrics_sample *s);
/* ...and what ATT holds, with HEALTH (NULL: unknown, left out). */
struct ctb_attachment;
void ctb_metrics_from_attachment(struct ctb_metrics_sample *s, const struct ctb_attachment *att,
				 const struct ctb_health *health);
void ctb_metrics_sample_free(struct ctb_metrics_sample *s);

/* The Prometheus text exposition (format 0.0.4) of S. -errno when F fails. */
int ctb_metrics_write(FILE *f, const struct ctb_metrics_sample *s);

#endif
