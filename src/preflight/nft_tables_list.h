/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The namespace's nftables tables by family and name, from a raw
 * NFT_MSG_GETTABLE dump. `nft list tables` through libnftables first fills its
 * cache with every set's elements: with ctbypass's 65,535-port set that took
 * 2 s, on every preflight.
 */
#ifndef CTB_NFT_TABLES_LIST_H
#define CTB_NFT_TABLES_LIST_H

#include <stddef.h>
#include "firewall_model.h"

struct ctb_nft_table_name {
	char family[8]; /* as nft writes it: ip, ip6, inet, arp, bridge, netdev */
	char name[256]; /* NFT_TABLE_MAXNAMELEN: never skipped for its length */
};

/* Every table; the caller frees *OUT. 0 or a negative errno. */
int ctb_nft_tables_list(struct ctb_nft_table_name **out, size_t *count);

#endif
