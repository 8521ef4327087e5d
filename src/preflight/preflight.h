/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Before anything changes: what would bypassing CFG break? NAT that would stop
 * applying, stateful rules that would drop untracked packets (with the exact
 * rule to add), conntrack helpers, ephemeral ports, and ICMP errors.
 */
#ifndef CTB_PREFLIGHT_H
#define CTB_PREFLIGHT_H

#include <stdbool.h>
#include <stdio.h>
#include "config.h"
#include "firewall_model.h"

enum ctb_finding_kind {
	CTB_FINDING_NAT,
	CTB_FINDING_STATEFUL,
	CTB_FINDING_HELPER,
	CTB_FINDING_EPHEMERAL,
	CTB_FINDING_ICMP,
	CTB_FINDING_UNANALYZED,
	CTB_FINDING_ANY_SOURCE, /* an upstream covering every address */
};

struct ctb_finding {
	enum ctb_finding_kind kind;
	bool blocking; /* attach refuses without --force */
	char traffic[160]; /* what would break: "tcp/80,81 arrivals" */
	char where[256]; /* "table ip filter chain INPUT (iptables-nft)" */
	char rule[FW_TEXT_LEN]; /* the rule at fault, or "policy drop" */
	char fix[768]; /* the exact rule to add, or empty */
	char message[2048]; /* the whole finding as one line */
};

struct ctb_findings {
	struct ctb_finding *items;
	size_t count;
};

/* What the analysis needs to know about the host besides its rules. */
struct ctb_host_facts {
	uint16_t ephemeral_lo, ephemeral_hi; /* net.ipv4.ip_local_port_range */
	const char *iptables_nft_cmd; /* "iptables" if that is the nft variant, else "iptables-nft" */
	const char *iptables_legacy_cmd;
	/* The local source address this host would use towards each upstream. */
	const uint8_t (*upstream_source)[16];
	const bool *upstream_source_known;
	unsigned int loaded_helpers; /* CTB_HELPER_* bits of helper modules loaded */
};

/* Reads the live rulesets of the current namespace and analyses them. */
int ctb_preflight(const struct ctb_config *cfg, struct ctb_findings *out, char *err,
		  size_t errlen);

/* The analysis alone, on a ruleset and facts given (unit tests use fixtures). */
int ctb_preflight_analyse(const struct ctb_config *cfg, const struct fw_ruleset *rs,
			  const struct ctb_host_facts *facts, struct ctb_findings *out);

void ctb_findings_free(struct ctb_findings *f);
size_t ctb_findings_blocking(const struct ctb_findings *f);
/* One line per finding, prefixed "preflight: ". */
void ctb_findings_print(FILE *out, const struct ctb_findings *f);

#endif
