// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "upstream.h"

static int parse_number(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 5)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static bool host_bits_set(const uint8_t *addr, int bits, int prefixlen)
{
	for (int i = prefixlen; i < bits; i++)
		if (addr[i / 8] & (0x80 >> (i % 8)))
			return true;
	return false;
}

/* Splits TEXT into address, optional prefix length and port, in place. */
static int split(char *text, char **addr, char **len, char **port)
{
	char *colon;

	if (text[0] == '[') {
		char *close = strchr(text, ']');

		if (!close)
			return -EINVAL;
		*close = '\0';
		*addr = text + 1;
		colon = close + 1;
		/* Accept both "[ADDR]/LEN:PORT" and "[ADDR/LEN]:PORT". */
		if (*colon == '/') {
			*len = colon + 1;
			colon = strchr(colon, ':');
		}
		if (!colon || *colon != ':')
			return -EINVAL;
		*colon = '\0';
		*port = colon + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon || strchr(text, ':') != colon)
			return -EINVAL; /* no port, or an unbracketed IPv6 address */
		*colon = '\0';
		*addr = text;
		*port = colon + 1;
	}
	char *slash = strchr(*addr, '/');

	if (slash) {
		if (*len)
			return -EINVAL;
		*slash = '\0';
		*len = slash + 1;
	}
	return 0;
}

int ctb_upstream_parse(const char *text, struct ctb_upstream *out, char *err, size_t errlen)
{
	char buf[CTB_UPSTREAM_STRLEN + 8];
	char *addr = NULL, *len = NULL, *port = NULL;
	struct ctb_upstream up = { 0 };
	unsigned long v;
	int bits;

	if (strlen(text) >= sizeof(buf) || split(strcpy(buf, text), &addr, &len, &port)) {
		snprintf(err, errlen,
			 "bad upstream '%s': expected ADDR[/LEN]:PORT or [IPV6][/LEN]:PORT", text);
		return -EINVAL;
	}
	if (text[0] == '[' && inet_pton(AF_INET6, addr, up.addr) != 1) {
		snprintf(err, errlen, "bad upstream '%s': brackets are for IPv6 addresses", text);
		return -EINVAL;
	}
	if (inet_pton(AF_INET, addr, up.addr) == 1) {
		up.family = AF_INET;
		bits = 32;
	} else if (inet_pton(AF_INET6, addr, up.addr) == 1) {
		up.family = AF_INET6;
		bits = 128;
		if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)up.addr)) {
			snprintf(err, errlen, "bad upstream '%s': write IPv4 addresses as a.b.c.d",
				 text);
			return -EINVAL;
		}
	} else {
		snprintf(err, errlen,
			 "bad upstream '%s': '%s' is not a numeric IPv4 or IPv6 address", text,
			 addr);
		return -EINVAL;
	}
	up.prefixlen = (uint8_t)bits;
	if (len) {
		if (parse_number(len, (unsigned long)bits, &v)) {
			snprintf(err, errlen, "bad upstream '%s': prefix length must be 0-%d", text,
				 bits);
			return -EINVAL;
		}
		up.prefixlen = (uint8_t)v;
	}
	if (host_bits_set(up.addr, bits, up.prefixlen)) {
		snprintf(err, errlen, "bad upstream '%s': address has bits set beyond /%u", text,
			 up.prefixlen);
		return -EINVAL;
	}
	if (parse_number(port, 65535, &v) || v == 0) {
		snprintf(err, errlen, "bad upstream '%s': port must be 1-65535", text);
		return -EINVAL;
	}
	up.port = (uint16_t)v;
	*out = up;
	return 0;
}

bool ctb_upstream_equal(const struct ctb_upstream *a, const struct ctb_upstream *b)
{
	return a->family == b->family && a->prefixlen == b->prefixlen && a->port == b->port &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

bool ctb_upstream_covers(const struct ctb_upstream *up, int family, const uint8_t *addr)
{
	if (family != up->family)
		return false;
	for (int i = 0; i < up->prefixlen; i++) {
		uint8_t bit = 0x80 >> (i % 8);

		if ((addr[i / 8] & bit) != (up->addr[i / 8] & bit))
			return false;
	}
	return true;
}

bool ctb_upstream_list_has(const struct ctb_upstream_list *list, const struct ctb_upstream *up)
{
	for (size_t i = 0; i < list->count; i++)
		if (ctb_upstream_equal(&list->items[i], up))
			return true;
	return false;
}

int ctb_upstream_list_add(struct ctb_upstream_list *list, const struct ctb_upstream *up)
{
	struct ctb_upstream *grown;

	if (ctb_upstream_list_has(list, up))
		return 0;
	if (list->count >= CTB_MAX_UPSTREAM_ITEMS)
		return -E2BIG;
	grown = realloc(list->items, (list->count + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	grown[list->count++] = *up;
	list->items = grown;
	return 0;
}

void ctb_upstream_list_remove(struct ctb_upstream_list *list, const struct ctb_upstream *up)
{
	for (size_t i = 0; i < list->count; i++) {
		if (ctb_upstream_equal(&list->items[i], up)) {
			memmove(&list->items[i], &list->items[i + 1],
				(list->count - i - 1) * sizeof(*up));
			list->count--;
			return;
		}
	}
}

int ctb_upstream_list_parse(struct ctb_upstream_list *list, const char *text, char *err,
			    size_t errlen)
{
	struct ctb_upstream_list parsed = { 0 };
	const char *s = text;
	int ret = 0;

	if (!text || !*text) {
		snprintf(err, errlen, "empty upstream list");
		return -EINVAL;
	}
	for (;;) {
		const char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s) : strlen(s);
		char item[CTB_UPSTREAM_STRLEN + 8];
		struct ctb_upstream up;

		if (n == 0 || n >= sizeof(item)) {
			snprintf(err, errlen, n ? "bad upstream '%.*s...': too long"
						: "empty item in upstream list",
				 20, s);
			ret = -EINVAL;
			break;
		}
		memcpy(item, s, n);
		item[n] = '\0';
		ret = ctb_upstream_parse(item, &up, err, errlen);
		if (!ret)
			ret = ctb_upstream_list_add(&parsed, &up);
		if (ret == -E2BIG)
			snprintf(err, errlen, "too many upstreams (at most %d)",
				 CTB_MAX_UPSTREAM_ITEMS);
		if (ret)
			break;
		if (!comma)
			break;
		s = comma + 1;
	}
	for (size_t i = 0; !ret && i < parsed.count; i++) {
		ret = ctb_upstream_list_add(list, &parsed.items[i]);
		if (ret)
			snprintf(err, errlen, "too many upstreams (at most %d)",
				 CTB_MAX_UPSTREAM_ITEMS);
	}
	ctb_upstream_list_free(&parsed);
	return ret ? -EINVAL : 0;
}

int ctb_upstream_list_copy(struct ctb_upstream_list *dst, const struct ctb_upstream_list *src)
{
	dst->items = NULL;
	dst->count = 0;
	if (!src->count)
		return 0;
	dst->items = malloc(src->count * sizeof(*src->items));
	if (!dst->items)
		return -ENOMEM;
	memcpy(dst->items, src->items, src->count * sizeof(*src->items));
	dst->count = src->count;
	return 0;
}

void ctb_upstream_list_free(struct ctb_upstream_list *list)
{
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

void ctb_upstream_format(const struct ctb_upstream *up, char buf[CTB_UPSTREAM_STRLEN])
{
	char addr[INET6_ADDRSTRLEN];
	bool host = up->prefixlen == (up->family == AF_INET ? 32 : 128);

	inet_ntop(up->family, up->addr, addr, sizeof(addr));
	if (up->family == AF_INET && host)
		snprintf(buf, CTB_UPSTREAM_STRLEN, "%s:%u", addr, up->port);
	else if (up->family == AF_INET)
		snprintf(buf, CTB_UPSTREAM_STRLEN, "%s/%u:%u", addr, up->prefixlen, up->port);
	else if (host)
		snprintf(buf, CTB_UPSTREAM_STRLEN, "[%s]:%u", addr, up->port);
	else
		snprintf(buf, CTB_UPSTREAM_STRLEN, "[%s/%u]:%u", addr, up->prefixlen, up->port);
}
