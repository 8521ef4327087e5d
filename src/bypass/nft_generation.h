/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The namespace's nftables ruleset generation (NFT_MSG_GETGEN): every committed
 * change, to any table, bumps it. Equal before and after a read, and equal
 * later, means nothing of nftables changed in between: what was read then can
 * be used again instead of listing sets of 65,535 elements once more.
 */
#ifndef CTB_NFT_GENERATION_H
#define CTB_NFT_GENERATION_H

#include <stdint.h>

/* The generation, or -1 when it cannot be read. */
int64_t ctb_nft_generation(void);

#endif
