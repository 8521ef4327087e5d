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
#include "local_addrs.h"

enum ctb_finding_kind {
	CTB_FINDING_NAT,
	CTB_FINDING_STATEFUL,
	CTB_FINDING_HELPER,
	CTB_FINDING_EPHEMERAL,
	CTB_FINDING_ICMP,
	CTB_FINDING_UNANALYZED,
	CTB_FINDING_ANY_SOURCE, /* an upstream covering every address */
	CTB_FINDING_NAT_TO_BYPASSED, /* DNAT/REDIRECT onto a bypassed local port */
	CTB_FINDING_RELOAD_WINDOW, /* a firewall manager's reload drops untracked packets */
};

/* A finding's id: its kind's short name, '-', 6 hex digits. */
#define CTB_FINDING_ID_LEN 16

struct ctb_finding {
	enum ctb_finding_kind kind;
	bool blocking; /* attach refuses without --force or --accept ID */
	bool accepted; /* blocking, and its id was given to --accept */
	/* Derived from what the finding is about (kind, chains, rule texts,
	 * traffic), never from positions or handles: the same across firewall
	 * reloads and rule reorders, so `--accept ID` keeps meaning one thing. */
	char id[CTB_FINDING_ID_LEN];
	char traffic[160]; /* what would break: "tcp/80,81 arrivals" */
	/* What the id is made of instead of TRAFFIC, when set: the traffic without
	 * its port list ("tcp server-port arrivals"), so adding or removing a port
	 * that meets the same rules keeps the finding's id. */
	char subject[96];
	char where[256]; /* "table ip filter chain INPUT (iptables-nft)" */
	char rule[FW_TEXT_LEN]; /* the rule at fault, or "policy drop" */
	/* STATEFUL: the chain and rule that accept the traffic while tracked */
	char accepted_where[256];
	char accepted_rule[FW_TEXT_LEN];
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
	/* The namespace's local prefixes; NULL: unknown (every address may be local). */
	const struct ctb_local_addrs *locals;
	/* Evaluation steps for the whole analysis; 0: FW_BUDGET_DEFAULT. The fuzz harnesses
	 * give less, so that an input spending all of it fits their per-input timeout
	 * under ASan (the default took over 10 s there). */
	long step_budget;
};

/* Reads the live rulesets of the current namespace and analyses them. */
int ctb_preflight(const struct ctb_config *cfg, struct ctb_findings *out, char *err,
		  size_t errlen);

/*
 * The same for each of COUNT configurations, from one reading of the rulesets
 * (the guard's verdicts for its candidates). On failure none is left to free.
 */
int ctb_preflight_each(const struct ctb_config *cfgs, size_t count, struct ctb_findings *outs,
		       char *err, size_t errlen);

/* The analysis alone, on a ruleset and facts given (unit tests use fixtures). */
int ctb_preflight_analyse(const struct ctb_config *cfg, const struct fw_ruleset *rs,
			  const struct ctb_host_facts *facts, struct ctb_findings *out);

void ctb_findings_free(struct ctb_findings *f);
/* Blocking findings not accepted. */
size_t ctb_findings_blocking(const struct ctb_findings *f);
/*
 * Marks the blocking findings whose ids are in ACCEPT ("id,id", may be NULL)
 * as accepted. Returns the number of ids in ACCEPT that name no finding.
 */
size_t ctb_findings_accept(struct ctb_findings *f, const char *accept);
/* One line per finding, prefixed "preflight: " and naming its id. */
void ctb_findings_print(FILE *out, const struct ctb_findings *f);
/* Sets each finding's id from what it is about (the analysis does it). */
void ctb_findings_name(struct ctb_findings *f);

struct ctb_health;
/*
 * The preflight again for what is attached (CFG, as the table recorded it):
 * a blocking finding neither accepted nor forced is a health problem now (the
 * firewall, or what is bypassed, changed since). `status` and `metrics` run it.
 */
int ctb_preflight_health(const struct ctb_config *cfg, struct ctb_health *health);

#endif
