// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "attachment.h"
#include "ct_stats.h"
#include "log.h"
#include "metrics.h"
#include "preflight.h"
#include "watch.h"

static const char *const repair_reason_names[] = {
	[CTB_REPAIR_NOT_ATTACHED - CTB_PROBLEM_KINDS] = "not_attached",
	[CTB_REPAIR_CONFIGURATION - CTB_PROBLEM_KINDS] = "configuration",
};

const char *const ctb_guard_action_names[CTB_GUARD_ACTIONS] = {
	[CTB_GUARD_ACTION_BYPASS] = "bypass",
	[CTB_GUARD_ACTION_RELEASE] = "release",
	[CTB_GUARD_ACTION_NONE_ALLOWED] = "none_allowed",
	[CTB_GUARD_ACTION_FAILED] = "failed",
};

const char *ctb_repair_reason_name(enum ctb_repair_reason reason)
{
	if ((int)reason < CTB_PROBLEM_KINDS)
		return ctb_problem_kind_names[reason];
	return repair_reason_names[reason - CTB_PROBLEM_KINDS];
}

static void collect_kernel(struct ctb_metrics_sample *s)
{
	uint64_t sums[CTB_CTSTATS];
	unsigned int cpus;
	bool chain;

	s->have_table = !ctb_watch_table_size(&s->entries, &s->limit) && s->entries >= 0 &&
			s->limit >= 0;
	if (!ctb_ctstats_sum(sums, &cpus, &chain)) {
		s->have_ctstats = true;
		s->drops = sums[CTB_CTSTAT_DROP];
		s->early_drops = sums[CTB_CTSTAT_EARLY_DROP];
		s->insert_failed = sums[CTB_CTSTAT_INSERT_FAILED];
	}
}

void ctb_metrics_from_attachment(struct ctb_metrics_sample *s, const struct ctb_attachment *att,
				 const struct ctb_health *health)
{
	s->have_attachment = true;
	s->attached = ctb_attachment_exists(att);
	if (att->have_maps)
		ctb_maps_read_counters(&att->maps, &att->nft.cfg, &s->lines, &s->line_count);
	if (att->nft.present) {
		s->have_nft = true;
		s->arrivals = att->nft.arrivals;
		s->departures = att->nft.departures;
		s->loopback = att->nft.loopback;
		s->have_backstop = att->nft.has_backstop;
		s->backstop = att->nft.backstop;
	}
	if (health) {
		s->have_health = true;
		for (size_t i = 0; i < health->count; i++)
			s->problems[health->kinds[i]]++;
		s->uncovered = health->uncovered;
	}
}

void ctb_metrics_collect_kernel(struct ctb_metrics_sample *s)
{
	struct timespec ts;

	memset(s, 0, sizeof(*s));
	s->backend = "stats";
	collect_kernel(s);
	clock_gettime(CLOCK_REALTIME, &ts);
	s->taken_at = (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void ctb_metrics_collect(struct ctb_metrics_sample *s, bool with_preflight)
{
	struct ctb_attachment att;
	struct ctb_health health;
	char err[CTB_ERR_LEN];
	bool health_read;

	ctb_metrics_collect_kernel(s);
	if (ctb_attachment_find(&att, err, sizeof(err))) {
		ctb_debug("metrics: cannot read the attachment: %s", err);
		ctb_attachment_free(&att);
		return;
	}
	/* Health as `status` judges it, the preflight included when asked. */
	health_read = !ctb_health_check(&att, &health) &&
		      !(with_preflight && att.nft.present &&
			ctb_preflight_health(&att.nft.cfg, &health));
	ctb_metrics_from_attachment(s, &att, health_read ? &health : NULL);
	ctb_health_free(&health);
	ctb_attachment_free(&att);
}

void ctb_metrics_sample_free(struct ctb_metrics_sample *s)
{
	free(s->lines);
	s->lines = NULL;
	s->line_count = 0;
}
