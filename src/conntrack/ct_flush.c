// SPDX-License-Identifier: GPL-2.0
/*
 * One dump of the table on one socket; the entries to delete go out on a
 * second socket, many DELETE messages to one sendto. Each DELETE names the
 * entry's id as well as its tuple, so an entry that replaced the dumped one
 * meanwhile (same tuple, a new connection) is never deleted.
 *
 * The kernel works through a batch of deletes inside sendto, which costs it
 * about half of what dumping the same entries does; a second thread sends
 * them, so that work overlaps the dump on another CPU. Two batch buffers: the
 * dump fills one while the sender sends the other.
 */
#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "ct_dump.h"
#include "ct_flush.h"
#include "ct_flush_match.h"
#include "local_addrs.h"
#include "log.h"

/*
 * A batch's failures each come back as an error message of their own, all
 * queued before sendto returns: 256 of them fit a default receive buffer.
 */
#define DEL_BATCH 256
#define DEL_MSG_MAX 128	    /* an IPv6 DELETE with zone and id is 112 bytes */
#define DUMP_BUF_SIZE 65536 /* the kernel fills at most 32 KiB a read */
#define CT_MSG(type) ((NFNL_SUBSYS_CTNETLINK << 8) | (type))

struct batch {
	char buf[DEL_BATCH * DEL_MSG_MAX];
	size_t len, last; /* bytes in buf; where its last message starts */
	unsigned int count;
	uint32_t last_seq;
};

struct sender {
	struct mnl_socket *nl;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct batch bufs[2];
	struct batch *filling; /* the dump's */
	struct batch *handed;  /* the sender's until it is done: then NULL */
	bool closing;
	uint32_t seq;
	int err;	       /* the first failure other than "already gone" (under lock) */
	unsigned long deleted; /* written by the sender, read once it has ended */
};

struct flush_run {
	struct ctb_flush_scope scope;
	struct sender *snd;
	unsigned long seen; /* entries dumped */
	int err;	    /* why the dump's callback stopped it */
};

static void put_delete(struct batch *b, const struct ctb_ct_entry *e, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(b->buf + b->len);
	const struct ctb_flow *f = &e->flow;
	bool v4 = f->family == AF_INET;
	struct nlattr *tuple, *nest;
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = CT_MSG(IPCTNL_MSG_CT_DELETE);
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = f->family;
	nfg->version = NFNETLINK_V0;
	tuple = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
	nest = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	mnl_attr_put(nlh, v4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, v4 ? 4 : 16, f->saddr);
	mnl_attr_put(nlh, v4 ? CTA_IP_V4_DST : CTA_IP_V6_DST, v4 ? 4 : 16, f->daddr);
	mnl_attr_nest_end(nlh, nest);
	nest = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, f->l4proto);
	mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(f->sport));
	mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(f->dport));
	mnl_attr_nest_end(nlh, nest);
	mnl_attr_nest_end(nlh, tuple);
	if (e->zone)
		mnl_attr_put_u16(nlh, CTA_ZONE, htons(e->zone));
	mnl_attr_put_u32(nlh, CTA_ID, e->id);
	b->last = b->len;
	b->len += nlh->nlmsg_len;
	b->last_seq = seq;
	b->count++;
}

/*
 * Reads a batch's answers: failures, then its last message's ACK. *refused
 * gets the first failure other than ENOENT.
 */
static int read_answers(struct sender *s, const struct batch *b, unsigned int *failed, int *refused)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];

	*failed = 0;
	for (;;) {
		/*
		 * The kernel handled the whole batch inside sendto, so every answer
		 * is queued: never wait, even if one was lost to a full buffer.
		 */
		ssize_t n = recv(mnl_socket_get_fd(s->nl), buf, sizeof(buf), MSG_DONTWAIT);
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int len = (int)n;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0 && errno != ENOBUFS)
			return -errno;
		/* ENOBUFS: answers were dropped, so the count may be high; go on. */
		for (; n > 0 && mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (nlh->nlmsg_type != NLMSG_ERROR ||
			    mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
				continue;
			if (e->error) {
				(*failed)++;
				/* ENOENT: timed out, closed, or replaced meanwhile. */
				if (e->error != -ENOENT && !*refused)
					*refused = e->error;
			}
			if (nlh->nlmsg_seq == b->last_seq)
				return 0;
		}
	}
}

static int send_batch(struct sender *s, struct batch *b)
{
	unsigned int failed;
	int refused = 0, ret;

	/* One ACK a batch: failures are answered anyway, successes need no word. */
	((struct nlmsghdr *)(b->buf + b->last))->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(s->nl, b->buf, b->len) < 0)
		return -errno;
	ret = read_answers(s, b, &failed, &refused);
	if (!ret)
		s->deleted += b->count > failed ? b->count - failed : 0;
	return ret ? ret : refused;
}

static void *sender_main(void *arg)
{
	struct sender *s = arg;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct batch *b;
		int ret;

		while (!s->handed && !s->closing)
			pthread_cond_wait(&s->cond, &s->lock);
		if (!s->handed)
			break;
		b = s->handed;
		pthread_mutex_unlock(&s->lock);
		ret = send_batch(s, b);
		pthread_mutex_lock(&s->lock);
		if (ret && !s->err)
			s->err = ret;
		b->len = b->count = 0;
		s->handed = NULL;
		pthread_cond_broadcast(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Gives the batch being filled to the sender, once it is done with the other. */
static int hand_over(struct sender *s)
{
	int err;

	if (!s->filling->count)
		return 0;
	pthread_mutex_lock(&s->lock);
	while (s->handed)
		pthread_cond_wait(&s->cond, &s->lock);
	s->handed = s->filling;
	pthread_cond_broadcast(&s->cond);
	err = s->err;
	pthread_mutex_unlock(&s->lock);
	s->filling = s->filling == &s->bufs[0] ? &s->bufs[1] : &s->bufs[0];
	/* Not "already gone": more of the same would fail alike. */
	return err;
}

static int sender_add(struct sender *s, const struct ctb_ct_entry *e)
{
	put_delete(s->filling, e, ++s->seq);
	return s->filling->count < DEL_BATCH ? 0 : hand_over(s);
}

/* The socket is opened here, in the caller's namespace: the thread only sends. */
static int sender_start(struct sender **out)
{
	int one = 1, rcvbuf = 1 << 20, err;
	struct sender *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!s->nl || mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto fail;
	}
	/* Errors echo only the header. A bigger buffer is headroom, not a need. */
	mnl_socket_setsockopt(s->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	setsockopt(mnl_socket_get_fd(s->nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	s->seq = (uint32_t)time(NULL);
	s->filling = &s->bufs[0];
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	err = -pthread_create(&s->thread, NULL, sender_main, s);
	if (err) {
		pthread_cond_destroy(&s->cond);
		pthread_mutex_destroy(&s->lock);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	if (s->nl)
		mnl_socket_close(s->nl);
	free(s);
	return err;
}

/* Sends what is left, waits for the thread, frees; *deleted counts the deletes. */
static int sender_finish(struct sender *s, unsigned long *deleted)
{
	int err = hand_over(s);

	pthread_mutex_lock(&s->lock);
	s->closing = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	*deleted = s->deleted;
	if (!err)
		err = s->err;
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	mnl_socket_close(s->nl);
	free(s);
	return err;
}

static int entry_cb(const struct nlmsghdr *nlh, void *data)
{
	struct flush_run *run = data;
	struct ctb_ct_entry e;

	run->seen++;
	/* Entries of other protocols, or that we cannot read, stay. */
	if (ctb_ct_dump_parse(nlh, &e) || !ctb_flush_scope_match(&run->scope, &e.flow, e.status))
		return MNL_CB_OK;
	run->err = sender_add(run->snd, &e);
	return run->err ? MNL_CB_ERROR : MNL_CB_OK;
}

static int dump(struct flush_run *run, int family)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	char *buf = malloc(DUMP_BUF_SIZE);
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	unsigned int portid;
	uint32_t seq;
	int ret = 0;

	if (!nl || !buf) {
		ret = nl ? -ENOMEM : -errno;
		goto out;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = CT_MSG(IPCTNL_MSG_CT_GET);
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq = (uint32_t)time(NULL);
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	/* AF_UNSPEC: both; otherwise the kernel skips the other family's entries. */
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, DUMP_BUF_SIZE);

		if (n < 0) {
			ret = -errno;
			break;
		}
		ret = mnl_cb_run(buf, (size_t)n, seq, portid, entry_cb, run);
		if (ret <= MNL_CB_STOP) {
			ret = ret < 0 ? (run->err ? run->err : -errno) : 0;
			break;
		}
	}
out:
	if (nl)
		mnl_socket_close(nl);
	free(buf);
	return ret;
}

/*
 * The family to dump. Every dump walks the whole (global) hash table, so both
 * families are one AF_UNSPEC dump; upstreams of one family alone need only it.
 * A kernel-side filter (CTA_FILTER, 5.8+) would spare sending non-matching
 * entries, but it matches exact tuple fields only: a server port needs two
 * dumps (dport, sport), and a walk costs about as much as sending was measured
 * to save.
 */
static int dump_family(const struct ctb_config *cfg)
{
	bool v4 = false, v6 = false;

	if (!ctb_portset_empty(&cfg->ports))
		return AF_UNSPEC;
	for (size_t i = 0; i < cfg->upstreams.count; i++) {
		v4 |= cfg->upstreams.items[i].family == AF_INET;
		v6 |= cfg->upstreams.items[i].family == AF_INET6;
	}
	return v4 && v6 ? AF_UNSPEC : v4 ? AF_INET : AF_INET6;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

int ctb_ct_flush(const struct ctb_config *cfg, unsigned long *deleted)
{
	struct ctb_local_addrs locals = {0};
	struct flush_run run = {0};
	struct timespec t0;
	int ret, err;

	*deleted = 0;
	if (!ctb_config_has_targets(cfg))
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = ctb_local_addrs_read(&locals);
	if (ret)
		return ret;
	ctb_flush_scope_init(&run.scope, cfg, &locals);
	ret = sender_start(&run.snd);
	if (!ret) {
		ret = dump(&run, dump_family(cfg));
		/* What was dumped before a failure is still deleted. */
		err = sender_finish(run.snd, deleted);
		if (!ret)
			ret = err;
	}
	/* The benchmark reads this line (bench/flush.sh). */
	ctb_debug("flush: %lu entries read, %lu deleted, %zu local prefixes, %.3f s", run.seen,
		  *deleted, locals.count, seconds_since(&t0));
	ctb_local_addrs_free(&locals);
	return ret;
}
