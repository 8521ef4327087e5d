/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reads a set of table inet ctbypass straight from nf_tables over netlink.
 * Listing 65,535 elements through libnftables' JSON takes about 2 s; one
 * netlink dump of the raw keys takes milliseconds, so status, every change
 * and its verification read the big `server_ports` set this way.
 */
#ifndef CTB_NFT_SET_DUMP_H
#define CTB_NFT_SET_DUMP_H

#include <libmnl/libmnl.h>
#include <stddef.h>
#include <stdint.h>
#include "portset.h"

/* Called with each element's key (NFTA_DATA_VALUE bytes). Nonzero stops. */
typedef int (*ctb_set_elem_cb)(const uint8_t *key, size_t len, void *data);

/*
 * Parses one NFT_MSG_NEWSETELEM message (a netlink reply: outside input) and
 * calls CB for each element key. 0, or -EPROTO when malformed.
 */
int ctb_nft_setelem_parse(const struct nlmsghdr *nlh, ctb_set_elem_cb cb, void *data);

/*
 * Reads set `server_ports` (inet_proto . inet_service) of table inet ctbypass
 * into TCP and UDP port sets. -ENOENT when there is no such set.
 */
int ctb_nft_read_server_ports(struct ctb_portset *tcp, struct ctb_portset *udp);

#endif
