// SPDX-License-Identifier: GPL-2.0
/*
 * The tests' view of an interface's tcx ingress hook (kernel 6.6 and later),
 * which neither `tc` nor Debian 12's bpftool (7.1) shows, and a way to put
 * another tool's program on it the way such tools do (without a bpf_link, in
 * front of everything), independent of ctbypass's own code.
 *
 * Usage (in the interface's namespace):
 *   tcx_tool list DEV          one line per program, in the order they run: NAME ID
 *   tcx_tool dump              the same for every interface: DEV NAME ID (nothing without tcx)
 *   tcx_tool front DEV OBJ     loads OBJ's first program and puts it in front; prints its id
 *   tcx_tool detach DEV ID     takes program ID off the hook
 *   tcx_tool available         exit 0 when the kernel has tcx
 * Exit: 0 done, 1 failed, 2 usage, 3 no tcx in this kernel.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* The kernel's 6.6 UAPI, which Debian 12's headers predate. */
#define CMD_PROG_ATTACH 8
#define CMD_PROG_DETACH 9
#define CMD_PROG_QUERY 16
#define TCX_INGRESS 46
#define F_BEFORE (1U << 3)

struct attach_attr {
	__u32 ifindex, prog_fd, type, flags, replace_fd, relative;
	__u64 revision;
};

struct query_attr {
	__u32 ifindex, type, query_flags, attach_flags;
	__u64 prog_ids __attribute__((aligned(8)));
	__u32 count, pad;
	__u64 prog_attach_flags, link_ids, link_attach_flags, revision;
};

static int sys_bpf(int cmd, void *attr, size_t size)
{
	return syscall(__NR_bpf, cmd, attr, size) < 0 ? -errno : 0;
}

static int list(int ifindex, const char *dev, int print)
{
	__u32 ids[64];
	struct query_attr q = { .ifindex = (__u32)ifindex, .type = TCX_INGRESS,
				.prog_ids = (__u64)(unsigned long)ids, .count = 64 };
	int ret = sys_bpf(CMD_PROG_QUERY, &q, sizeof(q));

	if (ret == -EINVAL)
		return 3;
	/* Older tcx kernels: a hook that never held a program; or an interface
	 * gone since it was listed (a dump during churn). */
	if (ret == -ENOENT || ret == -ENODEV)
		return 0;
	if (ret) {
		fprintf(stderr, "tcx_tool: query: %s\n", strerror(-ret));
		return 1;
	}
	for (__u32 i = 0; print && i < q.count && i < 64; i++) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(ids[i]);

		memset(&info, 0, sizeof(info));
		if (dev)
			printf("%s ", dev);
		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
			printf("%s %u\n", info.name, ids[i]);
		else
			printf("? %u\n", ids[i]);
		if (fd >= 0)
			close(fd);
	}
	return 0;
}

static int front(int ifindex, const char *path)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *prog;
	struct attach_attr a = { .ifindex = (__u32)ifindex, .type = TCX_INGRESS,
				 .flags = F_BEFORE };
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int ret;

	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "tcx_tool: cannot load %s\n", path);
		return 1;
	}
	prog = bpf_object__next_program(obj, NULL);
	a.prog_fd = (__u32)bpf_program__fd(prog);
	ret = sys_bpf(CMD_PROG_ATTACH, &a, sizeof(a));
	if (ret) {
		fprintf(stderr, "tcx_tool: attach: %s\n", strerror(-ret));
		return ret == -EINVAL ? 3 : 1;
	}
	memset(&info, 0, sizeof(info));
	bpf_obj_get_info_by_fd((int)a.prog_fd, &info, &len);
	printf("%u\n", info.id);
	/* The hook holds the program now: it outlives this process. */
	bpf_object__close(obj);
	return 0;
}

static int detach(int ifindex, __u32 id)
{
	struct attach_attr a = { .ifindex = (__u32)ifindex, .type = TCX_INGRESS };
	int fd = bpf_prog_get_fd_by_id(id), ret;

	if (fd < 0) {
		fprintf(stderr, "tcx_tool: no program %u\n", id);
		return 1;
	}
	a.prog_fd = (__u32)fd;
	ret = sys_bpf(CMD_PROG_DETACH, &a, sizeof(a));
	close(fd);
	if (ret)
		fprintf(stderr, "tcx_tool: detach: %s\n", strerror(-ret));
	return ret ? 1 : 0;
}

static int dump(void)
{
	struct if_nameindex *all = if_nameindex(), *it;
	int ret = 0;

	if (!all)
		return 1;
	for (it = all; it->if_index && ret != 1; it++) {
		ret = list((int)it->if_index, it->if_name, 1);
		if (ret == 3) {
			ret = 0; /* no tcx: nothing on it */
			break;
		}
	}
	if_freenameindex(all);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned int ifindex;

	if (argc == 2 && !strcmp(argv[1], "available"))
		return list(1, NULL, 0);
	if (argc == 2 && !strcmp(argv[1], "dump"))
		return dump();
	if (argc < 3)
		goto usage;
	ifindex = if_nametoindex(argv[2]);
	if (!ifindex) {
		fprintf(stderr, "tcx_tool: no interface %s\n", argv[2]);
		return 1;
	}
	if (argc == 3 && !strcmp(argv[1], "list"))
		return list((int)ifindex, NULL, 1);
	if (argc == 4 && !strcmp(argv[1], "front"))
		return front((int)ifindex, argv[3]);
	if (argc == 4 && !strcmp(argv[1], "detach"))
		return detach((int)ifindex, (__u32)strtoul(argv[3], NULL, 10));
usage:
	fprintf(stderr, "usage: tcx_tool list DEV | dump | front DEV OBJ | detach DEV ID | available\n");
	return 2;
}
