// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "portset.h"

void ctb_portset_clear(struct ctb_portset *set)
{
	memset(set, 0, sizeof(*set));
}

void ctb_portset_add(struct ctb_portset *set, uint16_t port)
{
	set->bits[port / 64] |= 1ULL << (port % 64);
}

void ctb_portset_del(struct ctb_portset *set, uint16_t port)
{
	set->bits[port / 64] &= ~(1ULL << (port % 64));
}

uint32_t ctb_portset_next(const struct ctb_portset *set, uint32_t from)
{
	if (from >= CTB_PORTS)
		return CTB_PORTS;
	size_t w = from / 64;
	uint64_t word = set->bits[w] & (~0ULL << (from % 64));

	for (;;) {
		if (word)
			return (uint32_t)(w * 64 + (size_t)__builtin_ctzll(word));
		if (++w == CTB_PORTS / 64)
			return CTB_PORTS;
		word = set->bits[w];
	}
}

bool ctb_portset_has(const struct ctb_portset *set, uint16_t port)
{
	return set->bits[port / 64] >> (port % 64) & 1;
}

size_t ctb_portset_count(const struct ctb_portset *set)
{
	size_t n = 0;

	for (size_t i = 0; i < CTB_PORTS / 64; i++)
		n += (size_t)__builtin_popcountll(set->bits[i]);
	return n;
}

bool ctb_portset_empty(const struct ctb_portset *set)
{
	for (size_t i = 0; i < CTB_PORTS / 64; i++)
		if (set->bits[i])
			return false;
	return true;
}

void ctb_portset_union(struct ctb_portset *dst, const struct ctb_portset *src)
{
	for (size_t i = 0; i < CTB_PORTS / 64; i++)
		dst->bits[i] |= src->bits[i];
}

void ctb_portset_subtract(struct ctb_portset *dst, const struct ctb_portset *src)
{
	for (size_t i = 0; i < CTB_PORTS / 64; i++)
		dst->bits[i] &= ~src->bits[i];
}

/* Parses a port 1-65535 from [s, end); digits only, so "+80" and " 80" fail. */
static int parse_port(const char *s, const char *end, uint16_t *port)
{
	unsigned long v = 0;

	if (s == end || end - s > 5)
		return -EINVAL;
	for (const char *p = s; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v < 1 || v > 65535)
		return -ERANGE;
	*port = (uint16_t)v;
	return 0;
}

static int parse_item(const char *s, const char *end, uint16_t *lo, uint16_t *hi, char *err,
		      size_t errlen)
{
	const char *dash = memchr(s, '-', (size_t)(end - s));
	int len = (int)(end - s);
	int ret;

	if (s == end) {
		snprintf(err, errlen, "empty item in port list");
		return -EINVAL;
	}
	ret = parse_port(s, dash ? dash : end, lo);
	if (!ret)
		ret = dash ? parse_port(dash + 1, end, hi) : (*hi = *lo, 0);
	if (ret == -ERANGE) {
		snprintf(err, errlen, "port out of range in '%.*s' (ports are 1-65535)", len, s);
		return -EINVAL;
	}
	if (ret) {
		snprintf(err, errlen, "'%.*s' is not a port or range (like 80 or 8000-8010)", len,
			 s);
		return -EINVAL;
	}
	if (*lo > *hi) {
		snprintf(err, errlen, "range '%.*s' is reversed (write %u-%u)", len, s, *hi, *lo);
		return -EINVAL;
	}
	return 0;
}

int ctb_portset_parse(struct ctb_portset *set, const char *list, char *err, size_t errlen)
{
	struct ctb_portset parsed;
	const char *s = list;

	if (!list || !*list) {
		snprintf(err, errlen, "empty port list");
		return -EINVAL;
	}
	ctb_portset_clear(&parsed);
	for (;;) {
		const char *comma = strchr(s, ',');
		const char *end = comma ? comma : s + strlen(s);
		uint16_t lo, hi;

		if (parse_item(s, end, &lo, &hi, err, errlen))
			return -EINVAL;
		for (uint32_t p = lo; p <= hi; p++)
			ctb_portset_add(&parsed, (uint16_t)p);
		if (!comma)
			break;
		s = comma + 1;
	}
	ctb_portset_union(set, &parsed);
	return 0;
}

bool ctb_portset_next_range(const struct ctb_portset *set, uint32_t *first, uint16_t *lo,
			    uint16_t *hi)
{
	uint32_t p = *first;

	while (p < CTB_PORTS && !ctb_portset_has(set, (uint16_t)p))
		p++;
	if (p >= CTB_PORTS)
		return false;
	*lo = (uint16_t)p;
	while (p + 1 < CTB_PORTS && ctb_portset_has(set, (uint16_t)(p + 1)))
		p++;
	*hi = (uint16_t)p;
	*first = p + 1;
	return true;
}

size_t ctb_portset_format(const struct ctb_portset *set, char *buf, size_t len)
{
	uint32_t cursor = 0;
	uint16_t lo, hi;
	size_t used = 0;

	if (len)
		buf[0] = '\0';
	while (ctb_portset_next_range(set, &cursor, &lo, &hi)) {
		char item[16];
		int n = lo == hi ? snprintf(item, sizeof(item), "%s%u", used ? "," : "", lo)
				 : snprintf(item, sizeof(item), "%s%u-%u", used ? "," : "", lo, hi);

		if (used + (size_t)n < len)
			memcpy(buf + used, item, (size_t)n + 1);
		used += (size_t)n;
	}
	return used;
}
