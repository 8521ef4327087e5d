// SPDX-License-Identifier: GPL-2.0
/*
 * --upstream: ctb_upstream_list_parse (and through it ctb_upstream_parse).
 * Checks that a failed parse leaves the list unchanged and that every parsed
 * upstream prints canonically as text that parses back to the same upstream.
 */
#include <sys/socket.h>
#include "fuzz.h"
#include "upstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ctb_upstream seed = { .family = AF_INET, .addr = { 198, 18, 0, 7 },
						  .prefixlen = 32, .port = 3128 };
	struct ctb_upstream_list list = { 0 };
	char *text = fuzz_cstr(data, size);
	char err[256];
	int ret;

	FUZZ_ASSERT(!ctb_upstream_list_add(&list, &seed), "cannot add the seed upstream");
	ret = ctb_upstream_list_parse(&list, text, err, sizeof(err));
	if (ret) {
		FUZZ_ASSERT(ret == -22, "returned %d", ret);
		fuzz_check_err(err, sizeof(err));
		FUZZ_ASSERT(list.count == 1 && ctb_upstream_equal(&list.items[0], &seed),
			    "list changed on error '%s'", text);
		goto out;
	}
	for (size_t i = 0; i < list.count; i++) {
		const struct ctb_upstream *up = &list.items[i];
		char printed[CTB_UPSTREAM_STRLEN];
		struct ctb_upstream back;
		int bits = up->family == AF_INET ? 32 : 128;

		FUZZ_ASSERT(up->family == AF_INET || up->family == AF_INET6, "family %d",
			    up->family);
		FUZZ_ASSERT(up->prefixlen <= bits && up->port, "/%u port %u", up->prefixlen,
			    up->port);
		ctb_upstream_format(up, printed);
		FUZZ_ASSERT(!ctb_upstream_parse(printed, &back, err, sizeof(err)),
			    "own output '%s' rejected: %s", printed, err);
		FUZZ_ASSERT(ctb_upstream_equal(up, &back), "'%s' did not round-trip", printed);
	}
out:
	ctb_upstream_list_free(&list);
	free(text);
	return 0;
}
