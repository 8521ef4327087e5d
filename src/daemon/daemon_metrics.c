// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "daemon_metrics.h"
#include "log.h"

/* The probes asked for: -errno with WHY when none loads (auto falls back to none, 0). */
static int open_probes(struct ctb_daemon_metrics *m, enum ctb_daemon_telemetry want, char *err,
		       size_t errlen)
{
	static const enum ctb_watch_backend_kind order[] = { CTB_WATCH_FENTRY, CTB_WATCH_KPROBE };
	char why[2][200] = { "", "" };
	struct stat ns;

	m->backend = "stats";
	if (want == CTB_TELEMETRY_STATS)
		return 0;
	if (stat("/proc/self/ns/net", &ns)) {
		snprintf(err, errlen, "cannot read this namespace's inode: %s", strerror(errno));
		return -errno;
	}
	for (int i = 0; i < 2; i++) {
		if (want == CTB_TELEMETRY_FENTRY && i != 0)
			continue;
		if (want == CTB_TELEMETRY_KPROBE && i != 1)
			continue;
		memset(&m->probes, 0, sizeof(m->probes));
		if (!ctb_watch_probes_open(&m->probes, order[i], (uint32_t)ns.st_ino, why[i],
					   sizeof(why[i]))) {
			m->have_probes = true;
			m->backend = ctb_watch_backend_name(order[i]);
			/* the first read sets the baseline: inserts count from now */
			uint64_t delta[CTB_W_METRICS] = { 0 };

			m->probes.read(&m->probes, delta);
			return 0;
		}
	}
	if (want != CTB_TELEMETRY_AUTO) {
		snprintf(err, errlen, "telemetry %s cannot run: %s",
			 ctb_daemon_telemetry_names[want], want == CTB_TELEMETRY_FENTRY ? why[0] : why[1]);
		return -ENOTSUP;
	}
	/* Not an error: drops still come from the kernel's own statistics. */
	fprintf(stderr, "<6>metrics: no probes load (fentry: %s; kprobe: %s): inserts are not "
			"counted, drops come from the kernel's statistics\n", why[0], why[1]);
	return 0;
}

int ctb_daemon_metrics_start(struct ctb_daemon_metrics *m, const struct ctb_daemon_settings *s,
			     char *err, size_t errlen)
{
	int ret;

	memset(m, 0, sizeof(*m));
	m->state.reload_ok = true;
	m->backend = "stats";
	if (!s->metrics_address[0])
		return 0; /* nothing would read what the probes count */
	/* The address first: a port in use fails before the probes say anything. */
	ret = ctb_metrics_server_start(s->metrics_address, &m->server, err, errlen);
	if (!ret)
		ret = open_probes(m, s->telemetry, err, errlen);
	if (ret)
		ctb_daemon_metrics_stop(m);
	return ret;
}

void ctb_daemon_metrics_refresh(struct ctb_daemon_metrics *m)
{
	struct ctb_metrics_sample s;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (!m->server)
		return;
	if (m->have_probes) {
		uint64_t delta[CTB_W_METRICS] = { 0 };

		if (!m->probes.read(&m->probes, delta)) {
			m->inserts += delta[CTB_W_INSERTS];
			m->lost_events += delta[CTB_W_LOST];
		}
	}
	ctb_metrics_collect(&s, false);
	s.backend = m->backend;
	s.have_inserts = m->have_probes && m->probes.avail[CTB_W_INSERTS];
	s.inserts = m->inserts;
	s.lost_events = m->lost_events;
	s.daemon = &m->state;
	f = open_memstream(&text, &len);
	if (f) {
		int ret = ctb_metrics_write(f, &s);

		if (fclose(f))
			ret = -EIO;
		if (!ret)
			ret = ctb_metrics_server_publish(m->server, text, len);
		if (ret)
			fprintf(stderr, "<4>metrics: cannot publish a sample: %s\n", strerror(-ret));
	}
	free(text);
	ctb_metrics_sample_free(&s);
}

void ctb_daemon_metrics_stop(struct ctb_daemon_metrics *m)
{
	ctb_metrics_server_stop(m->server);
	m->server = NULL;
	if (m->have_probes)
		m->probes.close(&m->probes);
	m->have_probes = false;
}
