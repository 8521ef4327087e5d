// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "probe_addrs.h"

struct prefix_list {
	const struct fw_prefix **items;
	size_t count;
};

static bool covers(const uint8_t *net, unsigned int len, const uint8_t *addr)
{
	for (unsigned int i = 0; i < len; i++) {
		uint8_t bit = 0x80 >> (i % 8);

		if ((addr[i / 8] & bit) != (net[i / 8] & bit))
			return false;
	}
	return true;
}

/* The prefix's network address (its host bits cleared). */
static void base_of(const uint8_t *addr, unsigned int len, uint8_t out[16])
{
	memset(out, 0, 16);
	for (unsigned int i = 0; i < len; i++)
		out[i / 8] |= addr[i / 8] & (0x80 >> (i % 8));
}

/* The first address after the prefix; false when it wraps past the end. */
static bool after_of(const uint8_t *addr, unsigned int len, uint8_t out[16])
{
	base_of(addr, len, out);
	if (!len)
		return false;
	/* add 1 at bit len-1, carrying towards the front */
	for (int i = (int)len - 1; i >= 0; i--) {
		uint8_t bit = 0x80 >> (i % 8);

		if (!(out[i / 8] & bit)) {
			out[i / 8] |= bit;
			return true;
		}
		out[i / 8] &= (uint8_t)~bit;
	}
	return false;
}

static bool is_loopback(int family, const uint8_t *addr)
{
	static const uint8_t v6_loopback[16] = { [15] = 1 };

	return family == 4 ? addr[0] == 127 : !memcmp(addr, v6_loopback, 16);
}

static int collect_prefixes(const struct fw_ruleset *rs, int family, struct prefix_list *out)
{
	size_t cap = 0;

	out->items = NULL;
	out->count = 0;
	for (size_t c = 0; c < rs->chain_count; c++)
		for (size_t r = 0; r < rs->chains[c].rule_count; r++)
			for (size_t m = 0; m < rs->chains[c].rules[r].match_count; m++) {
				const struct fw_match *fm = &rs->chains[c].rules[r].matches[m];

				if (fm->kind != FW_M_SADDR && fm->kind != FW_M_DADDR)
					continue;
				for (size_t i = 0; i < fm->prefix_count; i++) {
					const struct fw_prefix *p = &fm->prefixes[i];

					if (p->family != family || p->len > (family == 4 ? 32 : 128))
						continue;
					if (out->count == cap) {
						size_t ncap = cap ? cap * 2 : 64;
						const struct fw_prefix **grown =
							realloc(out->items, ncap * sizeof(*grown));

						if (!grown)
							return -ENOMEM;
						out->items = grown;
						cap = ncap;
					}
					out->items[out->count++] = p;
				}
			}
	return 0;
}

/* Which of the ruleset's prefixes cover ADDR, as bytes (one per prefix), plus loopback. */
static void signature(const struct prefix_list *pl, int family, const uint8_t *addr, uint8_t *sig)
{
	for (size_t i = 0; i < pl->count; i++)
		sig[i] = covers(pl->items[i]->addr, pl->items[i]->len, addr);
	sig[pl->count] = is_loopback(family, addr);
}

struct classes {
	struct ctb_probe_addrs *out;
	uint8_t *sigs; /* CTB_PROBE_CLASSES_MAX signatures of sig_len bytes */
	uint8_t *scratch;
	size_t sig_len;
	bool overflow;
};

static void consider(struct classes *cl, const struct prefix_list *pl, int family,
		     const uint8_t addr[16])
{
	struct ctb_probe_addrs *out = cl->out;

	signature(pl, family, addr, cl->scratch);
	for (size_t i = 0; i < out->count; i++)
		if (!memcmp(cl->sigs + i * cl->sig_len, cl->scratch, cl->sig_len))
			return;
	if (out->count == CTB_PROBE_CLASSES_MAX) {
		cl->overflow = true;
		return;
	}
	memcpy(cl->sigs + out->count * cl->sig_len, cl->scratch, cl->sig_len);
	out->items[out->count] = (struct ctb_probe_addr){ .known = true };
	memcpy(out->items[out->count].addr, addr, 16);
	out->items[out->count].loopback = is_loopback(family, addr);
	out->count++;
}

int ctb_probe_addrs_build(const struct fw_ruleset *rs, const struct ctb_local_addrs *locals,
			  int family, struct ctb_probe_addrs *out)
{
	unsigned int bits = family == 4 ? 32 : 128;
	int af = family == 4 ? AF_INET : AF_INET6;
	struct prefix_list pl;
	struct classes cl = { .out = out };
	uint8_t a[16];
	int ret;

	memset(out, 0, sizeof(*out));
	if (!locals) {
		out->count = 1; /* items[0].known is false */
		return 0;
	}
	ret = collect_prefixes(rs, family, &pl);
	if (ret)
		return ret;
	cl.sig_len = pl.count + 1;
	cl.sigs = malloc(CTB_PROBE_CLASSES_MAX * cl.sig_len);
	cl.scratch = malloc(cl.sig_len);
	if (!cl.sigs || !cl.scratch) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t l = 0; l < locals->count; l++) {
		const struct ctb_local_prefix *lp = &locals->items[l];

		if (lp->family != af || lp->prefixlen > bits)
			continue;
		/* Every region a rule's prefix cuts the local prefix into starts at
		 * the local prefix, at a rule prefix inside it, or right after one. */
		base_of(lp->addr, lp->prefixlen, a);
		consider(&cl, &pl, family, a);
		for (size_t i = 0; i < pl.count; i++) {
			const struct fw_prefix *rp = pl.items[i];

			if (rp->len <= lp->prefixlen || !covers(lp->addr, lp->prefixlen, rp->addr))
				continue;
			base_of(rp->addr, rp->len, a);
			consider(&cl, &pl, family, a);
			if (after_of(rp->addr, rp->len, a) && covers(lp->addr, lp->prefixlen, a))
				consider(&cl, &pl, family, a);
		}
	}
	/* Too many classes to probe one by one: the rest as an unknown address. */
	if (cl.overflow)
		out->items[out->count++] = (struct ctb_probe_addr){ .known = false };
out:
	free(cl.sigs);
	free(cl.scratch);
	free(pl.items);
	return ret;
}
