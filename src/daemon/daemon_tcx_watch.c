// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "daemon_tcx_watch.h"
#include "tcx_hook.h"

void ctb_tcx_watch_note(struct ctb_tcx_watch *w, const struct ctb_attachment *att)
{
	size_t n = 0;

	for (size_t i = 0; i < att->filter_count; i++)
		n += att->filters[i].hook == CTB_HOOK_TCX;
	free(w->items);
	w->items = n ? calloc(n, sizeof(*w->items)) : NULL;
	w->count = 0;
	if (!w->items)
		return; /* nothing on tcx (or no memory: the verify interval still looks) */
	for (size_t i = 0; i < att->filter_count; i++) {
		const struct ctb_tc_filter *f = &att->filters[i];

		if (f->hook != CTB_HOOK_TCX)
			continue;
		w->items[w->count].ifindex = f->ifindex;
		w->items[w->count].prog_id = f->prog_id;
		w->count++;
	}
}

bool ctb_tcx_watch_changed(const struct ctb_tcx_watch *w)
{
	for (size_t i = 0; i < w->count; i++) {
		__u32 first;
		/* Room for one id: the kernel fills the first and says how many there are. */
		int n = ctb_tcx_list(w->items[i].ifindex, &first, 1);

		/* Gone with its interface: rtnetlink tells of that. */
		if (n == -ENODEV)
			continue;
		if (n <= 0 || first != w->items[i].prog_id)
			return true;
	}
	return false;
}

void ctb_tcx_watch_free(struct ctb_tcx_watch *w)
{
	free(w->items);
	memset(w, 0, sizeof(*w));
}
