/* SPDX-License-Identifier: GPL-2.0 */
/* The subcommands. Each parses its own options and returns an exit code (log.h). */
#ifndef CTB_COMMANDS_H
#define CTB_COMMANDS_H

#include <stdbool.h>

#include "lock.h"

struct ctb_context {
	const char *netns; /* -n NETNS, or NULL for the current namespace */
	double wait_seconds; /* --wait: how long a change waits for the namespace's lock */
	bool daemon; /* this process is the namespace's daemon (it may change its state) */
};

int ctb_cmd_attach(const struct ctb_context *ctx, int argc, char **argv);
int ctb_cmd_detach(const struct ctb_context *ctx, int argc, char **argv);
int ctb_cmd_ports(const struct ctb_context *ctx, int argc, char **argv);
int ctb_cmd_upstream(const struct ctb_context *ctx, int argc, char **argv);
int ctb_cmd_status(const struct ctb_context *ctx, int argc, char **argv);
int ctb_cmd_doctor(const struct ctb_context *ctx, int argc, char **argv);
int ctb_cmd_watch(const struct ctb_context *ctx, int argc, char **argv);
int ctb_cmd_daemon(const struct ctb_context *ctx, int argc, char **argv);
int ctb_cmd_metrics(const struct ctb_context *ctx, int argc, char **argv);

/*
 * Shared by the commands: checks privileges and joins the target namespace.
 * Returns an exit code, CTB_EXIT_OK to go on.
 */
int ctb_enter_target(const struct ctb_context *ctx);

/*
 * For commands that change state, after ctb_enter_target: takes the
 * namespace's lock (waiting WAIT_SECONDS, or the context's when negative) and
 * removes what an interrupted command left. Returns an exit code. Refuses
 * while a daemon owns the namespace (unless this is that daemon).
 */
int ctb_begin_change(const struct ctb_context *ctx, const char *command, double wait_seconds,
		     struct ctb_lock *lock);
/*
 * Ends a change begun above; OK says it completed or rolled back whole,
 * DETACHED that nothing of ctbypass is left in the namespace.
 */
void ctb_end_change(struct ctb_lock *lock, bool ok, bool detached);

/* Parses --wait SECONDS (0 to 3600, fractions allowed). */
int ctb_wait_parse(const char *text, double *out, char *err, size_t errlen);

struct ctb_attachment;
struct ctb_config;
struct ctb_iface_list;

/* The interfaces for LIST (--iface), or every eligible one when NULL; an exit code. */
int ctb_resolve_ifaces(const char *list, struct ctb_iface_list *ifaces);
/* The interfaces as resolved (names canonical, duplicates once), for the table to record. */
int ctb_record_iface_list(const struct ctb_iface_list *ifaces, struct ctb_config *cfg);

/* Applies CFG (rolling back on failure), prints the outcome, flushes if asked. */
int ctb_apply_and_report(const char *command, struct ctb_attachment *att,
			 const struct ctb_config *cfg, const struct ctb_iface_list *ifaces,
			 bool reload_prog, bool flush);

/*
 * Runs the preflight on TRAFFIC and prints its findings. Refuses (exit code 1)
 * on blocking findings other than those whose ids ACCEPT lists ("id,id", may
 * be NULL), unless FORCE. Records in RECORD what was accepted: the ids added
 * to RECORD->accepted, or RECORD->forced. A DRY_RUN refuses as the real
 * command would, saying so.
 */
int ctb_preflight_gate(const char *command, const struct ctb_config *traffic, bool force,
		       const char *accept, bool dry_run, struct ctb_config *record);

/* Reports a bad option for COMMAND in one line; returns CTB_EXIT_USAGE. */
int ctb_usage_error(const char *command, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
