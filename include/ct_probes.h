/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * What the conntrack probes (bpf/ct_probes.bpf.c) and `ctbypass watch` agree
 * on: counter indexes and the event layout. Includes nothing and uses only
 * __u* types, so both sides can include it after their own type headers.
 */
#ifndef CT_PROBES_H
#define CT_PROBES_H

/* Indexes into struct ctb_ct_stats.count (the per-CPU `ct_stats` array). */
#define CTB_CT_NEW 0 /* __nf_conntrack_alloc returned an entry */
#define CTB_CT_DROP 1 /* __nf_conntrack_alloc failed: table full, packet dropped */
#define CTB_CT_INSERT 2 /* __nf_conntrack_confirm accepted: entry inserted */
#define CTB_CT_INSERT_FAILED 3 /* __nf_conntrack_confirm dropped the packet */
#define CTB_CT_EARLY_DROP 4 /* early_drop evicted an entry to make room */
#define CTB_CT_DESTROY 5 /* a confirmed entry was freed */
#define CTB_CT_NF_DROP 6 /* netfilter dropped a packet that had no conntrack entry */
#define CTB_CT_LOST 7 /* events the ring buffer had no room for */
#define CTB_CT_UNMATCHED 8 /* kretprobe hits without their entry record (not counted) */
#define CTB_CT_COUNTERS 9

/* Value of the single-slot per-CPU `ct_stats` array: one lookup per event. */
struct ctb_ct_stats {
	__u64 count[CTB_CT_COUNTERS];
};

/* ctb_ct_event.kind */
#define CTB_CT_EV_NEW 1 /* a new entry (alloc success; netlink: NEW event) */
#define CTB_CT_EV_DROP 2 /* a packet dropped for want of an entry */

/* ctb_ct_event.family: the kernel's AF_INET / AF_INET6 */
#define CTB_CT_AF_INET 2
#define CTB_CT_AF_INET6 10

/* One ring buffer record: the original direction's tuple. */
struct ctb_ct_event {
	__u64 ts_ns; /* bpf_ktime_get_ns() */
	__u32 netns; /* inode number of the entry's network namespace */
	__u8 kind;
	__u8 family;
	__u8 l4proto;
	__u8 pad;
	__u16 sport; /* network byte order */
	__u16 dport; /* network byte order */
	__u8 pad2[4];
	__u8 saddr[16]; /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
};

#define CTB_CT_EVENTS_BYTES (1u << 20)
/* Wake the reader once this much waits; it also drains at every interval's end. */
#define CTB_CT_EVENTS_WAKEUP_BYTES (CTB_CT_EVENTS_BYTES / 8)

#endif /* CT_PROBES_H */
