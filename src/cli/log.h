/* SPDX-License-Identifier: GPL-2.0 */
/* Messages and exit codes: one line per failure, and what each exit code means. */
#ifndef CTB_LOG_H
#define CTB_LOG_H

enum ctb_exit {
	CTB_EXIT_OK = 0,
	CTB_EXIT_RUNTIME = 1, /* the system refused or failed; nothing was changed */
	CTB_EXIT_USAGE = 2, /* bad command line or input; nothing was changed */
};

/* Size of the buffers parsers write their one-line error message into. */
#define CTB_ERR_LEN 256

extern int ctb_verbose;

__attribute__((format(printf, 1, 2))) void ctb_err(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void ctb_warn(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void ctb_debug(const char *fmt, ...);
/* The daemon's log: a line on stderr with its syslog priority as "<N>", which journald reads. */
__attribute__((format(printf, 2, 3))) void ctb_dlog(int prio, const char *fmt, ...);

#endif
