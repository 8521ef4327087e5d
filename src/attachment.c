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
	return att->nft.present || att->filter_count;
}

void ctb_attachment_free(struct ctb_attachment *att)
{
	for (size_t i = 0; i < att->filter_count; i++)
		if (att->prog_fds[i] >= 0)
			close(att->prog_fds[i]);
	att->filter_count = 0;
	if (att->have_maps)
		ctb_maps_close(&att->maps);
	att->have_maps = false;
	ctb_nft_state_free(&att->nft);
}

int ctb_attachment_find(struct ctb_attachment *att, char *err, size_t errlen)
{
	struct ctb_iface_list *all = malloc(sizeof(*all));
	int ret;

	memset(att, 0, sizeof(*att));
	if (!all)
		return -ENOMEM;
	ret = ctb_ifaces_all(all);
	for (size_t i = 0; !ret && i < all->count; i++) {
		struct ctb_tc_filter f;
		size_t n = att->filter_count;

		if (ctb_tc_find(all->items[i].ifindex, &f) || !ctb_prog_is_classifier(f.prog_id))
			continue;
		att->filters[n] = f;
		att->prog_fds[n] = bpf_prog_get_fd_by_id(f.prog_id);
		att->filter_count++;
		ctb_iface_list_add(&att->ifaces, f.ifindex, all->items[i].name);
		if (!att->have_maps && !ctb_maps_open_from_prog(f.prog_id, &att->maps))
			att->have_maps = true;
	}
	free(all);
	if (ret) {
		snprintf(err, errlen, "cannot list interfaces: %s", strerror(-ret));
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
	for (size_t i = 0; i < att->filter_count; i++)
		if (att->filters[i].ifindex == ifindex)
			return att->prog_fds[i];
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
	struct tc_undo undo[CTB_MAX_IFACES];
	size_t undo_count = 0;
	struct classifier *skel = NULL;
	struct ctb_maps fresh = { 0 }, *maps = &att->maps;
	__u32 old_mark = att->nft.present ? att->nft.cfg.mark : 0;
	bool maps_written = false;
	int ret;

	/* 1. nftables first: while a new mark is coming, NOTRACK both marks. */
	ret = ctb_nft_apply(cfg, att->nft.present ? &att->nft.cfg : NULL, old_mark, err, errlen);
	if (ret) {
		if (ret == -EPROTONOSUPPORT)
			snprintf(err, errlen, "nf_tables is not available in this kernel");
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
	if (old_mark && old_mark != cfg->mark) {
		wait_for_marked_packets();
		if (ctb_nft_apply(cfg, cfg, 0, err, errlen))
			ctb_warn("could not remove the previous mark's rule: %s", err);
	}
	if (skel) {
		ctb_maps_close(&fresh);
		classifier__destroy(skel);
	}
	return 0;
fail:
	rollback(att, cfg, undo, undo_count, maps_written);
	if (skel) {
		ctb_maps_close(&fresh);
		classifier__destroy(skel);
	}
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
