// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "guard_settings.h"

void ctb_guard_settings_init(struct ctb_guard_settings *g)
{
	memset(g, 0, sizeof(*g));
	g->fill = CTB_GUARD_FILL_DEFAULT;
	g->release_fill = CTB_GUARD_FILL_DEFAULT - CTB_GUARD_RELEASE_GAP;
	ctb_portset_add(&g->deny, CTB_GUARD_DENY_DEFAULT);
}

void ctb_guard_settings_free(struct ctb_guard_settings *g)
{
	ctb_upstream_list_free(&g->upstreams);
}

int ctb_guard_settings_copy(struct ctb_guard_settings *dst, const struct ctb_guard_settings *src)
{
	*dst = *src;
	dst->upstreams = (struct ctb_upstream_list){ 0 };
	return ctb_upstream_list_copy(&dst->upstreams, &src->upstreams);
}

bool ctb_guard_enabled(const struct ctb_guard_settings *g)
{
	return g->ports_auto || g->upstreams_auto || !ctb_portset_empty(&g->ports) ||
	       g->upstreams.count;
}

static int parse_percent(const char *key, const char *value, double *out, char *err,
			 size_t errlen)
{
	return ctb_number_parse(key, value, 1, 100, "a percentage", out, err, errlen);
}

int ctb_guard_set(struct ctb_guard_settings *g, const char *key, const char *value, char *err,
		  size_t errlen)
{
	if (!strcmp(key, "guard-ports")) {
		struct ctb_portset ports = { 0 };

		if (!strcmp(value, "auto")) {
			g->ports_auto = true;
			ctb_portset_clear(&g->ports);
			return 0;
		}
		if (*value && ctb_portset_parse(&ports, value, err, errlen))
			return -EINVAL;
		g->ports_auto = false;
		g->ports = ports;
		return 0;
	}
	if (!strcmp(key, "guard-upstreams")) {
		struct ctb_upstream_list list = { 0 };
		int ret;

		if (!strcmp(value, "auto")) {
			ctb_upstream_list_free(&g->upstreams);
			g->upstreams_auto = true;
			return 0;
		}
		ret = *value ? ctb_upstream_list_parse(&list, value, err, errlen) : 0;
		if (ret) {
			ctb_upstream_list_free(&list);
			return ret;
		}
		ctb_upstream_list_free(&g->upstreams);
		g->upstreams = list;
		g->upstreams_auto = false;
		return 0;
	}
	if (!strcmp(key, "guard-deny")) {
		struct ctb_portset deny = { 0 };

		if (strcmp(value, "none") && *value &&
		    ctb_portset_parse(&deny, value, err, errlen))
			return -EINVAL;
		g->deny = deny;
		return 0;
	}
	if (!strcmp(key, "guard-fill"))
		return parse_percent(key, value, &g->fill, err, errlen);
	if (!strcmp(key, "guard-release-fill")) {
		int ret = parse_percent(key, value, &g->release_fill, err, errlen);

		g->release_fill_set |= !ret;
		return ret;
	}
	if (!strcmp(key, "guard-release")) {
		if (!strcmp(value, "never")) {
			g->release_minutes = 0;
			return 0;
		}
		/* at most a week: longer is "never" with extra steps */
		return ctb_number_parse(key, value, 0.1, 10080, "minutes",
					&g->release_minutes, err, errlen);
	}
	return 1;
}

int ctb_guard_settings_check(struct ctb_guard_settings *g, char *err, size_t errlen)
{
	if (!g->release_fill_set)
		g->release_fill = g->fill > 2 * CTB_GUARD_RELEASE_GAP
					  ? g->fill - CTB_GUARD_RELEASE_GAP
					  : g->fill / 2;
	if (g->release_fill >= g->fill) {
		snprintf(err, errlen, "guard-release-fill (%g %%) must be below guard-fill (%g %%), "
				      "or the guard would let go at the level that makes it act",
			 g->release_fill, g->fill);
		return -EINVAL;
	}
	return 0;
}

static char *portset_text(const struct ctb_portset *set, const char *empty)
{
	size_t cap = 65536 * 7; /* "65535," for every second port, at most */
	char *buf;

	if (ctb_portset_empty(set))
		return strdup(empty);
	buf = malloc(cap);
	if (buf)
		ctb_portset_format(set, buf, cap);
	return buf;
}

char *ctb_guard_ports_text(const struct ctb_guard_settings *g)
{
	return g->ports_auto ? strdup("auto") : portset_text(&g->ports, "");
}

char *ctb_guard_deny_text(const struct ctb_guard_settings *g)
{
	return portset_text(&g->deny, "none");
}

char *ctb_guard_upstreams_text(const struct ctb_guard_settings *g)
{
	size_t cap = g->upstreams.count * (CTB_UPSTREAM_STRLEN + 1) + 8, used = 0;
	char *buf;

	if (g->upstreams_auto)
		return strdup("auto");
	buf = malloc(cap);
	if (!buf)
		return NULL;
	buf[0] = '\0';
	for (size_t i = 0; i < g->upstreams.count; i++) {
		char up[CTB_UPSTREAM_STRLEN];

		ctb_upstream_format(&g->upstreams.items[i], up);
		used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? "," : "", up);
	}
	return buf;
}
