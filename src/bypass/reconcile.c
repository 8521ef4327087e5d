// SPDX-License-Identifier: GPL-2.0
/*
 * The one path every change takes (attach, ports, upstream, detach, and next
 * the daemon): from what the kernel holds (an attachment, observed by
 * ctb_attachment_find) to a desired configuration, in an order that keeps
 * every flow tracked in both directions or untracked in both, then read back.
 *
 * Who decides what:
 *   - departures: the nftables output rules, from the sets (S);
 *   - arrivals: the prerouting rule NOTRACKs what the classifier marked (its
 *     map, M) on an interface in `classified` (T); the backstop NOTRACKs, from
 *     S, local arrivals the classifier did not mark.
 * So arrivals and departures agree as long as M is within S, with a marked
 * packet still on its way from TC to prerouting counted as in M. The order:
 *   1. GROW: one nftables transaction adds to S and T, and NOTRACKs the old
 *      mark beside the new one (a new classifier may have a new mark);
 *   2. the classifier: maps written (M shrinks and grows, always within S),
 *      filters added or replaced in place, and removed where no longer wanted;
 *   3. verify: the maps hold exactly the configuration, every interface
 *      carries the same classifier, S holds at least the configuration; else
 *      roll everything back and fail;
 *   4. an RCU grace period: every packet marked under the old M has met the
 *      prerouting rule;
 *   5. SHRINK: one transaction removes from S and T what is no longer wanted,
 *      and the old mark's rule.
 * Detach is the same toward nothing: filters first, the grace period, then
 * the table.
 */
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "attachment.h"
#include "classifier.skel.h"
#include "log.h"
#include "memlock.h"
#include "nft_set_dump.h"

/*
 * A packet the old classifier marked may still be on its way from TC ingress to
 * PREROUTING on another CPU when the filter changes; both run inside one RCU
 * read-side section. membarrier(GLOBAL) is a synchronize_rcu(): after it,
 * every such packet has met the prerouting rule.
 */
static void wait_for_marked_packets(void)
{
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0))
		usleep(100000); /* no membarrier (nohz_full): a grace period is far shorter */
}

/*
 * Ctrl-C or a TERM in the middle would leave half a setup: hold them until the
 * change is complete or rolled back. (SIGKILL cannot be held: see intent_log.h.)
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

/* What one change did on TC, so a failure can put it back. */
struct tc_undo {
	struct ctb_tc_filter filter;
	bool added; /* else replaced: restore OLD_PROG_FD */
	int old_prog_fd;
};

struct change {
	struct ctb_attachment *att;
	const struct ctb_config *want;
	const struct ctb_iface_list *ifaces; /* where the classifier is wanted */
	const struct ctb_config *have; /* what the sets held; NULL: no table */
	struct ctb_iface_list trusted; /* T after GROW: what it held and IFACES */
	struct tc_undo *undo;
	size_t undo_count;
	struct classifier *skel; /* a newly loaded classifier, if any */
	struct ctb_maps fresh; /* its maps */
	struct ctb_maps *maps; /* the maps in use: the attachment's, or FRESH */
	bool maps_written;
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

static void undo_tc(const struct change *c)
{
	for (size_t n = c->undo_count; n--;) {
		const struct tc_undo *u = &c->undo[n];

		if (u->added) {
			ctb_tc_detach(&u->filter);
		} else if (u->old_prog_fd >= 0) {
			struct ctb_tc_filter f;
			bool added;

			ctb_tc_attach(u->filter.ifindex, u->old_prog_fd, &added, &f);
		}
	}
}

static int grow(struct change *c, char *err, size_t errlen)
{
	const struct ctb_attachment *att = c->att;
	struct ctb_nft_step step = {
		.want = c->want,
		.have = c->have,
		.grow = true,
		.upgrade = c->have && !att->nft.complete,
		/* The old classifier may run until step 2, and so may one an
		 * interrupted change left on some interfaces. */
		.extra_marks = { c->have ? c->have->mark : 0,
				 c->have ? att->nft.transition_mark : 0 },
		.classified_want = &c->trusted,
		.classified_have = &att->nft.classified,
	};
	int ret;

	for (size_t i = 0; i < att->nft.classified.count; i++)
		if (ctb_iface_list_add(&c->trusted, att->nft.classified.items[i].ifindex, ""))
			return -ENOMEM;
	for (size_t i = 0; i < c->ifaces->count; i++)
		if (ctb_iface_list_add(&c->trusted, c->ifaces->items[i].ifindex, ""))
			return -ENOMEM;
	ret = ctb_nft_apply(&step, err, errlen);
	if (ret == -EPROTONOSUPPORT)
		snprintf(err, errlen, "nf_tables is not available in this kernel");
	return ret;
}

static int shrink(struct change *c, const struct ctb_config *want,
		  const struct ctb_config *have, const struct ctb_iface_list *trusted_want,
		  char *err, size_t errlen)
{
	struct ctb_nft_step step = {
		.want = want,
		.have = have,
		.classified_want = trusted_want,
		.classified_have = &c->trusted,
	};

	return ctb_nft_apply(&step, err, errlen);
}

static int attach_filters(struct change *c, int prog_fd, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->ifaces->count; i++) {
		const struct ctb_iface *iface = &c->ifaces->items[i];
		struct tc_undo *u = &c->undo[c->undo_count];
		int ret = ctb_tc_attach(iface->ifindex, prog_fd, &u->added, &u->filter);

		/* A container's veth going away meanwhile is ordinary on a busy host: with
		 * the default interfaces, go on without it (one named with --iface fails). */
		if (ret == -ENODEV && !c->want->iface_list) {
			ctb_warn("%s went away during the change: skipped", iface->name);
			continue;
		}
		if (ret) {
			snprintf(err, errlen, "cannot attach the classifier to %s: %s%s", iface->name,
				 strerror(-ret),
				 ret == -ENODEV ? " (the interface vanished)"
				 : ret == -EINVAL
					 ? " (a filter of another protocol holds TC priority 1?)"
				 : ret == -ERANGE
					 ? " (its tcx hook holds the most programs the kernel allows)"
					 : "");
			return ret;
		}
		u->old_prog_fd = old_prog_fd(c->att, iface->ifindex);
		c->undo_count++;
	}
	return 0;
}

/*
 * A second filter of ours on one interface (left by concurrent commands of an
 * older version) runs the classifier twice. A redundant copy: removing it is
 * safe at any point, and before the read-back, which wants one per interface.
 */
static void detach_duplicates(const struct ctb_attachment *att)
{
	for (size_t i = 0; i < att->duplicate_count; i++) {
		int ret = ctb_tc_detach(&att->duplicates[i]);

		if (ret)
			ctb_warn("cannot remove a duplicate classifier from ifindex %d: %s",
				 att->duplicates[i].ifindex, strerror(-ret));
	}
}

/* Step 2: the classifier, new or reloaded over the same maps, and its filters. */
static int set_classifier(struct change *c, bool reload_prog, char *err, size_t errlen)
{
	struct ctb_attachment *att = c->att;
	int ret;

	c->maps = att->have_maps ? &att->maps : NULL;
	if (c->ifaces->count && (reload_prog || !att->have_maps)) {
		ret = ctb_classifier_load(c->want->mark, c->maps, &c->skel, &c->fresh);
		if (ret) {
			char hint[160];

			ctb_memlock_hint(ret, hint, sizeof(hint));
			snprintf(err, errlen, "cannot load the BPF classifier: %s%s", strerror(-ret),
				 hint);
			return ret;
		}
		c->maps = &c->fresh;
	}
	if (!c->maps)
		return 0; /* no interface for a classifier, and none before */
	c->maps_written = true;
	ret = ctb_maps_write(c->maps, c->want);
	if (ret) {
		snprintf(err, errlen, "cannot write the classifier's maps: %s", strerror(-ret));
		return ret;
	}
	if (c->skel) {
		ret = attach_filters(c, bpf_program__fd(c->skel->progs.ctb_ingress), err, errlen);
		if (ret)
			return ret;
	}
	detach_duplicates(c->att);
	return 0;
}

static void detach_unwanted(const struct change *c)
{
	const struct ctb_attachment *att = c->att;

	for (size_t i = 0; i < att->filter_count; i++) {
		int ret;

		if (ctb_iface_list_has(c->ifaces, att->filters[i].ifindex))
			continue;
		ret = ctb_tc_detach(&att->filters[i]);
		if (ret)
			ctb_warn("cannot remove the classifier from %s: %s",
				 att->ifaces.items[i].name, strerror(-ret));
	}
}

/*
 * Step 3, read back: the maps hold exactly WANT, each wanted interface runs
 * one and the same classifier, and `server_ports` holds at least WANT's ports.
 * The map is mmapped and the set comes from one raw netlink dump, so this
 * costs milliseconds even at 65,535 ports (libnftables' listing: seconds).
 */
static int verify(const struct change *c, char *err, size_t errlen)
{
	struct ctb_portset *tcp = calloc(2, sizeof(*tcp)), *udp = tcp + 1;
	__u32 prog_id = 0;
	char diff[160];
	int ret = 0;

	if (!tcp)
		return -ENOMEM;
	if (c->maps && ctb_maps_compare(c->maps, c->want, diff, sizeof(diff))) {
		snprintf(err, errlen, "read back: the classifier's maps do not hold the "
				      "configuration (%s)", diff);
		ret = -EIO;
	}
	for (size_t i = 0; !ret && i < c->ifaces->count; i++) {
		const struct ctb_iface *iface = &c->ifaces->items[i];
		struct ctb_tc_filter all[CTB_TC_MAX_FOUND];
		size_t n;

		/* Gone since (skipped above, or just now): nothing to read back. */
		if (if_nametoindex(iface->name) != (unsigned int)iface->ifindex &&
		    !c->want->iface_list)
			continue;
		n = ctb_tc_find_all(iface->ifindex, all);

		if (n == 1 && (!prog_id || all[0].prog_id == prog_id)) {
			prog_id = all[0].prog_id;
			continue;
		}
		snprintf(err, errlen, "read back: %s has %zu classifier filter%s%s",
			 c->ifaces->items[i].name, n, n == 1 ? "" : "s",
			 n == 1 ? ", running another program than the other interfaces" : "");
		ret = -EIO;
	}
	if (!ret)
		ret = ctb_nft_read_server_ports(tcp, udp);
	for (uint32_t p = 1; !ret && p < CTB_PORTS; p++) {
		bool want = ctb_portset_has(&c->want->ports, (uint16_t)p);

		if ((want && (c->want->protocols & CTB_PROTO_TCP) && !ctb_portset_has(tcp, (uint16_t)p)) ||
		    (want && (c->want->protocols & CTB_PROTO_UDP) && !ctb_portset_has(udp, (uint16_t)p))) {
			snprintf(err, errlen, "read back: nftables set server_ports lacks port %u", p);
			ret = -EIO;
		}
	}
	if (ret < 0 && ret != -EIO && !err[0])
		snprintf(err, errlen, "read back: cannot read set server_ports: %s", strerror(-ret));
	free(tcp);
	return ret;
}

static void rollback(struct change *c)
{
	struct ctb_attachment *att = c->att;
	char err[CTB_ERR_LEN];

	undo_tc(c);
	/* Reused maps go back to what they held; fresh ones die with their program. */
	if (c->maps_written && att->have_maps && c->have)
		ctb_maps_write(&att->maps, c->have);
	/* As on the way forward: packets marked under the wanted maps meet the
	 * prerouting rule before the sets shrink under them. */
	if (c->undo_count || c->maps_written)
		wait_for_marked_packets();
	if (!c->have) {
		ctb_nft_delete(err, sizeof(err));
		return;
	}
	/* SHRINK from WANT back to HAVE deletes exactly what GROW added. A table
	 * from before `classified` trusted no set: trust where the old filters are. */
	if (shrink(c, c->have, c->want,
		   att->nft.has_backstop ? &att->nft.classified : &att->ifaces, err, sizeof(err)))
		ctb_warn("rolling back nftables failed: %s", err);
}

static int apply_unsignalled(struct ctb_attachment *att, const struct ctb_config *want,
			     const struct ctb_iface_list *ifaces, bool reload_prog, char *err,
			     size_t errlen)
{
	struct change c = {
		.att = att,
		.want = want,
		.ifaces = ifaces,
		.have = att->nft.present ? &att->nft.cfg : NULL,
	};
	int ret;

	err[0] = '\0';
	c.undo = calloc(ifaces->count ? ifaces->count : 1, sizeof(*c.undo));
	if (!c.undo) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = grow(&c, err, errlen);
	if (ret)
		goto out; /* one transaction: nothing changed */
	ret = set_classifier(&c, reload_prog, err, errlen);
	if (!ret) {
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		ret = verify(&c, err, errlen);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ctb_debug("verify: %.1f ms", (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
						 (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	}
	if (ret) {
		rollback(&c);
		goto out;
	}
	/* Past the last step that can fail: drop what the new state does not keep. */
	detach_unwanted(&c);
	if (c.have) {
		wait_for_marked_packets();
		if (shrink(&c, want, c.have, ifaces, err, errlen))
			ctb_warn("the change is in place, but removing what it no longer needs "
				 "failed: %s ('ctbypass status' shows what is left)", err);
	}
out:
	if (c.skel) {
		ctb_maps_close(&c.fresh);
		classifier__destroy(c.skel);
	}
	ctb_iface_list_free(&c.trusted);
	free(c.undo);
	return ret;
}

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

static int remove_filters(const struct ctb_tc_filter *filters, size_t count,
			  const struct ctb_iface_list *names, char *err, size_t errlen)
{
	int ret = 0;

	for (size_t i = 0; i < count; i++) {
		int r = ctb_tc_detach(&filters[i]);

		if (r && !ret) {
			if (names)
				snprintf(err, errlen, "cannot remove the classifier from %s: %s",
					 names->items[i].name, strerror(-r));
			else
				snprintf(err, errlen, "cannot remove the classifier from ifindex %d: %s",
					 filters[i].ifindex, strerror(-r));
			ret = r;
		}
	}
	return ret;
}

int ctb_attachment_remove(struct ctb_attachment *att, char *err, size_t errlen)
{
	sigset_t saved;
	int ret, r;

	hold_signals(&saved);
	/* The classifier first: the table then still untracks what it marked. */
	ret = remove_filters(att->filters, att->filter_count, &att->ifaces, err, errlen);
	r = remove_filters(att->duplicates, att->duplicate_count, NULL, err, errlen);
	ret = ret ? ret : r;
	if (att->filter_count || att->duplicate_count)
		wait_for_marked_packets();
	/* A filter that stayed still marks: keep the rules that untrack and clear
	 * it, so that `detach` again finds and removes everything, in order. */
	if (!ret) {
		char nft_err[CTB_ERR_LEN];

		r = ctb_nft_delete(nft_err, sizeof(nft_err));
		if (r && r != -EPROTONOSUPPORT && !ret) {
			snprintf(err, errlen, "cannot delete table inet %s: %s", CTB_NFT_TABLE,
				 nft_err);
			ret = r;
		}
	}
	sigprocmask(SIG_SETMASK, &saved, NULL);
	return ret;
}
