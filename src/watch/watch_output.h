/* SPDX-License-Identifier: GPL-2.0 */
/* `watch` output: one text line or one JSON object per interval (fields in README.md). */
#ifndef CTB_WATCH_OUTPUT_H
#define CTB_WATCH_OUTPUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include "watch.h"

struct ctb_watch_interval {
	double ts; /* end of the interval, Unix time in seconds */
	double elapsed; /* its real length in seconds */
	const char *backend;
	int64_t entries, max; /* -1: unknown */
	/* When the table will be full at the recent trend (fill_forecast.h); INFINITY: not
	 * filling, or not known yet. */
	double seconds_to_full;
	uint64_t count[CTB_W_METRICS];
	bool avail[CTB_W_METRICS];
	bool attached; /* ctbypass attached: `bypassed` holds its packets */
	uint64_t bypassed;
	size_t top_k; /* 0: no --top */
	const struct ctb_watch_top *top;
};

/* The column header, printed once before the first text line. */
void ctb_watch_print_header(FILE *f);
int ctb_watch_print_text(FILE *f, const struct ctb_watch_interval *iv);

json_t *ctb_watch_json(const struct ctb_watch_interval *iv);
int ctb_watch_print_json(FILE *f, const struct ctb_watch_interval *iv);

/* ADDR of FAMILY as text (IPv4 dotted, IPv6 compressed) into BUF of 46 bytes. */
void ctb_watch_format_addr(uint8_t family, const uint8_t *addr, char *buf);

#endif
