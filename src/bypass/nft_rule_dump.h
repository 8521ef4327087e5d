/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reads the rules of table inet ctbypass straight from nf_tables over netlink:
 * each rule's chain, comment and counters. libnftables lists a chain only after
 * fetching every set's elements into its cache (3 s with 65,535 ports); the raw
 * dump costs milliseconds whatever the sets hold.
 */
#ifndef CTB_NFT_RULE_DUMP_H
#define CTB_NFT_RULE_DUMP_H

#include <libmnl/libmnl.h>
#include <stdint.h>

#define CTB_NFT_NAME_LEN 64
#define CTB_NFT_COMMENT_LEN 128

struct ctb_nft_rule {
	char chain[CTB_NFT_NAME_LEN];
	char comment[CTB_NFT_COMMENT_LEN]; /* "" when the rule has none */
	uint64_t packets, bytes; /* summed over the rule's counters */
	unsigned int counters; /* how many counter expressions it has */
};

/*
 * Parses one NFT_MSG_NEWRULE message (a netlink reply: outside input).
 * 0, or -EPROTO when malformed.
 */
int ctb_nft_rule_parse(const struct nlmsghdr *nlh, struct ctb_nft_rule *out);

/* Calls CB for each rule of table inet ctbypass; -ENOENT without the table. */
int ctb_nft_rules_read(int (*cb)(const struct ctb_nft_rule *rule, void *data), void *data);

#endif
