// SPDX-License-Identifier: GPL-2.0
/*
 * A TC program that does nothing: the baseline bench/classifier_cost.c runs
 * next to the classifier, so the harness's own cost per packet cancels out.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define TC_ACT_UNSPEC (-1)

SEC("tc")
int ctb_empty(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
