/* SPDX-License-Identifier: GPL-2.0 */
/*
 * For the firewall harnesses: what a parsed ruleset must satisfy, and the
 * preflight analysis run over it. The parsers' output is only as safe as what
 * the analysis does with it, so both are fuzzed together.
 */
#ifndef CTB_FUZZ_PREFLIGHT_H
#define CTB_FUZZ_PREFLIGHT_H

#include <stdbool.h>
#include <sys/socket.h>
#include "fuzz.h"
#include "preflight.h"

/* Fields the analysis indexes or copies with no check of its own. */
static inline void fuzz_check_ruleset(const struct fw_ruleset *rs)
{
	for (size_t c = 0; c < rs->chain_count; c++) {
		const struct fw_chain *ch = &rs->chains[c];

		for (size_t r = 0; r < ch->rule_count; r++) {
			const struct fw_rule *rule = &ch->rules[r];

			FUZZ_ASSERT(memchr(rule->text, '\0', sizeof(rule->text)), "rule text");
			FUZZ_ASSERT(memchr(rule->target, '\0', sizeof(rule->target)), "target");
			for (size_t m = 0; m < rule->match_count; m++) {
				const struct fw_match *mt = &rule->matches[m];

				FUZZ_ASSERT(mt->port_count <= FW_MAX_PORT_RANGES, "ports");
				FUZZ_ASSERT(mt->prefix_count <= FW_MAX_PREFIXES, "prefixes");
				for (size_t p = 0; p < mt->prefix_count; p++) {
					const struct fw_prefix *px = &mt->prefixes[p];

					FUZZ_ASSERT(px->family == 4 || px->family == 6, "family");
					FUZZ_ASSERT(px->len <= (px->family == 4 ? 32 : 128),
						    "prefix /%u in chain %s rule %zu", px->len,
						    ch->name, r);
				}
			}
		}
	}
}

/* Server ports and upstreams of both families, both protocols: every path of the analysis. */
static inline void fuzz_analyse(const struct fw_ruleset *rs)
{
	static const uint8_t sources[3][16] = { { 198, 18, 0, 1 },
						{ 0xfd, 0x00, 0, 0xc7, [15] = 1 },
						{ 10, 0, 0, 1 } };
	static const bool known[3] = { true, true, false };
	struct ctb_host_facts facts = {
		.ephemeral_lo = 32768, .ephemeral_hi = 60999,
		.iptables_nft_cmd = "iptables", .iptables_legacy_cmd = "iptables-legacy",
		.upstream_source = sources, .upstream_source_known = known,
		.loaded_helpers = ~0u,
		/* Bounded like the real one, small enough for libFuzzer's timeout. */
		.step_budget = 200000,
	};
	static const struct {
		int family;
		uint8_t addr[16];
		uint8_t len;
	} local[] = {
		{ AF_INET, { 198, 18, 0, 1 }, 32 },
		{ AF_INET, { 127 }, 8 },
		{ AF_INET, { 10 }, 8 },
		{ AF_INET6, { 0xfd, 0x00, 0, 0xc7, [15] = 1 }, 128 },
		{ AF_INET6, { [15] = 1 }, 128 },
	};
	struct ctb_local_addrs locals = { 0 };
	struct ctb_findings out;
	struct ctb_config cfg;
	char err[256];

	/* The host's addresses: the analysis probes with classes of them. */
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		FUZZ_ASSERT(!ctb_local_addrs_add(&locals, local[i].family, local[i].addr,
						 local[i].len),
			    "local address");
	facts.locals = &locals;
	ctb_config_init(&cfg);
	cfg.protocols = CTB_PROTO_TCP | CTB_PROTO_UDP;
	FUZZ_ASSERT(!ctb_portset_parse(&cfg.ports, "22,53,80,443,8000-8010", err, sizeof(err)),
		    "%s", err);
	FUZZ_ASSERT(!ctb_upstream_list_parse(&cfg.upstreams,
					     "198.18.0.7:3128,[fd00:c7::/64]:443,10.0.0.0/8:5432",
					     err, sizeof(err)),
		    "%s", err);
	if (!ctb_preflight_analyse(&cfg, rs, &facts, &out)) {
		for (size_t i = 0; i < out.count; i++) {
			FUZZ_ASSERT(memchr(out.items[i].message, '\0',
					   sizeof(out.items[i].message)),
				    "finding message");
			/* every id is one --accept takes */
			FUZZ_ASSERT(!ctb_accept_list_parse(out.items[i].id, err, sizeof(err)),
				    "finding id '%s'", out.items[i].id);
		}
		ctb_findings_free(&out);
	}
	ctb_config_free(&cfg);
	ctb_local_addrs_free(&locals);
}

#endif
