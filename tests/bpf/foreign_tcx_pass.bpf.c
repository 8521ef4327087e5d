// SPDX-License-Identifier: GPL-2.0
/*
 * Another tool's tcx program that ends the list: it returns TCX_PASS (0), so
 * no program after it on the tcx hook runs, and no clsact filter either. Put
 * in front of ctbypass's classifier, it hides every arrival from it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tc")
int foreign_pass(struct __sk_buff *skb)
{
	(void)skb;
	return 0; /* TCX_PASS */
}

char LICENSE[] SEC("license") = "GPL";
