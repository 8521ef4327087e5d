// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include "bogus_peers.h"

struct range {
	uint8_t addr[16];
	unsigned int len;
};

/* IPv4 sources no remote peer has: "this network", loopback, multicast and class E. */
static const struct range v4_bogus[] = {
	{ { 0 }, 8 },
	{ { 127 }, 8 },
	{ { 224 }, 3 },
};

/*
 * 6to4 (2002::/16) embeds a public IPv4 address: one of a private, link-local
 * or bogus network cannot be a real 6to4 peer (RFC 3964, section 5.3.1).
 */
static const struct range v4_not_6to4[] = {
	{ { 10 }, 8 },
	{ { 172, 16 }, 12 },
	{ { 192, 168 }, 16 },
	{ { 169, 254 }, 16 },
};

/* IPv6: IPv4-compatible (deprecated) and IPv4-mapped (never on the wire), multicast. */
static const struct range v6_bogus[] = {
	{ { 0 }, 96 },
	{ { [10] = 0xff, [11] = 0xff }, 96 },
	{ { 0xff }, 8 },
};

/* Is the prefix ADDR/LEN inside the range R? */
static bool inside(const uint8_t *addr, unsigned int len, const struct range *r)
{
	if (len < r->len)
		return false;
	for (unsigned int i = 0; i < r->len; i++) {
		uint8_t bit = 0x80 >> (i % 8);

		if ((addr[i / 8] & bit) != (r->addr[i / 8] & bit))
			return false;
	}
	return true;
}

static bool inside_any(const uint8_t *addr, unsigned int len, const struct range *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (inside(addr, len, &r[i]))
			return true;
	return false;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

bool ctb_prefix_is_bogus_peer(const struct fw_prefix *p)
{
	if (p->family == 4)
		return p->len <= 32 && inside_any(p->addr, p->len, v4_bogus, COUNT(v4_bogus));
	if (p->len > 128)
		return false;
	if (inside_any(p->addr, p->len, v6_bogus, COUNT(v6_bogus)))
		return true;
	/* 2002:V4ADDR::/48: the embedded IPv4 prefix is bits 16 to 47. */
	if (p->addr[0] == 0x20 && p->addr[1] == 0x02 && p->len >= 16) {
		unsigned int v4len = p->len - 16 > 32 ? 32 : p->len - 16;

		return inside_any(p->addr + 2, v4len, v4_bogus, COUNT(v4_bogus)) ||
		       inside_any(p->addr + 2, v4len, v4_not_6to4, COUNT(v4_not_6to4));
	}
	return false;
}
