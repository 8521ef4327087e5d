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
#include "watch.h"

struct ctb_daemon_metrics {
	struct ctb_metrics_server *server; /* NULL: metrics-address is off */
	struct ctb_watch_backend probes;
	bool have_probes;
	const char *backend; /* "fentry", "kprobe" or "stats" */
	uint64_t inserts, lost_events; /* counted by the probes since start */
	struct ctb_metrics_daemon state;
};

/*
 * Opens the probes S->telemetry asks for (auto: the best that loads, else the
 * kernel's statistics only) and listens on S->metrics_address. -errno with
 * ERR when the address cannot be served or the requested probes do not load.
 */
int ctb_daemon_metrics_start(struct ctb_daemon_metrics *m, const struct ctb_daemon_settings *s,
			     char *err, size_t errlen);

/* Samples the namespace and publishes the exposition. */
void ctb_daemon_metrics_refresh(struct ctb_daemon_metrics *m);

void ctb_daemon_metrics_stop(struct ctb_daemon_metrics *m);

#endif
