/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `doctor`: what fills the conntrack table. Pure aggregation of dumped entries
 * (counts per protocol and TCP state, top sources, top destination ports), and
 * the small counting map the candidates reuse. No I/O here: unit-tested.
 */
#ifndef CTB_DOCTOR_TABLE_H
#define CTB_DOCTOR_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"

#define CTB_DOCTOR_TOPK 10
#define CTB_DOCTOR_TCP_STATES 10 /* TCP_CONNTRACK_NONE .. TCP_CONNTRACK_SYN_SENT2 */

/* One dumped entry: its original tuple (ports 0 unless TCP/UDP) and TCP state. */
struct ctb_doctor_entry {
	struct ctb_flow flow;
	int tcp_state; /* TCP_CONNTRACK_*, or -1 when not TCP or not reported */
};

/* Counts per fixed-size key, in an open-addressing hash: sources, candidates. */
#define CTB_DOCTOR_KEY_LEN 24
struct ctb_doctor_count {
	uint8_t key[CTB_DOCTOR_KEY_LEN];
	uint64_t count; /* 0: free slot */
};

struct ctb_doctor_counts {
	struct ctb_doctor_count *slots;
	size_t cap, used;
};

int ctb_doctor_counts_add(struct ctb_doctor_counts *c, const uint8_t key[CTB_DOCTOR_KEY_LEN],
			  uint64_t n);
void ctb_doctor_counts_free(struct ctb_doctor_counts *c);
/*
 * The used slots, highest count first (ties: key bytes ascending), in a new
 * array the caller frees. Returns 0 or -ENOMEM.
 */
int ctb_doctor_counts_sorted(const struct ctb_doctor_counts *c, struct ctb_doctor_count **out,
			     size_t *count);

struct ctb_doctor_source {
	int family;
	uint8_t addr[16];
	uint64_t entries;
};

struct ctb_doctor_port {
	uint8_t l4proto; /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port;
	uint64_t entries;
};

struct ctb_doctor_agg {
	uint64_t entries, tcp, udp, icmp, other;
	uint64_t tcp_states[CTB_DOCTOR_TCP_STATES];
	uint32_t *dports; /* [0..65535] TCP, [65536..] UDP */
	struct ctb_doctor_counts sources;
};

int ctb_doctor_agg_init(struct ctb_doctor_agg *agg);
void ctb_doctor_agg_free(struct ctb_doctor_agg *agg);
int ctb_doctor_agg_add(struct ctb_doctor_agg *agg, const struct ctb_doctor_entry *e);

/* The K largest, highest first; return how many were written (at most K). */
size_t ctb_doctor_top_sources(const struct ctb_doctor_agg *agg, struct ctb_doctor_source *out,
			      size_t k);
size_t ctb_doctor_top_ports(const struct ctb_doctor_agg *agg, struct ctb_doctor_port *out,
			    size_t k);

/* "ESTABLISHED", "TIME_WAIT", ... as conntrack(8) prints them. */
const char *ctb_doctor_tcp_state_name(int state);

#endif
