/* SPDX-License-Identifier: GPL-2.0 */
/* What commands print for people: configuration summaries, plans and status. */
#ifndef CTB_REPORT_H
#define CTB_REPORT_H

#include <stdio.h>
#include "attachment.h"
#include "guard_record.h"
#include "health.h"

/* One line: "tcp ports 80-82, upstreams 198.18.0.7:3128 on veth0 (mark 0x4)". */
void ctb_report_config(FILE *f, const struct ctb_config *cfg, const struct ctb_iface_list *ifaces);

/* --dry-run: what attach would do, including the nftables transaction. */
void ctb_report_plan(FILE *f, const struct ctb_attachment *att, const struct ctb_config *cfg,
		     const struct ctb_iface_list *ifaces);

/* `status`, for people. GUARDED: what the daemon's guard added (NULL: unknown). */
int ctb_report_status(FILE *f, const struct ctb_attachment *att, const struct ctb_health *health,
		      const struct ctb_guard_record *guarded);

/* `status --json`: one object; fields documented in README.md. */
int ctb_report_status_json(FILE *f, const struct ctb_attachment *att,
			   const struct ctb_health *health, const struct ctb_guard_record *guarded);

#endif
