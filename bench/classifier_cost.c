// SPDX-License-Identifier: GPL-2.0
/*
 * What the classifier costs per packet, next to an empty TC program measured
 * the same way: BPF_PROG_TEST_RUN with `repeat`, the two programs interleaved
 * round by round (order alternating) so drift in clock speed or load hits both
 * alike, and the median round kept. The ratio is the median of the rounds' own
 * ratios: on a shared machine a burst of load hits one round of both programs,
 * which the ratio of two separate medians would not cancel. CSV on stdout, a
 * table on stderr.
 * Usage: classifier_cost [REPEAT [ROUNDS]]   (needs root)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "ctbypass.h"
#include "classifier.skel.h"
#include "empty.skel.h"

#define DEFAULT_REPEAT 1000000
#define DEFAULT_ROUNDS 9
#define MAX_ROUNDS 101
#define HIT_PORT 443
#define MISS_PORT 40000 /* never configured: a client's ephemeral port */
#define UPSTREAM_PORT 3128

struct frame {
	uint8_t b[128];
	size_t len;
};

struct bench {
	struct classifier *cls;
	struct empty *empty;
	struct ctb_port_entry *ports; /* the mmapped `ports` array */
	int repeat, rounds;
};

struct bench_case {
	const char *config; /* "server": --ports only; "upstream": plus --upstream */
	int ports; /* TCP server ports configured */
};

static const struct bench_case cases[] = {
	{ "server", 1 },     { "server", 3 },	  { "server", 100 }, { "server", 1000 },
	{ "server", 65535 }, { "upstream", 1 },
};

static void put16(uint8_t *at, uint16_t v)
{
	at[0] = v >> 8;
	at[1] = v;
}

/* Ethernet + IPv4/IPv6 + TCP SYN, from src:sport to this host's dport. */
static void build_tcp(struct frame *f, int family, const char *src, uint16_t sport,
		      uint16_t dport)
{
	uint8_t *ip = f->b + ETH_HLEN, *tcp;

	memset(f, 0, sizeof(*f));
	f->b[0] = f->b[6] = 0x02;
	if (family == 4) {
		put16(f->b + 12, ETH_P_IP);
		ip[0] = 0x45;
		put16(ip + 2, 40);
		ip[8] = 64;
		ip[9] = IPPROTO_TCP;
		inet_pton(AF_INET, src, ip + 12);
		inet_pton(AF_INET, "198.18.0.1", ip + 16);
		tcp = ip + 20;
	} else {
		put16(f->b + 12, ETH_P_IPV6);
		ip[0] = 0x60;
		put16(ip + 4, 20);
		ip[6] = IPPROTO_TCP;
		ip[7] = 64;
		inet_pton(AF_INET6, src, ip + 8);
		inet_pton(AF_INET6, "fd00:c7::1", ip + 24);
		tcp = ip + 40;
	}
	put16(tcp, sport);
	put16(tcp + 2, dport);
	tcp[12] = 5 << 4;
	tcp[13] = 0x02; /* SYN */
	f->len = tcp + 20 - f->b;
}

/* The frame for one (config, family, case): a hit is bypassed, a miss is not. */
static void case_frame(struct frame *f, const struct bench_case *c, int family, bool hit)
{
	bool v4 = family == 4;

	if (!strcmp(c->config, "upstream")) {
		/* The LPM trie is consulted either way; a miss is the wrong address. */
		const char *src = v4 ? (hit ? "198.18.4.9" : "198.18.5.9") :
				       (hit ? "fd00:c7::9" : "fd00:c7:0:1::9");

		build_tcp(f, family, src, UPSTREAM_PORT, MISS_PORT);
	} else if (hit) {
		build_tcp(f, family, v4 ? "198.18.0.2" : "fd00:c7::2", MISS_PORT, HIT_PORT);
	} else {
		/* A reply from a remote HTTPS server: both port lookups, no match. */
		build_tcp(f, family, v4 ? "198.18.0.2" : "fd00:c7::2", HIT_PORT, MISS_PORT);
	}
}

static int add_upstream(struct bench *b, const char *addr, int len)
{
	struct ctb_upstream_key key = { .proto = IPPROTO_TCP, .port = htons(UPSTREAM_PORT) };
	__u32 slot = 2;

	if (strchr(addr, ':')) {
		inet_pton(AF_INET6, addr, key.addr);
		key.prefixlen = CTB_UPSTREAM_KEY_FIXED_BITS + len;
	} else {
		key.addr[10] = key.addr[11] = 0xff;
		inet_pton(AF_INET, addr, key.addr + 12);
		key.prefixlen = CTB_UPSTREAM_KEY_FIXED_BITS + 96 + len;
	}
	return bpf_map_update_elem(bpf_map__fd(b->cls->maps.upstreams), &key, &slot, BPF_ANY);
}

/* HIT_PORT plus the lowest other ports up to n, never MISS_PORT. */
static void configure_ports(struct bench *b, int n)
{
	struct ctb_port_entry *tcp = b->ports + (CTB_PROTO_INDEX_TCP << 16);
	int count = 1;

	memset(b->ports, 0, CTB_PORT_KEYS * sizeof(*b->ports));
	tcp[HIT_PORT].server_slot = 1;
	for (int port = 0; port < 65536 && count < n; port++) {
		if (port == HIT_PORT || port == MISS_PORT)
			continue;
		tcp[port].server_slot = 1 + count++ % (CTB_STAT_SLOTS - 1);
	}
	tcp[UPSTREAM_PORT].upstream_refs = 1;
}

static int run_once(int prog_fd, const struct frame *f, int repeat, __u32 *mark, double *ns)
{
	struct __sk_buff ctx = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->b, .data_size_in = f->len,
		    .repeat = repeat);
	struct timespec start, end;
	int err;

	if (mark) {
		opts.ctx_in = opts.ctx_out = &ctx;
		opts.ctx_size_in = opts.ctx_size_out = sizeof(ctx);
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	clock_gettime(CLOCK_MONOTONIC, &end);
	if (err)
		return err;
	if ((int)opts.retval != TC_ACT_UNSPEC)
		return -EPROTO;
	if (mark)
		*mark = ctx.mark;
	/* Wall time, not opts.duration: that is whole nanoseconds, too coarse here. */
	*ns = ((end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec)) / repeat;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Median ns per packet of both programs over interleaved rounds, and the median ratio. */
static int measure(struct bench *b, const struct frame *f, double *cls_ns, double *empty_ns,
		   double *ratio)
{
	int fds[2] = { bpf_program__fd(b->cls->progs.ctb_ingress),
		       bpf_program__fd(b->empty->progs.ctb_empty) };
	double times[2][MAX_ROUNDS], ratios[MAX_ROUNDS], warm;
	int err = 0;

	for (int i = 0; !err && i < 2; i++)
		err = run_once(fds[i], f, b->repeat / 10 + 1, NULL, &warm);
	for (int r = 0; !err && r < b->rounds; r++) {
		for (int k = 0; !err && k < 2; k++) {
			int which = (r + k) % 2; /* alternate who goes first */

			err = run_once(fds[which], f, b->repeat, NULL, &times[which][r]);
		}
	}
	if (err)
		return err;
	for (int r = 0; r < b->rounds; r++)
		ratios[r] = times[0][r] / times[1][r];
	*ratio = median(ratios, b->rounds);
	*cls_ns = median(times[0], b->rounds);
	*empty_ns = median(times[1], b->rounds);
	return 0;
}

static int bench_case(struct bench *b, const struct bench_case *c, int family, bool hit)
{
	struct frame f;
	double cls_ns, empty_ns, ratio, ns;
	__u32 mark = 0;
	int err;

	case_frame(&f, c, family, hit);
	/* A hit that is not bypassed (or the reverse) would measure the wrong path. */
	err = run_once(bpf_program__fd(b->cls->progs.ctb_ingress), &f, 1, &mark, &ns);
	if (!err && !!(mark & CTB_DEFAULT_MARK) != hit) {
		fprintf(stderr, "%s/%d/v%d: expected a %s\n", c->config, c->ports, family,
			hit ? "hit" : "miss");
		return -EPROTO;
	}
	if (!err)
		err = measure(b, &f, &cls_ns, &empty_ns, &ratio);
	if (err)
		return err;
	printf("%s,ipv%d,%s,%d,%.2f,%.2f,%.2f\n", c->config, family, hit ? "hit" : "miss",
	       c->ports, cls_ns, empty_ns, ratio);
	fprintf(stderr, "%-9s ipv%d  %-4s %6d %10.2f %8.2f %6.2f %+9.2f\n", c->config, family,
		hit ? "hit" : "miss", c->ports, cls_ns, empty_ns, ratio, cls_ns - empty_ns);
	return 0;
}

static int run_all(struct bench *b)
{
	int err = add_upstream(b, "198.18.4.0", 24);

	if (!err)
		err = add_upstream(b, "fd00:c7::", 64);
	printf("config,family,case,ports,classifier_ns,empty_ns,ratio\n");
	fprintf(stderr, "%-9s %-5s %-4s %6s %10s %8s %6s %9s\n", "config", "fam", "case", "ports",
		"classif ns", "empty ns", "ratio", "extra ns");
	for (size_t i = 0; !err && i < sizeof(cases) / sizeof(cases[0]); i++) {
		configure_ports(b, cases[i].ports);
		for (int family = 4; !err && family <= 6; family += 2)
			for (int hit = 1; !err && hit >= 0; hit--)
				err = bench_case(b, &cases[i], family, hit);
	}
	return err;
}

static int load(struct bench *b)
{
	size_t size = CTB_PORT_KEYS * sizeof(*b->ports);
	void *ports;

	b->cls = classifier__open_and_load();
	if (!b->cls)
		return -errno;
	b->empty = empty__open_and_load();
	if (!b->empty)
		return -errno;
	ports = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		     bpf_map__fd(b->cls->maps.ports), 0);
	if (ports == MAP_FAILED)
		return -errno;
	b->ports = ports;
	return 0;
}

static void unload(struct bench *b)
{
	if (b->ports)
		munmap(b->ports, CTB_PORT_KEYS * sizeof(*b->ports));
	classifier__destroy(b->cls);
	empty__destroy(b->empty);
}

/* One CPU for the whole run: per-CPU counters and caches stay put. */
static void pin_to_current_cpu(void)
{
	cpu_set_t set;
	int cpu = sched_getcpu();

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static bool parse_count(const char *s, int max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 1 || v > max)
		return false;
	*out = v;
	return true;
}

static int print_warnings(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int main(int argc, char **argv)
{
	struct bench b = { .repeat = DEFAULT_REPEAT, .rounds = DEFAULT_ROUNDS };
	int err;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: %s [REPEAT [ROUNDS]]  (default %d %d)\n", argv[0], DEFAULT_REPEAT,
		       DEFAULT_ROUNDS);
		return 0;
	}
	if (argc > 3 || (argc > 1 && !parse_count(argv[1], 1000000000, &b.repeat)) ||
	    (argc > 2 && !parse_count(argv[2], MAX_ROUNDS, &b.rounds))) {
		fprintf(stderr, "usage: %s [REPEAT [ROUNDS<=%d]]\n", argv[0], MAX_ROUNDS);
		return 2;
	}
	libbpf_set_print(print_warnings);
	pin_to_current_cpu();
	err = load(&b);
	if (!err)
		err = run_all(&b);
	if (err)
		fprintf(stderr, "classifier_cost: %s\n", strerror(-err));
	unload(&b);
	return err ? 1 : 0;
}
