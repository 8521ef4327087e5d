// SPDX-License-Identifier: GPL-2.0
/*
 * Only the network namespace is joined. Nothing here reads /sys or bpffs after
 * the switch (both would still show the caller's namespace); interfaces,
 * filters, nftables and conntrack are all reached through netlink sockets,
 * which belong to the namespace they are opened in.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "netns.h"

int ctb_netns_enter(const char *name)
{
	char path[256];
	int fd, ret = 0;

	if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..") ||
	    snprintf(path, sizeof(path), "/run/netns/%s", name) >= (int)sizeof(path)) {
		ctb_err("bad namespace name '%s'", name);
		return -EINVAL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			ctb_err("network namespace '%s' not found (see 'ip netns list')", name);
		else
			ctb_err("cannot open network namespace '%s': %s", name, strerror(-ret));
		return ret;
	}
	if (setns(fd, CLONE_NEWNET)) {
		ret = -errno;
		ctb_err("cannot enter network namespace '%s': %s", name, strerror(-ret));
	}
	close(fd);
	return ret;
}
