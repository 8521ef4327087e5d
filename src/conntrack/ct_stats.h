/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Conntrack statistics over ctnetlink, for the current namespace: the table's
 * size (entries, max) and the kernel's per-CPU counters. Shared by `watch`
 * (per-interval rates) and `doctor` (totals).
 */
#ifndef CTB_CT_STATS_H
#define CTB_CT_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The per-CPU counters read, in this order. */
enum ctb_ctstat {
	CTB_CTSTAT_DROP,
	CTB_CTSTAT_EARLY_DROP,
	CTB_CTSTAT_INSERT_FAILED,
	CTB_CTSTAT_CHAIN_TOOLONG, /* since Linux 5.16 */
	CTB_CTSTATS,
};

/*
 * Per-CPU statistics: VALUES[cpu * CTB_CTSTATS + stat] and PRESENT[cpu] for
 * CPUs below *CPUS, reported by the kernel (IPCTNL_MSG_CT_GET_STATS_CPU).
 * Caller frees *VALUES and *PRESENT.
 */
int ctb_ctstats_percpu(uint64_t **values, uint8_t **present, size_t *cpus);

/* The same, summed over CPUs; *HAVE_CHAIN_TOOLONG: the kernel reports that one. */
int ctb_ctstats_sum(uint64_t sums[CTB_CTSTATS], unsigned int *cpus, bool *have_chain_toolong);

#endif /* CTB_CT_STATS_H */
