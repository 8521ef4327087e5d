/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One conntrack entry as a ctnetlink dump answers it, reduced to what deciding
 * and deleting need. The parser reads outside input: it checks every length.
 */
#ifndef CTB_CT_DUMP_H
#define CTB_CT_DUMP_H

#include <libmnl/libmnl.h>
#include <stdint.h>
#include "config.h"

struct ctb_ct_entry {
	struct ctb_flow flow; /* the original direction's tuple */
	uint32_t status;      /* IPS_* bits */
	uint32_t id;	      /* the kernel's id of the entry, network order as sent */
	uint16_t zone;	      /* 0: the default zone */
};

/*
 * Parses NLH, one whole message (its nlmsg_len within the buffer, as
 * mnl_cb_run ensures), into E. Returns 0;
 * -EOPNOTSUPP for an entry other than TCP or UDP over IPv4 or IPv6; -EPROTO
 * for anything else: not a conntrack entry, malformed, or missing the tuple,
 * status or id (without the id a delete could hit a newer entry).
 */
int ctb_ct_dump_parse(const struct nlmsghdr *nlh, struct ctb_ct_entry *e);

#endif
