// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "classifier_maps.h"
#include "ctbypass.h"
#include "netlink_request.h"
#include "tc_neighbours.h"

#ifndef TC_H_CLSACT
#define TC_H_CLSACT TC_H_INGRESS
#endif
#ifndef TC_H_MIN_INGRESS
#define TC_H_MIN_INGRESS 0xFFF2U
#endif
/* enum bpf_attach_type's BPF_TCX_INGRESS (kernel 6.6); Debian 12's headers predate it. */
#define CTB_BPF_TCX_INGRESS 46
#define TCX_MAX_PROGS 16

/* Program names as the kernel keeps them, cut to 15 characters. */
static void note_name(struct ctb_tc_neighbours *out, const char *name)
{
	if (!strncmp(name, "cil_", 4))
		out->cilium = true;
	if (!strncmp(name, "cali", 4) || strstr(name, "calico"))
		out->calico = true;
	if (!out->example[0] || out->cilium || out->calico)
		snprintf(out->example, sizeof(out->example), "%s", name);
}

static void note_prog(__u32 id, struct ctb_tc_neighbours *out)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	if (fd < 0)
		return;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		note_name(out, info.name);
	close(fd);
}

/* The filter's name (the loader's choice: Cilium's are its program names) and its program's. */
static void parse_bpf_options(const struct nlattr *opts, struct ctb_tc_neighbours *out)
{
	const struct nlattr *attr;

	mnl_attr_for_each_nested(attr, opts) {
		if (mnl_attr_get_type(attr) == TCA_BPF_NAME &&
		    !mnl_attr_validate(attr, MNL_TYPE_NUL_STRING))
			note_name(out, mnl_attr_get_str(attr));
		else if (mnl_attr_get_type(attr) == TCA_BPF_ID &&
			 !mnl_attr_validate(attr, MNL_TYPE_U32))
			note_prog(mnl_attr_get_u32(attr), out);
	}
}

static int filter_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct tcmsg *tcm = mnl_nlmsg_get_payload(nlh);
	struct ctb_tc_neighbours *out = data;
	const struct nlattr *attr;
	__u32 prio;

	if (nlh->nlmsg_type != RTM_NEWTFILTER || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*tcm)))
		return MNL_CB_OK;
	prio = TC_H_MAJ(tcm->tcm_info) >> 16;
	/* A dump lists each priority once without a handle, then its filters. */
	if (!tcm->tcm_handle)
		return MNL_CB_OK;
	if (prio == CTB_TC_PRIORITY && (tcm->tcm_handle == CTB_TC_HANDLE_OWN_QDISC ||
					tcm->tcm_handle == CTB_TC_HANDLE_SHARED_QDISC))
		return MNL_CB_OK; /* ours */
	out->filters++;
	mnl_attr_for_each(attr, nlh, sizeof(*tcm))
		if (mnl_attr_get_type(attr) == TCA_OPTIONS &&
		    !mnl_attr_validate(attr, MNL_TYPE_NESTED))
			parse_bpf_options(attr, out);
	return MNL_CB_OK;
}

static void look_at_tcx(int ifindex, struct ctb_tc_neighbours *out)
{
	__u32 ids[TCX_MAX_PROGS];
	LIBBPF_OPTS(bpf_prog_query_opts, q, .prog_ids = ids, .prog_cnt = TCX_MAX_PROGS);

	/* Kernels without tcx say EINVAL: nothing there. */
	if (bpf_prog_query_opts(ifindex, CTB_BPF_TCX_INGRESS, &q))
		return;
	for (__u32 i = 0; i < q.prog_cnt && i < TCX_MAX_PROGS; i++) {
		if (ctb_prog_is_classifier(ids[i]))
			continue; /* ours */
		note_prog(ids[i], out);
	}
}

int ctb_tc_neighbours(int ifindex, struct ctb_tc_neighbours *out)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct tcmsg *tcm;

	memset(out, 0, sizeof(*out));
	nlh->nlmsg_type = RTM_GETTFILTER;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = ifindex;
	tcm->tcm_parent = TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS);
	look_at_tcx(ifindex, out);
	return ctb_nl_request(NETLINK_ROUTE, nlh, filter_cb, out);
}
