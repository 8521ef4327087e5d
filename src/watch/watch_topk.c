// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "watch_topk.h"

#define TOPK_FIRST_CAP 256

static uint64_t key_hash(const struct ctb_topk_key *k)
{
	const uint8_t *p = (const uint8_t *)k;
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static int table_alloc(struct ctb_topk *t, size_t cap)
{
	t->slots = calloc(cap, sizeof(*t->slots));
	t->used = calloc(cap, 1);
	if (!t->slots || !t->used) {
		free(t->slots);
		free(t->used);
		t->slots = NULL;
		t->used = NULL;
		return -ENOMEM;
	}
	t->cap = cap;
	return 0;
}

int ctb_topk_init(struct ctb_topk *t, size_t max_keys)
{
	memset(t, 0, sizeof(*t));
	t->max_keys = max_keys ? max_keys : 1;
	return table_alloc(t, TOPK_FIRST_CAP);
}

void ctb_topk_free(struct ctb_topk *t)
{
	free(t->slots);
	free(t->used);
	memset(t, 0, sizeof(*t));
}

void ctb_topk_reset(struct ctb_topk *t)
{
	if (t->used)
		memset(t->used, 0, t->cap);
	t->count = 0;
	t->other = 0;
}

/* The slot holding KEY, or the free slot where it goes. */
static size_t find_slot(const struct ctb_topk *t, const struct ctb_topk_key *key)
{
	size_t i = key_hash(key) & (t->cap - 1);

	while (t->used[i] && memcmp(&t->slots[i].key, key, sizeof(*key)))
		i = (i + 1) & (t->cap - 1);
	return i;
}

static int grow(struct ctb_topk *t)
{
	struct ctb_topk old = *t;
	int ret = table_alloc(t, old.cap * 2);

	if (ret) {
		*t = old;
		return ret;
	}
	for (size_t i = 0; i < old.cap; i++) {
		size_t j;

		if (!old.used[i])
			continue;
		j = find_slot(t, &old.slots[i].key);
		t->slots[j] = old.slots[i];
		t->used[j] = 1;
	}
	free(old.slots);
	free(old.used);
	return 0;
}

int ctb_topk_add(struct ctb_topk *t, const struct ctb_topk_key *key, uint64_t n)
{
	size_t i = find_slot(t, key);

	if (t->used[i]) {
		t->slots[i].count += n;
		return 0;
	}
	if (t->count >= t->max_keys) {
		t->other += n;
		return 0;
	}
	/* Keep the load under 3/4 so probes stay short. */
	if ((t->count + 1) * 4 > t->cap * 3) {
		if (grow(t)) {
			t->other += n;
			return -ENOMEM;
		}
		i = find_slot(t, key);
	}
	t->slots[i].key = *key;
	t->slots[i].count = n;
	t->used[i] = 1;
	t->count++;
	return 0;
}

/* Numeric order: family, protocol, port, then the address (in network order). */
static int key_cmp(const struct ctb_topk_key *a, const struct ctb_topk_key *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->l4proto != b->l4proto)
		return a->l4proto < b->l4proto ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return memcmp(a->addr, b->addr, sizeof(a->addr));
}

static bool ranks_before(const struct ctb_topk_entry *a, const struct ctb_topk_entry *b)
{
	if (a->count != b->count)
		return a->count > b->count;
	return key_cmp(&a->key, &b->key) < 0;
}

size_t ctb_topk_top(const struct ctb_topk *t, size_t k, struct ctb_topk_entry *out)
{
	size_t n = 0;

	/* Insertion into a sorted array of at most K: K is small. */
	for (size_t i = 0; k && i < t->cap; i++) {
		size_t j;

		if (!t->used[i])
			continue;
		if (n == k && !ranks_before(&t->slots[i], &out[k - 1]))
			continue;
		j = n < k ? n++ : k - 1;
		while (j > 0 && ranks_before(&t->slots[i], &out[j - 1])) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = t->slots[i];
	}
	return n;
}
