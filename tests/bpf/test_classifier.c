// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the TC classifier: crafted frames go through BPF_PROG_TEST_RUN
 * with a struct __sk_buff context, and each test asserts on the mark the program
 * leaves there and on its return value, as selftests/bpf/prog_tests/skb_ctx.c does.
 * Anything that stops the tests from running (not root, load failure) is a FAIL,
 * never a skip, so a broken setup cannot pass silently.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "ctbypass.h"
#include "classifier.skel.h"

#define PKT_MAX 2048
#define MAX_TAGS 3
#define MAX_EXT 8
#define EPHEMERAL 40000 /* a client port no test configures */
#define OTHER_BITS 0xdead0000u
/* Low bits of other tools, around ours whichever bit is the default. */
#define LOW_BITS (0x0fffu & ~CTB_DEFAULT_MARK)
#define ALT_MARK 0x00200000u
#define SLOT_COUNTED 7 /* only the counter tests send to it */
#define SLOT_UPSTREAM_65535 16

/* ---- Packet builder ---------------------------------------------------- */

struct pkt {
	uint8_t b[PKT_MAX];
	size_t len;
};

/* What to put in a frame; zero fields mean the usual (no tags, ihl 5, ...). */
struct flow {
	int family; /* 4 or 6 */
	uint8_t proto; /* IPPROTO_TCP, _UDP, _ICMP, _ICMPV6 or another */
	const char *src, *dst;
	uint16_t sport, dport;
	uint16_t tags[MAX_TAGS]; /* VLAN TPIDs, outermost first, 0 ends */
	uint8_t ihl; /* IPv4 header length field; 0 means 5 */
	uint16_t frag_off; /* IPv4 flags and fragment offset, host order */
	uint8_t ext[MAX_EXT]; /* IPv6 extension headers, in order */
	int n_ext;
	uint16_t frag6; /* IPv6 fragment header offset and M flag, host order */
	uint16_t payload; /* bytes after the L4 header */
};

static uint8_t *put(struct pkt *p, size_t n)
{
	uint8_t *at = p->b + p->len;

	if (p->len + n > PKT_MAX)
		abort(); /* a test asked for an impossible frame */
	memset(at, 0, n);
	p->len += n;
	return at;
}

static void put16(uint8_t *at, uint16_t v)
{
	at[0] = v >> 8;
	at[1] = v;
}

static void put32(uint8_t *at, uint32_t v)
{
	put16(at, v >> 16);
	put16(at + 2, v);
}

static void parse_addr(int family, const char *s, uint8_t *out)
{
	if (inet_pton(family == 4 ? AF_INET : AF_INET6, s, out) != 1)
		abort(); /* a typo in a test */
}

static void put_eth(struct pkt *p, const struct flow *f, uint16_t ethertype)
{
	static const uint8_t macs[12] = { 0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2 };

	memcpy(put(p, sizeof(macs)), macs, sizeof(macs));
	for (int i = 0; i < MAX_TAGS && f->tags[i]; i++) {
		uint8_t *tag = put(p, 4);

		put16(tag, f->tags[i]);
		put16(tag + 2, 100 + i); /* VLAN id */
	}
	put16(put(p, 2), ethertype);
}

static void put_ipv4(struct pkt *p, const struct flow *f)
{
	uint8_t ihl = f->ihl ? f->ihl : 5;
	size_t hlen = ihl > 5 ? ihl * 4u : 20;
	uint8_t *ip = put(p, hlen);

	ip[0] = 0x40 | ihl;
	put16(ip + 4, 0xc7c7); /* id */
	put16(ip + 6, f->frag_off);
	ip[8] = 64;
	ip[9] = f->proto;
	parse_addr(4, f->src, ip + 12);
	parse_addr(4, f->dst, ip + 16);
	/* NOP options: read as ports (257) they match nothing, so ignoring ihl shows. */
	memset(ip + 20, 1, hlen - 20);
}

static void put_ext(struct pkt *p, const struct flow *f, uint8_t type, uint8_t next)
{
	uint8_t *h;

	switch (type) {
	case IPPROTO_HOPOPTS: /* 16 bytes: hdrlen counts 8-byte units after the first */
		h = put(p, 16);
		h[1] = 1;
		h[2] = 1; /* PadN */
		h[3] = 12;
		break;
	case IPPROTO_DSTOPTS:
		h = put(p, 8);
		h[2] = 1;
		h[3] = 4;
		break;
	case IPPROTO_ROUTING: /* segment routing header, no segments left */
		h = put(p, 24);
		h[1] = 2;
		h[2] = 4;
		break;
	case IPPROTO_FRAGMENT:
		h = put(p, 8);
		put16(h + 2, f->frag6);
		put32(h + 4, 0xc7c7);
		break;
	case IPPROTO_AH: /* hdrlen counts 4-byte units minus 2 */
		h = put(p, 24);
		h[1] = 4;
		break;
	case IPPROTO_NONE:
		return;
	default: /* ESP: SPI and sequence, then ciphertext */
		put32(put(p, 8), 0x100);
		return;
	}
	h[0] = next;
}

static void put_ipv6(struct pkt *p, const struct flow *f)
{
	uint8_t *ip6 = put(p, 40);

	ip6[0] = 0x60;
	ip6[6] = f->n_ext ? f->ext[0] : f->proto;
	ip6[7] = 64;
	parse_addr(6, f->src, ip6 + 8);
	parse_addr(6, f->dst, ip6 + 24);
	for (int i = 0; i < f->n_ext; i++)
		put_ext(p, f, f->ext[i], i + 1 < f->n_ext ? f->ext[i + 1] : f->proto);
}

static void put_l4(struct pkt *p, const struct flow *f)
{
	uint8_t *h;

	switch (f->proto) {
	case IPPROTO_TCP:
		h = put(p, 20);
		put32(h + 4, 1); /* seq */
		h[12] = 5 << 4; /* data offset */
		h[13] = 0x02; /* SYN */
		put16(h + 14, 64240);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		h = put(p, 8);
		h[0] = f->proto == IPPROTO_ICMP ? 8 : 128; /* echo request */
		break;
	default: /* UDP, and the ports-first header of SCTP and the like */
		h = put(p, 8);
		break;
	}
	if (f->proto != IPPROTO_ICMP && f->proto != IPPROTO_ICMPV6) {
		put16(h, f->sport);
		put16(h + 2, f->dport);
	}
	memset(put(p, f->payload), 0xa5, f->payload);
}

static void build(struct pkt *p, const struct flow *f)
{
	p->len = 0;
	put_eth(p, f, f->family == 4 ? ETH_P_IP : ETH_P_IPV6);

	size_t l3 = p->len;

	if (f->family == 4)
		put_ipv4(p, f);
	else
		put_ipv6(p, f);

	size_t l4 = p->len;

	put_l4(p, f);
	if (f->family == 4)
		put16(p->b + l3 + 2, p->len - l3);
	else
		put16(p->b + l3 + 4, p->len - l3 - 40);
	if (f->proto == IPPROTO_UDP)
		put16(p->b + l4 + 4, p->len - l4);
}

static const char *describe(const struct flow *f)
{
	static char s[160];
	const char *fmt = f->family == 4 ? "v4 proto %u %s:%u > %s:%u" :
					   "v6 proto %u [%s]:%u > [%s]:%u";

	snprintf(s, sizeof(s), fmt, f->proto, f->src, f->sport, f->dst, f->dport);
	return s;
}

/* ---- Running frames ---------------------------------------------------- */

static struct classifier *skel; /* default mark, configured by configure() */
static int passed, failed;
static char why[512];

/* Records the first reason a test fails; returns false to be returned. */
__attribute__((format(printf, 1, 2))) static bool fail(const char *fmt, ...)
{
	va_list ap;

	if (why[0])
		return false;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return false;
}

/* Adds context to the recorded reason, e.g. which loop iteration failed. */
__attribute__((format(printf, 1, 2))) static bool note(const char *fmt, ...)
{
	size_t used = strlen(why);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why + used, sizeof(why) - used, fmt, ap);
	va_end(ap);
	return false;
}

static int run_frame(struct classifier *s, const struct pkt *p, int repeat, uint32_t *mark,
		     int *retval)
{
	struct __sk_buff ctx = { .mark = *mark };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = p->b, .data_size_in = p->len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .ctx_out = &ctx,
		    .ctx_size_out = sizeof(ctx), .repeat = repeat);
	int err = bpf_prog_test_run_opts(bpf_program__fd(s->progs.ctb_ingress), &opts);

	*mark = ctx.mark;
	*retval = (int)opts.retval;
	return err;
}

static bool expect_pkt(struct classifier *s, const struct pkt *p, const char *what,
		       uint32_t mark_in, uint32_t want)
{
	uint32_t mark = mark_in;
	int retval, err = run_frame(s, p, 1, &mark, &retval);

	if (err)
		return fail("%s (len %zu): test_run: %s", what, p->len, strerror(-err));
	/* TC_ACT_UNSPEC is tcx's TCX_NEXT: programs after ours on the hook run. */
	if (retval != TC_ACT_UNSPEC)
		return fail("%s (len %zu): returned %d, want %d", what, p->len, retval,
			    TC_ACT_UNSPEC);
	if (mark != want)
		return fail("%s (len %zu): mark 0x%x -> 0x%x, want 0x%x", what, p->len, mark_in,
			    mark, want);
	return true;
}

static bool expect(const struct flow *f, uint32_t mark_in, uint32_t want)
{
	struct pkt p;

	build(&p, f);
	return expect_pkt(skel, &p, describe(f), mark_in, want);
}

/* Bypassed: our bit is set. */
static bool hit(const struct flow *f)
{
	return expect(f, 0, CTB_DEFAULT_MARK);
}

/* Not bypassed: a stale bit of ours is cleared. */
static bool miss(const struct flow *f)
{
	return expect(f, CTB_DEFAULT_MARK, 0);
}

/* ---- Map configuration shared by the tests ----------------------------- */

struct server_conf {
	uint8_t proto;
	uint16_t port;
	uint32_t slot;
};

static const struct server_conf servers[] = {
	{ IPPROTO_TCP, 80, 1 },	  { IPPROTO_TCP, 443, 2 }, { IPPROTO_UDP, 53, 3 },
	{ IPPROTO_UDP, 443, 4 },  { IPPROTO_TCP, 0, 5 },   { IPPROTO_UDP, 65535, 6 },
	{ IPPROTO_TCP, 9100, SLOT_COUNTED },
};

struct upstream_conf {
	uint8_t proto;
	const char *addr;
	int len;
	uint16_t port;
	uint32_t slot;
	bool ref; /* false: in the trie only, as if userspace forgot the port */
};

static const struct upstream_conf upstream_confs[] = {
	{ IPPROTO_TCP, "198.18.4.0", 24, 3128, 10, true },
	{ IPPROTO_UDP, "198.18.0.53", 32, 5353, 11, true },
	{ IPPROTO_TCP, "fd00:c7::10", 128, 8443, 12, true },
	{ IPPROTO_UDP, "fd00:c7::", 64, 4789, 13, true },
	/* Same port as the TCP upstream above: the trie key must hold the protocol. */
	{ IPPROTO_UDP, "198.18.9.9", 32, 3128, 14, true },
	/* An upstream on a local server port: the address decides. */
	{ IPPROTO_TCP, "198.18.8.8", 32, 443, 15, true },
	{ IPPROTO_TCP, "198.18.7.7", 32, 65535, SLOT_UPSTREAM_65535, true },
	{ IPPROTO_TCP, "198.18.6.0", 24, 7000, 17, false },
	/* Every IPv6 source: the key's family keeps it off IPv4 (stored IPv4-mapped). */
	{ IPPROTO_TCP, "::", 0, 4443, 18, true },
};

static __u32 port_key(uint8_t proto, uint16_t port)
{
	__u32 index = proto == IPPROTO_TCP ? CTB_PROTO_INDEX_TCP : CTB_PROTO_INDEX_UDP;

	return index << 16 | port;
}

static int port_update(struct classifier *s, uint8_t proto, uint16_t port, uint32_t slot,
		       bool ref)
{
	int fd = bpf_map__fd(s->maps.ports);
	__u32 key = port_key(proto, port);
	struct ctb_port_entry e;
	int err = bpf_map_lookup_elem(fd, &key, &e);

	if (err)
		return err;
	if (slot)
		e.server_slot = slot;
	if (ref)
		e.upstream_refs++;
	return bpf_map_update_elem(fd, &key, &e, BPF_ANY);
}

static int upstream_add(struct classifier *s, const struct upstream_conf *u)
{
	struct ctb_upstream_key key = { .proto = u->proto, .port = htons(u->port) };
	__u32 slot = u->slot;

	if (strchr(u->addr, ':')) {
		parse_addr(6, u->addr, key.addr);
		key.family = 6;
		key.prefixlen = CTB_UPSTREAM_KEY_FIXED_BITS + u->len;
	} else {
		/* IPv4 lives IPv4-mapped, so one trie serves both families. */
		key.family = 4;
		key.addr[10] = key.addr[11] = 0xff;
		parse_addr(4, u->addr, key.addr + 12);
		key.prefixlen = CTB_UPSTREAM_KEY_FIXED_BITS + 96 + u->len;
	}
	int err = bpf_map_update_elem(bpf_map__fd(s->maps.upstreams), &key, &slot, BPF_NOEXIST);

	return err ? err : port_update(s, u->proto, u->port, 0, u->ref);
}

static int configure(struct classifier *s)
{
	int err = 0;

	for (size_t i = 0; !err && i < sizeof(servers) / sizeof(servers[0]); i++)
		err = port_update(s, servers[i].proto, servers[i].port, servers[i].slot, false);
	for (size_t i = 0; !err && i < sizeof(upstream_confs) / sizeof(upstream_confs[0]); i++)
		err = upstream_add(s, &upstream_confs[i]);
	return err;
}

static struct classifier *load(uint32_t mark)
{
	struct classifier *s = classifier__open();
	int err;

	if (!s) {
		fail("classifier__open: %s", strerror(errno));
		return NULL;
	}
	s->rodata->ctb_mark = mark;
	err = classifier__load(s);
	if (err) {
		fail("classifier__load: %s", strerror(-err));
	} else {
		err = configure(s);
		if (err)
			fail("populating maps: %s", strerror(-err));
	}
	if (err) {
		classifier__destroy(s);
		return NULL;
	}
	return s;
}

/* Sum of one stats slot over all CPUs. */
static int counter_sum(struct classifier *s, __u32 slot, struct ctb_counter *sum)
{
	int ncpu = libbpf_num_possible_cpus();

	if (ncpu < 0)
		return ncpu;

	struct ctb_counter *vals = calloc(ncpu, sizeof(*vals));

	if (!vals)
		return -ENOMEM;

	int err = bpf_map_lookup_elem(bpf_map__fd(s->maps.stats), &slot, vals);

	*sum = (struct ctb_counter){ 0 };
	for (int i = 0; !err && i < ncpu; i++) {
		sum->packets += vals[i].packets;
		sum->bytes += vals[i].bytes;
	}
	free(vals);
	return err;
}

/* ---- The four families: server port, upstream, and their look-alikes ---- */

struct family_case {
	const char *name;
	int family;
	uint8_t proto;
	const char *client, *host; /* a remote peer and this host */
	uint16_t server; /* a configured server port */
	const char *upstream, *stranger; /* an upstream's address; one outside it */
	uint16_t up_port;
};

static const struct family_case families[] = {
	{ "v4_tcp", 4, IPPROTO_TCP, "198.18.0.2", "198.18.0.1", 80, "198.18.4.77", "198.18.5.77",
	  3128 },
	{ "v4_udp", 4, IPPROTO_UDP, "198.18.0.2", "198.18.0.1", 53, "198.18.0.53", "198.18.0.54",
	  5353 },
	{ "v6_tcp", 6, IPPROTO_TCP, "fd00:c7::2", "fd00:c7::1", 443, "fd00:c7::10", "fd00:c7::11",
	  8443 },
	{ "v6_udp", 6, IPPROTO_UDP, "fd00:c7::2", "fd00:c7::1", 443, "fd00:c7::1234",
	  "fd00:c7:0:1::1234", 4789 },
};

static struct flow family_flow(const struct family_case *c, const char *src, uint16_t sport,
			       const char *dst, uint16_t dport)
{
	return (struct flow){ .family = c->family, .proto = c->proto, .src = src, .dst = dst,
			      .sport = sport, .dport = dport };
}

static bool test_server_dst(const void *arg)
{
	const struct family_case *c = arg;
	struct flow f = family_flow(c, c->client, EPHEMERAL, c->host, c->server);

	return hit(&f);
}

/* A reply from a remote service on that port is not ours to bypass. */
static bool test_server_src_only(const void *arg)
{
	const struct family_case *c = arg;
	struct flow f = family_flow(c, c->client, c->server, c->host, EPHEMERAL);

	return miss(&f);
}

static bool test_upstream(const void *arg)
{
	const struct family_case *c = arg;
	struct flow f = family_flow(c, c->upstream, c->up_port, c->host, EPHEMERAL);

	return hit(&f);
}

static bool test_upstream_port_other_addr(const void *arg)
{
	const struct family_case *c = arg;
	struct flow f = family_flow(c, c->stranger, c->up_port, c->host, EPHEMERAL);

	return miss(&f);
}

static bool test_no_match(const void *arg)
{
	const struct family_case *c = arg;
	struct flow f = family_flow(c, c->client, EPHEMERAL + 1, c->host, EPHEMERAL + 2);

	return miss(&f);
}

/* ---- Upstream details -------------------------------------------------- */

static struct flow tcp4(const char *src, uint16_t sport, uint16_t dport)
{
	return (struct flow){ .family = 4, .proto = IPPROTO_TCP, .src = src,
			      .dst = "198.18.0.1", .sport = sport, .dport = dport };
}

static struct flow tcp6(const char *src, uint16_t sport, uint16_t dport)
{
	return (struct flow){ .family = 6, .proto = IPPROTO_TCP, .src = src,
			      .dst = "fd00:c7::1", .sport = sport, .dport = dport };
}

static struct flow udp(int family, uint16_t sport, uint16_t dport)
{
	struct flow f = family == 4 ? tcp4("198.18.0.2", sport, dport) :
				      tcp6("fd00:c7::2", sport, dport);

	f.proto = IPPROTO_UDP;
	return f;
}

static bool test_upstream_v4_prefix_edges(const void *arg)
{
	(void)arg;
	struct flow first = tcp4("198.18.4.0", 3128, EPHEMERAL);
	struct flow last = tcp4("198.18.4.255", 3128, EPHEMERAL);
	struct flow below = tcp4("198.18.3.255", 3128, EPHEMERAL);
	struct flow above = tcp4("198.18.5.0", 3128, EPHEMERAL);

	return hit(&first) && hit(&last) && miss(&below) && miss(&above);
}

static bool test_upstream_v6_prefix_edges(const void *arg)
{
	(void)arg;
	struct flow last = tcp6("fd00:c7::ffff:ffff:ffff:ffff", 4789, EPHEMERAL);
	struct flow above = tcp6("fd00:c7:0:1::", 4789, EPHEMERAL);
	struct flow below = tcp6("fd00:c6:ffff:ffff:ffff:ffff:ffff:ffff", 4789, EPHEMERAL);

	last.proto = above.proto = below.proto = IPPROTO_UDP;
	return hit(&last) && miss(&above) && miss(&below);
}

/* UDP from the TCP upstream's address and port: only the UDP upstream counts. */
static bool test_upstream_proto_in_key(const void *arg)
{
	(void)arg;
	struct flow tcp_addr = tcp4("198.18.4.1", 3128, EPHEMERAL);
	struct flow udp_addr = tcp4("198.18.9.9", 3128, EPHEMERAL);
	struct flow tcp_from_udp_upstream = tcp4("198.18.9.9", 3128, EPHEMERAL);

	tcp_addr.proto = udp_addr.proto = IPPROTO_UDP;
	return miss(&tcp_addr) && hit(&udp_addr) && miss(&tcp_from_udp_upstream);
}

/* The `ports` entry gates the trie: no upstream_refs, no lookup, no mark. */
static bool test_upstream_needs_port_ref(const void *arg)
{
	(void)arg;
	struct flow f = tcp4("198.18.6.1", 7000, EPHEMERAL);

	return miss(&f);
}

static bool test_upstream_on_server_port(const void *arg)
{
	(void)arg;
	struct flow upstream = tcp4("198.18.8.8", 443, EPHEMERAL);
	struct flow other = tcp4("198.18.8.9", 443, EPHEMERAL);

	return hit(&upstream) && miss(&other);
}

/* [::/0]:4443 covers every IPv6 source, and no IPv4 one. */
static bool test_upstream_v6_any_not_v4(const void *arg)
{
	(void)arg;
	struct flow v6 = tcp6("2001:db8::1", 4443, EPHEMERAL);
	struct flow v4 = tcp4("198.18.5.5", 4443, EPHEMERAL);

	return hit(&v6) && miss(&v4);
}

static bool test_upstream_port_65535(const void *arg)
{
	(void)arg;
	struct flow up = tcp4("198.18.7.7", 65535, EPHEMERAL);
	struct flow other = tcp4("198.18.7.8", 65535, EPHEMERAL);

	return hit(&up) && miss(&other);
}

/* ---- Non-TCP/UDP traffic ----------------------------------------------- */

/* Our bit is cleared; every other bit, and a mark without ours, is kept. */
static bool untouched(const struct flow *f)
{
	return expect(f, 0, 0) && expect(f, OTHER_BITS | LOW_BITS, OTHER_BITS | LOW_BITS) &&
	       expect(f, OTHER_BITS | LOW_BITS | CTB_DEFAULT_MARK, OTHER_BITS | LOW_BITS);
}

static bool test_icmp(const void *arg)
{
	(void)arg;
	struct flow f = tcp4("198.18.0.2", 0, 0);

	f.proto = IPPROTO_ICMP;
	return untouched(&f);
}

static bool test_icmpv6(const void *arg)
{
	(void)arg;
	struct flow f = tcp6("fd00:c7::2", 0, 0);

	f.proto = IPPROTO_ICMPV6;
	return untouched(&f);
}

/* SCTP starts with ports too; only TCP and UDP are classified. */
static bool test_sctp(const void *arg)
{
	(void)arg;
	struct flow v4 = tcp4("198.18.0.2", EPHEMERAL, 80);
	struct flow v6 = tcp6("fd00:c7::2", EPHEMERAL, 80);

	v4.proto = v6.proto = IPPROTO_SCTP;
	return untouched(&v4) && untouched(&v6);
}

static bool test_arp(const void *arg)
{
	(void)arg;
	struct flow f = { 0 };
	struct pkt p = { .len = 0 };
	uint8_t *arp;

	put_eth(&p, &f, ETH_P_ARP);
	arp = put(&p, 28);
	put16(arp, 1); /* Ethernet */
	put16(arp + 2, ETH_P_IP);
	arp[4] = 6;
	arp[5] = 4;
	put16(arp + 6, 1); /* request */
	parse_addr(4, "198.18.0.2", arp + 14);
	parse_addr(4, "198.18.0.1", arp + 24);
	return expect_pkt(skel, &p, "arp", 0, 0) &&
	       expect_pkt(skel, &p, "arp", OTHER_BITS | LOW_BITS, OTHER_BITS | LOW_BITS) &&
	       expect_pkt(skel, &p, "arp", OTHER_BITS | CTB_DEFAULT_MARK, OTHER_BITS);
}

/* ---- Truncation: every length short of the full frame ------------------- */

static bool test_truncated(const void *arg)
{
	const struct flow *f = arg;
	struct pkt p;
	size_t full;

	build(&p, f);
	full = p.len;
	/*
	 * BPF_PROG_TEST_RUN refuses less than an Ethernet header, and (6.18) an
	 * untagged IP frame shorter than its fixed IP header. Tagged frames reach
	 * the program at every length, so the *vlan* cases cover those cuts.
	 */
	size_t first = f->tags[0] ? ETH_HLEN : ETH_HLEN + (f->family == 4 ? 20 : 40);

	for (p.len = first; p.len < full; p.len++)
		if (!expect_pkt(skel, &p, describe(f), CTB_DEFAULT_MARK, 0))
			return false;
	return expect_pkt(skel, &p, describe(f), 0, CTB_DEFAULT_MARK);
}

static const struct flow trunc_v4_tcp = { 4, IPPROTO_TCP, "198.18.0.2", "198.18.0.1",
					  EPHEMERAL, 80 };
static const struct flow trunc_v4_udp = { 4, IPPROTO_UDP, "198.18.0.2", "198.18.0.1",
					  EPHEMERAL, 53 };
static const struct flow trunc_v6_tcp = { 6, IPPROTO_TCP, "fd00:c7::2", "fd00:c7::1",
					  EPHEMERAL, 443 };
static const struct flow trunc_v6_udp = { 6, IPPROTO_UDP, "fd00:c7::2", "fd00:c7::1",
					  EPHEMERAL, 443 };
static const struct flow trunc_v4_upstream = { 4, IPPROTO_TCP, "198.18.4.9", "198.18.0.1",
					       3128, EPHEMERAL };
static const struct flow trunc_v6_upstream = { 6, IPPROTO_UDP, "fd00:c7::9", "fd00:c7::1",
					       4789, EPHEMERAL };
static const struct flow trunc_qinq = { 4, IPPROTO_TCP, "198.18.0.2", "198.18.0.1", EPHEMERAL,
					80, .tags = { ETH_P_8021AD, ETH_P_8021Q } };
static const struct flow trunc_vlan_v6_tcp = { 6, IPPROTO_TCP, "fd00:c7::2", "fd00:c7::1",
						EPHEMERAL, 443, .tags = { ETH_P_8021Q } };
static const struct flow trunc_vlan_v4_udp = { 4, IPPROTO_UDP, "198.18.0.2", "198.18.0.1",
					       EPHEMERAL, 53, .tags = { ETH_P_8021Q } };
static const struct flow trunc_v4_options = { 4, IPPROTO_TCP, "198.18.0.2", "198.18.0.1",
					      EPHEMERAL, 80, .ihl = 15 };
static const struct flow trunc_v6_ext = {
	6, IPPROTO_TCP, "fd00:c7::2", "fd00:c7::1", EPHEMERAL, 443,
	.ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING, IPPROTO_FRAGMENT,
		 IPPROTO_AH },
	.n_ext = 5,
};

/* ---- IPv4 header length and fragments ---------------------------------- */

static bool test_v4_options(const void *arg)
{
	(void)arg;
	for (uint8_t ihl = 6; ihl <= 15; ihl++) {
		struct flow f = tcp4("198.18.0.2", EPHEMERAL, 80);
		struct flow other = tcp4("198.18.0.2", EPHEMERAL, 8080);

		f.ihl = other.ihl = ihl;
		if (!hit(&f) || !miss(&other))
			return note(" with ihl %u", ihl);
	}
	return true;
}

static bool test_v4_ihl_below_5(const void *arg)
{
	(void)arg;
	for (uint8_t ihl = 0; ihl < 5; ihl++) {
		struct flow f = tcp4("198.18.0.2", EPHEMERAL, 80);
		struct pkt p;

		/* A 20-byte header claiming less: the builder reads ihl 0 as 5. */
		build(&p, &f);
		p.b[ETH_HLEN] = 0x40 | ihl;
		if (!expect_pkt(skel, &p, describe(&f), CTB_DEFAULT_MARK, 0))
			return note(" with ihl %u", ihl);
	}
	return true;
}

static bool test_v4_first_fragment(const void *arg)
{
	(void)arg;
	struct flow mf = tcp4("198.18.0.2", EPHEMERAL, 80);
	struct flow df = tcp4("198.18.0.2", EPHEMERAL, 80);

	mf.frag_off = 0x2000; /* MF, offset 0 */
	df.frag_off = 0x4000;
	return hit(&mf) && hit(&df);
}

/* Bytes where ports would be say port 80, yet a non-first fragment has no ports. */
static bool test_v4_non_first_fragment(const void *arg)
{
	(void)arg;
	static const uint16_t offs[] = { 0x2001, 0x0001, 0x1fff, 0x3fff, 0x20b9 };

	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		struct flow f = tcp4("198.18.0.2", EPHEMERAL, 80);

		f.frag_off = offs[i];
		if (!miss(&f))
			return note(" with frag_off 0x%x", offs[i]);
	}
	return true;
}

/* ---- IPv6 extension headers -------------------------------------------- */

static struct flow tcp6_ext(uint16_t dport, const uint8_t *ext, int n_ext, uint16_t frag6)
{
	struct flow f = tcp6("fd00:c7::2", EPHEMERAL, dport);

	memcpy(f.ext, ext, n_ext);
	f.n_ext = n_ext;
	f.frag6 = frag6;
	return f;
}

static bool test_v6_first_fragment(const void *arg)
{
	(void)arg;
	static const uint8_t frag[] = { IPPROTO_FRAGMENT };
	static const uint8_t hop_frag[] = { IPPROTO_HOPOPTS, IPPROTO_FRAGMENT };
	struct flow more = tcp6_ext(443, frag, 1, 0x0001); /* M, offset 0 */
	struct flow atomic = tcp6_ext(443, frag, 1, 0);
	struct flow after_hop = tcp6_ext(443, hop_frag, 2, 0x0001);
	struct flow other = tcp6_ext(8443, frag, 1, 0x0001);

	return hit(&more) && hit(&atomic) && hit(&after_hop) && miss(&other);
}

static bool test_v6_non_first_fragment(const void *arg)
{
	(void)arg;
	static const uint8_t frag[] = { IPPROTO_FRAGMENT };
	static const uint8_t hop_frag[] = { IPPROTO_HOPOPTS, IPPROTO_FRAGMENT };
	struct flow middle = tcp6_ext(443, frag, 1, 1 << 3 | 1);
	struct flow last = tcp6_ext(443, frag, 1, 1 << 3);
	struct flow far = tcp6_ext(443, frag, 1, 0xfff8);
	struct flow after_hop = tcp6_ext(443, hop_frag, 2, 185 << 3);

	return miss(&middle) && miss(&last) && miss(&far) && miss(&after_hop);
}

static bool test_v6_hopopts(const void *arg)
{
	(void)arg;
	static const uint8_t ext[] = { IPPROTO_HOPOPTS };
	struct flow f = tcp6_ext(443, ext, 1, 0);
	struct flow other = tcp6_ext(8443, ext, 1, 0);

	return hit(&f) && miss(&other);
}

static bool test_v6_hop_dst_routing(const void *arg)
{
	(void)arg;
	static const uint8_t ext[] = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING };
	struct flow f = tcp6_ext(443, ext, 3, 0);
	struct flow other = tcp6_ext(8443, ext, 3, 0);
	struct flow up = tcp6_ext(EPHEMERAL, ext, 3, 0);

	up.src = "fd00:c7::10";
	up.sport = 8443;
	return hit(&f) && miss(&other) && hit(&up);
}

static bool test_v6_ah(const void *arg)
{
	(void)arg;
	static const uint8_t ext[] = { IPPROTO_AH };
	struct flow f = tcp6_ext(443, ext, 1, 0);

	return hit(&f);
}

/* The classifier walks six extension headers; six still match. */
static bool test_v6_six_ext(const void *arg)
{
	(void)arg;
	static const uint8_t ext[] = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING,
				       IPPROTO_FRAGMENT, IPPROTO_AH,	  IPPROTO_DSTOPTS };
	struct flow f = tcp6_ext(443, ext, 6, 0);
	struct flow other = tcp6_ext(8443, ext, 6, 0);

	return hit(&f) && miss(&other);
}

static bool test_v6_seven_ext(const void *arg)
{
	(void)arg;
	static const uint8_t ext[] = { IPPROTO_HOPOPTS,	 IPPROTO_DSTOPTS, IPPROTO_ROUTING,
				       IPPROTO_DSTOPTS,	 IPPROTO_FRAGMENT, IPPROTO_AH,
				       IPPROTO_DSTOPTS };
	struct flow f = tcp6_ext(443, ext, 7, 0);

	return miss(&f);
}

/* ESP hides the transport; "no next header" has none. */
static bool test_v6_esp_and_none(const void *arg)
{
	(void)arg;
	static const uint8_t esp[] = { IPPROTO_ESP };
	static const uint8_t none[] = { IPPROTO_HOPOPTS, IPPROTO_NONE };
	struct flow f_esp = tcp6_ext(443, esp, 1, 0);
	struct flow f_none = tcp6_ext(443, none, 2, 0);

	return miss(&f_esp) && miss(&f_none);
}

/* ---- VLAN tags left in the frame --------------------------------------- */

static bool test_vlan(const void *arg)
{
	(void)arg;
	struct flow f = tcp4("198.18.0.2", EPHEMERAL, 80);
	struct flow other = tcp4("198.18.0.2", EPHEMERAL, 8080);
	struct flow v6 = udp(6, EPHEMERAL, 443);

	f.tags[0] = other.tags[0] = v6.tags[0] = ETH_P_8021Q;
	return hit(&f) && miss(&other) && hit(&v6);
}

static bool test_qinq(const void *arg)
{
	(void)arg;
	struct flow ad = tcp4("198.18.0.2", EPHEMERAL, 80);
	struct flow qq = tcp4("198.18.0.2", EPHEMERAL, 80);
	struct flow up = tcp4("198.18.4.9", 3128, EPHEMERAL);

	ad.tags[0] = up.tags[0] = ETH_P_8021AD;
	ad.tags[1] = up.tags[1] = ETH_P_8021Q;
	qq.tags[0] = qq.tags[1] = ETH_P_8021Q;
	return hit(&ad) && hit(&qq) && hit(&up);
}

/* A third tag is beyond the walk: not classified, so not bypassed. */
static bool test_three_tags(const void *arg)
{
	(void)arg;
	struct flow f = tcp4("198.18.0.2", EPHEMERAL, 80);

	f.tags[0] = ETH_P_8021AD;
	f.tags[1] = f.tags[2] = ETH_P_8021Q;
	return miss(&f);
}

/* ---- Mark bits --------------------------------------------------------- */

static bool test_mark_other_bits_hit(const void *arg)
{
	(void)arg;
	struct flow f = tcp4("198.18.0.2", EPHEMERAL, 80);

	return expect(&f, OTHER_BITS | CTB_DEFAULT_MARK, OTHER_BITS | CTB_DEFAULT_MARK) &&
	       expect(&f, OTHER_BITS, OTHER_BITS | CTB_DEFAULT_MARK) &&
	       expect(&f, 0xffffffff, 0xffffffff);
}

static bool test_mark_other_bits_miss(const void *arg)
{
	(void)arg;
	struct flow f = tcp4("198.18.0.2", EPHEMERAL, 8080);

	return expect(&f, OTHER_BITS | CTB_DEFAULT_MARK, OTHER_BITS) &&
	       expect(&f, OTHER_BITS, OTHER_BITS) && expect(&f, 0xffffffff, ~CTB_DEFAULT_MARK);
}

static bool test_mark_option(const void *arg)
{
	(void)arg;
	struct classifier *s = load(ALT_MARK);
	struct flow f = tcp4("198.18.0.2", EPHEMERAL, 80);
	struct flow other = tcp4("198.18.0.2", EPHEMERAL, 8080);
	struct pkt p, q;
	bool ok;

	if (!s)
		return false;
	build(&p, &f);
	build(&q, &other);
	ok = expect_pkt(s, &p, "hit", 0, ALT_MARK) &&
	     expect_pkt(s, &p, "hit", CTB_DEFAULT_MARK, CTB_DEFAULT_MARK | ALT_MARK) &&
	     expect_pkt(s, &q, "miss", CTB_DEFAULT_MARK | ALT_MARK, CTB_DEFAULT_MARK) &&
	     expect_pkt(s, &q, "miss", CTB_DEFAULT_MARK, CTB_DEFAULT_MARK);
	classifier__destroy(s);
	return ok;
}

/* ---- Counters ---------------------------------------------------------- */

/* Sends a frame `repeat` times in one test run; it must be bypassed. */
static bool send_hits(const struct flow *f, int repeat, size_t *len)
{
	struct pkt p;
	uint32_t mark = 0;
	int retval, err;

	build(&p, f);
	*len = p.len;
	err = run_frame(skel, &p, repeat, &mark, &retval);
	if (err)
		return fail("%s: test_run: %s", describe(f), strerror(-err));
	if (!(mark & CTB_DEFAULT_MARK))
		return fail("%s: not bypassed", describe(f));
	return true;
}

static bool expect_counter(__u32 slot, const struct ctb_counter *before, __u64 packets,
			   __u64 bytes)
{
	struct ctb_counter now;
	int err = counter_sum(skel, slot, &now);

	if (err)
		return fail("reading stats[%u]: %s", slot, strerror(-err));
	if (now.packets - before->packets != packets || now.bytes - before->bytes != bytes)
		return fail("stats[%u] grew by %llu packets, %llu bytes; want %llu, %llu", slot,
			    (unsigned long long)(now.packets - before->packets),
			    (unsigned long long)(now.bytes - before->bytes),
			    (unsigned long long)packets, (unsigned long long)bytes);
	return true;
}

static bool test_counters_server(const void *arg)
{
	(void)arg;
	struct flow v4 = tcp4("198.18.0.2", EPHEMERAL, 9100);
	struct flow v6 = tcp6("fd00:c7::2", EPHEMERAL, 9100);
	struct ctb_counter before;
	size_t len4, len6;
	int err = counter_sum(skel, SLOT_COUNTED, &before);

	if (err)
		return fail("reading stats: %s", strerror(-err));
	v4.payload = 100;
	v6.payload = 1000;
	for (int i = 0; i < 5; i++)
		if (!send_hits(&v4, 1, &len4))
			return false;
	if (!expect_counter(SLOT_COUNTED, &before, 5, 5 * len4))
		return false;
	/* One run with repeat: the program runs, and counts, every time. */
	if (!send_hits(&v4, 1000, &len4) || !send_hits(&v6, 7, &len6))
		return false;
	return expect_counter(SLOT_COUNTED, &before, 1012, 1005 * len4 + 7 * len6);
}

static bool test_counters_upstream(const void *arg)
{
	(void)arg;
	struct flow f = tcp4("198.18.7.7", 65535, EPHEMERAL);
	struct ctb_counter before;
	size_t len;
	int err = counter_sum(skel, SLOT_UPSTREAM_65535, &before);

	if (err)
		return fail("reading stats: %s", strerror(-err));
	f.payload = 1400;
	if (!send_hits(&f, 3, &len))
		return false;
	return expect_counter(SLOT_UPSTREAM_65535, &before, 3, 3 * len);
}

static int counter_total(struct ctb_counter *total)
{
	*total = (struct ctb_counter){ 0 };
	for (__u32 slot = 0; slot < CTB_STAT_SLOTS; slot++) {
		struct ctb_counter c;
		int err = counter_sum(skel, slot, &c);

		if (err)
			return err;
		total->packets += c.packets;
		total->bytes += c.bytes;
	}
	return 0;
}

static bool test_counters_miss_uncounted(const void *arg)
{
	(void)arg;
	struct flow from_server = tcp4("198.18.0.2", 9100, EPHEMERAL);
	struct flow stranger = tcp4("198.18.7.8", 65535, EPHEMERAL);
	struct ctb_counter before, after;
	int err = counter_total(&before);

	if (err)
		return fail("reading stats: %s", strerror(-err));
	if (!miss(&from_server) || !miss(&stranger))
		return false;
	err = counter_total(&after);
	if (err)
		return fail("reading stats: %s", strerror(-err));
	if (after.packets != before.packets || after.bytes != before.bytes)
		return fail("misses counted: %llu packets",
			    (unsigned long long)(after.packets - before.packets));
	return true;
}

/* ---- Port edges and protocol independence ------------------------------ */

static bool test_port_0(const void *arg)
{
	(void)arg;
	struct flow tcp = tcp4("198.18.0.2", EPHEMERAL, 0);
	struct flow u = udp(4, EPHEMERAL, 0);

	return hit(&tcp) && miss(&u);
}

static bool test_port_65535(const void *arg)
{
	(void)arg;
	struct flow u = udp(6, EPHEMERAL, 65535);
	struct flow below = udp(6, EPHEMERAL, 65534);
	struct flow tcp = tcp6("fd00:c7::2", EPHEMERAL, 65535);

	return hit(&u) && miss(&below) && miss(&tcp);
}

static bool test_tcp_udp_independent(const void *arg)
{
	(void)arg;
	struct flow udp80 = udp(4, EPHEMERAL, 80);
	struct flow tcp53 = tcp4("198.18.0.2", EPHEMERAL, 53);
	struct flow udp53 = udp(4, EPHEMERAL, 53);

	return miss(&udp80) && miss(&tcp53) && hit(&udp53);
}

/* ---- Runner ------------------------------------------------------------ */

static void run_test(const char *name, bool (*fn)(const void *), const void *arg)
{
	why[0] = '\0';
	if (fn(arg)) {
		printf("PASS %s\n", name);
		passed++;
	} else {
		printf("FAIL %s: %s\n", name, why[0] ? why : "no reason given");
		failed++;
	}
}

static void run_family_tests(void)
{
	static const struct {
		const char *name;
		bool (*fn)(const void *);
	} kinds[] = {
		{ "server_dst", test_server_dst },
		{ "server_src_only", test_server_src_only },
		{ "upstream", test_upstream },
		{ "upstream_port_other_addr", test_upstream_port_other_addr },
		{ "no_match", test_no_match },
	};
	char name[64];

	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			snprintf(name, sizeof(name), "%s_%s", families[i].name, kinds[k].name);
			run_test(name, kinds[k].fn, &families[i]);
		}
	}
}

#define TEST(fn) run_test(#fn, test_##fn, NULL)
#define TRUNC(f) run_test("truncated_" #f, test_truncated, &trunc_##f)

static void run_all(void)
{
	run_family_tests();
	TEST(upstream_v4_prefix_edges);
	TEST(upstream_v6_prefix_edges);
	TEST(upstream_proto_in_key);
	TEST(upstream_needs_port_ref);
	TEST(upstream_on_server_port);
	TEST(upstream_port_65535);
	TEST(upstream_v6_any_not_v4);
	TEST(icmp);
	TEST(icmpv6);
	TEST(sctp);
	TEST(arp);
	TRUNC(v4_tcp);
	TRUNC(v4_udp);
	TRUNC(v6_tcp);
	TRUNC(v6_udp);
	TRUNC(v4_upstream);
	TRUNC(v6_upstream);
	TRUNC(qinq);
	TRUNC(vlan_v6_tcp);
	TRUNC(vlan_v4_udp);
	TRUNC(v4_options);
	TRUNC(v6_ext);
	TEST(v4_options);
	TEST(v4_ihl_below_5);
	TEST(v4_first_fragment);
	TEST(v4_non_first_fragment);
	TEST(v6_first_fragment);
	TEST(v6_non_first_fragment);
	TEST(v6_hopopts);
	TEST(v6_hop_dst_routing);
	TEST(v6_ah);
	TEST(v6_six_ext);
	TEST(v6_seven_ext);
	TEST(v6_esp_and_none);
	TEST(vlan);
	TEST(qinq);
	TEST(three_tags);
	TEST(mark_other_bits_hit);
	TEST(mark_other_bits_miss);
	TEST(mark_option);
	TEST(counters_server);
	TEST(counters_upstream);
	TEST(counters_miss_uncounted);
	TEST(port_0);
	TEST(port_65535);
	TEST(tcp_udp_independent);
}

/* libbpf's warnings (a verifier log on load failure) help; its info lines do not. */
static int print_warnings(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int main(void)
{
	libbpf_set_print(print_warnings);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0)
		fail("must run as root to load BPF programs");
	else
		skel = load(CTB_DEFAULT_MARK);
	if (!skel) {
		printf("FAIL setup: %s\n", why);
		failed++;
	} else {
		run_all();
		classifier__destroy(skel);
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
