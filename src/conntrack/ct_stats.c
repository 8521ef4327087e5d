// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "watch.h"
#include "ct_stats.h"
#include "netlink_request.h"

/* Sends one ctnetlink request and runs CB on each answer until it is done. */
static int ct_request(uint16_t type, bool dump, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfh;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST | (dump ? NLM_F_DUMP : NLM_F_ACK);
	nfh = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfh));
	nfh->nfgen_family = AF_UNSPEC;
	nfh->version = NFNETLINK_V0;
	nfh->res_id = 0;
	return ctb_nl_request(NETLINK_NETFILTER, nlh, cb, data);
}

static uint32_t attr_be32(const struct nlattr *a)
{
	return a && mnl_attr_get_payload_len(a) >= 4 ? ntohl(mnl_attr_get_u32(a)) : 0;
}

struct table_size {
	int64_t entries, max;
};

static int global_cb(const struct nlmsghdr *nlh, void *data)
{
	struct table_size *ts = data;
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) == CTA_STATS_GLOBAL_ENTRIES)
			ts->entries = attr_be32(a);
		else if (mnl_attr_get_type(a) == CTA_STATS_GLOBAL_MAX_ENTRIES)
			ts->max = attr_be32(a);
	}
	return MNL_CB_OK;
}

int ctb_watch_table_size(int64_t *entries, int64_t *max)
{
	struct table_size ts = { -1, -1 };
	int ret = ct_request(IPCTNL_MSG_CT_GET_STATS, false, global_cb, &ts);

	*entries = ts.entries;
	*max = ts.max;
	return ret;
}

struct percpu {
	uint64_t *values;
	uint8_t *present;
	size_t cpus; /* capacity */
	bool chain_toolong_seen;
	int err;
};

static int percpu_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nfgenmsg *nfh = mnl_nlmsg_get_payload(nlh);
	struct percpu *pc = data;
	const struct nlattr *a;
	size_t cpu;

	/* The CPU number is in the nfgenmsg: a message too short for one names no CPU. */
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*nfh)))
		return MNL_CB_OK;
	cpu = ntohs(nfh->res_id);
	if (cpu >= pc->cpus) {
		size_t cap = cpu + 64;
		uint64_t *v = realloc(pc->values, cap * CTB_CTSTATS * sizeof(*v));
		uint8_t *p;

		if (!v)
			goto nomem;
		pc->values = v;
		p = realloc(pc->present, cap);
		if (!p)
			goto nomem;
		pc->present = p;
		memset(v + pc->cpus * CTB_CTSTATS, 0, (cap - pc->cpus) * CTB_CTSTATS * sizeof(*v));
		memset(p + pc->cpus, 0, cap - pc->cpus);
		pc->cpus = cap;
	}
	pc->present[cpu] = 1;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		uint64_t *v = pc->values + cpu * CTB_CTSTATS;

		switch (mnl_attr_get_type(a)) {
		case CTA_STATS_DROP:
			v[CTB_CTSTAT_DROP] = attr_be32(a);
			break;
		case CTA_STATS_EARLY_DROP:
			v[CTB_CTSTAT_EARLY_DROP] = attr_be32(a);
			break;
		case CTA_STATS_INSERT_FAILED:
			v[CTB_CTSTAT_INSERT_FAILED] = attr_be32(a);
			break;
		case CTA_STATS_CHAIN_TOOLONG:
			v[CTB_CTSTAT_CHAIN_TOOLONG] = attr_be32(a);
			pc->chain_toolong_seen = true;
			break;
		}
	}
	return MNL_CB_OK;
nomem:
	pc->err = -ENOMEM;
	return MNL_CB_ERROR;
}

static int read_percpu(struct percpu *out)
{
	struct percpu pc = { 0 };
	int ret = ct_request(IPCTNL_MSG_CT_GET_STATS_CPU, true, percpu_cb, &pc);

	if (pc.err)
		ret = pc.err;
	if (ret) {
		free(pc.values);
		free(pc.present);
		return ret;
	}
	*out = pc;
	return 0;
}

int ctb_ctstats_sum(uint64_t sums[CTB_CTSTATS], unsigned int *cpus, bool *have_chain_toolong)
{
	struct percpu pc;
	int ret = read_percpu(&pc);

	memset(sums, 0, CTB_CTSTATS * sizeof(*sums));
	*cpus = 0;
	if (ret)
		return ret;
	for (size_t cpu = 0; cpu < pc.cpus; cpu++) {
		if (!pc.present[cpu])
			continue;
		(*cpus)++;
		for (int s = 0; s < CTB_CTSTATS; s++)
			sums[s] += pc.values[cpu * CTB_CTSTATS + s];
	}
	*have_chain_toolong = pc.chain_toolong_seen;
	free(pc.values);
	free(pc.present);
	return 0;
}

int ctb_ctstats_percpu(uint64_t **values, uint8_t **present, size_t *cpus)
{
	struct percpu pc;
	int ret = read_percpu(&pc);

	if (ret)
		return ret;
	*values = pc.values;
	*present = pc.present;
	*cpus = pc.cpus;
	return 0;
}
