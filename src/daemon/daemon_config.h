/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The daemon's settings: the same traffic options `attach` takes, and how the
 * daemon runs. They come from an INI file (libinih) whose keys are the long
 * flags' names (`ports = 80,443`), then from the command line, whose flags
 * override the file's values one by one. Both go through ctb_daemon_set, so a
 * key means the same in either place.
 */
#ifndef CTB_DAEMON_CONFIG_H
#define CTB_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stdio.h>
#include "config.h"
#include "guard_settings.h"

#define CTB_DAEMON_CONFIG_DEFAULT "/etc/ctbypass/ctbypass.conf"
#define CTB_DAEMON_VERIFY_DEFAULT 10.0 /* seconds between periodic checks */
#define CTB_DAEMON_METRICS_INTERVAL_DEFAULT 5.0 /* seconds between metrics samples */

/* What counts conntrack's inserts for the metrics. */
enum ctb_daemon_telemetry {
	CTB_TELEMETRY_AUTO, /* fentry, else kprobe, else the kernel's statistics only */
	CTB_TELEMETRY_FENTRY,
	CTB_TELEMETRY_KPROBE,
	CTB_TELEMETRY_STATS, /* no probes: no inserts metric */
};

struct ctb_daemon_settings {
	struct ctb_config cfg; /* ports, upstreams, protocols, mark, iface list */
	char accept[CTB_ACCEPTED_LEN]; /* finding ids to accept, as --accept */
	bool force;
	bool no_flush;
	bool detach_on_stop; /* SIGTERM removes the bypass (default: it stays) */
	double verify_interval; /* seconds; the safety net for changes with no event */
	char metrics_address[64]; /* "ADDR:PORT"; empty: no /metrics ("off") */
	double metrics_interval; /* seconds between samples */
	enum ctb_daemon_telemetry telemetry;
	struct ctb_guard_settings guard; /* the guard-* keys */
};

extern const char *const ctb_daemon_telemetry_names[4];

void ctb_daemon_settings_init(struct ctb_daemon_settings *s);
void ctb_daemon_settings_free(struct ctb_daemon_settings *s);

/* Sets KEY (a long flag's name, without dashes) to VALUE. -EINVAL with ERR. */
int ctb_daemon_set(struct ctb_daemon_settings *s, const char *key, const char *value, char *err,
		   size_t errlen);

/*
 * Reads PATH into S. MUST_EXIST false: a missing file is an empty one (the
 * default path). On a bad file, -EINVAL with ERR "PATH:LINE: what"; -ENOENT
 * or another errno when it cannot be read.
 */
int ctb_daemon_config_read(struct ctb_daemon_settings *s, const char *path, bool must_exist,
			   char *err, size_t errlen);

/* The same from an open stream; PATH names it in messages. */
int ctb_daemon_config_parse(struct ctb_daemon_settings *s, FILE *f, const char *path, char *err,
			    size_t errlen);

/* What only the whole can say (the guard's levels): -EINVAL with ERR. */
int ctb_daemon_settings_check(struct ctb_daemon_settings *s, char *err, size_t errlen);

/* The effective settings, one `key = value` line each, as the file would say them. */
void ctb_daemon_settings_print(FILE *f, const struct ctb_daemon_settings *s);

#endif
