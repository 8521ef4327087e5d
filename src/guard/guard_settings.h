/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guard's settings (the daemon's guard-* keys): which traffic it may
 * bypass by itself when the conntrack table nears full, and when it acts and
 * lets go. Nothing is allowed unless an allowlist is given: the guard is off
 * by default.
 */
#ifndef CTB_GUARD_SETTINGS_H
#define CTB_GUARD_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include "portset.h"
#include "upstream.h"

#define CTB_GUARD_FILL_DEFAULT 90.0 /* percent of nf_conntrack_max that triggers it */
/* Unless set, the release level is this far below the fill level (70 % for 90 %): apart,
 * so that release and trigger do not flap. */
#define CTB_GUARD_RELEASE_GAP 20.0
#define CTB_GUARD_DENY_DEFAULT 22 /* ssh: never untracked by a machine's decision */

struct ctb_guard_settings {
	/* Server ports the guard may bypass: PORTS, or any port something listens on (AUTO). */
	bool ports_auto;
	struct ctb_portset ports;
	/* Upstreams it may bypass: those of UPSTREAMS (a prefix covers its addresses), or
	 * any this host connects to (AUTO). */
	bool upstreams_auto;
	struct ctb_upstream_list upstreams;
	/* Never these ports, server or upstream, whatever the allowlists say. */
	struct ctb_portset deny;
	double fill, release_fill; /* percent */
	bool release_fill_set; /* else it follows fill (CTB_GUARD_RELEASE_GAP below) */
	double release_minutes; /* 0: what the guard added stays until the operator acts */
};

void ctb_guard_settings_init(struct ctb_guard_settings *g);
void ctb_guard_settings_free(struct ctb_guard_settings *g);
int ctb_guard_settings_copy(struct ctb_guard_settings *dst, const struct ctb_guard_settings *src);

/* True when some traffic is allowed: the guard runs. */
bool ctb_guard_enabled(const struct ctb_guard_settings *g);

/*
 * Sets KEY ("guard-ports", ...) to VALUE. Returns 1 when KEY is not a guard
 * key, 0 when set, -EINVAL with ERR on a bad value.
 */
int ctb_guard_set(struct ctb_guard_settings *g, const char *key, const char *value, char *err,
		  size_t errlen);

/*
 * What only the whole can say: the release level, unless set, follows the
 * fill level; set, it must be below it. -EINVAL with ERR.
 */
int ctb_guard_settings_check(struct ctb_guard_settings *g, char *err, size_t errlen);

/*
 * The allowlists and the deny list as a key's value ("auto", "none", "80,443"),
 * in a new string the caller frees; NULL when out of memory.
 */
char *ctb_guard_ports_text(const struct ctb_guard_settings *g);
char *ctb_guard_upstreams_text(const struct ctb_guard_settings *g);
char *ctb_guard_deny_text(const struct ctb_guard_settings *g);

#endif
