/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `doctor`: the conntrack table of the current namespace over ctnetlink: a
 * dump of its entries, and the kernel's per-CPU statistics summed.
 */
#ifndef CTB_DOCTOR_CTNETLINK_H
#define CTB_DOCTOR_CTNETLINK_H

#include <stdbool.h>
#include <stdint.h>
#include "doctor_table.h"

typedef int (*ctb_doctor_entry_cb)(const struct ctb_doctor_entry *e, void *data);

/* Calls CB on each entry; a non-zero return from CB stops and is returned. */
int ctb_doctor_dump(ctb_doctor_entry_cb cb, void *data);

struct ctb_doctor_ctstats {
	uint64_t drop, early_drop, insert_failed, chaintoolong;
	bool have_chaintoolong; /* since Linux 5.16 */
	unsigned int cpus;	/* CPUs that answered */
};

/* IPCTNL_MSG_CT_GET_STATS_CPU, summed over CPUs. */
int ctb_doctor_ctstats(struct ctb_doctor_ctstats *st);

#endif
