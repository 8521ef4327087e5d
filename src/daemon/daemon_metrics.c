// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "daemon_metrics.h"
#include "health.h"
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
		int ret = -errno;

		snprintf(err, errlen, "cannot read this namespace's inode: %s", strerror(-ret));
		return ret;
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
	/* The daemon's own state (the guard's, set before) is kept. */
	struct ctb_metrics_daemon state = m->state;
	int ret;

	memset(m, 0, sizeof(*m));
	m->state = state;
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

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ctb_daemon_metrics_observe(struct ctb_daemon_metrics *m, const struct ctb_attachment *att,
				const struct ctb_health *health)
{
	struct ctb_daemon_look *look = &m->look;
	__u32 prog_id = att->prog_count ? att->progs[0].id : 0;

	if (!m->server)
		return;
	memset(&look->part, 0, sizeof(look->part));
	ctb_metrics_from_attachment(&look->part, att, health);
	ctb_metrics_sample_free(&look->part); /* the counters are read at each sample */
	ctb_config_free(&look->cfg);
	ctb_config_init(&look->cfg);
	if (ctb_config_copy(&look->cfg, &att->nft.cfg))
		prog_id = 0; /* out of memory: no counters rather than wrong ones */
	/* Kept open across looks: reopened only when another classifier runs. */
	if (prog_id != look->prog_id || !look->have_maps) {
		if (look->have_maps)
			ctb_maps_close(&look->maps);
		look->have_maps = prog_id && !ctb_maps_open_from_prog(prog_id, &look->maps);
		look->prog_id = look->have_maps ? prog_id : 0;
	}
	look->at_ms = mono_ms();
}

/* A look of our own, as `status` makes it (without the lock: nothing is changed). */
static void look_now(struct ctb_daemon_metrics *m)
{
	struct ctb_attachment att;
	struct ctb_health health;
	char err[CTB_ERR_LEN];

	if (ctb_attachment_find(&att, err, sizeof(err))) {
		ctb_debug("metrics: cannot read the attachment: %s", err);
		/* Unknown now: left out of the samples, not the last look served as new. */
		memset(&m->look.part, 0, sizeof(m->look.part));
		m->look.at_ms = mono_ms();
	} else {
		bool ok = !ctb_health_check(&att, &health);

		ctb_daemon_metrics_observe(m, &att, ok ? &health : NULL);
		ctb_health_free(&health);
	}
	ctb_attachment_free(&att);
}

/* The last look's part, with the kernel's statistics read now. */
static void sample_from_look(struct ctb_metrics_sample *s, const struct ctb_daemon_look *look)
{
	struct ctb_metrics_sample kernel;

	ctb_metrics_collect_kernel(&kernel);
	*s = look->part;
	s->lines = NULL;
	s->line_count = 0;
	s->have_table = kernel.have_table;
	s->entries = kernel.entries;
	s->limit = kernel.limit;
	s->have_ctstats = kernel.have_ctstats;
	s->drops = kernel.drops;
	s->early_drops = kernel.early_drops;
	s->insert_failed = kernel.insert_failed;
	s->taken_at = kernel.taken_at;
}

void ctb_daemon_metrics_refresh(struct ctb_daemon_metrics *m, long long look_max_age_ms)
{
	struct ctb_daemon_look *look = &m->look;
	struct ctb_metrics_sample s;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (!m->server)
		return;
	if (!look->at_ms || mono_ms() - look->at_ms >= look_max_age_ms)
		look_now(m);
	if (m->have_probes) {
		uint64_t delta[CTB_W_METRICS] = { 0 };

		if (!m->probes.read(&m->probes, delta)) {
			m->inserts += delta[CTB_W_INSERTS];
			m->lost_events += delta[CTB_W_LOST];
		}
	}
	sample_from_look(&s, look);
	if (look->have_maps && s.attached)
		ctb_maps_read_counters(&look->maps, &look->cfg, &s.lines, &s.line_count);
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
	if (m->look.have_maps)
		ctb_maps_close(&m->look.maps);
	m->look.have_maps = false;
	ctb_config_free(&m->look.cfg);
	ctb_metrics_server_stop(m->server);
	m->server = NULL;
	if (m->have_probes)
		m->probes.close(&m->probes);
	m->have_probes = false;
}
