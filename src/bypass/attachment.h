/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An attachment: everything ctbypass has put into one network namespace (TC
 * filters holding the classifier and its maps, and the nftables table). Each
 * command finds it anew from the kernel, so state survives the process and
 * `ip netns exec`, which hides bpffs pins between calls.
 */
#ifndef CTB_ATTACHMENT_H
#define CTB_ATTACHMENT_H

#include <stdbool.h>
#include "classifier_maps.h"
#include "ifaces.h"
#include "nft_table.h"
#include "tc_hook.h"

/* A classifier program some filter holds, kept open so a replaced one can be put back. */
struct ctb_held_prog {
	__u32 id;
	int fd;
};

struct ctb_attachment {
	struct ctb_nft_state nft;
	/* Our filter on each interface that has one; ifaces.items[i] names filters[i]. */
	struct ctb_tc_filter *filters;
	size_t filter_count;
	struct ctb_iface_list ifaces;
	/* Second filters of ours on an interface (races of older versions): removed on apply. */
	struct ctb_tc_filter *duplicates;
	size_t duplicate_count;
	/* One per distinct program, not per filter: a thousand interfaces share one. */
	struct ctb_held_prog *progs;
	size_t prog_count;
	struct ctb_maps maps;
	bool have_maps;
};

/* Which hook holds the classifier: "tcx", "clsact", "tcx,clsact" (mid-upgrade), or NULL. */
const char *ctb_attachment_hook(const struct ctb_attachment *att);

/* Finds what is attached in the current namespace. Free ATT whatever it returns. */
int ctb_attachment_find(struct ctb_attachment *att, char *err, size_t errlen);
void ctb_attachment_free(struct ctb_attachment *att);
bool ctb_attachment_exists(const struct ctb_attachment *att);

/*
 * Makes the namespace bypass CFG on IFACES. With RELOAD_PROG, a new classifier
 * (for a new mark) replaces the old in place. On failure everything done is
 * undone, leaving ATT as it was, and ERR says what failed.
 */
int ctb_attachment_apply(struct ctb_attachment *att, const struct ctb_config *cfg,
			 const struct ctb_iface_list *ifaces, bool reload_prog, char *err,
			 size_t errlen);

/* Removes every trace. Idempotent. */
int ctb_attachment_remove(struct ctb_attachment *att, char *err, size_t errlen);

#endif
