/* SPDX-License-Identifier: GPL-2.0 */
/* `doctor`: everything it found, and how it is printed (text, or --json per README.md). */
#ifndef CTB_DOCTOR_OUTPUT_H
#define CTB_DOCTOR_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>
#include "doctor_candidates.h"
#include "doctor_ctnetlink.h"
#include "doctor_host.h"
#include "doctor_sizing.h"
#include "doctor_table.h"
#include "preflight.h"

#define CTB_DOCTOR_MAX_CANDIDATES 10

/* Some traffic, the command that would bypass it, and what the preflight says. */
struct ctb_doctor_check {
	struct ctb_config cfg;
	char command[1024];
	struct ctb_findings findings;
};

struct ctb_doctor_report {
	const char *netns; /* -n NETNS, or NULL */
	bool initial_netns;
	struct ctb_doctor_sysctls sys;
	struct ctb_doctor_ctstats stats;
	struct ctb_doctor_agg agg;
	struct ctb_doctor_source sources[CTB_DOCTOR_TOPK];
	struct ctb_doctor_port ports[CTB_DOCTOR_TOPK];
	size_t nsources, nports;
	struct ctb_sizing_input sizing_in;
	struct ctb_sizing sizing;
	struct ctb_doctor_cands cands;
	struct ctb_doctor_cand *cand;
	struct ctb_doctor_check *cand_checks; /* one per candidate */
	size_t ncand;
	struct ctb_doctor_check requested; /* --ports / --upstream */
	bool have_requested;
};

void ctb_doctor_print_text(FILE *f, const struct ctb_doctor_report *r);
int ctb_doctor_print_json(FILE *f, const struct ctb_doctor_report *r);

/* "nat", "stateful", "helper", "ephemeral", "icmp", "unanalyzed". */
const char *ctb_doctor_finding_kind_name(enum ctb_finding_kind kind);

#endif
