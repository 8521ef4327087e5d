// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "watch_rates.h"

uint64_t ctb_counter_delta(uint64_t prev, uint64_t cur)
{
	return cur >= prev ? cur - prev : cur;
}

uint64_t ctb_counter_delta_wrapping(uint64_t prev, uint64_t cur, unsigned int width)
{
	uint64_t mask = width >= 64 ? UINT64_MAX : (1ull << width) - 1;

	return (cur - prev) & mask;
}

int ctb_rates_init(struct ctb_rates *r, size_t metrics, bool new_cpus_from_zero,
		   unsigned int wrap_width)
{
	memset(r, 0, sizeof(*r));
	if (!metrics || wrap_width > 64)
		return -EINVAL;
	r->wrap_width = wrap_width;
	r->metrics = metrics;
	r->new_cpus_from_zero = new_cpus_from_zero;
	return 0;
}

void ctb_rates_free(struct ctb_rates *r)
{
	free(r->prev);
	free(r->seen);
	memset(r, 0, sizeof(*r));
}

static int reserve_cpus(struct ctb_rates *r, size_t cpus)
{
	uint64_t *prev;
	uint8_t *seen;

	if (cpus <= r->cpus)
		return 0;
	prev = realloc(r->prev, cpus * r->metrics * sizeof(*prev));
	if (!prev)
		return -ENOMEM;
	r->prev = prev;
	seen = realloc(r->seen, cpus);
	if (!seen)
		return -ENOMEM;
	r->seen = seen;
	memset(prev + r->cpus * r->metrics, 0, (cpus - r->cpus) * r->metrics * sizeof(*prev));
	memset(seen + r->cpus, 0, cpus - r->cpus);
	r->cpus = cpus;
	return 0;
}

int ctb_rates_update(struct ctb_rates *r, const uint64_t *values, const uint8_t *present,
		     size_t cpus, uint64_t *delta)
{
	int ret = reserve_cpus(r, cpus);

	if (ret)
		return ret;
	for (size_t c = 0; c < cpus; c++) {
		const uint64_t *v = values + c * r->metrics;
		uint64_t *p = r->prev + c * r->metrics;
		/* Seen first now, after the baseline: count from 0 or start here. */
		bool baseline = !r->started || (!r->seen[c] && !r->new_cpus_from_zero);

		if (present && !present[c])
			continue;
		for (size_t m = 0; m < r->metrics; m++) {
			if (!baseline)
				delta[m] += r->wrap_width
						    ? ctb_counter_delta_wrapping(p[m], v[m], r->wrap_width)
						    : ctb_counter_delta(p[m], v[m]);
			p[m] = v[m];
		}
		r->seen[c] = 1;
	}
	r->started = true;
	return 0;
}

uint64_t ctb_interval_next(uint64_t start, uint64_t period, uint64_t last, uint64_t now,
			   uint64_t *skipped)
{
	uint64_t next;

	*skipped = 0;
	if (!period)
		return now;
	if (last < start)
		last = start;
	if (now <= last + period)
		return last + period; /* due now or later: not missed */
	next = start + ((now - start) / period + 1) * period; /* first tick after NOW */
	*skipped = (next - last) / period - 1;
	return next;
}

double ctb_rate_per_sec(uint64_t delta, uint64_t elapsed_ns)
{
	return elapsed_ns ? (double)delta * 1e9 / (double)elapsed_ns : 0.0;
}
