// SPDX-License-Identifier: GPL-2.0
/* Preflight findings: their ids, acceptance by id, and how they are printed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "preflight.h"

static const char *const kind_names[] = {
	[CTB_FINDING_NAT] = "nat",
	[CTB_FINDING_STATEFUL] = "state",
	[CTB_FINDING_HELPER] = "helper",
	[CTB_FINDING_EPHEMERAL] = "ephem",
	[CTB_FINDING_ICMP] = "icmp",
	[CTB_FINDING_UNANALYZED] = "unread",
	[CTB_FINDING_ANY_SOURCE] = "anysrc",
	[CTB_FINDING_NAT_TO_BYPASSED] = "natto",
	[CTB_FINDING_RELOAD_WINDOW] = "reload",
};

static uint32_t fnv1a(uint32_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	h ^= 0xff; /* a field separator no text contains */
	return h * 16777619u;
}

void ctb_findings_name(struct ctb_findings *f)
{
	for (size_t i = 0; i < f->count; i++) {
		struct ctb_finding *it = &f->items[i];
		uint32_t h = 2166136261u;

		/* What it is about; never the fix, which names positions. */
		h = fnv1a(h, kind_names[it->kind]);
		h = fnv1a(h, it->subject[0] ? it->subject : it->traffic);
		h = fnv1a(h, it->where);
		h = fnv1a(h, it->rule);
		h = fnv1a(h, it->accepted_where);
		h = fnv1a(h, it->accepted_rule);
		snprintf(it->id, sizeof(it->id), "%s-%06x", kind_names[it->kind],
			 (unsigned int)(h & 0xffffff));
	}
}

void ctb_findings_free(struct ctb_findings *f)
{
	free(f->items);
	f->items = NULL;
	f->count = 0;
}

size_t ctb_findings_blocking(const struct ctb_findings *f)
{
	size_t n = 0;

	for (size_t i = 0; i < f->count; i++)
		n += f->items[i].blocking && !f->items[i].accepted;
	return n;
}

size_t ctb_findings_accept(struct ctb_findings *f, const char *accept)
{
	size_t unknown = 0;
	const char *p = accept;

	while (p && *p) {
		size_t len = strcspn(p, ",");
		bool found = false;

		for (size_t i = 0; i < f->count; i++) {
			struct ctb_finding *it = &f->items[i];

			if (strlen(it->id) == len && !strncmp(it->id, p, len)) {
				found = true;
				if (it->blocking)
					it->accepted = true;
			}
		}
		unknown += len && !found;
		p += len;
		if (*p == ',')
			p++;
	}
	return unknown;
}

void ctb_findings_print(FILE *out, const struct ctb_findings *f)
{
	for (size_t i = 0; i < f->count; i++) {
		const struct ctb_finding *it = &f->items[i];
		const char *verdict = !it->blocking ? "warning" : it->accepted ? "accepted"
									       : "refuse";

		fprintf(out, "preflight: %s [%s]: %s\n", verdict, it->id, it->message);
	}
}
