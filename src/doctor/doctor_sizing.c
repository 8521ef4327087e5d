// SPDX-License-Identifier: GPL-2.0
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "doctor_sizing.h"

#define GIB (1024ull * 1024 * 1024)
#define PAGE 4096ull

uint64_t ctb_sizing_seeds_max(uint64_t ram_bytes, unsigned int arch_bits)
{
	unsigned int words = arch_bits >= 32 ? arch_bits / 32 : 1;

	return ram_bytes / 16384 / words;
}

uint64_t ctb_sizing_kernel_buckets(uint64_t ram_bytes, unsigned int arch_bits)
{
	uint64_t pages = ram_bytes / PAGE;
	uint64_t buckets = ram_bytes / 16384 / (arch_bits / 8);

	if (arch_bits >= 64 && pages > 4 * (GIB / PAGE))
		buckets = 262144;
	else if (pages > GIB / PAGE)
		buckets = 65536;
	return buckets < 1024 ? 1024 : buckets;
}

/* The kernel allocates whole pages of bucket heads: round up as it would. */
static uint64_t round_buckets(uint64_t n, unsigned int arch_bits)
{
	uint64_t per_page = PAGE / (arch_bits / 8);

	return (n + per_page - 1) / per_page * per_page;
}

static uint64_t table_bytes(uint64_t entries, uint64_t buckets, uint64_t objsize,
			    unsigned int arch_bits)
{
	return entries * objsize + buckets * (arch_bits / 8);
}

static void add_setting(struct ctb_sizing *out, const char *netns, const char *key, uint64_t value)
{
	snprintf(out->apply[out->napply++], sizeof(out->apply[0]), "%s%s%ssysctl -w %s=%" PRIu64,
		 netns ? "ip netns exec " : "", netns ? netns : "", netns ? " " : "", key, value);
	snprintf(out->persist[out->npersist++], sizeof(out->persist[0]), "%s = %" PRIu64, key,
		 value);
}

void ctb_sizing_compute(const struct ctb_sizing_input *in, struct ctb_sizing *out)
{
	unsigned int bits = in->arch_bits == 32 ? 32 : 64;

	memset(out, 0, sizeof(*out));
	out->seeds_max = ctb_sizing_seeds_max(in->ram_bytes, bits);
	out->kernel_buckets = ctb_sizing_kernel_buckets(in->ram_bytes, bits);
	out->kernel_max = out->kernel_buckets;
	/* Lowering the max during an outage would drop more: never recommend it. */
	out->rec_max = out->seeds_max > in->cur_max ? out->seeds_max : in->cur_max;
	out->raise_max = out->rec_max > in->cur_max;
	/* One bucket per entry, as the kernel's own default: chains of 2 on average. */
	out->rec_buckets = round_buckets(out->rec_max, bits);
	if (out->rec_buckets < in->cur_buckets)
		out->rec_buckets = in->cur_buckets;
	out->raise_buckets = out->rec_buckets > in->cur_buckets;

	out->objsize_assumed = !in->objsize;
	out->objsize = in->objsize ? in->objsize : CTB_SIZING_ASSUMED_OBJSIZE;
	out->mem_entries = table_bytes(in->cur_entries, in->cur_buckets, out->objsize, bits);
	out->mem_cur_max = table_bytes(in->cur_max, in->cur_buckets, out->objsize, bits);
	out->mem_rec_max = table_bytes(out->rec_max, out->rec_buckets, out->objsize, bits);

	if (in->cur_tcp_established > CTB_SIZING_TCP_ESTABLISHED) {
		out->rec_tcp_established = CTB_SIZING_TCP_ESTABLISHED;
		snprintf(out->timeout_reason, sizeof(out->timeout_reason),
			 "an idle ESTABLISHED entry is kept %" PRIu64
			 " s (%.1f days) after its last packet, long after a vanished peer; "
			 "86400 s (1 day) outlasts any keepalive, 3600 s suits clients "
			 "that send keepalives at least hourly",
			 in->cur_tcp_established, in->cur_tcp_established / 86400.0);
	}

	if (out->raise_max)
		add_setting(out, NULL, "net.netfilter.nf_conntrack_max", out->rec_max);
	if (out->raise_buckets) {
		add_setting(out, NULL, "net.netfilter.nf_conntrack_buckets", out->rec_buckets);
		snprintf(out->modprobe, sizeof(out->modprobe),
			 "options nf_conntrack hashsize=%" PRIu64, out->rec_buckets);
	}
	if (out->rec_tcp_established)
		add_setting(out, in->netns, "net.netfilter.nf_conntrack_tcp_timeout_established",
			    out->rec_tcp_established);
	if (!in->initial_netns)
		snprintf(out->netns_note, sizeof(out->netns_note),
			 "nf_conntrack_max and nf_conntrack_buckets are global: set them from the "
			 "initial namespace (without -n); the TCP timeout is per namespace, and "
			 "%s applies to the initial one only",
			 CTB_SIZING_SYSCTL_FILE);
}
