// SPDX-License-Identifier: GPL-2.0
/*
 * `watch` without tracing: ctnetlink NEW and DESTROY events (inserts, destroys,
 * new-entry detail) and the kernel's per-CPU conntrack statistics (drops, early
 * drops, insert failures, exact). With --top, where skb:kfree_skb loads, its
 * NETFILTER_DROP reason on packets that have no conntrack entry attributes
 * drops to flows. The socket belongs to the namespace it is opened in, so only
 * that namespace's events arrive.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "ct_probes.skel.h"
#include "log.h"
#include "watch_bpf.h"
#include "ct_stats.h"

#define EVENT_RCVBUF (8 << 20)

struct nl_backend {
	struct mnl_socket *events;
	char *buf;
	struct nf_conntrack *ct; /* reused to parse NEW events for --top */
	uint64_t pending[CTB_W_METRICS]; /* counted from events since the last read */
	struct ctb_rates stats; /* kernel per-CPU statistics */
	struct ctb_watch_bpf bpf;
	bool have_bpf;
};

static void on_new(struct ctb_watch_top *top, struct nf_conntrack *ct, const struct nlmsghdr *nlh)
{
	uint8_t family, saddr[16] = { 0 };
	const void *src;

	nfct_set_attr_u8(ct, ATTR_ORIG_L3PROTO, 0);
	if (nfct_nlmsg_parse(nlh, ct) < 0)
		return;
	family = nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO);
	src = nfct_get_attr(ct, family == AF_INET6 ? ATTR_ORIG_IPV6_SRC : ATTR_ORIG_IPV4_SRC);
	if (!src || (family != AF_INET && family != AF_INET6))
		return;
	memcpy(saddr, src, family == AF_INET ? 4 : 16);
	ctb_watch_top_add(top, false, family, nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO), saddr,
			  ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST)));
}

static int event_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ctb_watch_backend *b = data;
	struct nl_backend *nb = b->priv;

	switch (nlh->nlmsg_type & 0xff) {
	case IPCTNL_MSG_CT_NEW:
		nb->pending[CTB_W_INSERTS]++;
		if (b->top)
			on_new(b->top, nb->ct, nlh);
		break;
	case IPCTNL_MSG_CT_DELETE:
		nb->pending[CTB_W_DESTROYS]++;
		break;
	}
	return MNL_CB_OK;
}

static int nl_drain(struct ctb_watch_backend *b)
{
	struct nl_backend *nb = b->priv;

	for (;;) {
		ssize_t n = recv(mnl_socket_get_fd(nb->events), nb->buf, MNL_SOCKET_BUFFER_SIZE,
				 MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			/* The socket overran: some events are gone, how many is unknown. */
			if (errno == ENOBUFS) {
				nb->pending[CTB_W_LOST]++;
				continue;
			}
			return -errno;
		}
		mnl_cb_run(nb->buf, n, 0, 0, event_cb, b);
	}
	return nb->have_bpf ? ctb_watch_bpf_drain(&nb->bpf) : 0;
}

static int read_stats(struct nl_backend *nb, uint64_t delta[CTB_CTSTATS])
{
	uint64_t *values = NULL;
	uint8_t *present = NULL;
	size_t cpus = 0;
	int ret = ctb_ctstats_percpu(&values, &present, &cpus);

	if (!ret)
		ret = ctb_rates_update(&nb->stats, values, present, cpus, delta);
	free(values);
	free(present);
	return ret;
}

static int nl_read(struct ctb_watch_backend *b, uint64_t delta[CTB_W_METRICS])
{
	struct nl_backend *nb = b->priv;
	uint64_t st[CTB_CTSTATS] = { 0 };
	int ret = nl_drain(b);

	if (!ret)
		ret = read_stats(nb, st);
	if (ret)
		return ret;
	if (nb->have_bpf) {
		uint64_t d[CTB_CT_COUNTERS] = { 0 };

		ret = ctb_watch_bpf_read(&nb->bpf, d);
		if (ret)
			return ret;
		nb->pending[CTB_W_LOST] += d[CTB_CT_LOST];
	}
	for (int m = 0; m < CTB_W_METRICS; m++) {
		delta[m] += nb->pending[m];
		nb->pending[m] = 0;
	}
	delta[CTB_W_DROPS] += st[CTB_CTSTAT_DROP];
	delta[CTB_W_EARLY_DROPS] += st[CTB_CTSTAT_EARLY_DROP];
	delta[CTB_W_INSERT_FAILED] += st[CTB_CTSTAT_INSERT_FAILED];
	return 0;
}

static void nl_close(struct ctb_watch_backend *b)
{
	struct nl_backend *nb = b->priv;

	if (!nb)
		return;
	if (nb->have_bpf)
		ctb_watch_bpf_close(&nb->bpf);
	if (nb->events)
		mnl_socket_close(nb->events);
	if (nb->ct)
		nfct_destroy(nb->ct);
	ctb_rates_free(&nb->stats);
	free(nb->buf);
	free(nb);
	b->priv = NULL;
}

/* nf_conntrack_events of this namespace: 0 means no NEW or DESTROY events. */
static bool events_disabled(void)
{
	FILE *f = fopen("/proc/sys/net/netfilter/nf_conntrack_events", "re");
	int v = 1;

	if (!f)
		return false;
	if (fscanf(f, "%d", &v) != 1)
		v = 1;
	fclose(f);
	return v == 0;
}

/*
 * Does skb:kfree_skb carry a drop reason with SKB_DROP_REASON_NETFILTER_DROP (Linux
 * 5.17)? Before, the tracepoint has no third argument and the enum is missing: the
 * program would fail to load, with a verifier dump under -v and a bare errno without.
 */
static bool kfree_skb_has_reason(void)
{
	struct btf *btf = btf__load_vmlinux_btf();
	const struct btf_type *t;
	bool found = false;
	int id;

	if (!btf)
		return true; /* no BTF to ask: let the load say */
	id = btf__find_by_name_kind(btf, "skb_drop_reason", BTF_KIND_ENUM);
	t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	for (int i = 0; t && i < btf_vlen(t) && !found; i++)
		found = !strcmp(btf__name_by_offset(btf, btf_enum(t)[i].name_off),
				"SKB_DROP_REASON_NETFILTER_DROP");
	btf__free(btf);
	return found;
}

/* skb:kfree_skb for drop detail; on failure drops are still counted, not attributed. */
static void open_drop_detail(struct ctb_watch_backend *b, struct nl_backend *nb, uint32_t netns)
{
	int ret;

	if (!kfree_skb_has_reason()) {
		snprintf(b->drop_detail_why, sizeof(b->drop_detail_why),
			 "skb:kfree_skb has no drop reason on this kernel (Linux 5.17)");
		return;
	}
	ret = ctb_watch_bpf_open(&nb->bpf, netns, b->top);
	if (!ret) {
		bpf_program__set_autoload(nb->bpf.skel->progs.kfree_skb_nf_drop, true);
		ret = ctb_watch_bpf_load(&nb->bpf);
	}
	if (!ret)
		ret = ct_probes__attach(nb->bpf.skel);
	if (ret) {
		snprintf(b->drop_detail_why, sizeof(b->drop_detail_why),
			 "the skb:kfree_skb tracepoint did not load: %s", strerror(-ret));
		ctb_watch_bpf_close(&nb->bpf);
		return;
	}
	nb->have_bpf = true;
	b->poll_fds[1] = ctb_watch_bpf_poll_fd(&nb->bpf);
}

int ctb_watch_netlink_open(struct ctb_watch_backend *b, uint32_t netns, char *why, size_t whylen)
{
	struct nl_backend *nb = calloc(1, sizeof(*nb));
	int rcvbuf = EVENT_RCVBUF, ret;
	uint64_t ignore[CTB_CTSTATS] = { 0 };

	b->kind = CTB_WATCH_NETLINK;
	b->priv = nb;
	b->read = nl_read;
	b->drain = nl_drain;
	b->close = nl_close;
	b->poll_fds[0] = b->poll_fds[1] = -1;
	for (int m = 0; m < CTB_W_METRICS; m++)
		b->avail[m] = true;
	if (!nb || !(nb->buf = malloc(MNL_SOCKET_BUFFER_SIZE)) || !(nb->ct = nfct_new())) {
		ret = -ENOMEM;
		snprintf(why, whylen, "%s", strerror(ENOMEM));
		goto fail;
	}
	ret = ctb_rates_init(&nb->stats, CTB_CTSTATS, false, 32); /* the kernel's are 32-bit */
	if (ret)
		goto fail;
	nb->events = mnl_socket_open(NETLINK_NETFILTER);
	if (!nb->events ||
	    mnl_socket_bind(nb->events, NF_NETLINK_CONNTRACK_NEW | NF_NETLINK_CONNTRACK_DESTROY,
			    MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		snprintf(why, whylen, "cannot subscribe to conntrack events: %s", strerror(-ret));
		goto fail;
	}
	setsockopt(mnl_socket_get_fd(nb->events), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
		   sizeof(rcvbuf));
	b->poll_fds[0] = mnl_socket_get_fd(nb->events);
	if (events_disabled()) {
		static const int from_events[] = { CTB_W_INSERTS, CTB_W_DESTROYS };

		for (size_t i = 0; i < sizeof(from_events) / sizeof(from_events[0]); i++) {
			b->avail[from_events[i]] = false;
			snprintf(b->why[from_events[i]], sizeof(b->why[0]),
				 "net.netfilter.nf_conntrack_events is 0 in this namespace");
		}
	}
	/* The baseline of the kernel's counters, which predate us. */
	ret = read_stats(nb, ignore);
	if (ret) {
		snprintf(why, whylen, "cannot read conntrack statistics: %s", strerror(-ret));
		goto fail;
	}
	if (b->top)
		open_drop_detail(b, nb, netns);
	else
		snprintf(b->drop_detail_why, sizeof(b->drop_detail_why), "not asked for");
	return 0;
fail:
	nl_close(b);
	return ret ? ret : -EINVAL;
}
