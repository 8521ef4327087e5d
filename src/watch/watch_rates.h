/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Interval arithmetic for `watch`, pure and unit-tested: per-CPU counters
 * turned into per-interval deltas (counter resets, CPUs that appear or stop
 * being reported), and the interval clock (intervals that overrun).
 */
#ifndef CTB_WATCH_RATES_H
#define CTB_WATCH_RATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Change of a monotonic counter; a smaller value means it restarted from 0. */
uint64_t ctb_counter_delta(uint64_t prev, uint64_t cur);

/* Change of a counter WIDTH bits wide that never restarts: smaller means it wrapped. */
uint64_t ctb_counter_delta_wrapping(uint64_t prev, uint64_t cur, unsigned int width);

/*
 * Previous per-CPU values of METRICS counters. A CPU missing from a sample
 * keeps its last value and adds nothing; when it comes back, only what it
 * gained since counts. A CPU seen for the first time after the baseline adds
 * its whole value when NEW_CPUS_FROM_ZERO (our BPF counters start at 0), else
 * its value becomes its baseline (kernel statistics older than us).
 */
struct ctb_rates {
	size_t metrics;
	size_t cpus; /* capacity, grows */
	uint64_t *prev; /* [cpu * metrics + metric] */
	uint8_t *seen; /* [cpu] */
	bool new_cpus_from_zero;
	unsigned int wrap_width; /* 0: a smaller value is a restart; else counters wrap at 2^width */
	bool started;
};

int ctb_rates_init(struct ctb_rates *r, size_t metrics, bool new_cpus_from_zero,
		   unsigned int wrap_width);
void ctb_rates_free(struct ctb_rates *r);

/*
 * One sample: VALUES[cpu * metrics + m] for each CPU < CPUS with PRESENT[cpu]
 * (PRESENT NULL: all). Adds the change since the previous sample to DELTA[m].
 * The first sample only sets the baseline.
 */
int ctb_rates_update(struct ctb_rates *r, const uint64_t *values, const uint8_t *present,
		     size_t cpus, uint64_t *delta);

/*
 * The interval clock: ticks at START + k * PERIOD. After the sample taken for
 * tick LAST, at time NOW, returns the next tick to sleep until: the first one
 * after NOW. *SKIPPED counts ticks that passed without a sample (the interval
 * overran them); the next interval then reports its real, longer duration
 * instead of a burst of catch-up samples.
 */
uint64_t ctb_interval_next(uint64_t start, uint64_t period, uint64_t last, uint64_t now,
			   uint64_t *skipped);

/* Per-second rate of DELTA over ELAPSED_NS; 0 for an empty interval. */
double ctb_rate_per_sec(uint64_t delta, uint64_t elapsed_ns);

#endif
