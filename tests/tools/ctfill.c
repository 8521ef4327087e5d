// SPDX-License-Identifier: GPL-2.0
/*
 * ctfill: insert N ASSURED TCP conntrack entries through ctnetlink, to fill a
 * namespace's table. Early drop never evicts ASSURED entries, so once the
 * table is full the kernel drops new-connection packets ("table full").
 *
 * Entries go from 198.19.x.y:sport to DST:DPORT. Entry i uses index
 * k = (low 16 bits of --src-base) + i: address = /16 of --src-base | (k % 65536),
 * source port = 1024 + k / 65536. The address varies fastest.
 *
 * Messages are sent in batches with only the last one asking for an ACK: the
 * kernel answers failures anyway, so one round trip covers a whole batch.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>

#define BATCH_MAX 256
#define MSG_MAX 512 /* one CT_NEW with two IPv4 tuples is about 200 bytes */
#define BATCH_BUF_SIZE (BATCH_MAX * MSG_MAX)
#define SPORT_FIRST 1024u
#define ADDRS_PER_PORT 65536u

struct fill_opts {
	const char *netns;
	uint64_t count;
	uint32_t src_base; /* host byte order */
	uint32_t dst;	   /* network byte order */
	uint16_t dport;
	uint8_t tcp_state;
	uint32_t timeout;
};

struct filler {
	struct mnl_socket *nl;
	struct nf_conntrack *ct;
	char *buf;
	uint32_t seq;
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: ctfill [-n NETNS] --count N [options]\n"
		   "Insert N ASSURED IPv4 TCP conntrack entries; print \"inserted N\".\n"
		   "  -n, --netns NAME        work in /run/netns/NAME\n"
		   "  -c, --count N           entries to insert (required)\n"
		   "  -p, --dport PORT        destination port (default 443)\n"
		   "  -d, --dst ADDR          destination address (default 198.18.0.1)\n"
		   "  -s, --src-base ADDR     first source address (default 198.19.0.0)\n"
		   "  -S, --state STATE       established (default) or time_wait\n"
		   "  -t, --timeout SECONDS   entry timeout (default 300)\n"
		   "Exit: 0 all inserted, 1 stopped early (table full or error), 2 usage error.\n");
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct fill_opts *o)
{
	static const struct option longopts[] = {
	    {"netns", required_argument, NULL, 'n'},
	    {"count", required_argument, NULL, 'c'},
	    {"dport", required_argument, NULL, 'p'},
	    {"dst", required_argument, NULL, 'd'},
	    {"src-base", required_argument, NULL, 's'},
	    {"state", required_argument, NULL, 'S'},
	    {"timeout", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	struct in_addr a;
	bool have_count = false;
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "n:c:p:d:s:S:t:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o->netns = optarg;
			break;
		case 'c':
			/* Each (address, port) pair is used once. */
			if (parse_u64(optarg,
				      (uint64_t)ADDRS_PER_PORT * (65536 - SPORT_FIRST) - 65536,
				      &o->count)) {
				fprintf(stderr, "ctfill: bad --count '%s'\n", optarg);
				return -EINVAL;
			}
			have_count = true;
			break;
		case 'p':
			if (parse_u64(optarg, 65535, &v) || !v) {
				fprintf(stderr, "ctfill: bad --dport '%s' (1-65535)\n", optarg);
				return -EINVAL;
			}
			o->dport = v;
			break;
		case 'd':
		case 's':
			if (inet_pton(AF_INET, optarg, &a) != 1) {
				fprintf(stderr, "ctfill: bad IPv4 address '%s'\n", optarg);
				return -EINVAL;
			}
			if (c == 'd')
				o->dst = a.s_addr;
			else
				o->src_base = ntohl(a.s_addr);
			break;
		case 'S':
			if (!strcmp(optarg, "established")) {
				o->tcp_state = TCP_CONNTRACK_ESTABLISHED;
			} else if (!strcmp(optarg, "time_wait")) {
				o->tcp_state = TCP_CONNTRACK_TIME_WAIT;
			} else {
				fprintf(stderr,
					"ctfill: bad --state '%s' (established, time_wait)\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 't':
			if (parse_u64(optarg, INT_MAX / 1000, &v) || !v) {
				fprintf(stderr, "ctfill: bad --timeout '%s'\n", optarg);
				return -EINVAL;
			}
			o->timeout = v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ctfill: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!have_count) {
		fprintf(stderr, "ctfill: --count is required\n");
		return -EINVAL;
	}
	return 0;
}

static int enter_netns(const char *name)
{
	char path[PATH_MAX];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "ctfill: open %s: %s\n", path, strerror(-err));
		return err;
	}
	if (setns(fd, CLONE_NEWNET)) {
		err = -errno;
		fprintf(stderr, "ctfill: setns %s: %s\n", name, strerror(-err));
	}
	close(fd);
	return err;
}

static int filler_open(struct filler *f, const struct fill_opts *o)
{
	int one = 1, rcvbuf = 4 << 20, err;

	f->buf = malloc(BATCH_BUF_SIZE);
	f->ct = nfct_new();
	f->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!f->buf || !f->ct || !f->nl) {
		err = errno ? -errno : -ENOMEM;
		fprintf(stderr, "ctfill: netlink setup: %s\n", strerror(-err));
		return err;
	}
	if (mnl_socket_bind(f->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		fprintf(stderr, "ctfill: netlink bind: %s\n", strerror(-err));
		return err;
	}
	/* Failures echo only the header, so a batch of errors fits the buffer. */
	mnl_socket_setsockopt(f->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	setsockopt(mnl_socket_get_fd(f->nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	f->seq = time(NULL);

	/* Everything but the client tuple stays the same across entries. */
	nfct_set_attr_u8(f->ct, ATTR_L3PROTO, AF_INET);
	nfct_set_attr_u8(f->ct, ATTR_L4PROTO, IPPROTO_TCP);
	nfct_set_attr_u32(f->ct, ATTR_IPV4_DST, o->dst);
	nfct_set_attr_u16(f->ct, ATTR_PORT_DST, htons(o->dport));
	nfct_set_attr_u8(f->ct, ATTR_REPL_L3PROTO, AF_INET);
	nfct_set_attr_u8(f->ct, ATTR_REPL_L4PROTO, IPPROTO_TCP);
	nfct_set_attr_u32(f->ct, ATTR_REPL_IPV4_SRC, o->dst);
	nfct_set_attr_u16(f->ct, ATTR_REPL_PORT_SRC, htons(o->dport));
	nfct_set_attr_u8(f->ct, ATTR_TCP_STATE, o->tcp_state);
	nfct_set_attr_u32(f->ct, ATTR_TIMEOUT, o->timeout);
	/* CONFIRMED is set by the kernel on insert; older kernels refuse it here. */
	nfct_set_attr_u32(f->ct, ATTR_STATUS, IPS_ASSURED | IPS_SEEN_REPLY);
	return 0;
}

static void filler_close(struct filler *f)
{
	if (f->nl)
		mnl_socket_close(f->nl);
	if (f->ct)
		nfct_destroy(f->ct);
	free(f->buf);
}

static void set_client(struct filler *f, const struct fill_opts *o, uint64_t i)
{
	/* Counting on from --src-base, so runs with disjoint ranges never collide. */
	uint64_t idx = (o->src_base & 0xffffu) + i;
	uint32_t src = (o->src_base & 0xffff0000u) | (idx & 0xffffu);
	uint16_t sport = SPORT_FIRST + idx / ADDRS_PER_PORT;

	nfct_set_attr_u32(f->ct, ATTR_IPV4_SRC, htonl(src));
	nfct_set_attr_u16(f->ct, ATTR_PORT_SRC, htons(sport));
	nfct_set_attr_u32(f->ct, ATTR_REPL_IPV4_DST, htonl(src));
	nfct_set_attr_u16(f->ct, ATTR_REPL_PORT_DST, htons(sport));
}

/* Append one IPCTNL_MSG_CT_NEW at buf + *len. */
static int build_create(struct filler *f, size_t *len, bool ack)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(f->buf + *len);
	struct nfgenmsg *nfh;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | (ack ? NLM_F_ACK : 0);
	nlh->nlmsg_seq = ++f->seq;
	nfh = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfh));
	nfh->nfgen_family = AF_INET;
	nfh->version = NFNETLINK_V0;
	nfh->res_id = 0;
	if (nfct_nlmsg_build(nlh, f->ct) < 0)
		return errno ? -errno : -EINVAL;
	if (nlh->nlmsg_len > MSG_MAX)
		return -EMSGSIZE;
	*len += nlh->nlmsg_len;
	return 0;
}

/*
 * Read replies until the ACK of the batch's last message (sequence last_seq).
 * Returns the number of failed messages; *first_err gets the first errno.
 */
static int read_replies(struct filler *f, uint32_t last_seq, int *first_err)
{
	char rbuf[MNL_SOCKET_BUFFER_SIZE * 4];
	int failed = 0;

	for (;;) {
		ssize_t n = mnl_socket_recvfrom(f->nl, rbuf, sizeof(rbuf));
		struct nlmsghdr *nlh = (struct nlmsghdr *)rbuf;
		int len = n;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			const struct nlmsgerr *e;

			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			e = mnl_nlmsg_get_payload(nlh);
			if (e->error) {
				failed++;
				if (!*first_err)
					*first_err = -e->error;
			}
			if (nlh->nlmsg_seq == last_seq)
				return failed;
		}
	}
}

/* Insert o->count entries; *inserted counts successes. */
static int fill(struct filler *f, const struct fill_opts *o, uint64_t *inserted)
{
	uint64_t i = 0;
	int first_err = 0;

	*inserted = 0;
	while (i < o->count && !first_err) {
		uint64_t n = o->count - i < BATCH_MAX ? o->count - i : BATCH_MAX;
		size_t len = 0;
		int failed, err;

		for (uint64_t k = 0; k < n; k++, i++) {
			set_client(f, o, i);
			err = build_create(f, &len, k == n - 1);
			if (err) {
				fprintf(stderr, "ctfill: building message: %s\n", strerror(-err));
				return err;
			}
		}
		if (mnl_socket_sendto(f->nl, f->buf, len) < 0) {
			err = -errno;
			fprintf(stderr, "ctfill: netlink send: %s\n", strerror(-err));
			return err;
		}
		failed = read_replies(f, f->seq, &first_err);
		if (failed < 0) {
			fprintf(stderr, "ctfill: netlink receive: %s\n", strerror(-failed));
			return failed;
		}
		*inserted += n - failed;
	}
	if (first_err) {
		fprintf(stderr, "ctfill: stopped after %llu entries: %s%s\n",
			(unsigned long long)*inserted, strerror(first_err),
			first_err == ENOMEM   ? " (conntrack table full)"
			: first_err == EEXIST ? " (entries exist; use another --src-base)"
					      : "");
		return -first_err;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct fill_opts o = {
	    .dport = 443,
	    .tcp_state = TCP_CONNTRACK_ESTABLISHED,
	    .timeout = 300,
	    .src_base = 0xc6130000u,   /* 198.19.0.0 */
	    .dst = htonl(0xc6120001u), /* 198.18.0.1 */
	};
	struct filler f = {};
	uint64_t inserted = 0;
	int err;

	if (parse_args(argc, argv, &o))
		return 2;
	err = o.netns ? enter_netns(o.netns) : 0;
	if (!err)
		err = filler_open(&f, &o);
	if (!err)
		err = fill(&f, &o, &inserted);
	filler_close(&f);
	printf("inserted %llu\n", (unsigned long long)inserted);
	return err ? 1 : 0;
}
