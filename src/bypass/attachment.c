// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "attachment.h"
#include "log.h"

bool ctb_attachment_exists(const struct ctb_attachment *att)
{
	return att->nft.present || att->filter_count || att->duplicate_count;
}

const char *ctb_attachment_hook(const struct ctb_attachment *att)
{
	bool tcx = false, clsact = false;

	for (size_t i = 0; i < att->filter_count; i++) {
		tcx |= att->filters[i].hook == CTB_HOOK_TCX;
		clsact |= att->filters[i].hook == CTB_HOOK_CLSACT;
	}
	if (tcx && clsact)
		return "tcx,clsact";
	return tcx ? "tcx" : clsact ? "clsact" : NULL;
}

void ctb_attachment_free(struct ctb_attachment *att)
{
	for (size_t i = 0; i < att->prog_count; i++)
		close(att->progs[i].fd);
	free(att->progs);
	free(att->filters);
	free(att->duplicates);
	ctb_iface_list_free(&att->ifaces);
	if (att->have_maps)
		ctb_maps_close(&att->maps);
	ctb_nft_state_free(&att->nft);
	memset(att, 0, sizeof(*att));
}

static int push_filter(struct ctb_tc_filter **arr, size_t *count, const struct ctb_tc_filter *f)
{
	/* Grows at powers of two, so COUNT alone tells the capacity. */
	if (!(*count & (*count - 1))) {
		struct ctb_tc_filter *grown = realloc(*arr, (*count ? *count * 2 : 1) * sizeof(*f));

		if (!grown)
			return -ENOMEM;
		*arr = grown;
	}
	(*arr)[(*count)++] = *f;
	return 0;
}

/* Keeps PROG_ID open (once, whatever the number of filters holding it). */
static int hold_prog(struct ctb_attachment *att, __u32 prog_id)
{
	struct ctb_held_prog *grown;
	int fd;

	for (size_t i = 0; i < att->prog_count; i++)
		if (att->progs[i].id == prog_id)
			return 0;
	fd = bpf_prog_get_fd_by_id(prog_id);
	if (fd < 0)
		return -errno;
	grown = realloc(att->progs, (att->prog_count + 1) * sizeof(*grown));
	if (!grown) {
		close(fd);
		return -ENOMEM;
	}
	att->progs = grown;
	att->progs[att->prog_count++] = (struct ctb_held_prog){ prog_id, fd };
	return 0;
}

static int find_on_iface(struct ctb_attachment *att, const struct ctb_iface *iface)
{
	struct ctb_tc_filter found[CTB_TC_MAX_FOUND];
	size_t n = ctb_tc_find_all(iface->ifindex, found);
	bool have_one = false;
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++) {
		if (!ctb_prog_is_classifier(found[i].prog_id))
			continue;
		if (have_one) {
			ret = push_filter(&att->duplicates, &att->duplicate_count, &found[i]);
			continue;
		}
		have_one = true;
		ret = push_filter(&att->filters, &att->filter_count, &found[i]);
		if (!ret)
			ret = ctb_iface_list_add(&att->ifaces, iface->ifindex, iface->name);
		if (!ret)
			ret = hold_prog(att, found[i].prog_id);
		/* A program that went away meanwhile cannot be restored: nothing to hold. */
		if (ret == -ENOENT)
			ret = 0;
		if (!ret && !att->have_maps && !ctb_maps_open_from_prog(found[i].prog_id, &att->maps))
			att->have_maps = true;
	}
	return ret;
}

int ctb_attachment_find(struct ctb_attachment *att, char *err, size_t errlen)
{
	struct ctb_iface_list all = { 0 };
	int ret;

	memset(att, 0, sizeof(*att));
	ret = ctb_ifaces_all(&all);
	for (size_t i = 0; !ret && i < all.count; i++)
		ret = find_on_iface(att, &all.items[i]);
	ctb_iface_list_free(&all);
	if (ret) {
		snprintf(err, errlen, "cannot list interfaces and their filters: %s",
			 strerror(-ret));
		return ret;
	}
	/* On -EPROTO (a table by our name we cannot read) the filters found stay in
	 * ATT, so detach can still remove everything; callers free ATT in any case. */
	return ctb_nft_read(&att->nft, err, errlen);
}
