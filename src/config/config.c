// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include <linux/types.h>
#include "ctbypass.h"

void ctb_config_init(struct ctb_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->protocols = CTB_PROTO_TCP;
	cfg->mark = CTB_DEFAULT_MARK;
}

void ctb_config_free(struct ctb_config *cfg)
{
	ctb_upstream_list_free(&cfg->upstreams);
	free(cfg->iface_list);
	cfg->iface_list = NULL;
}

int ctb_config_copy(struct ctb_config *dst, const struct ctb_config *src)
{
	*dst = *src;
	dst->iface_list = NULL;
	if (src->iface_list && !(dst->iface_list = strdup(src->iface_list))) {
		dst->upstreams.items = NULL;
		dst->upstreams.count = 0;
		return -ENOMEM;
	}
	return ctb_upstream_list_copy(&dst->upstreams, &src->upstreams);
}

static bool upstreams_within(const struct ctb_upstream_list *a, const struct ctb_upstream_list *b)
{
	for (size_t i = 0; i < a->count; i++) {
		size_t j;

		for (j = 0; j < b->count; j++)
			if (a->items[i].family == b->items[j].family &&
			    a->items[i].prefixlen == b->items[j].prefixlen &&
			    a->items[i].port == b->items[j].port &&
			    !memcmp(a->items[i].addr, b->items[j].addr, 16))
				break;
		if (j == b->count)
			return false;
	}
	return true;
}

bool ctb_config_same_traffic(const struct ctb_config *a, const struct ctb_config *b)
{
	const char *ia = a->iface_list ? a->iface_list : "", *ib = b->iface_list ? b->iface_list : "";

	return !memcmp(&a->ports, &b->ports, sizeof(a->ports)) && a->protocols == b->protocols &&
	       a->mark == b->mark && !strcmp(ia, ib) && a->upstreams.count == b->upstreams.count &&
	       upstreams_within(&a->upstreams, &b->upstreams) &&
	       upstreams_within(&b->upstreams, &a->upstreams);
}

bool ctb_config_has_targets(const struct ctb_config *cfg)
{
	return !ctb_portset_empty(&cfg->ports) || cfg->upstreams.count;
}

int ctb_protocols_parse(const char *text, unsigned int *out, char *err, size_t errlen)
{
	unsigned int protocols = 0;
	const char *s = text;

	for (;;) {
		const char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s) : strlen(s);

		if (n == 3 && !strncmp(s, "tcp", 3)) {
			protocols |= CTB_PROTO_TCP;
		} else if (n == 3 && !strncmp(s, "udp", 3)) {
			protocols |= CTB_PROTO_UDP;
		} else {
			snprintf(err, errlen, "bad protocol list '%s': use tcp, udp or tcp,udp",
				 text);
			return -EINVAL;
		}
		if (!comma)
			break;
		s = comma + 1;
	}
	*out = protocols;
	return 0;
}

const char *ctb_protocols_name(unsigned int protocols)
{
	switch (protocols & (CTB_PROTO_TCP | CTB_PROTO_UDP)) {
	case CTB_PROTO_TCP:
		return "tcp";
	case CTB_PROTO_UDP:
		return "udp";
	case CTB_PROTO_TCP | CTB_PROTO_UDP:
		return "tcp,udp";
	default:
		return "none";
	}
}

unsigned int ctb_protocol_bit(uint8_t l4proto)
{
	if (l4proto == IPPROTO_TCP)
		return CTB_PROTO_TCP;
	if (l4proto == IPPROTO_UDP)
		return CTB_PROTO_UDP;
	return 0;
}

int ctb_number_parse(const char *key, const char *value, double lo, double hi, const char *unit,
		     double *out, char *err, size_t errlen)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(value, &end);
	/* !(v >= lo): NaN fails too */
	if (errno || end == value || *end || !(v >= lo && v <= hi)) {
		snprintf(err, errlen, "%s: %s from %g to %g, not '%s'", key, unit, lo, hi, value);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int ctb_mark_parse(const char *text, uint32_t *out, char *err, size_t errlen)
{
	char *end;
	unsigned long long v;

	errno = 0;
	/* Decimal, or hex with 0x: never octal, so "010" is ten, as people mean it. */
	v = strtoull(text, &end, text[0] == '0' && (text[1] == 'x' || text[1] == 'X') ? 16 : 10);
	/* A digit first: strtoull skips blanks and takes a sign (" -18446744073709551615": 1). */
	if (!isdigit((unsigned char)*text) || *end || errno || v == 0 || v > 0xffffffffULL) {
		snprintf(err, errlen, "bad mark '%s': expected a non-zero 32-bit mask like 0x4",
			 text);
		return -EINVAL;
	}
	/* iproute2 and iptables read "010" as octal 8; we read decimal: refuse the
	 * form whose meaning depends on the tool. */
	if (text[0] == '0' && isdigit((unsigned char)text[1])) {
		snprintf(err, errlen,
			 "ambiguous mark '%s': a leading zero means octal to some tools; write it "
			 "in decimal without the zero, or in hex with 0x",
			 text);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

/* "kind-hhhhhh": lowercase letters, a dash, six lowercase hex digits. */
static bool finding_id_valid(const char *id, size_t len)
{
	size_t i = 0;

	while (i < len && id[i] >= 'a' && id[i] <= 'z')
		i++;
	if (!i || i + 7 != len || id[i] != '-')
		return false;
	for (i++; i < len; i++)
		if (!isdigit((unsigned char)id[i]) && !(id[i] >= 'a' && id[i] <= 'f'))
			return false;
	return true;
}

int ctb_accept_list_parse(const char *text, char *err, size_t errlen)
{
	const char *p = text;

	if (!*text) {
		snprintf(err, errlen, "empty --accept: give the ids the preflight printed");
		return -EINVAL;
	}
	for (;;) {
		size_t len = strcspn(p, ",");

		if (!finding_id_valid(p, len)) {
			snprintf(err, errlen,
				 "bad finding id '%.*s' in --accept: expected ids as the preflight "
				 "prints them, like state-3f9a2c",
				 (int)(len > 40 ? 40 : len), p);
			return -EINVAL;
		}
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

bool ctb_accepted_has(const char *list, const char *id)
{
	size_t len = strlen(id);

	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");

		if (n == len && !strncmp(p, id, len))
			return true;
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}
