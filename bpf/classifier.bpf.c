// SPDX-License-Identifier: GPL-2.0
/*
 * TC ingress classifier: sets the ctbypass mark bit on arriving packets that
 * belong to bypassed traffic and clears it on every other packet. A raw-priority
 * nftables rule then NOTRACKs marked packets and clears the bit again.
 *
 * Bypassed arrivals:
 *   - destination port is a local server port (`--ports`);
 *   - source address and port are an upstream's (`--upstream ADDR[/LEN]:PORT`).
 * Matching arrivals from upstreams on address *and* port keeps a sender that
 * merely picks source port 80 from skipping conntrack.
 *
 * Membership is one array lookup by (protocol, port); the LPM trie is consulted
 * only when the source port belongs to some upstream.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "ctbypass.h"

#define TC_ACT_UNSPEC (-1)
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF
#define IP6_OFFSET_MASK 0xFFF8
#define IPPROTO_HOPOPTS 0
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_ROUTING 43
#define IPPROTO_FRAGMENT 44
#define IPPROTO_AH 51
#define IPPROTO_DSTOPTS 60

/* VLAN tags still in the frame (an outer tag is usually already offloaded). */
#define MAX_VLAN_TAGS 2
/* IPv6 extension headers walked before giving up (not bypassed). */
#define MAX_IPV6_EXT_HEADERS 6
/* Linear bytes pulled in when the headers we parse are not all linear. */
#define PARSE_BYTES 256
/*
 * "The headers run past the linear data": parse again after a pull. Not a
 * counter slot (those are below CTB_STAT_SLOTS), and not 0 ("not bypassed").
 */
#define NEED_PULL 0xffffffffu

const volatile __u32 ctb_mark = CTB_DEFAULT_MARK;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, CTB_PORT_KEYS);
	__type(key, __u32);
	__type(value, struct ctb_port_entry);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CTB_MAX_UPSTREAMS);
	__type(key, struct ctb_upstream_key);
	__type(value, __u32);
} upstreams SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CTB_STAT_SLOTS);
	__type(key, __u32);
	__type(value, struct ctb_counter);
} stats SEC(".maps");

struct l4_ports {
	__be16 source;
	__be16 dest;
};

/* Returns the counter slot of a bypassed arrival, 0 if not bypassed. */
static __always_inline __u32 match_ports(__u8 l4proto, const struct l4_ports *p,
					  __u8 family, const __u8 saddr_mapped[16])
{
	__u32 index = l4proto == IPPROTO_TCP ? CTB_PROTO_INDEX_TCP : CTB_PROTO_INDEX_UDP;
	__u32 key = index << 16 | bpf_ntohs(p->dest);
	struct ctb_port_entry *entry = bpf_map_lookup_elem(&ports, &key);

	if (entry && entry->server_slot)
		return entry->server_slot;

	key = index << 16 | bpf_ntohs(p->source);
	entry = bpf_map_lookup_elem(&ports, &key);
	if (!entry || !entry->upstream_refs)
		return 0;

	struct ctb_upstream_key ukey = {
		.prefixlen = CTB_UPSTREAM_KEY_FIXED_BITS + 128,
		.proto = l4proto,
		.family = family,
		.port = p->source,
	};
	__builtin_memcpy(ukey.addr, saddr_mapped, 16);
	__u32 *slot = bpf_map_lookup_elem(&upstreams, &ukey);
	return slot ? *slot : 0;
}

/* The minimal header of the transport must be present, not only the ports. */
static __always_inline bool l4_header_fits(__u8 l4proto, void *l4, void *end)
{
	if (l4proto == IPPROTO_TCP)
		return l4 + sizeof(struct tcphdr) <= end;
	return l4 + sizeof(struct udphdr) <= end;
}

static __always_inline __u32 classify_ipv4(void *data, void *end, __u32 off)
{
	struct iphdr *ip = data + off;

	if ((void *)(ip + 1) > end)
		return NEED_PULL;
	if (ip->ihl < 5)
		return 0;
	/* Non-first fragments carry no ports; reassembly keeps the first one's mark. */
	if (ip->frag_off & bpf_htons(IP_OFFSET))
		return 0;
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return 0;

	void *l4 = data + ((off + ip->ihl * 4) & 0x3ff);

	if (!l4_header_fits(ip->protocol, l4, end))
		return NEED_PULL;

	__u8 mapped[16] = { [10] = 0xff, [11] = 0xff };

	__builtin_memcpy(&mapped[12], &ip->saddr, 4);
	return match_ports(ip->protocol, l4, 4, mapped);
}

static __always_inline __u32 classify_ipv6(void *data, void *end, __u32 off)
{
	struct ipv6hdr *ip6 = data + off;

	if ((void *)(ip6 + 1) > end)
		return NEED_PULL;

	__u8 nexthdr = ip6->nexthdr;
	__u32 l4off = off + sizeof(*ip6);

	for (int i = 0; i < MAX_IPV6_EXT_HEADERS; i++) {
		if (nexthdr == IPPROTO_TCP || nexthdr == IPPROTO_UDP)
			break;

		struct ipv6_opt_hdr *ext = data + (l4off & 0x3fff);

		if ((void *)(ext + 1) > end)
			return NEED_PULL;
		switch (nexthdr) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			l4off += (ext->hdrlen + 1) * 8;
			break;
		case IPPROTO_AH:
			l4off += (ext->hdrlen + 2) * 4;
			break;
		case IPPROTO_FRAGMENT: {
			struct frag_hdr *frag = (void *)ext;

			if ((void *)(frag + 1) > end)
				return NEED_PULL;
			if (frag->frag_off & bpf_htons(IP6_OFFSET_MASK))
				return 0; /* non-first fragment: no ports */
			l4off += sizeof(*frag);
			break;
		}
		default:
			return 0; /* ESP, no next header, or unknown: nothing to match */
		}
		nexthdr = ext->nexthdr;
	}
	if (nexthdr != IPPROTO_TCP && nexthdr != IPPROTO_UDP)
		return 0;

	void *l4 = data + (l4off & 0x3fff);

	if (!l4_header_fits(nexthdr, l4, end))
		return NEED_PULL;
	return match_ports(nexthdr, l4, 6, ip6->saddr.in6_u.u6_addr8);
}

/* Returns a counter slot, 0 (not bypassed) or NEED_PULL. */
static __always_inline __u32 classify_frame(void *data, void *end)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return NEED_PULL;

	__be16 proto = eth->h_proto;
	__u32 off = sizeof(*eth);

	for (int i = 0; i < MAX_VLAN_TAGS; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;

		struct vlan_hdr *vlan = data + off;

		if ((void *)(vlan + 1) > end)
			return NEED_PULL;
		proto = vlan->h_vlan_encapsulated_proto;
		off += sizeof(*vlan);
	}
	if (proto == bpf_htons(ETH_P_IP))
		return classify_ipv4(data, end, off);
	if (proto == bpf_htons(ETH_P_IPV6))
		return classify_ipv6(data, end, off);
	return 0;
}

/*
 * Parses the linear data as it is and pulls only when the headers run past
 * it. Pulling up front would cost every TCP segment with a payload: its data
 * sits in page fragments, and the skb is a clone of the one TCP keeps for
 * retransmission, so a pull reallocates and copies the head.
 */
static __always_inline __u32 classify(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u32 slot = classify_frame(data, end);

	if (slot != NEED_PULL)
		return slot;
	if (skb->len <= (__u32)(end - data))
		return 0; /* truncated for real: nothing to match */
	bpf_skb_pull_data(skb, skb->len < PARSE_BYTES ? skb->len : PARSE_BYTES);
	/*
	 * Without this, clang keeps &skb->data_end from before the pull in a
	 * register and loads through it after, which the verifier rejects
	 * ("dereference of modified ctx ptr").
	 */
	asm volatile("" : "+r"(skb));
	slot = classify_frame((void *)(long)skb->data, (void *)(long)skb->data_end);
	return slot == NEED_PULL ? 0 : slot;
}

SEC("tc")
int ctb_ingress(struct __sk_buff *skb)
{
	__u32 slot = classify(skb);

	if (!slot) {
		/* Only ctbypass may decide: a stale bit from elsewhere must not bypass. */
		if (skb->mark & ctb_mark)
			skb->mark &= ~ctb_mark;
		return TC_ACT_UNSPEC;
	}
	skb->mark |= ctb_mark;

	struct ctb_counter *counter = bpf_map_lookup_elem(&stats, &slot);

	if (counter) {
		counter->packets++;
		counter->bytes += skb->len;
	}
	/* UNSPEC: let the filters after ours run, as if we were not there. */
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
