/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `ctbypass daemon`: keeps the namespace's bypass what its configuration says,
 * through the same lock, preflight and reconcile path as `attach`. It applies
 * at start (adopting what a previous run left, with no gap), then repairs
 * whenever the kernel says something changed (a new interface, a deleted
 * qdisc, a flushed ruleset) and, as a safety net, every verify interval.
 */
#ifndef CTB_DAEMON_H
#define CTB_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include "commands.h"
#include "daemon_config.h"

/* Where the settings come from: the file, then the command line's flags over it. */
struct ctb_daemon_source {
	const char *config_path;
	bool config_must_exist; /* --config given: a missing file is an error */
	const char *const *keys; /* the flags, as config keys and values */
	const char *const *values;
	size_t count;
};

/* Reads the file and applies the flags: -EINVAL (bad input) or -errno, with ERR. */
int ctb_daemon_load(const struct ctb_daemon_source *src, struct ctb_daemon_settings *out,
		    char *err, size_t errlen);

/* Runs until SIGTERM or SIGINT; returns an exit code. CTX: the target, entered already. */
int ctb_daemon_run(const struct ctb_context *ctx, const struct ctb_daemon_source *src);

#endif
