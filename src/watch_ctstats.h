/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Conntrack statistics over ctnetlink, for the current namespace: the table's
 * size (entries, max) and the kernel's per-CPU counters.
 */
#ifndef CTB_WATCH_CTSTATS_H
#define CTB_WATCH_CTSTATS_H

#include <stddef.h>
#include <stdint.h>

/* The per-CPU counters read, in this order. */
enum ctb_ctstat {
	CTB_CTSTAT_DROP,
	CTB_CTSTAT_EARLY_DROP,
	CTB_CTSTAT_INSERT_FAILED,
	CTB_CTSTATS,
};

/*
 * Per-CPU statistics: VALUES[cpu * CTB_CTSTATS + stat] and PRESENT[cpu] for
 * CPUs below *CPUS, reported by the kernel (IPCTNL_MSG_CT_GET_STATS_CPU).
 * Caller frees *VALUES and *PRESENT.
 */
int ctb_ctstats_percpu(uint64_t **values, uint8_t **present, size_t *cpus);

#endif
