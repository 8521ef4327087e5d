// SPDX-License-Identifier: GPL-2.0
/* `watch`: what ctbypass kept out of conntrack, read as `status` reads it. */
#include <errno.h>
#include <stdlib.h>
#include "attachment.h"
#include "log.h"
#include "watch.h"

int ctb_watch_bypassed_total(uint64_t *packets)
{
	struct ctb_attachment att;
	struct ctb_counter_line *lines = NULL;
	char err[CTB_ERR_LEN];
	size_t count = 0;
	int ret = ctb_attachment_find(&att, err, sizeof(err));

	*packets = 0;
	if (!ret && !ctb_attachment_exists(&att))
		ret = -ENOENT;
	if (ret) {
		if (ret != -ENOENT)
			ctb_debug("watch: cannot read the attachment: %s", err);
		ctb_attachment_free(&att);
		return ret;
	}
	/* Arrivals the classifier marked, plus departures the output rules untracked. */
	if (att.have_maps && !ctb_maps_read_counters(&att.maps, &att.nft.cfg, &lines, &count))
		for (size_t i = 0; i < count; i++)
			*packets += lines[i].counter.packets;
	free(lines);
	*packets += att.nft.departures.packets;
	ctb_attachment_free(&att);
	return 0;
}
