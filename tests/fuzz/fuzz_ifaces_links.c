// SPDX-License-Identifier: GPL-2.0
/*
 * Replies to RTM_GETLINK (every interface of the namespace, read by every
 * command to find where the classifier goes): link_cb as ctb_nl_request runs
 * it, then the eligibility rules on what it kept.
 */
#include "../../src/bypass/ifaces.c"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *buf = fuzz_bytes(data, size);
	size_t whole = fuzz_nl_whole(buf, size);
	struct links links = { 0 };

	mnl_cb_run(buf, whole, 0, 0, link_cb, &links);
	for (size_t i = 0; i < links.count; i++) {
		/* Names are terminated and non-empty, indexes positive. */
		if (!links.items[i].name[0] || strnlen(links.items[i].name, IF_NAMESIZE) == IF_NAMESIZE ||
		    links.items[i].ifindex <= 0)
			abort();
		(void)eligible(&links.items[i]);
	}
	free(links.items);
	free(buf);
	return 0;
}
