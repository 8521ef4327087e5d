// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include "tcx_hook.h"

/* enum bpf_cmd, enum bpf_attach_type and flags from the kernel's 6.6 UAPI. */
#define CMD_PROG_ATTACH 8
#define CMD_PROG_DETACH 9
#define CMD_PROG_QUERY 16
#define ATTACH_TCX_INGRESS 46
#define FLAG_REPLACE (1U << 2)
#define FLAG_BEFORE (1U << 3)

/* union bpf_attr for BPF_PROG_ATTACH and BPF_PROG_DETACH, as of 6.6. */
struct tcx_attach_attr {
	__u32 target_ifindex;
	__u32 attach_bpf_fd;
	__u32 attach_type;
	__u32 attach_flags;
	__u32 replace_bpf_fd;
	__u32 relative_fd; /* 0 with FLAG_BEFORE: in front of all */
	__u64 expected_revision;
};

/* union bpf_attr for BPF_PROG_QUERY, as of 6.6. */
struct tcx_query_attr {
	__u32 target_ifindex;
	__u32 attach_type;
	__u32 query_flags;
	__u32 attach_flags;
	__u64 prog_ids __attribute__((aligned(8)));
	__u32 count;
	__u32 pad;
	__u64 prog_attach_flags;
	__u64 link_ids;
	__u64 link_attach_flags;
	__u64 revision;
};

static int sys_bpf(int cmd, void *attr, size_t size)
{
	long ret = syscall(__NR_bpf, cmd, attr, size);

	return ret < 0 ? -errno : 0;
}

int ctb_tcx_list(int ifindex, __u32 *ids, size_t max)
{
	struct tcx_query_attr q;
	int ret;

	memset(&q, 0, sizeof(q));
	q.target_ifindex = (__u32)ifindex;
	q.attach_type = ATTACH_TCX_INGRESS;
	q.prog_ids = (__u64)(unsigned long)ids;
	q.count = (__u32)max;
	ret = sys_bpf(CMD_PROG_QUERY, &q, sizeof(q));
	/* Older tcx kernels say ENOENT for a hook that never held a program. */
	if (ret == -ENOENT)
		return 0;
	/* A full array is not an error to us: the first MAX tell who runs first. */
	if (ret && ret != -ENOSPC)
		return ret;
	return (int)(q.count < max ? q.count : max);
}

bool ctb_tcx_available(void)
{
	static int known = -1;
	__u32 ids[1];

	/* Loopback is ifindex 1 in every namespace. Before 6.6: EINVAL. Any
	 * other failure (no privilege) is not an answer: asked again next time. */
	if (known < 0) {
		int ret = ctb_tcx_list(1, ids, 1);

		if (ret == -EINVAL)
			known = 0;
		else if (ret >= 0)
			known = 1;
		else
			return false;
	}
	return known;
}

static int attach(int ifindex, int prog_fd, __u32 flags)
{
	struct tcx_attach_attr a;

	memset(&a, 0, sizeof(a));
	a.target_ifindex = (__u32)ifindex;
	a.attach_bpf_fd = (__u32)prog_fd;
	a.attach_type = ATTACH_TCX_INGRESS;
	a.attach_flags = flags;
	return sys_bpf(CMD_PROG_ATTACH, &a, sizeof(a));
}

int ctb_tcx_attach_first(int ifindex, int prog_fd)
{
	return attach(ifindex, prog_fd, FLAG_BEFORE);
}

int ctb_tcx_attach_last(int ifindex, int prog_fd)
{
	return attach(ifindex, prog_fd, 0);
}

int ctb_tcx_replace(int ifindex, int prog_fd, __u32 old_id)
{
	struct tcx_attach_attr a;
	int old_fd = bpf_prog_get_fd_by_id(old_id), ret;

	if (old_fd < 0)
		return -errno;
	memset(&a, 0, sizeof(a));
	a.target_ifindex = (__u32)ifindex;
	a.attach_bpf_fd = (__u32)prog_fd;
	a.attach_type = ATTACH_TCX_INGRESS;
	a.attach_flags = FLAG_REPLACE;
	a.replace_bpf_fd = (__u32)old_fd;
	ret = sys_bpf(CMD_PROG_ATTACH, &a, sizeof(a));
	close(old_fd);
	return ret;
}

int ctb_tcx_detach(int ifindex, __u32 prog_id)
{
	struct tcx_attach_attr a;
	int fd = bpf_prog_get_fd_by_id(prog_id), ret;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	memset(&a, 0, sizeof(a));
	a.target_ifindex = (__u32)ifindex;
	a.attach_bpf_fd = (__u32)fd;
	a.attach_type = ATTACH_TCX_INGRESS;
	ret = sys_bpf(CMD_PROG_DETACH, &a, sizeof(a));
	close(fd);
	/* Not on this hook (any more), or the interface is gone with it. */
	return ret == -ENOENT || ret == -ENODEV ? 0 : ret;
}
