// SPDX-License-Identifier: GPL-2.0
/*
 * --ports: ctb_portset_parse. Beyond not crashing, checks what callers rely on:
 * a failed parse leaves the set unchanged, and a parsed set prints as a list
 * that parses back to the same set.
 */
#include "fuzz.h"
#include "portset.h"

static struct ctb_portset set, before, again;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size);
	char err[256], printed[512];
	size_t need;
	int ret;

	/* A non-empty starting set, so "unchanged on error" is a real check. */
	ctb_portset_clear(&set);
	ctb_portset_add(&set, 22);
	ctb_portset_add(&set, 65535);
	before = set;
	ret = ctb_portset_parse(&set, text, err, sizeof(err));
	if (ret) {
		FUZZ_ASSERT(ret == -22, "returned %d", ret);
		fuzz_check_err(err, sizeof(err));
		FUZZ_ASSERT(!memcmp(&set, &before, sizeof(set)), "set changed on error '%s'", text);
		goto out;
	}
	FUZZ_ASSERT(!ctb_portset_has(&set, 0), "port 0 accepted from '%s'", text);
	need = ctb_portset_format(&set, printed, sizeof(printed));
	if (need < sizeof(printed)) {
		ctb_portset_clear(&again);
		FUZZ_ASSERT(!ctb_portset_parse(&again, printed, err, sizeof(err)),
			    "own output '%s' rejected: %s", printed, err);
		FUZZ_ASSERT(!memcmp(&set, &again, sizeof(set)), "'%s' did not round-trip", printed);
	}
out:
	free(text);
	return 0;
}
