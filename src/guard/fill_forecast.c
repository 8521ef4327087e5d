// SPDX-License-Identifier: GPL-2.0
#include <math.h>
#include <string.h>
#include "fill_forecast.h"

void ctb_fill_forecast_reset(struct ctb_fill_forecast *f)
{
	memset(f, 0, sizeof(*f));
}

static size_t oldest(const struct ctb_fill_forecast *f)
{
	return (f->head + CTB_FORECAST_SAMPLES - f->count) % CTB_FORECAST_SAMPLES;
}

void ctb_fill_forecast_add(struct ctb_fill_forecast *f, long long t_ms, uint64_t entries)
{
	if (f->count && t_ms <= f->t_ms[(f->head + CTB_FORECAST_SAMPLES - 1) % CTB_FORECAST_SAMPLES])
		return; /* not later than the last: the clock is monotonic, so a caller's slip */
	f->t_ms[f->head] = t_ms;
	f->entries[f->head] = (double)entries;
	f->head = (f->head + 1) % CTB_FORECAST_SAMPLES;
	if (f->count < CTB_FORECAST_SAMPLES)
		f->count++;
	while (f->count > 1 && t_ms - f->t_ms[oldest(f)] > CTB_FORECAST_WINDOW_MS)
		f->count--;
}

double ctb_fill_forecast_rate(const struct ctb_fill_forecast *f)
{
	double st = 0, se = 0, stt = 0, ste = 0, n = (double)f->count, t0, den;
	size_t first = oldest(f), last;

	if (f->count < 2)
		return 0;
	last = (f->head + CTB_FORECAST_SAMPLES - 1) % CTB_FORECAST_SAMPLES;
	if (f->t_ms[last] - f->t_ms[first] < CTB_FORECAST_MIN_SPAN_MS)
		return 0;
	/* Times relative to the first sample, in seconds: no precision lost to large values. */
	t0 = (double)f->t_ms[first];
	for (size_t k = 0; k < f->count; k++) {
		size_t i = (first + k) % CTB_FORECAST_SAMPLES;
		double t = ((double)f->t_ms[i] - t0) / 1000.0, e = f->entries[i];

		st += t;
		se += e;
		stt += t * t;
		ste += t * e;
	}
	den = n * stt - st * st;
	return den > 0 ? (n * ste - st * se) / den : 0;
}

double ctb_fill_forecast_seconds(const struct ctb_fill_forecast *f, uint64_t entries,
				 uint64_t max)
{
	double rate;

	if (max && entries >= max)
		return 0;
	rate = ctb_fill_forecast_rate(f);
	/* Under one entry a second is noise (a host's background churn), not filling. */
	if (!max || rate < 1.0)
		return INFINITY;
	return (double)(max - entries) / rate;
}
