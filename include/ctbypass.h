/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * What the BPF classifier and userspace agree on: map layouts and constants.
 * Includes nothing and uses only __u* types, so both sides can include it after
 * their own type headers (vmlinux.h in BPF, <linux/types.h> in userspace).
 */
#ifndef CTBYPASS_H
#define CTBYPASS_H

/*
 * Default mark bit: the low byte is the one region no fixed constant of
 * Cilium (0xffff00ff identity, 0x0f00 magic, 0xf000 keys), Calico
 * (0xffff0000, eBPF 0x1ff00000), kube-proxy (0x4000, 0x8000), Istio (0x539,
 * 0x53a, 0x111, in pods only), Docker or Weave (0x20000, 0x40000) uses, and
 * 0x4 avoids those that reach into it (OVN-Kubernetes 0x3f0, Cilium's AWS
 * ENI 0x80). README.md "The mark" cites the sources. --mark overrides it.
 */
#define CTB_DEFAULT_MARK 0x00000004u

/* TC filter identity: priority 1 so we run before filters that end the chain. */
#define CTB_TC_PRIORITY 1
/*
 * The filter handle records whether ctbypass created the clsact qdisc, so a
 * later `detach` (another process) knows whether the qdisc is ours to remove.
 */
#define CTB_TC_HANDLE_SHARED_QDISC 0xc7b0
#define CTB_TC_HANDLE_OWN_QDISC 0xc7b1

/* Protocol index in the `ports` map key: key = index << 16 | port. */
#define CTB_PROTO_INDEX_TCP 0
#define CTB_PROTO_INDEX_UDP 1
#define CTB_PORT_KEYS (2 * 65536)

/* Counter lines: slot 0 means "not bypassed"; the last slot collects overflow. */
#define CTB_STAT_SLOTS 4096
#define CTB_STAT_SLOT_OTHER (CTB_STAT_SLOTS - 1)

#define CTB_MAX_UPSTREAMS 4096

/* Value of the `ports` array: what one (protocol, port) means for arrivals. */
struct ctb_port_entry {
	__u32 server_slot; /* non-zero: a local service; arrivals to it are bypassed */
	__u32 upstream_refs; /* non-zero: some upstream uses it; check `upstreams` */
};

/*
 * Key of the `upstreams` LPM trie. proto, family and port come first so the
 * prefix covers them exactly; IPv4 addresses are stored IPv4-mapped
 * (::ffff:a.b.c.d), and the family keeps an IPv6 prefix such as ::/0 from
 * covering them.
 */
struct ctb_upstream_key {
	__u32 prefixlen; /* 32 (proto, family, port) + address prefix in the 128-bit space */
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 family; /* 4 or 6 */
	__u16 port; /* network byte order, as in the packet */
	__u8 addr[16];
};

#define CTB_UPSTREAM_KEY_FIXED_BITS 32

/* Value of the per-CPU `stats` array: bypassed arrivals for one slot. */
struct ctb_counter {
	__u64 packets;
	__u64 bytes;
};

#endif /* CTBYPASS_H */
