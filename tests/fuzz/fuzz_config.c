// SPDX-License-Identifier: GPL-2.0
/*
 * --protocols, --mark and --accept: ctb_protocols_parse, ctb_mark_parse and
 * ctb_accept_list_parse, each on the whole input. Both are checked against what their header promises, since
 * neither can crash in any interesting way but both can accept too much.
 */
#include <ctype.h>
#include "fuzz.h"
#include "config.h"

/* Every comma-separated item is exactly "tcp" or "udp". */
static unsigned int expected_protocols(const char *text, int *ok)
{
	unsigned int bits = 0;

	*ok = 1;
	for (const char *s = text;; s++) {
		if (!strncmp(s, "tcp", 3) && (s[3] == ',' || !s[3]))
			bits |= CTB_PROTO_TCP;
		else if (!strncmp(s, "udp", 3) && (s[3] == ',' || !s[3]))
			bits |= CTB_PROTO_UDP;
		else
			return *ok = 0;
		s += 3;
		if (!*s)
			return bits;
	}
}

static void protocols(const char *text)
{
	unsigned int out = 0x5a5a;
	char err[256];
	int ok, ret = ctb_protocols_parse(text, &out, err, sizeof(err));
	unsigned int want = expected_protocols(text, &ok);

	if (ret) {
		fuzz_check_err(err, sizeof(err));
		FUZZ_ASSERT(!ok, "'%s' rejected", text);
		FUZZ_ASSERT(out == 0x5a5a, "output written on error");
		return;
	}
	FUZZ_ASSERT(ok && out == want, "'%s' gave %#x", text, out);
}

/*
 * "a non-zero 32-bit mask in decimal or 0x hex": it starts with a digit (no
 * blanks or signs, which strtoull would skip or apply) and fits in 32 bits.
 */
static void mark(const char *text)
{
	uint32_t out = 0x5a5a;
	char err[256];
	int ret = ctb_mark_parse(text, &out, err, sizeof(err));

	if (ret) {
		fuzz_check_err(err, sizeof(err));
		FUZZ_ASSERT(out == 0x5a5a, "output written on error");
		return;
	}
	FUZZ_ASSERT(isdigit((unsigned char)text[0]), "'%s' accepted as %#x", text, out);
	/* a leading zero is octal to some tools: refused as ambiguous */
	FUZZ_ASSERT(text[0] != '0' || !isdigit((unsigned char)text[1]), "'%s' accepted", text);
	/* Decimal, or hex after 0x: never octal ("010" is ten). */
	FUZZ_ASSERT(out && out == strtoull(text, NULL,
					   text[0] == '0' && (text[1] == 'x' || text[1] == 'X') ? 16 : 10),
		    "'%s' gave %#x", text, out);
}

/* Ids as the preflight prints them: [a-z]+-[0-9a-f]{6}, comma-separated, no empty item. */
static void accept_list(const char *text)
{
	char err[256];
	int ret = ctb_accept_list_parse(text, err, sizeof(err));
	const char *p = text;
	int ok = *p != '\0';

	while (ok && *p) {
		size_t letters = 0, hex = 0;

		while (*p >= 'a' && *p <= 'z')
			p++, letters++;
		ok = letters && *p == '-';
		if (!ok)
			break;
		for (p++; (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'); p++)
			hex++;
		ok = hex == 6 && (*p == ',' || !*p);
		if (*p == ',' && !*++p)
			ok = 0;
	}
	if (ret)
		fuzz_check_err(err, sizeof(err));
	FUZZ_ASSERT(!ret == !!ok, "'%s' %s", text, ret ? "rejected" : "accepted");
	/* an accepted list finds each of its ids */
	if (!ret && !strchr(text, ','))
		FUZZ_ASSERT(ctb_accepted_has(text, text), "'%s' not found in itself", text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size);

	protocols(text);
	mark(text);
	accept_list(text);
	free(text);
	return 0;
}
