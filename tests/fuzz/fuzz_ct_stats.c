// SPDX-License-Identifier: GPL-2.0
/*
 * Replies to IPCTNL_MSG_CT_GET_STATS_CPU (per-CPU conntrack statistics, read by
 * `doctor` and `watch`: percpu_cb) and IPCTNL_MSG_CT_GET_STATS (the table's
 * size, for `watch`: global_cb), each run by mnl_cb_run as ctb_nl_request does.
 * The callbacks are static, so the file is compiled in here.
 */
#include "../../src/conntrack/ct_stats.c"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *buf = fuzz_bytes(data, size);
	size_t whole = fuzz_nl_whole(buf, size);
	struct table_size ts = { -1, -1 };
	struct percpu pc = { 0 };

	mnl_cb_run(buf, whole, 0, 0, percpu_cb, &pc);
	mnl_cb_run(buf, whole, 0, 0, global_cb, &ts);
	free(pc.values);
	free(pc.present);
	free(buf);
	return 0;
}
