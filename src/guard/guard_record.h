/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the guard added, kept in /run/ctbypass/netns-<inode>.guarded so it
 * outlives the daemon (a restart adopts it, `status` shows it) but not a
 * reboot (the kernel state it describes is gone then too). One line each:
 *
 *   port tcp 80 1765012345 41200 table 92.3 % full (60500 of 65536)
 *   upstream udp 198.18.0.2:53 1765012345 800 12 drops, ...
 *
 * role, protocol, port or upstream, when (Unix time), the entries it held,
 * and why. The file is outside input when read back: parsed strictly.
 */
#ifndef CTB_GUARD_RECORD_H
#define CTB_GUARD_RECORD_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include "config.h"
#include "doctor_candidates.h"

#define CTB_GUARD_RECORD_MAX 256 /* items; the rate limit keeps it far below */
#define CTB_GUARD_WHY_LEN 160

struct ctb_guard_item {
	struct ctb_doctor_cand cand; /* role, protocol, port; an upstream's address */
	int64_t added; /* Unix time */
	uint64_t entries; /* what it held when added */
	char why[CTB_GUARD_WHY_LEN];
};

struct ctb_guard_record {
	struct ctb_guard_item items[CTB_GUARD_RECORD_MAX];
	size_t count;
};

/* Parses TEXT (LEN bytes). -EINVAL on anything but well-formed lines (an empty text is fine). */
int ctb_guard_record_parse(struct ctb_guard_record *r, const char *text, size_t len);
void ctb_guard_record_format(FILE *f, const struct ctb_guard_record *r);

/* Reads the current namespace's record: 0 (none is an empty one), -EINVAL, -errno. */
int ctb_guard_record_load(struct ctb_guard_record *r);
/* Writes it atomically (temporary file, rename); an empty record removes the file. */
int ctb_guard_record_save(const struct ctb_guard_record *r);

/* Forgets the record: a manual attach says exactly what to bypass. */
int ctb_guard_record_remove(void);

/* Adds every item's traffic to CFG (ports, upstreams); its protocols stay. */
int ctb_guard_record_apply(const struct ctb_guard_record *r, struct ctb_config *cfg);

#endif
