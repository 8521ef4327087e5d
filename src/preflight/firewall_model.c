// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "firewall_model.h"

static void *grow(void *array, size_t count, size_t size)
{
	void *grown = realloc(array, (count + 1) * size);

	if (grown)
		memset((char *)grown + count * size, 0, size);
	return grown;
}

struct fw_chain *fw_ruleset_add_chain(struct fw_ruleset *rs)
{
	struct fw_chain *chains = grow(rs->chains, rs->chain_count, sizeof(*chains));

	if (!chains)
		return NULL;
	rs->chains = chains;
	return &chains[rs->chain_count++];
}

struct fw_rule *fw_chain_add_rule(struct fw_chain *chain)
{
	struct fw_rule *rules = grow(chain->rules, chain->rule_count, sizeof(*rules));

	if (!rules)
		return NULL;
	chain->rules = rules;
	return &rules[chain->rule_count++];
}

struct fw_match *fw_rule_add_match(struct fw_rule *rule, enum fw_match_kind kind)
{
	struct fw_match *matches = grow(rule->matches, rule->match_count, sizeof(*matches));

	if (!matches)
		return NULL;
	rule->matches = matches;
	matches[rule->match_count].kind = kind;
	return &matches[rule->match_count++];
}

void fw_ruleset_free(struct fw_ruleset *rs)
{
	for (size_t c = 0; c < rs->chain_count; c++) {
		for (size_t r = 0; r < rs->chains[c].rule_count; r++)
			free(rs->chains[c].rules[r].matches);
		free(rs->chains[c].rules);
	}
	free(rs->chains);
	memset(rs, 0, sizeof(*rs));
}

const struct fw_chain *fw_ruleset_find(const struct fw_ruleset *rs, const struct fw_chain *from,
				       const char *name)
{
	for (size_t c = 0; c < rs->chain_count; c++) {
		const struct fw_chain *ch = &rs->chains[c];

		if (ch->source == from->source && !strcmp(ch->family, from->family) &&
		    !strcmp(ch->table, from->table) && !strcmp(ch->name, name))
			return ch;
	}
	return NULL;
}

void fw_ruleset_add_unreadable(struct fw_ruleset *rs, const char *fmt, ...)
{
	char text[FW_UNREADABLE_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < rs->unreadable_count; i++)
		if (!strcmp(rs->unreadable[i], text))
			return; /* one line per cause, however many rules it hit */
	if (rs->unreadable_count < FW_MAX_UNREADABLE) {
		snprintf(rs->unreadable[rs->unreadable_count++], FW_UNREADABLE_LEN, "%s", text);
		return;
	}
	/* Full: the last entry must still say that something else was not read. */
	snprintf(rs->unreadable[FW_MAX_UNREADABLE - 1], FW_UNREADABLE_LEN,
		 "more parts of the firewall could not be read");
}

bool fw_target_continues(const char *t)
{
	static const char *const names[] = {
		"LOG", "NFLOG", "ULOG", "MARK", "CONNMARK", "CT", "NOTRACK", "TRACE", "CLASSIFY",
		"DSCP", "TOS", "TCPMSS", "TTL", "HL", "CHECKSUM", "SET", "AUDIT", "TEE",
		"CONNSECMARK", "SECMARK", "IDLETIMER", "LED", "RATEEST", "ECN", "HMARK",
		"TCPOPTSTRIP", "NFACCT",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(t, names[i]))
			return true;
	return false;
}
