// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include "doctor_table.h"

static const char *const tcp_state_names[CTB_DOCTOR_TCP_STATES] = {
    "NONE",	  "SYN_SENT", "SYN_RECV",  "ESTABLISHED", "FIN_WAIT",
    "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE",	  "SYN_SENT2",
};

const char *ctb_doctor_tcp_state_name(int state)
{
	return state >= 0 && state < CTB_DOCTOR_TCP_STATES ? tcp_state_names[state] : "UNKNOWN";
}

/* FNV-1a: keys are short and the table is rebuilt per run. */
static size_t key_hash(const uint8_t *key)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < CTB_DOCTOR_KEY_LEN; i++)
		h = (h ^ key[i]) * 0x100000001b3ull;
	return (size_t)h;
}

static struct ctb_doctor_count *find_slot(struct ctb_doctor_count *slots, size_t cap,
					  const uint8_t *key)
{
	size_t i = key_hash(key) & (cap - 1);

	while (slots[i].count && memcmp(slots[i].key, key, CTB_DOCTOR_KEY_LEN))
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

static int grow(struct ctb_doctor_counts *c)
{
	size_t cap = c->cap ? c->cap * 2 : 64;
	struct ctb_doctor_count *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < c->cap; i++)
		if (c->slots[i].count)
			*find_slot(slots, cap, c->slots[i].key) = c->slots[i];
	free(c->slots);
	c->slots = slots;
	c->cap = cap;
	return 0;
}

int ctb_doctor_counts_add(struct ctb_doctor_counts *c, const uint8_t key[CTB_DOCTOR_KEY_LEN],
			  uint64_t n)
{
	struct ctb_doctor_count *slot;

	if (!n)
		return 0;
	/* Kept at most half full so probes stay short. */
	if ((c->used + 1) * 2 > c->cap) {
		int ret = grow(c);

		if (ret)
			return ret;
	}
	slot = find_slot(c->slots, c->cap, key);
	if (!slot->count) {
		memcpy(slot->key, key, CTB_DOCTOR_KEY_LEN);
		c->used++;
	}
	slot->count += n;
	return 0;
}

void ctb_doctor_counts_free(struct ctb_doctor_counts *c)
{
	free(c->slots);
	memset(c, 0, sizeof(*c));
}

static int by_count_desc(const void *a, const void *b)
{
	const struct ctb_doctor_count *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return memcmp(x->key, y->key, CTB_DOCTOR_KEY_LEN);
}

int ctb_doctor_counts_sorted(const struct ctb_doctor_counts *c, struct ctb_doctor_count **out,
			     size_t *count)
{
	size_t n = 0;

	*out = malloc((c->used ? c->used : 1) * sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (size_t i = 0; i < c->cap; i++)
		if (c->slots[i].count)
			(*out)[n++] = c->slots[i];
	qsort(*out, n, sizeof(**out), by_count_desc);
	*count = n;
	return 0;
}

int ctb_doctor_agg_init(struct ctb_doctor_agg *agg)
{
	memset(agg, 0, sizeof(*agg));
	agg->dports = calloc(2 * 65536, sizeof(*agg->dports));
	return agg->dports ? 0 : -ENOMEM;
}

void ctb_doctor_agg_free(struct ctb_doctor_agg *agg)
{
	free(agg->dports);
	ctb_doctor_counts_free(&agg->sources);
	memset(agg, 0, sizeof(*agg));
}

/* A source's key: family byte, then the 16 address bytes. */
static void source_key(const struct ctb_flow *f, uint8_t key[CTB_DOCTOR_KEY_LEN])
{
	memset(key, 0, CTB_DOCTOR_KEY_LEN);
	key[0] = f->family == AF_INET6 ? 6 : 4;
	memcpy(key + 1, f->saddr, 16);
}

int ctb_doctor_agg_add(struct ctb_doctor_agg *agg, const struct ctb_doctor_entry *e)
{
	const struct ctb_flow *f = &e->flow;
	uint8_t key[CTB_DOCTOR_KEY_LEN];

	agg->entries++;
	switch (f->l4proto) {
	case IPPROTO_TCP:
		agg->tcp++;
		if (e->tcp_state >= 0 && e->tcp_state < CTB_DOCTOR_TCP_STATES)
			agg->tcp_states[e->tcp_state]++;
		agg->dports[f->dport]++;
		break;
	case IPPROTO_UDP:
		agg->udp++;
		agg->dports[65536 + f->dport]++;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		agg->icmp++;
		break;
	default:
		agg->other++;
		break;
	}
	source_key(f, key);
	return ctb_doctor_counts_add(&agg->sources, key, 1);
}

size_t ctb_doctor_top_sources(const struct ctb_doctor_agg *agg, struct ctb_doctor_source *out,
			      size_t k)
{
	struct ctb_doctor_count *sorted;
	size_t n;

	if (ctb_doctor_counts_sorted(&agg->sources, &sorted, &n))
		return 0;
	if (n > k)
		n = k;
	for (size_t i = 0; i < n; i++) {
		out[i].family = sorted[i].key[0] == 6 ? AF_INET6 : AF_INET;
		memcpy(out[i].addr, sorted[i].key + 1, 16);
		out[i].entries = sorted[i].count;
	}
	free(sorted);
	return n;
}

/* K is small: keep the best K in OUT by insertion; ties go to the lower port, TCP first. */
size_t ctb_doctor_top_ports(const struct ctb_doctor_agg *agg, struct ctb_doctor_port *out, size_t k)
{
	size_t n = 0;

	for (uint32_t i = 0; i < 2 * 65536 && k; i++) {
		uint64_t c = agg->dports[i];
		size_t j;

		if (!c || (n == k && out[n - 1].entries >= c))
			continue;
		j = n < k ? n++ : n - 1;
		while (j > 0 && out[j - 1].entries < c) {
			out[j] = out[j - 1];
			j--;
		}
		out[j].l4proto = i < 65536 ? IPPROTO_TCP : IPPROTO_UDP;
		out[j].port = (uint16_t)(i & 0xffff);
		out[j].entries = c;
	}
	return n;
}
