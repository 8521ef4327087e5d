// SPDX-License-Identifier: GPL-2.0
/*
 * `doctor`'s netlink input, each message of the input read both ways:
 * - a conntrack dump entry: parsed by libnetfilter_conntrack (nfct_nlmsg_parse,
 *   the libmnl form of what nfct_query does), then entry_from_ct and the same
 *   aggregation and ranking as `doctor` (cmd_doctor.c's on_entry);
 * - an inet_diag socket dump reply: diag_cb, which collects listening ports.
 * Both callbacks are static, so their files are compiled in here.
 */
#include "../../src/doctor/doctor_ctnetlink.c"
#include "../../src/doctor/doctor_host.c"
#include "fuzz.h"
#include "fuzz_nfct.h"

struct fuzz_doctor {
	struct ctb_doctor_agg agg;
	struct ctb_doctor_cands cands;
	const struct ctb_doctor_host *host;
	struct nf_conntrack *ct;
};

static int ct_entry_cb(const struct nlmsghdr *nlh, void *data)
{
	struct fuzz_doctor *d = data;
	struct ctb_doctor_entry e;

	/* In D, so that the harness frees it if the library gives up mid-parse. */
	d->ct = nfct_new();
	if (!d->ct)
		abort();
	/* nfct_query's callback sees only entries that parsed. */
	if (nfct_nlmsg_parse(nlh, d->ct) >= 0) {
		entry_from_ct(d->ct, &e);
		if (ctb_doctor_agg_add(&d->agg, &e) ||
		    ctb_doctor_cands_add(&d->cands, d->host, &e.flow))
			abort();
	}
	nfct_destroy(d->ct);
	d->ct = NULL;
	return MNL_CB_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ctb_doctor_addr addrs[] = {
		{ AF_INET, { 10, 0, 0, 1 } },
		{ AF_INET6, { 0xfd, 0x00, [15] = 1 } },
	};
	struct ctb_doctor_host host = { .addrs = (struct ctb_doctor_addr *)addrs, .naddrs = 2 };
	struct fuzz_doctor d = { .host = &host };
	struct diag_ctx diag = { .ports = &host.listen_udp, .unconnected_only = true };
	struct ctb_doctor_source sources[CTB_DOCTOR_TOPK];
	struct ctb_doctor_port ports[CTB_DOCTOR_TOPK];
	struct ctb_doctor_cand *cands = NULL;
	void *buf = fuzz_bytes(data, size);
	size_t whole = fuzz_nl_whole(buf, size);
	size_t n;

	ctb_portset_add(&host.listen_tcp, 80);
	if (ctb_doctor_agg_init(&d.agg))
		abort();
	mnl_cb_run(buf, whole, 0, 0, diag_cb, &diag);
	fuzz_nfct_cb_run(buf, whole, ct_entry_cb, &d);
	if (d.ct)
		nfct_destroy(d.ct);
	ctb_doctor_top_sources(&d.agg, sources, CTB_DOCTOR_TOPK);
	ctb_doctor_top_ports(&d.agg, ports, CTB_DOCTOR_TOPK);
	if (!ctb_doctor_cands_rank(&d.cands, &host, CTB_DOCTOR_TOPK, &cands, &n))
		free(cands);
	ctb_doctor_cands_free(&d.cands);
	ctb_doctor_agg_free(&d.agg);
	free(buf);
	return 0;
}
