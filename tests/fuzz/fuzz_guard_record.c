// SPDX-License-Identifier: GPL-2.0
/*
 * The guard's record (/run/ctbypass/netns-*.guarded), read back by the
 * daemon and `status`: ctb_guard_record_parse. Beyond not crashing: what it
 * accepts prints back as the same text, so a record never changes meaning
 * between a save and a load.
 */
#include "fuzz.h"
#include "guard_record.h"

static struct ctb_guard_record rec, again;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f;
	int ret = ctb_guard_record_parse(&rec, (const char *)data, size);

	if (ret) {
		FUZZ_ASSERT(ret == -22, "returned %d", ret);
		return 0;
	}
	FUZZ_ASSERT(rec.count <= CTB_GUARD_RECORD_MAX, "%zu items", rec.count);
	for (size_t i = 0; i < rec.count; i++)
		FUZZ_ASSERT(rec.items[i].cand.port != 0, "port 0 accepted");
	f = open_memstream(&out, &len);
	FUZZ_ASSERT(f, "open_memstream");
	ctb_guard_record_format(f, &rec);
	fclose(f);
	FUZZ_ASSERT(!ctb_guard_record_parse(&again, out, len), "own output rejected: %s", out);
	FUZZ_ASSERT(again.count == rec.count, "count changed");
	for (size_t i = 0; i < rec.count; i++)
		FUZZ_ASSERT(!memcmp(&again.items[i], &rec.items[i], sizeof(rec.items[i])),
			    "item %zu changed in a round trip", i);
	free(out);
	return 0;
}
