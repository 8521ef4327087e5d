// SPDX-License-Identifier: GPL-2.0
/*
 * `watch`'s netlink backend: conntrack NEW/DESTROY events (event_cb, with
 * --top so NEW events are parsed into top-K keys). The callback is static, so
 * the file is compiled in here.
 */
#include "../../src/watch/watch_backend_netlink.c"
#include "fuzz.h"
#include "fuzz_nfct.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *buf = fuzz_bytes(data, size);
	size_t whole = fuzz_nl_whole(buf, size);
	struct ctb_watch_backend b = { 0 };
	struct nl_backend nb = { 0 };
	struct ctb_watch_top top;

	if (ctb_watch_top_init(&top))
		abort();
	nb.ct = nfct_new();
	if (!nb.ct)
		abort();
	b.priv = &nb;
	b.top = &top;
	fuzz_nfct_cb_run(buf, whole, event_cb, &b);
	nfct_destroy(nb.ct);
	ctb_watch_top_free(&top);
	free(buf);
	return 0;
}
