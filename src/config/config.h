/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A bypass configuration: what is bypassed, on which protocols, with which mark.
 * It is the one value every command reads, changes and applies.
 */
#ifndef CTB_CONFIG_H
#define CTB_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include "portset.h"
#include "upstream.h"

#define CTB_PROTO_TCP 0x1u
#define CTB_PROTO_UDP 0x2u

#define CTB_ACCEPTED_LEN 64

struct ctb_config {
	struct ctb_portset ports; /* local server ports */
	struct ctb_upstream_list upstreams; /* remote services this host connects to */
	unsigned int protocols; /* CTB_PROTO_* bits */
	uint32_t mark; /* mark bit(s) the classifier sets */
	bool forced; /* attached with --force over preflight findings */
	/* Ids of blocking findings accepted with --accept, comma-separated. Kept
	 * short (the table's rule comment records them): past CTB_ACCEPTED_LEN
	 * the acceptance is recorded as forced. */
	char accepted[CTB_ACCEPTED_LEN];
	/* --iface as given, comma-separated; NULL: every eligible interface. */
	char *iface_list;
};

/* One conntrack entry's original-direction tuple. */
struct ctb_flow {
	int family; /* AF_INET or AF_INET6 */
	uint8_t l4proto; /* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t saddr[16], daddr[16]; /* network order; IPv4 in the first 4 bytes */
	uint16_t sport, dport; /* host order */
};

void ctb_config_init(struct ctb_config *cfg);
void ctb_config_free(struct ctb_config *cfg);
int ctb_config_copy(struct ctb_config *dst, const struct ctb_config *src);
bool ctb_config_has_targets(const struct ctb_config *cfg);
/* Same ports, upstreams (in any order), protocols, mark and interface list. */
bool ctb_config_same_traffic(const struct ctb_config *a, const struct ctb_config *b);

/* Parses "tcp", "udp" or "tcp,udp" into CTB_PROTO_* bits. */
int ctb_protocols_parse(const char *text, unsigned int *out, char *err, size_t errlen);
/* "tcp", "udp" or "tcp,udp". */
const char *ctb_protocols_name(unsigned int protocols);
unsigned int ctb_protocol_bit(uint8_t l4proto);

/*
 * Parses a decimal number from LO to HI for KEY ("verify-interval: seconds
 * from 0.1 to 3600, not 'x'", UNIT naming what it counts). -EINVAL with ERR.
 */
int ctb_number_parse(const char *key, const char *value, double lo, double hi, const char *unit,
		     double *out, char *err, size_t errlen);

/* Parses a non-zero 32-bit mask in decimal or 0x hex. */
int ctb_mark_parse(const char *text, uint32_t *out, char *err, size_t errlen);

/* Checks --accept's list of finding ids ("state-3f9a2c,nat-00a1b2"). */
int ctb_accept_list_parse(const char *text, char *err, size_t errlen);
/* True when the comma-separated LIST holds ID. */
bool ctb_accepted_has(const char *list, const char *id);

#endif
