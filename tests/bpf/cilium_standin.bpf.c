// SPDX-License-Identifier: GPL-2.0
/*
 * Stands in for Cilium on an interface's TC ingress hook, by the name Cilium's
 * host program has (cil_from_netdev): attach must warn that Cilium uses mark
 * bits of its own there. Does nothing else.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tc")
int cil_from_netdev(struct __sk_buff *skb)
{
	(void)skb;
	return -1; /* TC_ACT_UNSPEC */
}

char LICENSE[] SEC("license") = "GPL";
