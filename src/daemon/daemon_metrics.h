/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The daemon's metrics: the /metrics server, the probes that count inserts,
 * and what only the daemon knows (repairs, reloads, the preflight's verdict).
 * The daemon's loop samples every metrics-interval; scrapes read the last sample.
 */
#ifndef CTB_DAEMON_METRICS_H
#define CTB_DAEMON_METRICS_H

#include <stdbool.h>
#include "daemon_config.h"
#include "metrics.h"
#include "metrics_http.h"
#include "attachment.h"
#include "watch.h"

/*
 * The last look at what is attached: the daemon's own (each reconcile reads it
 * whole), or the metrics' when those are older than the verify interval. A
 * sample between looks reads only the kernel's statistics and the classifier's
 * counters, through maps kept open: reading the nftables sets of 65,535 ports
 * every few seconds would cost more than the rest of the daemon.
 */
struct ctb_daemon_look {
	long long at_ms; /* CLOCK_MONOTONIC; 0: none yet */
	struct ctb_metrics_sample part; /* attached, nftables counters, health; no lines */
	struct ctb_config cfg; /* what the classifier's counter slots stand for */
	struct ctb_maps maps;
	bool have_maps;
	__u32 prog_id;
};

struct ctb_daemon_metrics {
	struct ctb_metrics_server *server; /* NULL: metrics-address is off */
	struct ctb_watch_backend probes;
	bool have_probes;
	const char *backend; /* "fentry", "kprobe" or "stats" */
	uint64_t inserts, lost_events; /* counted by the probes since start */
	struct ctb_metrics_daemon state;
	struct ctb_daemon_look look;
};

/*
 * Opens the probes S->telemetry asks for (auto: the best that loads, else the
 * kernel's statistics only) and listens on S->metrics_address. -errno with
 * ERR when the address cannot be served or the requested probes do not load.
 */
int ctb_daemon_metrics_start(struct ctb_daemon_metrics *m, const struct ctb_daemon_settings *s,
			     char *err, size_t errlen);

/* Keeps what the daemon just read (ATT, judged HEALTH) as the last look. */
void ctb_daemon_metrics_observe(struct ctb_daemon_metrics *m, const struct ctb_attachment *att,
				const struct ctb_health *health);

/*
 * Samples the namespace and publishes the exposition; looks at the attachment
 * itself first when the last look is older than LOOK_MAX_AGE_MS.
 */
void ctb_daemon_metrics_refresh(struct ctb_daemon_metrics *m, long long look_max_age_ms);

void ctb_daemon_metrics_stop(struct ctb_daemon_metrics *m);

#endif
