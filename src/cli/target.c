// SPDX-License-Identifier: GPL-2.0
/* Before touching the kernel: the right privileges, in the right namespace. */
#include <errno.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdlib.h>
#include "commands.h"
#include "daemon_claim.h"
#include "daemon_config.h"
#include "intent_log.h"
#include "log.h"
#include "netns.h"
#include "runtime_dir.h"

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

int ctb_begin_change(const struct ctb_context *ctx, const char *command, double wait_seconds,
		     struct ctb_lock *lock)
{
	char err[CTB_ERR_LEN];
	unsigned int removed;
	struct ctb_daemon_owner owner;
	int ret;

	if (!ctx->daemon && ctb_daemon_running(&owner)) {
		/* pid 0: a daemon that has the claim but has not written it yet */
		if (owner.pid)
			ctb_err("%s refused, nothing was changed: a ctbypass daemon (pid %ld) manages "
				"this namespace; change its configuration (%s) and reload it "
				"('systemctl reload ctbypass', or kill -HUP %ld)",
				command, (long)owner.pid,
				owner.config[0] ? owner.config : CTB_DAEMON_CONFIG_DEFAULT,
				(long)owner.pid);
		else
			ctb_err("%s refused, nothing was changed: a ctbypass daemon is starting for "
				"this namespace; change its configuration and reload it",
				command);
		return CTB_EXIT_RUNTIME;
	}
	ret = ctb_lock_acquire(lock, command, wait_seconds >= 0 ? wait_seconds : ctx->wait_seconds,
			       err, sizeof(err));
	if (ret) {
		ctb_err("%s not started, nothing was changed: %s", command, err);
		return CTB_EXIT_RUNTIME;
	}
	ret = ctb_intent_recover(&removed);
	if (ret)
		ctb_warn("could not remove what an interrupted command left: %s", strerror(-ret));
	else if (removed)
		printf("removed %u empty clsact qdisc%s an interrupted command left\n", removed,
		       removed == 1 ? "" : "s");
	return CTB_EXIT_OK;
}

void ctb_end_change(struct ctb_lock *lock, bool ok, bool detached)
{
	/* After a failure, the log stays for the next command to check again. */
	char path[128];

	unsigned int removed;

	/* The log is cleared only once everything it names is resolved: a qdisc
	 * noted and still bare (a removal that failed) is removed now, and one
	 * that cannot be checked stays noted for the next command. */
	if (ok && ctb_intent_recover(&removed))
		ctb_warn("some cleanup is left for the next command ('ctbypass status' says)");
	/* Nothing of ours left: neither is the last look at its backstop. */
	if (ok && detached && !ctb_runtime_path("backstop", path, sizeof(path)))
		unlink(path);
	/* ...nor is what the guard added (guard_record.h). */
	if (ok && detached && !ctb_runtime_path("guarded", path, sizeof(path)))
		unlink(path);
	ctb_lock_release(lock, ok && detached);
}

int ctb_wait_parse(const char *text, double *out, char *err, size_t errlen)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (errno || end == text || *end || !(v >= 0 && v <= 3600)) {
		snprintf(err, errlen, "bad --wait '%s': seconds from 0 to 3600", text);
		return -EINVAL;
	}
	*out = v;
	return 0;
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
