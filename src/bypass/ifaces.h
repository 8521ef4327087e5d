/* SPDX-License-Identifier: GPL-2.0 */
/* The interfaces the classifier goes on: named with --iface, or every eligible one. */
#ifndef CTB_IFACES_H
#define CTB_IFACES_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

struct ctb_iface {
	int ifindex;
	char name[IF_NAMESIZE];
};

/* Grows as needed: a host may have thousands of interfaces (containers, VLANs). */
struct ctb_iface_list {
	struct ctb_iface *items;
	size_t count, cap;
};

/* Every interface that is up, is not loopback and carries Ethernet frames. */
int ctb_ifaces_default(struct ctb_iface_list *out);

/*
 * Resolves a comma-separated list of names. Unknown or unsupported interfaces
 * give -ENODEV / -EPROTONOSUPPORT with a one-line message in ERR.
 */
int ctb_ifaces_resolve(const char *list, struct ctb_iface_list *out, char *err, size_t errlen);

/* Every interface of the current namespace, eligible or not (for discovery). */
int ctb_ifaces_all(struct ctb_iface_list *out);

bool ctb_iface_list_has(const struct ctb_iface_list *list, int ifindex);
/* Adds unless present; -ENOMEM. */
int ctb_iface_list_add(struct ctb_iface_list *list, int ifindex, const char *name);
void ctb_iface_list_free(struct ctb_iface_list *list);
/*
 * Comma-separated names, for messages; past a few names, "a,b,c and N more"
 * so a host with a thousand veths still gets one readable line.
 */
void ctb_iface_list_format(const struct ctb_iface_list *list, char *buf, size_t len);

#endif
