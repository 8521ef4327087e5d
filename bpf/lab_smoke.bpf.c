// SPDX-License-Identifier: GPL-2.0
/*
 * VM lab smoke test: proves that the running kernel lets BPF trace conntrack,
 * through fentry and through a kprobe, on the function that allocates every
 * conntrack entry. Each program counts into its own counter so userspace can
 * tell which attachment fired; userspace loads one at a time.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

__u64 fentry_calls;
__u64 kprobe_calls;

/* No arguments read: only attachability and firing are under test. */
SEC("fentry/__nf_conntrack_alloc")
int BPF_PROG(ct_alloc_fentry)
{
	__sync_fetch_and_add(&fentry_calls, 1);
	return 0;
}

SEC("kprobe/__nf_conntrack_alloc")
int BPF_KPROBE(ct_alloc_kprobe)
{
	__sync_fetch_and_add(&kprobe_calls, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
