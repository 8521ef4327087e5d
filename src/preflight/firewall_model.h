/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A firewall ruleset reduced to what matters for a bypass: per chain, rules made
 * of matches (protocol, ports, addresses, ct state, interface, or unknown) and a
 * verdict. Both nftables (JSON) and iptables (save format) are read into it, so
 * the preflight analysis is written once.
 */
#ifndef CTB_FIREWALL_MODEL_H
#define CTB_FIREWALL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FW_MAX_PORT_RANGES 64
#define FW_MAX_PREFIXES 16
#define FW_NAME_LEN 64
#define FW_TEXT_LEN 256

/* Conntrack states as bits, so `ct state established,related` is one mask. */
enum fw_ct_state {
	FW_CT_NEW = 1 << 0,
	FW_CT_ESTABLISHED = 1 << 1,
	FW_CT_RELATED = 1 << 2,
	FW_CT_INVALID = 1 << 3, /* also: no conntrack entry at all */
	FW_CT_UNTRACKED = 1 << 4,
	/* iptables' --ctstate DNAT/SNAT: the entry is translated. Untracked
	 * packets have no entry, so never; tracked ones may or may not. */
	FW_CT_DNAT = 1 << 5,
	FW_CT_SNAT = 1 << 6,
};

/* Transport protocols as bits. */
enum fw_l4 { FW_L4_TCP = 1, FW_L4_UDP = 2, FW_L4_ICMP = 4, FW_L4_ICMPV6 = 8, FW_L4_OTHER = 16 };

enum fw_match_kind {
	FW_M_L4, /* l4 mask */
	FW_M_DPORT, /* ports */
	FW_M_SPORT,
	FW_M_SADDR, /* prefixes */
	FW_M_DADDR,
	FW_M_CT_STATE, /* ct_states mask */
	FW_M_IIF, /* ifname */
	FW_M_OIF,
	FW_M_FAMILY, /* family: the rule applies to IPv4 (4) or IPv6 (6) only */
	FW_M_UNKNOWN, /* anything we do not model: may or may not match */
	/* Read from the packet's conntrack entry (ct mark, ct status, ct count,
	 * connlimit, connbytes, a CONNMARK restore's result …): false for an
	 * untracked packet, which has none; may or may not match a tracked one. */
	FW_M_CT_DERIVED,
	/* The address is one of this host's (`-m addrtype --dst-type LOCAL`,
	 * `fib daddr type local`): no operand, the probe knows. */
	FW_M_SADDR_LOCAL,
	FW_M_DADDR_LOCAL,
};

struct fw_port_range {
	uint16_t lo, hi;
};

struct fw_prefix {
	int family; /* 4 or 6 */
	uint8_t addr[16];
	uint8_t len;
};

struct fw_match {
	enum fw_match_kind kind;
	bool negate;
	unsigned int l4; /* FW_L4_* bits */
	unsigned int ct_states; /* FW_CT_* bits */
	int family;
	size_t port_count;
	struct fw_port_range ports[FW_MAX_PORT_RANGES];
	size_t prefix_count;
	struct fw_prefix prefixes[FW_MAX_PREFIXES];
	char ifname[FW_NAME_LEN];
};

enum fw_verdict {
	FW_V_CONTINUE, /* no verdict (counter, log, mark …) */
	FW_V_ACCEPT,
	FW_V_DROP, /* drop or reject */
	FW_V_RETURN,
	FW_V_JUMP,
	FW_V_GOTO,
	FW_V_NAT, /* dnat, snat, masquerade, redirect: nat says which */
	/* A target or statement we do not model (NFQUEUE, SYNPROXY, TPROXY, a
	 * verdict map with keys we cannot evaluate, a jump to a chain we did not
	 * read): it may accept, drop or let the packet go on. */
	FW_V_UNKNOWN,
};

enum fw_nat_kind { FW_NAT_NONE, FW_NAT_DNAT, FW_NAT_REDIRECT, FW_NAT_SNAT, FW_NAT_MASQUERADE };

/*
 * Where a NAT rule sends the packet. For DNAT and REDIRECT the preflight asks
 * whether the translated destination is a bypassed local port: the reply from
 * that port would be untracked and never translated back.
 */
struct fw_nat {
	enum fw_nat_kind kind;
	bool understood; /* false: the translation is not one we can read (a map …) */
	bool addr_given; /* dnat/snat to an address (else: kept, or the host's own) */
	struct fw_prefix addr; /* the first address of the range, len 32 or 128 */
	bool ports_given; /* to a port or range (else: the port is kept) */
	struct fw_port_range ports;
};

struct fw_rule {
	struct fw_match *matches;
	size_t match_count;
	enum fw_verdict verdict;
	char target[FW_NAME_LEN]; /* jump/goto chain, or NAT kind ("dnat" …) */
	struct fw_nat nat; /* verdict FW_V_NAT: the translation */
	char helper[FW_NAME_LEN]; /* a conntrack helper this rule assigns, if any */
	char text[FW_TEXT_LEN]; /* for messages: the rule as the operator wrote it */
	uint64_t handle; /* nftables handle, or 1-based position for iptables */
};

enum fw_source { FW_SRC_NFT, FW_SRC_IPTABLES_NFT, FW_SRC_IPTABLES_LEGACY };

enum fw_hook { FW_HOOK_NONE, FW_HOOK_PREROUTING, FW_HOOK_INPUT, FW_HOOK_FORWARD,
	       FW_HOOK_OUTPUT, FW_HOOK_POSTROUTING };

struct fw_chain {
	enum fw_source source;
	char family[8]; /* "ip", "ip6", "inet" (nftables families) */
	char table[FW_NAME_LEN];
	char name[FW_NAME_LEN];
	enum fw_hook hook; /* FW_HOOK_NONE: a regular chain */
	bool nat; /* type nat */
	bool policy_drop;
	struct fw_rule *rules;
	size_t rule_count;
};

#define FW_MAX_UNREADABLE 4
#define FW_UNREADABLE_LEN 128

struct fw_ruleset {
	struct fw_chain *chains;
	size_t chain_count;
	/* What could not be read, and why ("iptables-legacy-save: not
	 * installed"): the ruleset is incomplete, so the analysis cannot vouch
	 * for it. Past FW_MAX_UNREADABLE the last entry says there were more. */
	char unreadable[FW_MAX_UNREADABLE][FW_UNREADABLE_LEN];
	size_t unreadable_count;
};

void fw_ruleset_free(struct fw_ruleset *rs);
struct fw_chain *fw_ruleset_add_chain(struct fw_ruleset *rs);
struct fw_rule *fw_chain_add_rule(struct fw_chain *chain);
struct fw_match *fw_rule_add_match(struct fw_rule *rule, enum fw_match_kind kind);
/* Records that part of the firewall could not be read (printf-style reason). */
void fw_ruleset_add_unreadable(struct fw_ruleset *rs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const struct fw_chain *fw_ruleset_find(const struct fw_ruleset *rs, const struct fw_chain *from,
				       const char *name);

/*
 * True for an iptables target that lets the packet go on to the next rule
 * (LOG, MARK, CT …): named so in iptables-save text and in iptables-nft's
 * xt statements alike.
 */
bool fw_target_continues(const char *target);

/* Reads nftables JSON (`nft -j list ruleset`), skipping tables listed in SKIP
 * ("family table" pairs, e.g. tables iptables-nft manages). */
int fw_parse_nft_json(struct fw_ruleset *rs, const char *json, const char *const *skip,
		      size_t skip_count);

/* Reads iptables-save text for FAMILY (4 or 6). */
int fw_parse_iptables_save(struct fw_ruleset *rs, const char *text, int family,
			   enum fw_source source);

#endif
