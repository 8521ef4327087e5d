/* SPDX-License-Identifier: GPL-2.0 */
/*
 * When will the conntrack table be full? The entries' trend over the last
 * seconds (a least-squares slope, so one burst or one sample's jitter does
 * not swing it), projected to nf_conntrack_max. Pure: the daemon feeds it
 * its samples, `watch` its intervals.
 */
#ifndef CTB_FILL_FORECAST_H
#define CTB_FILL_FORECAST_H

#include <stddef.h>
#include <stdint.h>

#define CTB_FORECAST_SAMPLES 128
#define CTB_FORECAST_WINDOW_MS 10000 /* the trend is the last 10 s */
#define CTB_FORECAST_MIN_SPAN_MS 2000 /* less than this says nothing yet */

struct ctb_fill_forecast {
	long long t_ms[CTB_FORECAST_SAMPLES];
	double entries[CTB_FORECAST_SAMPLES];
	size_t head, count;
};

void ctb_fill_forecast_reset(struct ctb_fill_forecast *f);
/* A sample at T_MS (monotonic, increasing). Older than the window are forgotten. */
void ctb_fill_forecast_add(struct ctb_fill_forecast *f, long long t_ms, uint64_t entries);
/* Entries per second over the window; 0 until it spans CTB_FORECAST_MIN_SPAN_MS. */
double ctb_fill_forecast_rate(const struct ctb_fill_forecast *f);
/*
 * Seconds until ENTRIES reach MAX at that rate: 0 when full already, INFINITY
 * when the table is not filling (or the window is too short to say).
 */
double ctb_fill_forecast_seconds(const struct ctb_fill_forecast *f, uint64_t entries,
				 uint64_t max);

#endif
