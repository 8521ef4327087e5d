// SPDX-License-Identifier: GPL-2.0
/* Before touching the kernel: the right privileges, in the right namespace. */
#include <errno.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "commands.h"
#include "log.h"
#include "netns.h"

static bool has_capability(int cap)
{
	struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { 0 };

	if (syscall(SYS_capget, &header, data))
		return false;
	return data[cap / 32].effective & (1u << (cap % 32));
}

int ctb_enter_target(const struct ctb_context *ctx)
{
	/* NET_ADMIN for TC and nftables; SYS_ADMIN for setns and BPF objects by id. */
	if (!has_capability(CAP_NET_ADMIN) || !has_capability(CAP_SYS_ADMIN)) {
		ctb_err("needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN); try sudo");
		return CTB_EXIT_RUNTIME;
	}
	if (ctx->netns) {
		int ret = ctb_netns_enter(ctx->netns);

		if (ret)
			return ret == -ENOENT || ret == -EINVAL ? CTB_EXIT_USAGE : CTB_EXIT_RUNTIME;
	}
	return CTB_EXIT_OK;
}

int ctb_usage_error(const char *command, const char *fmt, ...)
{
	va_list ap;

	fputs("ctbypass: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'ctbypass %s --help')\n", command);
	return CTB_EXIT_USAGE;
}
