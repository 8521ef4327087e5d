/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `doctor`: how big the conntrack table should be on this machine, what its
 * entries cost, and which timeouts keep dead entries far longer than needed.
 * Pure arithmetic on facts read elsewhere, so it is unit-tested.
 */
#ifndef CTB_DOCTOR_SIZING_H
#define CTB_DOCTOR_SIZING_H

#include <stdbool.h>
#include <stdint.h>

#define CTB_SIZING_ASSUMED_OBJSIZE 320	 /* bytes of one nf_conn when slabinfo is unreadable */
#define CTB_SIZING_TCP_ESTABLISHED 86400 /* recommended, seconds */
#define CTB_SIZING_SYSCTL_FILE "/etc/sysctl.d/90-ctbypass-conntrack.conf"
#define CTB_SIZING_MODPROBE_FILE "/etc/modprobe.d/ctbypass-conntrack.conf"
#define CTB_SIZING_SEEDS_FORMULA "CONNTRACK_MAX = RAM / 16384 / (ARCH / 32)"
#define CTB_SIZING_KERNEL_FORMULA                                                                  \
	"buckets = RAM / 16384 / sizeof(hlist_head), but 65536 above 1 GiB and 262144 above "      \
	"4 GiB on 64-bit, at least 1024; max = buckets"
#define CTB_SIZING_LINES 4

struct ctb_sizing_input {
	uint64_t ram_bytes;
	unsigned int arch_bits; /* 64 on x86_64 */
	uint64_t cur_entries, cur_max, cur_buckets;
	uint64_t cur_tcp_established; /* seconds; 0 when unknown */
	uint64_t objsize;	      /* nf_conn bytes from /proc/slabinfo; 0 when unknown */
	bool initial_netns;	      /* max and buckets are writable only there */
	const char *netns; /* -n NETNS: per-namespace settings are applied in it; or NULL */
};

struct ctb_sizing {
	uint64_t seeds_max;		     /* the seeds' formula */
	uint64_t kernel_buckets, kernel_max; /* what the kernel picks at boot for this RAM */
	uint64_t rec_max, rec_buckets;	     /* recommended: never below the current values */
	bool raise_max, raise_buckets;
	uint64_t objsize;
	bool objsize_assumed;
	/* Entries plus hash buckets, in bytes. */
	uint64_t mem_entries, mem_cur_max, mem_rec_max;
	uint64_t rec_tcp_established; /* 0: the current value is fine */
	char timeout_reason[256];
	/* Commands to apply, and lines for CTB_SIZING_SYSCTL_FILE / CTB_SIZING_MODPROBE_FILE. */
	char apply[CTB_SIZING_LINES][128];
	char persist[CTB_SIZING_LINES][128];
	char modprobe[128];
	unsigned int napply, npersist;
	char netns_note[256]; /* set when not in the initial namespace */
};

/* The seeds' CONNTRACK_MAX for RAM_BYTES on an ARCH_BITS machine. */
uint64_t ctb_sizing_seeds_max(uint64_t ram_bytes, unsigned int arch_bits);
/* The kernel's default bucket count (nf_conntrack_init_start), 4 KiB pages. */
uint64_t ctb_sizing_kernel_buckets(uint64_t ram_bytes, unsigned int arch_bits);

void ctb_sizing_compute(const struct ctb_sizing_input *in, struct ctb_sizing *out);

#endif
