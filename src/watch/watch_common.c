// SPDX-License-Identifier: GPL-2.0
/* `watch`: names, and the top-K tables every backend feeds. */
#include <netinet/in.h>
#include <string.h>
#include "watch.h"

/* Distinct keys kept per table and interval; more are counted as "other". */
#define TOP_MAX_KEYS 65536

const char *const ctb_watch_metric_names[CTB_W_METRICS] = {
	[CTB_W_INSERTS] = "inserts",
	[CTB_W_DROPS] = "drops",
	[CTB_W_EARLY_DROPS] = "early_drops",
	[CTB_W_INSERT_FAILED] = "insert_failed",
	[CTB_W_DESTROYS] = "destroys",
	[CTB_W_LOST] = "lost_events",
};

const char *ctb_watch_backend_name(enum ctb_watch_backend_kind kind)
{
	switch (kind) {
	case CTB_WATCH_FENTRY:
		return "fentry";
	case CTB_WATCH_KPROBE:
		return "kprobe";
	case CTB_WATCH_NETLINK:
		return "netlink";
	default:
		return "auto";
	}
}

int ctb_watch_top_init(struct ctb_watch_top *top)
{
	memset(top, 0, sizeof(*top));
	if (ctb_topk_init(&top->new_sources, TOP_MAX_KEYS) ||
	    ctb_topk_init(&top->new_ports, TOP_MAX_KEYS) ||
	    ctb_topk_init(&top->drop_sources, TOP_MAX_KEYS) ||
	    ctb_topk_init(&top->drop_ports, TOP_MAX_KEYS)) {
		ctb_watch_top_free(top);
		return -1;
	}
	return 0;
}

void ctb_watch_top_reset(struct ctb_watch_top *top)
{
	ctb_topk_reset(&top->new_sources);
	ctb_topk_reset(&top->new_ports);
	ctb_topk_reset(&top->drop_sources);
	ctb_topk_reset(&top->drop_ports);
}

void ctb_watch_top_free(struct ctb_watch_top *top)
{
	ctb_topk_free(&top->new_sources);
	ctb_topk_free(&top->new_ports);
	ctb_topk_free(&top->drop_sources);
	ctb_topk_free(&top->drop_ports);
}

void ctb_watch_top_add(struct ctb_watch_top *top, bool drop, uint8_t family, uint8_t l4proto,
		       const uint8_t *saddr, uint16_t dport_host)
{
	struct ctb_topk_key src = { .family = family }, port = { .l4proto = l4proto };

	memcpy(src.addr, saddr, family == AF_INET ? 4 : 16);
	/* Ports only for protocols that have them: ICMP's "port" is type and code. */
	if (l4proto == IPPROTO_TCP || l4proto == IPPROTO_UDP || l4proto == IPPROTO_SCTP ||
	    l4proto == IPPROTO_DCCP || l4proto == IPPROTO_UDPLITE)
		port.port = dport_host;
	ctb_topk_add(drop ? &top->drop_sources : &top->new_sources, &src, 1);
	ctb_topk_add(drop ? &top->drop_ports : &top->new_ports, &port, 1);
}
