// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "attachment.h"
#include "classifier.skel.h"
#include "log.h"

bool ctb_attachment_exists(const struct ctb_attachment *att)
{
	return att->nft.present || att->filter_count || att->duplicate_count;
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
	struct ctb_tc_filter found[CTB_TC_HANDLES];
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

/*
 * A packet the old classifier marked may still be on its way from TC ingress to
 * PREROUTING on another CPU when the filter replace returns; both run inside
 * one RCU read-side section. membarrier(GLOBAL) is a synchronize_rcu(): after
 * it, every such packet has met the old mark's rule, which can then go.
 */
static void wait_for_marked_packets(void)
{
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0))
		usleep(100000); /* no membarrier (nohz_full): a grace period is far shorter */
}

/* What one apply changed on TC, so a failure can put it back. */
struct tc_undo {
	struct ctb_tc_filter filter;
	bool added; /* else replaced: restore the program at prog_fds[old] */
	int old_prog_fd;
};

static int old_prog_fd(const struct ctb_attachment *att, int ifindex)
{
	for (size_t i = 0; i < att->filter_count; i++) {
		if (att->filters[i].ifindex != ifindex)
			continue;
		for (size_t p = 0; p < att->prog_count; p++)
			if (att->progs[p].id == att->filters[i].prog_id)
				return att->progs[p].fd;
	}
	return -1;
}

static void undo_tc(const struct tc_undo *undo, size_t count)
{
	while (count--) {
		const struct tc_undo *u = &undo[count];

		if (u->added) {
			ctb_tc_detach(&u->filter);
		} else if (u->old_prog_fd >= 0) {
			bool added;
			struct ctb_tc_filter f;

			ctb_tc_attach(u->filter.ifindex, u->old_prog_fd, &added, &f);
		}
	}
}

/* CUR: what the nftables table holds now (the configuration being applied). */
static void rollback(struct ctb_attachment *att, const struct ctb_config *cur,
		     struct tc_undo *undo, size_t undo_count, bool maps_written)
{
	char err[CTB_ERR_LEN];

	undo_tc(undo, undo_count);
	if (maps_written && att->have_maps && att->nft.present)
		ctb_maps_write(&att->maps, &att->nft.cfg);
	if (att->nft.present)
		ctb_nft_apply(&att->nft.cfg, cur, 0, err, sizeof(err));
	else
		ctb_nft_delete(err, sizeof(err));
}

static int attach_filters(struct ctb_attachment *att, const struct ctb_iface_list *ifaces,
			  int prog_fd, struct tc_undo *undo, size_t *undo_count, char *err,
			  size_t errlen)
{
	for (size_t i = 0; i < ifaces->count; i++) {
		struct tc_undo *u = &undo[*undo_count];
		int ret = ctb_tc_attach(ifaces->items[i].ifindex, prog_fd, &u->added, &u->filter);

		if (ret) {
			snprintf(err, errlen, "cannot attach the classifier to %s: %s%s",
				 ifaces->items[i].name, strerror(-ret),
				 ret == -ENODEV ? " (the interface vanished)"
				 : ret == -EINVAL
					 ? " (a filter of another protocol holds TC priority 1?)"
					 : "");
			return ret;
		}
		u->old_prog_fd = old_prog_fd(att, ifaces->items[i].ifindex);
		(*undo_count)++;
	}
	return 0;
}

static void detach_dropped(const struct ctb_attachment *att, const struct ctb_iface_list *keep)
{
	for (size_t i = 0; i < att->filter_count; i++) {
		int ret;

		if (ctb_iface_list_has(keep, att->filters[i].ifindex))
			continue;
		ret = ctb_tc_detach(&att->filters[i]);
		if (ret)
			ctb_warn("cannot remove the classifier from %s: %s",
				 att->ifaces.items[i].name, strerror(-ret));
	}
}

/* A second filter of ours on one interface would run the classifier twice. */
static void detach_duplicates(const struct ctb_attachment *att)
{
	for (size_t i = 0; i < att->duplicate_count; i++) {
		int ret = ctb_tc_detach(&att->duplicates[i]);

		if (ret)
			ctb_warn("cannot remove a duplicate classifier from ifindex %d: %s",
				 att->duplicates[i].ifindex, strerror(-ret));
	}
}

/*
 * Ctrl-C or a TERM in the middle would leave half a setup: hold them until the
 * change is complete or rolled back (tens of milliseconds).
 */
static void hold_signals(sigset_t *saved)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigprocmask(SIG_BLOCK, &set, saved);
}

static int apply_unsignalled(struct ctb_attachment *att, const struct ctb_config *cfg,
			     const struct ctb_iface_list *ifaces, bool reload_prog, char *err,
			     size_t errlen);

int ctb_attachment_apply(struct ctb_attachment *att, const struct ctb_config *cfg,
			 const struct ctb_iface_list *ifaces, bool reload_prog, char *err,
			 size_t errlen)
{
	sigset_t saved;
	int ret;

	hold_signals(&saved);
	ret = apply_unsignalled(att, cfg, ifaces, reload_prog, err, errlen);
	sigprocmask(SIG_SETMASK, &saved, NULL);
	return ret;
}

static int apply_unsignalled(struct ctb_attachment *att, const struct ctb_config *cfg,
			     const struct ctb_iface_list *ifaces, bool reload_prog, char *err,
			     size_t errlen)
{
	struct tc_undo *undo = calloc(ifaces->count ? ifaces->count : 1, sizeof(*undo));
	size_t undo_count = 0;
	struct classifier *skel = NULL;
	struct ctb_maps fresh = { 0 }, *maps = &att->maps;
	__u32 old_mark = att->nft.present ? att->nft.cfg.mark : 0;
	bool maps_written = false;
	int ret;

	if (!undo) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* 1. nftables first: while a new mark is coming, NOTRACK both marks. */
	ret = ctb_nft_apply(cfg, att->nft.present ? &att->nft.cfg : NULL, old_mark, err, errlen);
	if (ret) {
		if (ret == -EPROTONOSUPPORT)
			snprintf(err, errlen, "nf_tables is not available in this kernel");
		free(undo);
		return ret;
	}
	if (ifaces->count) {
		/* 2. The classifier: new (or reloaded for a new mark) over the same maps. */
		if (reload_prog || !att->have_maps) {
			ret = ctb_classifier_load(cfg->mark, att->have_maps ? &att->maps : NULL,
						  &skel, &fresh);
			if (ret) {
				snprintf(err, errlen, "cannot load the BPF classifier: %s",
					 strerror(-ret));
				goto fail;
			}
			maps = &fresh;
		}
		ret = ctb_maps_write(maps, cfg);
		maps_written = true;
		if (ret) {
			snprintf(err, errlen, "cannot write the classifier's maps: %s",
				 strerror(-ret));
			goto fail;
		}
		/* 3. Filters: replace ours in place, add where missing. */
		if (skel) {
			ret = attach_filters(att, ifaces,
					     bpf_program__fd(skel->progs.ctb_ingress), undo,
					     &undo_count, err, errlen);
			if (ret)
				goto fail;
		}
	}
	/* 4. Past the last step that can fail: drop what the new state does not keep. */
	detach_dropped(att, ifaces);
	detach_duplicates(att);
	if (old_mark && old_mark != cfg->mark) {
		wait_for_marked_packets();
		if (ctb_nft_apply(cfg, cfg, 0, err, errlen))
			ctb_warn("could not remove the previous mark's rule: %s", err);
	}
	if (skel) {
		ctb_maps_close(&fresh);
		classifier__destroy(skel);
	}
	free(undo);
	return 0;
fail:
	rollback(att, cfg, undo, undo_count, maps_written);
	if (skel) {
		ctb_maps_close(&fresh);
		classifier__destroy(skel);
	}
	free(undo);
	return ret;
}

int ctb_attachment_remove(struct ctb_attachment *att, char *err, size_t errlen)
{
	sigset_t saved;
	int ret = 0;

	hold_signals(&saved);
	for (size_t i = 0; i < att->filter_count; i++) {
		int r = ctb_tc_detach(&att->filters[i]);

		if (r && !ret) {
			snprintf(err, errlen, "cannot remove the classifier from %s: %s",
				 att->ifaces.items[i].name, strerror(-r));
			ret = r;
		}
	}
	for (size_t i = 0; i < att->duplicate_count; i++) {
		int r = ctb_tc_detach(&att->duplicates[i]);

		if (r && !ret) {
			snprintf(err, errlen, "cannot remove the classifier from ifindex %d: %s",
				 att->duplicates[i].ifindex, strerror(-r));
			ret = r;
		}
	}
	if (att->nft.present || !ret) {
		char nft_err[CTB_ERR_LEN];
		int r = ctb_nft_delete(nft_err, sizeof(nft_err));

		if (r && r != -EPROTONOSUPPORT && !ret) {
			snprintf(err, errlen, "cannot delete table inet %s: %s", CTB_NFT_TABLE,
				 nft_err);
			ret = r;
		}
	}
	sigprocmask(SIG_SETMASK, &saved, NULL);
	return ret;
}
