// SPDX-License-Identifier: GPL-2.0
/*
 * Stands in for another tool that sets the same mark bit as ctbypass on an
 * interface without ctbypass's classifier (the mark-hygiene test): sets bit
 * 0x4 on every arriving packet. Only cls_bpf is there to do it on every
 * kernel the tests run on (no matchall, no skbedit).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tc")
int foreign_marker(struct __sk_buff *skb)
{
	skb->mark |= 0x4;
	return -1; /* TC_ACT_UNSPEC: let the chain go on */
}

char LICENSE[] SEC("license") = "GPL";
