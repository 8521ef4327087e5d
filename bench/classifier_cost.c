// SPDX-License-Identifier: GPL-2.0
/*
 * What the classifier costs per packet, next to an empty TC program measured
 * the same way: BPF_PROG_TEST_RUN with `repeat`, the two programs interleaved
 * round by round (order alternating) so drift in clock speed or load hits both
 * alike, and the median round kept. The ratio is the median of the rounds' own
 * ratios: on a shared machine a burst of load hits one round of both programs,
 * which the ratio of two separate medians would not cancel. Every port count
 * has a classifier of its own, configured once, and each round goes through all
 * of them, so drift over the run cannot pass for a cost of the port count.
 * CSV on stdout, a table on stderr.
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

struct bench_case {
	const char *config; /* "server": --ports only; "upstream": plus --upstream */
	int ports; /* TCP server ports configured */
};

static const struct bench_case cases[] = {
	{ "server", 1 },     { "server", 3 },	  { "server", 100 }, { "server", 1000 },
	{ "server", 65535 }, { "upstream", 1 },
};
#define N_CASES (sizeof(cases) / sizeof(cases[0]))
#define N_POINTS (N_CASES * 4) /* each case: IPv4/IPv6 x hit/miss */

/* One measured (case, family, hit/miss), with its rounds' times (0: classifier, 1: empty). */
struct point {
	const struct bench_case *c;
	struct classifier *cls;
	int family;
	bool hit;
	struct frame f;
	double times[2][MAX_ROUNDS];
};

struct bench {
	struct classifier *cls[N_CASES]; /* one per case, configured for it */
	struct empty *empty;
	struct point points[N_POINTS];
	int repeat, rounds;
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

static int add_upstream(struct classifier *cls, const char *addr, int len)
{
	struct ctb_upstream_key key = { .proto = IPPROTO_TCP, .port = htons(UPSTREAM_PORT) };
	__u32 slot = 2;

	key.family = strchr(addr, ':') ? 6 : 4;
	if (strchr(addr, ':')) {
		inet_pton(AF_INET6, addr, key.addr);
		key.prefixlen = CTB_UPSTREAM_KEY_FIXED_BITS + len;
	} else {
		key.addr[10] = key.addr[11] = 0xff;
		inet_pton(AF_INET, addr, key.addr + 12);
		key.prefixlen = CTB_UPSTREAM_KEY_FIXED_BITS + 96 + len;
	}
	return bpf_map_update_elem(bpf_map__fd(cls->maps.upstreams), &key, &slot, BPF_ANY);
}

/* HIT_PORT plus the lowest other ports up to n, never MISS_PORT, and the upstreams. */
static int configure(struct classifier *cls, int n)
{
	size_t size = CTB_PORT_KEYS * sizeof(struct ctb_port_entry);
	struct ctb_port_entry *ports, *tcp;
	int count = 1, err;

	ports = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		     bpf_map__fd(cls->maps.ports), 0);
	if (ports == MAP_FAILED)
		return -errno;
	tcp = ports + (CTB_PROTO_INDEX_TCP << 16);
	tcp[HIT_PORT].server_slot = 1;
	for (int port = 0; port < 65536 && count < n; port++) {
		if (port == HIT_PORT || port == MISS_PORT)
			continue;
		tcp[port].server_slot = 1 + count++ % (CTB_STAT_SLOTS - 1);
	}
	tcp[UPSTREAM_PORT].upstream_refs = 1;
	munmap(ports, size);
	err = add_upstream(cls, "198.18.4.0", 24);
	return err ? err : add_upstream(cls, "fd00:c7::", 64);
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

/* The frames, each checked once: a hit not bypassed (or the reverse) would time the wrong path. */
static int prepare_points(struct bench *b)
{
	struct point *p = b->points;

	for (size_t i = 0; i < N_CASES; i++)
		for (int family = 4; family <= 6; family += 2)
			for (int hit = 1; hit >= 0; hit--, p++) {
				__u32 mark = 0;
				double ns;
				int err;

				*p = (struct point){ .c = &cases[i], .cls = b->cls[i], .family = family,
						     .hit = hit };
				case_frame(&p->f, p->c, family, hit);
				err = run_once(bpf_program__fd(p->cls->progs.ctb_ingress), &p->f, 1,
					       &mark, &ns);
				if (err)
					return err;
				if (!!(mark & CTB_DEFAULT_MARK) != hit) {
					fprintf(stderr, "%s/%d/v%d: expected a %s\n", p->c->config,
						p->c->ports, family, hit ? "hit" : "miss");
					return -EPROTO;
				}
			}
	return 0;
}

/* Each round times every point, both programs each (who goes first alternates). */
static int measure_rounds(struct bench *b)
{
	int empty_fd = bpf_program__fd(b->empty->progs.ctb_empty);
	double warm;
	int err = 0;

	for (size_t i = 0; !err && i < N_POINTS; i++)
		err = run_once(bpf_program__fd(b->points[i].cls->progs.ctb_ingress), &b->points[i].f,
			       b->repeat / 10 + 1, NULL, &warm);
	for (int r = 0; !err && r < b->rounds; r++) {
		for (size_t i = 0; !err && i < N_POINTS; i++) {
			struct point *p = &b->points[i];
			int fds[2] = { bpf_program__fd(p->cls->progs.ctb_ingress), empty_fd };

			for (int k = 0; !err && k < 2; k++) {
				int which = (r + i + k) % 2;

				err = run_once(fds[which], &p->f, b->repeat, NULL, &p->times[which][r]);
			}
		}
	}
	return err;
}

static void print_point(struct bench *b, struct point *p)
{
	double ratios[MAX_ROUNDS], cls_ns, empty_ns, ratio;

	for (int r = 0; r < b->rounds; r++)
		ratios[r] = p->times[0][r] / p->times[1][r];
	ratio = median(ratios, b->rounds);
	cls_ns = median(p->times[0], b->rounds);
	empty_ns = median(p->times[1], b->rounds);
	printf("%s,ipv%d,%s,%d,%.2f,%.2f,%.2f\n", p->c->config, p->family, p->hit ? "hit" : "miss",
	       p->c->ports, cls_ns, empty_ns, ratio);
	fprintf(stderr, "%-9s ipv%d  %-4s %6d %10.2f %8.2f %6.2f %+9.2f\n", p->c->config, p->family,
		p->hit ? "hit" : "miss", p->c->ports, cls_ns, empty_ns, ratio, cls_ns - empty_ns);
}

static int run_all(struct bench *b)
{
	int err = prepare_points(b);

	if (!err)
		err = measure_rounds(b);
	if (err)
		return err;
	printf("config,family,case,ports,classifier_ns,empty_ns,ratio\n");
	fprintf(stderr, "%-9s %-5s %-4s %6s %10s %8s %6s %9s\n", "config", "fam", "case", "ports",
		"classif ns", "empty ns", "ratio", "extra ns");
	for (size_t i = 0; i < N_POINTS; i++)
		print_point(b, &b->points[i]);
	return 0;
}

static int load(struct bench *b)
{
	for (size_t i = 0; i < N_CASES; i++) {
		int err;

		b->cls[i] = classifier__open_and_load();
		if (!b->cls[i])
			return -errno;
		err = configure(b->cls[i], cases[i].ports);
		if (err)
			return err;
	}
	b->empty = empty__open_and_load();
	return b->empty ? 0 : -errno;
}

static void unload(struct bench *b)
{
	for (size_t i = 0; i < N_CASES; i++)
		classifier__destroy(b->cls[i]);
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
	static struct bench b = { .repeat = DEFAULT_REPEAT, .rounds = DEFAULT_ROUNDS };
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
