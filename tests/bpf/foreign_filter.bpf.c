// SPDX-License-Identifier: GPL-2.0
/*
 * Stands in for another tool's TC filter (Cilium, Calico, a tc user) in the
 * coexistence tests: counts the packets it sees, so a test can tell it still
 * runs beside ctbypass and after ctbypass is gone.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} foreign_hits SEC(".maps");

SEC("tc")
int foreign_filter(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *hits = bpf_map_lookup_elem(&foreign_hits, &key);

	(void)skb;
	if (hits)
		__sync_fetch_and_add(hits, 1);
	return -1; /* TC_ACT_UNSPEC: let the chain go on */
}

char LICENSE[] SEC("license") = "GPL";
