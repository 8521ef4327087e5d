// SPDX-License-Identifier: GPL-2.0
/*
 * Conntrack telemetry for `ctbypass watch`: counters for what the table does
 * (new, dropped for lack of room, inserted, insert failed, evicted, destroyed)
 * and, when asked, one ring buffer record per new entry or dropped packet.
 *
 * Each probe point has an fentry/fexit variant and a kprobe/kretprobe variant
 * sharing one helper; userspace switches off the variant it does not use. The
 * hot path is a namespace check, one per-CPU counter increment and, only with
 * emit_events, one ring buffer reservation.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "ct_probes.h"

#define MAX_ERRNO 4095
#define NF_DROP 0
#define NFCT_PTRMASK (~7UL)

/* Set between open and load. */
const volatile __u32 target_netns = 0; /* 0: every namespace */
const volatile __u8 emit_events = 0; /* ring buffer records, for --top */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ctb_ct_stats);
} ct_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CTB_CT_EVENTS_BYTES);
} events SEC(".maps");

/*
 * kretprobes see no arguments, so each kprobe records its call's arguments
 * here for the kretprobe. Per CPU and per function, a short stack: a softirq
 * can run the same function while an interrupted call is still pending. The
 * stack pointer pairs a return with its call; a mismatch (the task migrated)
 * empties the stack and the return is counted in CTB_CT_UNMATCHED.
 */
#define CALL_ALLOC 0
#define CALL_CONFIRM 1
#define CALL_EARLY_DROP 2
#define CALL_KINDS 3
#define CALL_DEPTH 4
#define CALL_SP_SLACK 64 /* the return's sp is the call's plus the popped return address */

struct saved_call {
	__u64 sp;
	__u64 arg0;
	__u64 arg1;
};

struct pending {
	__u32 depth[CALL_KINDS];
	__u32 pad;
	struct saved_call slot[CALL_KINDS][CALL_DEPTH];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pending);
} pending_calls SEC(".maps");

static __always_inline struct ctb_ct_stats *stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&ct_stats, &zero);
}

static __always_inline void count(struct ctb_ct_stats *s, __u32 idx)
{
	if (s && idx < CTB_CT_COUNTERS)
		s->count[idx]++;
}

static __always_inline __u32 net_inum(struct net *net)
{
	return net ? BPF_CORE_READ(net, ns.inum) : 0;
}

static __always_inline bool netns_wanted(__u32 inum)
{
	return !target_netns || inum == target_netns;
}

static __always_inline __u32 ct_netns(struct nf_conn *ct)
{
	return ct ? BPF_CORE_READ(ct, ct_net.net, ns.inum) : 0;
}

static __always_inline void fill_tuple(struct ctb_ct_event *e, const struct nf_conntrack_tuple *t)
{
	e->family = BPF_CORE_READ(t, src.l3num);
	e->l4proto = BPF_CORE_READ(t, dst.protonum);
	e->sport = BPF_CORE_READ(t, src.u.all);
	e->dport = BPF_CORE_READ(t, dst.u.all);
	bpf_core_read(e->saddr, sizeof(e->saddr), &t->src.u3);
	bpf_core_read(e->daddr, sizeof(e->daddr), &t->dst.u3);
}

static __always_inline struct ctb_ct_event *event_reserve(struct ctb_ct_stats *s, __u8 kind,
							  __u32 inum)
{
	struct ctb_ct_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		count(s, CTB_CT_LOST);
		return NULL;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->netns = inum;
	e->kind = kind;
	e->pad = 0;
	__builtin_memset(e->pad2, 0, sizeof(e->pad2));
	return e;
}

/*
 * A wakeup per event would cost an interrupt (a VM exit in a guest), several
 * times the rest of the probe: wake the reader only once a batch is waiting.
 */
static __always_inline void event_submit(struct ctb_ct_event *e)
{
	__u64 flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= CTB_CT_EVENTS_WAKEUP_BYTES
			      ? BPF_RB_FORCE_WAKEUP
			      : BPF_RB_NO_WAKEUP;

	bpf_ringbuf_submit(e, flags);
}

/* __nf_conntrack_alloc returned RET for tuple ORIG in NET. */
static __always_inline void on_alloc_exit(struct net *net, const struct nf_conntrack_tuple *orig,
					  unsigned long ret)
{
	bool dropped = ret >= (unsigned long)-MAX_ERRNO;
	__u32 inum = net_inum(net);
	struct ctb_ct_stats *s;
	struct ctb_ct_event *e;

	if (!netns_wanted(inum))
		return;
	s = stats();
	count(s, dropped ? CTB_CT_DROP : CTB_CT_NEW);
	if (!emit_events)
		return;
	e = event_reserve(s, dropped ? CTB_CT_EV_DROP : CTB_CT_EV_NEW, inum);
	if (!e)
		return;
	fill_tuple(e, orig);
	event_submit(e);
}

/* __nf_conntrack_confirm returned VERDICT for SKB (whose entry was unconfirmed). */
static __always_inline void on_confirm_exit(struct sk_buff *skb, int verdict)
{
	unsigned long nfct = BPF_CORE_READ(skb, _nfct);

	if (!netns_wanted(ct_netns((struct nf_conn *)(nfct & NFCT_PTRMASK))))
		return;
	count(stats(), verdict == NF_DROP ? CTB_CT_INSERT_FAILED : CTB_CT_INSERT);
}

static __always_inline void on_early_drop_exit(struct net *net, unsigned long ret)
{
	/* bool return: only the low byte is defined */
	if ((ret & 0xff) && netns_wanted(net_inum(net)))
		count(stats(), CTB_CT_EARLY_DROP);
}

/* The last reference went; only confirmed entries were ever in the table. */
static __always_inline void on_destroy(struct nf_conntrack *nfct)
{
	struct nf_conn *ct = (struct nf_conn *)nfct;

	if (!(BPF_CORE_READ(ct, status) & IPS_CONFIRMED) || !netns_wanted(ct_netns(ct)))
		return;
	count(stats(), CTB_CT_DESTROY);
}

/* ---- fentry/fexit ---- */

SEC("fexit/__nf_conntrack_alloc")
int BPF_PROG(ct_alloc_exit, struct net *net, const struct nf_conntrack_zone *zone,
	     const struct nf_conntrack_tuple *orig, const struct nf_conntrack_tuple *repl,
	     gfp_t gfp, u32 hash, struct nf_conn *ret)
{
	on_alloc_exit(net, orig, (unsigned long)ret);
	return 0;
}

SEC("fexit/__nf_conntrack_confirm")
int BPF_PROG(ct_confirm_exit, struct sk_buff *skb, long ret)
{
	on_confirm_exit(skb, (int)ret);
	return 0;
}

SEC("fexit/early_drop")
int BPF_PROG(ct_early_drop_exit, struct net *net, unsigned int hash, long ret)
{
	on_early_drop_exit(net, ret);
	return 0;
}

SEC("fentry/nf_ct_destroy")
int BPF_PROG(ct_destroy_entry, struct nf_conntrack *nfct)
{
	on_destroy(nfct);
	return 0;
}

/* ---- kprobe/kretprobe ---- */

static __always_inline struct pending *pending(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&pending_calls, &zero);
}

static __always_inline void save_call(__u32 kind, __u64 sp, __u64 arg0, __u64 arg1)
{
	struct pending *p = pending();
	__u32 d;

	if (!p || kind >= CALL_KINDS)
		return;
	d = p->depth[kind];
	if (d < CALL_DEPTH) {
		p->slot[kind][d].sp = sp;
		p->slot[kind][d].arg0 = arg0;
		p->slot[kind][d].arg1 = arg1;
	}
	if (d < 1000)
		p->depth[kind] = d + 1;
}

/* The arguments of the call returning with stack pointer SP, or NULL. */
static __always_inline struct saved_call *take_call(__u32 kind, __u64 sp)
{
	struct pending *p = pending();
	struct saved_call *c;
	__u32 d;

	if (!p || kind >= CALL_KINDS)
		return NULL;
	d = p->depth[kind];
	if (!d)
		goto unmatched;
	p->depth[kind] = --d;
	if (d >= CALL_DEPTH)
		goto unmatched;
	c = &p->slot[kind][d];
	if (sp - c->sp > CALL_SP_SLACK) {
		p->depth[kind] = 0;
		goto unmatched;
	}
	return c;
unmatched:
	count(stats(), CTB_CT_UNMATCHED);
	return NULL;
}

SEC("kprobe/__nf_conntrack_alloc")
int BPF_KPROBE(ct_alloc_kprobe, struct net *net, const struct nf_conntrack_zone *zone,
	       const struct nf_conntrack_tuple *orig)
{
	save_call(CALL_ALLOC, PT_REGS_SP(ctx), (__u64)net, (__u64)orig);
	return 0;
}

SEC("kretprobe/__nf_conntrack_alloc")
int BPF_KRETPROBE(ct_alloc_kretprobe, struct nf_conn *ret)
{
	struct saved_call *c = take_call(CALL_ALLOC, PT_REGS_SP(ctx));

	if (c)
		on_alloc_exit((struct net *)c->arg0, (const struct nf_conntrack_tuple *)c->arg1,
			      (unsigned long)ret);
	return 0;
}

SEC("kprobe/__nf_conntrack_confirm")
int BPF_KPROBE(ct_confirm_kprobe, struct sk_buff *skb)
{
	save_call(CALL_CONFIRM, PT_REGS_SP(ctx), (__u64)skb, 0);
	return 0;
}

SEC("kretprobe/__nf_conntrack_confirm")
int BPF_KRETPROBE(ct_confirm_kretprobe, long ret)
{
	struct saved_call *c = take_call(CALL_CONFIRM, PT_REGS_SP(ctx));

	if (c)
		on_confirm_exit((struct sk_buff *)c->arg0, (int)ret);
	return 0;
}

SEC("kprobe/early_drop")
int BPF_KPROBE(ct_early_drop_kprobe, struct net *net)
{
	save_call(CALL_EARLY_DROP, PT_REGS_SP(ctx), (__u64)net, 0);
	return 0;
}

SEC("kretprobe/early_drop")
int BPF_KRETPROBE(ct_early_drop_kretprobe, long ret)
{
	struct saved_call *c = take_call(CALL_EARLY_DROP, PT_REGS_SP(ctx));

	if (c)
		on_early_drop_exit((struct net *)c->arg0, ret);
	return 0;
}

SEC("kprobe/nf_ct_destroy")
int BPF_KPROBE(ct_destroy_kprobe, struct nf_conntrack *nfct)
{
	on_destroy(nfct);
	return 0;
}

/* ---- netlink backend: who the dropped packets came from ---- */

static __always_inline void fill_from_headers(struct ctb_ct_event *e, struct sk_buff *skb)
{
	unsigned char *nh = BPF_CORE_READ(skb, head) + BPF_CORE_READ(skb, network_header);
	__u8 first = 0, l4 = 0, ihl;
	__u16 ports[2] = { 0, 0 };
	unsigned char *th;

	bpf_probe_read_kernel(&first, 1, nh);
	if (first >> 4 == 4) {
		e->family = CTB_CT_AF_INET;
		ihl = (first & 0xf) * 4;
		bpf_probe_read_kernel(&l4, 1, nh + 9);
		bpf_probe_read_kernel(e->saddr, 4, nh + 12);
		bpf_probe_read_kernel(e->daddr, 4, nh + 16);
		th = nh + ihl;
	} else if (first >> 4 == 6) {
		e->family = CTB_CT_AF_INET6;
		bpf_probe_read_kernel(&l4, 1, nh + 6); /* extension headers not walked */
		bpf_probe_read_kernel(e->saddr, 16, nh + 8);
		bpf_probe_read_kernel(e->daddr, 16, nh + 24);
		th = nh + 40;
	} else {
		return;
	}
	e->l4proto = l4;
	if (l4 == IPPROTO_TCP || l4 == IPPROTO_UDP || l4 == IPPROTO_SCTP || l4 == IPPROTO_DCCP ||
	    l4 == IPPROTO_UDPLITE)
		bpf_probe_read_kernel(ports, sizeof(ports), th);
	e->sport = ports[0];
	e->dport = ports[1];
}

/*
 * skb:kfree_skb (skb, location, reason, ...). Conntrack's "table full" drop
 * leaves the packet without an entry and netfilter frees it with
 * NETFILTER_DROP; a rule dropping a tracked packet leaves _nfct set.
 */
SEC("raw_tracepoint/kfree_skb")
int kfree_skb_nf_drop(struct bpf_raw_tracepoint_args *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx->args[0];
	struct ctb_ct_stats *s;
	struct ctb_ct_event *e;
	struct net_device *dev;
	__u32 inum;

	if (ctx->args[2] != bpf_core_enum_value(enum skb_drop_reason,
						SKB_DROP_REASON_NETFILTER_DROP))
		return 0;
	if (BPF_CORE_READ(skb, _nfct))
		return 0;
	dev = BPF_CORE_READ(skb, dev);
	inum = dev ? BPF_CORE_READ(dev, nd_net.net, ns.inum)
		   : BPF_CORE_READ(skb, sk, __sk_common.skc_net.net, ns.inum);
	if (!netns_wanted(inum))
		return 0;
	s = stats();
	count(s, CTB_CT_NF_DROP);
	if (!emit_events)
		return 0;
	e = event_reserve(s, CTB_CT_EV_DROP, inum);
	if (!e)
		return 0;
	e->family = 0;
	e->l4proto = 0;
	__builtin_memset(e->saddr, 0, sizeof(e->saddr));
	__builtin_memset(e->daddr, 0, sizeof(e->daddr));
	fill_from_headers(e, skb);
	event_submit(e);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
