// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "classifier_maps.h"
#include "ctbypass.h"
#include "intent_log.h"
#include "log.h"
#include "netlink_request.h"
#include "tc_hook.h"
#include "tcx_hook.h"

#ifndef TC_H_CLSACT
#define TC_H_CLSACT TC_H_INGRESS
#endif
#ifndef TC_H_MIN_INGRESS
#define TC_H_MIN_INGRESS 0xFFF2U
#define TC_H_MIN_EGRESS 0xFFF3U
#endif

/* Zeroed in place: libbpf rejects options with non-zero padding. */
static void ingress_hook(struct bpf_tc_hook *hook, int ifindex)
{
	memset(hook, 0, sizeof(*hook));
	hook->sz = sizeof(*hook);
	hook->ifindex = ifindex;
	hook->attach_point = BPF_TC_INGRESS;
}

static int query(int ifindex, __u32 handle, __u32 *prog_id)
{
	struct bpf_tc_hook hook;
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = CTB_TC_PRIORITY);
	int ret;

	ingress_hook(&hook, ifindex);
	ret = bpf_tc_query(&hook, &opts);

	if (ret)
		return ret;
	*prog_id = opts.prog_id;
	return 0;
}

enum ctb_tc_hook ctb_tc_hook_in_use(void)
{
	return ctb_tcx_available() ? CTB_HOOK_TCX : CTB_HOOK_CLSACT;
}

static void prog_name(__u32 id, char name[16])
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	snprintf(name, 16, "id %u", id);
	memset(&info, 0, sizeof(info));
	if (fd < 0)
		return;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.name[0])
		snprintf(name, 16, "%s", info.name);
	close(fd);
}

/* Foreign programs on a tcx hook: how many, and the first one's id. */
struct tcx_foreign {
	unsigned int count;
	__u32 first;
};

static void note_ahead(struct ctb_tc_filter *f, const struct tcx_foreign *ahead)
{
	f->foreign_ahead = ahead->count;
	if (ahead->count)
		prog_name(ahead->first, f->ahead_name);
}

/*
 * Ours on the tcx hook, each with the foreign programs that run before it;
 * ALL counts every foreign program there (all run before any clsact filter).
 */
static size_t find_on_tcx(int ifindex, struct ctb_tc_filter *out, size_t room,
			  struct tcx_foreign *all)
{
	__u32 ids[CTB_TCX_MAX_PROGS];
	size_t found = 0;
	int n = ctb_tcx_list(ifindex, ids, CTB_TCX_MAX_PROGS);

	for (int i = 0; i < n; i++) {
		if (!ctb_prog_is_classifier(ids[i])) {
			if (!all->count++)
				all->first = ids[i];
			continue;
		}
		if (found == room)
			continue;
		memset(&out[found], 0, sizeof(out[found]));
		out[found].ifindex = ifindex;
		out[found].hook = CTB_HOOK_TCX;
		out[found].prog_id = ids[i];
		note_ahead(&out[found], all);
		found++;
	}
	return found;
}

static bool has_clsact(int ifindex);

size_t ctb_tc_find_all(int ifindex, struct ctb_tc_filter out[CTB_TC_MAX_FOUND])
{
	static const __u32 handles[] = { CTB_TC_HANDLE_OWN_QDISC, CTB_TC_HANDLE_SHARED_QDISC };
	struct tcx_foreign tcx = { 0 };
	size_t found = 0;

	if (ctb_tcx_available()) {
		found = find_on_tcx(ifindex, out, CTB_TC_MAX_FOUND, &tcx);
		/* Ours on clsact is an older version's, on a qdisc: mostly none is there. */
		if (!has_clsact(ifindex))
			return found;
	}

	for (size_t i = 0; i < sizeof(handles) / sizeof(handles[0]) && found < CTB_TC_MAX_FOUND;
	     i++) {
		__u32 prog_id;

		/* No clsact, no filter at our priority: all mean "not ours here". */
		if (query(ifindex, handles[i], &prog_id))
			continue;
		memset(&out[found], 0, sizeof(out[found]));
		out[found].ifindex = ifindex;
		out[found].hook = CTB_HOOK_CLSACT;
		out[found].handle = handles[i];
		out[found].prog_id = prog_id;
		/* An older version's filter on a kernel with tcx: every tcx program runs first. */
		note_ahead(&out[found], &tcx);
		found++;
	}
	return found;
}

int ctb_tc_find(int ifindex, struct ctb_tc_filter *out)
{
	struct ctb_tc_filter all[CTB_TC_MAX_FOUND];

	if (!ctb_tc_find_all(ifindex, all))
		return -ENOENT;
	*out = all[0];
	return 0;
}

static int qdisc_kind_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *attr;

	mnl_attr_for_each(attr, nlh, sizeof(struct tcmsg))
		if (mnl_attr_get_type(attr) == TCA_KIND &&
		    !mnl_attr_validate(attr, MNL_TYPE_NUL_STRING))
			snprintf(data, 16, "%s", mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

/* True when IFINDEX has a clsact qdisc (one lookup, not a dump of every device). */
static bool has_clsact(int ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE], kind[16] = "";
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct tcmsg *tcm;

	nlh->nlmsg_type = RTM_GETQDISC;
	/* The kernel answers a single-qdisc GET as a notification: only to ECHO. */
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_ECHO;
	tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = ifindex;
	tcm->tcm_parent = TC_H_CLSACT;
	return !ctb_nl_request(NETLINK_ROUTE, nlh, qdisc_kind_cb, kind) &&
	       !strcmp(kind, "clsact");
}

static int clsact_attach(int ifindex, int prog_fd, bool *added, struct ctb_tc_filter *out)
{
	struct bpf_tc_hook hook;
	struct ctb_tc_filter existing;
	bool created_qdisc = false;
	int ret;

	ingress_hook(&hook, ifindex);
	if (!ctb_tc_find(ifindex, &existing)) {
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = existing.handle,
			    .priority = CTB_TC_PRIORITY, .prog_fd = prog_fd,
			    .flags = BPF_TC_F_REPLACE);

		ret = bpf_tc_attach(&hook, &opts);
		if (ret)
			return ret;
		*added = false;
		*out = existing;
		out->prog_id = opts.prog_id;
		return 0;
	}

	/* About to create a qdisc that is bare until our filter is on it. */
	if (!has_clsact(ifindex)) {
		ret = ctb_intent_note_qdisc(ifindex);
		if (ret)
			return ret;
	}
	ret = bpf_tc_hook_create(&hook);
	if (ret && ret != -EEXIST)
		return ret;
	created_qdisc = !ret;

	LIBBPF_OPTS(bpf_tc_opts, opts,
		    .handle = created_qdisc ? CTB_TC_HANDLE_OWN_QDISC : CTB_TC_HANDLE_SHARED_QDISC,
		    .priority = CTB_TC_PRIORITY, .prog_fd = prog_fd);
	ret = bpf_tc_attach(&hook, &opts);
	if (ret) {
		if (created_qdisc) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
		}
		return ret;
	}
	*added = true;
	memset(out, 0, sizeof(*out));
	out->ifindex = ifindex;
	out->hook = CTB_HOOK_CLSACT;
	out->handle = opts.handle;
	out->prog_id = opts.prog_id;
	return 0;
}

static int prog_id_of(int prog_fd, __u32 *id)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return -errno;
	*id = info.id;
	return 0;
}

static int tcx_attach(int ifindex, int prog_fd, bool *added, struct ctb_tc_filter *out)
{
	struct ctb_tc_filter before[CTB_TC_MAX_FOUND];
	size_t n = ctb_tc_find_all(ifindex, before);
	bool was_there = false;
	__u32 id = 0;
	int ret = prog_id_of(prog_fd, &id);

	if (ret)
		return ret;
	/* Ours alone, and first: swapped in place, without the grace period an
	 * insertion and a removal would each cost (tcx_hook.h). */
	if (n == 1 && before[0].hook == CTB_HOOK_TCX && !before[0].foreign_ahead &&
	    before[0].prog_id != id) {
		ret = ctb_tcx_replace(ifindex, prog_fd, before[0].prog_id);
		if (!ret) {
			*added = false;
			memset(out, 0, sizeof(*out));
			out->ifindex = ifindex;
			out->hook = CTB_HOOK_TCX;
			out->prog_id = id;
			return 0;
		}
		/* Gone meanwhile, or displaced: the general way below. */
	}
	ret = ctb_tcx_attach_first(ifindex, prog_fd);
	if (ret == -EEXIST) {
		/* This very program is on the hook: in front already, or moved there
		 * (the kernel places a program once; a moment without it, covered
		 * by the nftables backstop for local arrivals). */
		was_there = true;
		for (size_t i = 0; i < n; i++)
			if (before[i].hook == CTB_HOOK_TCX && before[i].prog_id == id &&
			    before[i].foreign_ahead) {
				ret = ctb_tcx_detach(ifindex, id);
				if (!ret)
					ret = ctb_tcx_attach_first(ifindex, prog_fd);
				/* Never leave the interface without it: behind the others, then. */
				if (ret && ret != -EEXIST)
					ctb_tcx_attach_last(ifindex, prog_fd);
			}
		if (ret == -EEXIST)
			ret = 0;
	}
	if (ret)
		return ret;
	/* Ours in front: the programs it replaces go, on either hook (on clsact
	 * only ours: a foreign filter may sit at our priority and handle). */
	for (size_t i = 0; i < n; i++) {
		if (before[i].hook == CTB_HOOK_TCX && before[i].prog_id == id)
			continue;
		if (before[i].hook == CTB_HOOK_CLSACT && !ctb_prog_is_classifier(before[i].prog_id))
			continue;
		ret = ctb_tc_detach(&before[i]);
		if (ret) {
			if (!was_there)
				ctb_tcx_detach(ifindex, id);
			return ret;
		}
	}
	*added = !n;
	memset(out, 0, sizeof(*out));
	out->ifindex = ifindex;
	out->hook = CTB_HOOK_TCX;
	out->prog_id = id;
	return 0;
}

int ctb_tc_attach(int ifindex, int prog_fd, bool *added, struct ctb_tc_filter *out)
{
	if (ctb_tc_hook_in_use() == CTB_HOOK_TCX)
		return tcx_attach(ifindex, prog_fd, added, out);
	return clsact_attach(ifindex, prog_fd, added, out);
}

static int count_filter_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct tcmsg *tcm = mnl_nlmsg_get_payload(nlh);

	/* A dump lists each priority once without a handle, then its filters. */
	if (tcm->tcm_handle)
		(*(unsigned int *)data)++;
	return MNL_CB_OK;
}

/* Counts the filters attached under PARENT (clsact ingress or egress) of IFINDEX. */
static int count_filters(int ifindex, __u32 parent, unsigned int *count)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct tcmsg *tcm;

	nlh->nlmsg_type = RTM_GETTFILTER;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = ifindex;
	tcm->tcm_parent = parent;
	*count = 0;
	return ctb_nl_request(NETLINK_ROUTE, nlh, count_filter_cb, count);
}

int ctb_tc_remove_bare_clsact(int ifindex)
{
	struct bpf_tc_hook hook;
	unsigned int in = 0, out = 0;
	int ret;

	if (!has_clsact(ifindex))
		return 0; /* gone with its interface, or never created */
	/* Ours to remove only while nobody else has put a filter on it meanwhile. */
	ret = count_filters(ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS), &in);
	if (!ret)
		ret = count_filters(ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS), &out);
	if (ret)
		return ret; /* cannot tell: the intent log keeps it for later */
	if (in || out) {
		ctb_debug("keeping clsact qdisc on ifindex %d: %u other filters", ifindex, in + out);
		return 0;
	}
	ingress_hook(&hook, ifindex);
	hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
	ret = bpf_tc_hook_destroy(&hook);
	if (ret == -ENOENT || ret == -EINVAL || ret == -ENODEV)
		return 0;
	return ret ? ret : 1;
}

int ctb_tc_detach(const struct ctb_tc_filter *filter)
{
	struct bpf_tc_hook hook;
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = filter->handle, .priority = CTB_TC_PRIORITY);
	int ret;

	if (filter->hook == CTB_HOOK_TCX)
		return ctb_tcx_detach(filter->ifindex, filter->prog_id);
	/* Between the filter going and the qdisc going, the qdisc is bare. */
	if (filter->handle == CTB_TC_HANDLE_OWN_QDISC) {
		ret = ctb_intent_note_qdisc(filter->ifindex);
		if (ret)
			return ret;
	}
	ingress_hook(&hook, filter->ifindex);
	ret = bpf_tc_detach(&hook, &opts);
	if (ret && ret != -ENOENT)
		return ret;
	if (filter->handle != CTB_TC_HANDLE_OWN_QDISC)
		return 0;
	ret = ctb_tc_remove_bare_clsact(filter->ifindex);
	return ret < 0 ? ret : 0;
}
