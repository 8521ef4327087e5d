// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include "ct_stats.h"
#include "daemon_guard.h"
#include "doctor_ctnetlink.h"
#include "doctor_host.h"
#include "guard_pick.h"
#include "log.h"
#include "preflight.h"
#include "watch.h"

/* Candidates looked at per action: the heaviest; the rest hold less than they do. */
#define RANK_MAX 64
/* Verdicts computed ahead at most: a host listening on thousands of ports gets the
 * rest computed when one of them is among the heaviest. */
#define PREPARE_MAX 64
/* Verdicts missing at an action computed then, at most (one reading of the rules). */
#define LATE_MAX 16

struct verdict {
	struct ctb_doctor_cand cand; /* role, protocol, port, address: the key */
	bool ok;
	char why[96];
};

struct ctb_guard_verdict_cache {
	struct verdict *items;
	size_t count, cap;
};

static bool same_traffic(const struct ctb_doctor_cand *a, const struct ctb_doctor_cand *b)
{
	return a->role == b->role && a->l4proto == b->l4proto && a->port == b->port &&
	       (a->role == CTB_ROLE_SERVER ||
		(a->family == b->family && !memcmp(a->addr, b->addr, 16)));
}

static struct verdict *cache_find(struct ctb_guard_verdict_cache *c,
				  const struct ctb_doctor_cand *cand)
{
	for (size_t i = 0; i < c->count; i++)
		if (same_traffic(&c->items[i].cand, cand))
			return &c->items[i];
	return NULL;
}

static struct verdict *cache_add(struct ctb_guard_verdict_cache *c,
				 const struct ctb_doctor_cand *cand)
{
	struct verdict *v = cache_find(c, cand);

	if (v)
		return v;
	if (c->count == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		struct verdict *items = realloc(c->items, cap * sizeof(*items));

		if (!items)
			return NULL;
		c->items = items;
		c->cap = cap;
	}
	v = &c->items[c->count++];
	memset(v, 0, sizeof(*v));
	v->cand = *cand;
	v->cand.entries = 0;
	return v;
}

int ctb_daemon_guard_start(struct ctb_daemon_guard *g, const struct ctb_guard_settings *s,
			   struct ctb_metrics_daemon *state)
{
	int ret;

	memset(g, 0, sizeof(*g));
	g->record = calloc(1, sizeof(*g->record));
	g->verdicts = calloc(1, sizeof(*g->verdicts));
	if (!g->record || !g->verdicts) {
		ctb_daemon_guard_stop(g);
		return -ENOMEM;
	}
	g->state = state;
	ctb_fill_forecast_reset(&g->forecast);
	ctb_daemon_guard_settings(g, s);
	/* What a previous run added stays the guard's: adopted, released as configured. */
	ret = ctb_guard_record_load(g->record);
	if (ret) {
		ctb_dlog(LOG_WARNING, "guard: cannot read what a previous run added (%s): "
				      "starting without it", strerror(-ret));
		g->record->count = 0;
	} else if (g->record->count) {
		ctb_dlog(LOG_NOTICE, "guard: adopting %zu additions of a previous run",
			 g->record->count);
	}
	state->guarded = g->record->count;
	state->have_forecast = false;
	return 0;
}

void ctb_daemon_guard_stop(struct ctb_daemon_guard *g)
{
	if (g->verdicts)
		free(g->verdicts->items);
	free(g->verdicts);
	free(g->record);
	g->verdicts = NULL;
	g->record = NULL;
}

void ctb_daemon_guard_settings(struct ctb_daemon_guard *g, const struct ctb_guard_settings *s)
{
	g->settings = s;
	g->enabled = ctb_guard_enabled(s);
	g->state->guard_enabled = g->enabled;
	/* A reload starts the rate limit and the release clock afresh: the operator acted. */
	ctb_guard_trigger_init(&g->trigger, s->fill, s->release_fill, s->release_minutes);
	g->verdicts->count = 0;
}

void ctb_daemon_guard_prune(struct ctb_daemon_guard *g, const struct ctb_config *cfg)
{
	size_t kept = 0, before = g->record->count;

	for (size_t i = 0; i < g->record->count; i++) {
		const struct ctb_guard_item *it = &g->record->items[i];
		char name[CTB_UPSTREAM_STRLEN + 8];

		if ((cfg->protocols & ctb_protocol_bit(it->cand.l4proto)) &&
		    !ctb_guard_covered(cfg, &it->cand)) {
			g->record->items[kept++] = *it;
			continue;
		}
		ctb_guard_cand_name(&it->cand, name, sizeof(name));
		ctb_dlog(LOG_NOTICE, "guard: %s is the configuration's now: no longer the guard's",
			 name);
	}
	g->record->count = kept;
	if (kept != before && ctb_guard_record_save(g->record))
		ctb_dlog(LOG_WARNING, "guard: cannot save what it added");
	g->state->guarded = kept;
}

/*
 * The table, and with WANT_DROPS the kernel's drop counters (a per-CPU dump:
 * only the guard needs them); false when the table cannot be read.
 */
static bool read_table(bool want_drops, uint64_t *entries, uint64_t *max, bool *have_drops,
		       uint64_t *drops)
{
	int64_t e, m;
	uint64_t sums[CTB_CTSTATS];
	unsigned int cpus;
	bool chain;

	if (ctb_watch_table_size(&e, &m) || e < 0 || m <= 0)
		return false;
	*entries = (uint64_t)e;
	*max = (uint64_t)m;
	*have_drops = want_drops && !ctb_ctstats_sum(sums, &cpus, &chain);
	*drops = *have_drops ? sums[CTB_CTSTAT_DROP] + sums[CTB_CTSTAT_EARLY_DROP] : 0;
	return true;
}

static void forecast_warning(struct ctb_daemon_guard *g, uint64_t entries, uint64_t max,
			     double seconds)
{
	if (!g->warned && seconds < CTB_FORECAST_WARN_S) {
		ctb_dlog(LOG_WARNING, "the conntrack table will be full in about %.0f s at %+.0f "
				      "entries/s (%llu of %llu)",
			 seconds, ctb_fill_forecast_rate(&g->forecast),
			 (unsigned long long)entries, (unsigned long long)max);
		g->warned = true;
	} else if (g->warned && seconds > 2 * CTB_FORECAST_WARN_S) {
		/* Cleared with a margin: a trend hovering at the threshold warns once. */
		g->warned = false;
	}
}

enum ctb_guard_verdict ctb_daemon_guard_sample(struct ctb_daemon_guard *g, long long now_ms,
					       char *why, size_t whylen)
{
	uint64_t entries, max, drops;
	enum ctb_guard_verdict v;
	bool have_drops;
	double seconds;

	g->next_sample_ms = now_ms + (g->enabled ? CTB_GUARD_SAMPLE_MS : CTB_FORECAST_SAMPLE_MS);
	/* Without the guard (nor its additions to release) the forecast needs the size only. */
	if (!read_table(g->enabled || g->record->count, &entries, &max, &have_drops, &drops)) {
		g->state->have_forecast = false;
		return CTB_GUARD_IDLE;
	}
	ctb_fill_forecast_add(&g->forecast, now_ms, entries);
	seconds = ctb_fill_forecast_seconds(&g->forecast, entries, max);
	g->state->have_forecast = true;
	g->state->seconds_to_full = seconds;
	forecast_warning(g, entries, max, seconds);
	if (!g->enabled && !g->record->count)
		return CTB_GUARD_IDLE;
	v = ctb_guard_trigger_sample(&g->trigger, now_ms, entries, max, have_drops, drops,
				     g->record->count > 0, why, whylen);
	/* Turned off by a reload with additions left: it only lets them go. */
	return g->enabled || v == CTB_GUARD_RELEASE ? v : CTB_GUARD_IDLE;
}

/* A candidate's traffic alone, as a configuration on PROTOCOLS' bit for it. */
static int cand_config(const struct ctb_doctor_cand *cand, struct ctb_config *cfg)
{
	return ctb_doctor_cand_config(cand, cfg);
}

/* Verdicts for CANDS[0..N) from one reading of the rules, into the cache. */
static void compute_verdicts(struct ctb_daemon_guard *g, const struct ctb_doctor_cand *cands,
			     size_t n, const char *accept)
{
	struct ctb_config *cfgs = calloc(n ? n : 1, sizeof(*cfgs));
	struct ctb_findings *outs = calloc(n ? n : 1, sizeof(*outs));
	char err[CTB_ERR_LEN];
	size_t made = 0;
	int ret = cfgs && outs ? 0 : -ENOMEM;

	for (; !ret && made < n; made++)
		ret = cand_config(&cands[made], &cfgs[made]);
	if (!ret)
		ret = ctb_preflight_each(cfgs, n, outs, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct verdict *v = cache_add(g->verdicts, &cands[i]);

		if (!v)
			break;
		if (ret) {
			/* Undecided is refused: the guard acts only on a clean preflight. */
			v->ok = false;
			snprintf(v->why, sizeof(v->why), "preflight undecided: %.60s", err);
			continue;
		}
		ctb_findings_accept(&outs[i], accept);
		v->ok = true;
		for (size_t k = 0; k < outs[i].count; k++) {
			const struct ctb_finding *f = &outs[i].items[k];

			if (f->blocking && !f->accepted) {
				v->ok = false;
				snprintf(v->why, sizeof(v->why), "preflight refuses [%s]", f->id);
				break;
			}
		}
	}
	for (size_t i = 0; i < made; i++)
		ctb_config_free(&cfgs[i]);
	if (!ret)
		for (size_t i = 0; i < n; i++)
			ctb_findings_free(&outs[i]);
	free(cfgs);
	free(outs);
}

static void push_cand(struct ctb_doctor_cand *list, size_t *n, const struct ctb_doctor_cand *c)
{
	if (*n < PREPARE_MAX)
		list[(*n)++] = *c;
}

void ctb_daemon_guard_prepare(struct ctb_daemon_guard *g, const struct ctb_config *bypassed,
			      const char *accept)
{
	const struct ctb_guard_settings *s = g->settings;
	static const uint8_t protos[2] = { IPPROTO_TCP, IPPROTO_UDP };
	struct ctb_doctor_cand list[PREPARE_MAX];
	struct ctb_doctor_host host;
	bool have_host = false;
	size_t n = 0;

	g->verdicts->count = 0;
	if (!g->enabled)
		return;
	if (s->ports_auto)
		have_host = !ctb_doctor_host_read(&host);
	for (size_t p = 0; p < 2; p++) {
		struct ctb_doctor_cand c = { .role = CTB_ROLE_SERVER, .l4proto = protos[p] };
		const struct ctb_portset *ports =
			s->ports_auto ? (!have_host ? NULL
					 : protos[p] == IPPROTO_TCP ? &host.listen_tcp
								    : &host.listen_udp)
				      : &s->ports;
		char why[64];

		if (!ports || !(bypassed->protocols & ctb_protocol_bit(protos[p])))
			continue;
		for (uint32_t port = ctb_portset_next(ports, 1); port < CTB_PORTS && n < PREPARE_MAX;
		     port = ctb_portset_next(ports, port + 1)) {
			c.port = (uint16_t)port;
			c.listening = true;
			if (ctb_guard_allows(s, bypassed, &c, why, sizeof(why)))
				push_cand(list, &n, &c);
		}
		for (size_t i = 0; !s->upstreams_auto && i < s->upstreams.count; i++) {
			const struct ctb_upstream *up = &s->upstreams.items[i];
			struct ctb_doctor_cand u = { .role = CTB_ROLE_UPSTREAM,
						     .l4proto = protos[p],
						     .family = up->family,
						     .port = up->port };

			/* A prefix's hosts are known only from the table: decided then. */
			if (up->prefixlen != (up->family == AF_INET ? 32 : 128))
				continue;
			memcpy(u.addr, up->addr, 16);
			if (ctb_guard_allows(s, bypassed, &u, why, sizeof(why)))
				push_cand(list, &n, &u);
		}
	}
	if (have_host)
		ctb_doctor_host_free(&host);
	if (n)
		compute_verdicts(g, list, n, accept);
}

/* Appends to SUMMARY at *USED, keeping it one line within LEN. */
__attribute__((format(printf, 4, 5))) static void say(char *summary, size_t len, size_t *used,
						      const char *fmt, ...)
{
	va_list ap;

	if (*used >= len)
		return;
	va_start(ap, fmt);
	*used += (size_t)vsnprintf(summary + *used, len - *used, fmt, ap);
	va_end(ap);
}

/* Adds CAND, stamped with WHY, to NEXT and says so in SUMMARY. */
static void add_item(struct ctb_guard_record *next, const struct ctb_doctor_cand *cand,
		     const char *why, bool first, char *summary, size_t summarylen, size_t *used)
{
	struct ctb_guard_item *it = &next->items[next->count++];
	char name[CTB_UPSTREAM_STRLEN + 8];

	memset(it, 0, sizeof(*it));
	it->cand = *cand;
	it->entries = cand->entries;
	it->added = (int64_t)time(NULL);
	snprintf(it->why, sizeof(it->why), "%s", why);
	ctb_guard_cand_name(cand, name, sizeof(name));
	say(summary, summarylen, used, "%s%s (%llu entries)", first ? "bypassing " : ", ", name,
	    (unsigned long long)it->entries);
}

/*
 * When no allowed traffic holds entries, the table is full of traffic the
 * guard may not touch, and what it may bypass is being dropped: the ports
 * guard-ports names explicitly (never auto's) that something listens on and
 * whose preflight is clean are bypassed, so at least their new connections
 * get through. At most LISTED_MAX of them.
 */
#define LISTED_MAX 8
static size_t pick_listed(struct ctb_daemon_guard *g, const struct ctb_config *bypassed,
			  const struct ctb_portset host_ports[2], struct ctb_guard_record *next,
			  const char *why, char *summary, size_t summarylen, size_t *used)
{
	const struct ctb_guard_settings *s = g->settings;
	static const uint8_t protos[2] = { IPPROTO_TCP, IPPROTO_UDP };
	size_t n = 0;

	if (s->ports_auto)
		return 0;
	for (size_t p = 0; p < 2; p++)
		for (uint32_t port = ctb_portset_next(&s->ports, 1); port < CTB_PORTS && n < LISTED_MAX;
		     port = ctb_portset_next(&s->ports, port + 1)) {
			struct ctb_doctor_cand c = { .role = CTB_ROLE_SERVER, .l4proto = protos[p],
						     .port = (uint16_t)port, .listening = true };
			const struct verdict *v;
			char no[96];

			if (!ctb_portset_has(&host_ports[p], (uint16_t)port) ||
			    !ctb_guard_allows(s, bypassed, &c, no, sizeof(no)))
				continue;
			v = cache_find(g->verdicts, &c);
			if (!v || !v->ok || next->count == CTB_GUARD_RECORD_MAX)
				continue;
			add_item(next, &c, why, !n, summary, summarylen, used);
			n++;
		}
	if (n)
		say(summary, summarylen, used, " (no allowed traffic held entries: the table is "
		    "full of other traffic; these listen and are allowed)");
	return n;
}

struct dump_state {
	struct ctb_doctor_cands cands;
	const struct ctb_doctor_host *host;
};

static int on_entry(const struct ctb_doctor_entry *e, void *data)
{
	struct dump_state *st = data;

	return ctb_doctor_cands_add(&st->cands, st->host, &e->flow);
}



int ctb_daemon_guard_pick(struct ctb_daemon_guard *g, const struct ctb_config *bypassed,
			  const char *accept, const char *why, struct ctb_guard_record *next,
			  char *summary, size_t summarylen)
{
	const struct ctb_guard_settings *s = g->settings;
	struct dump_state st = { 0 };
	struct ctb_doctor_host host;
	struct ctb_portset *host_ports = calloc(2, sizeof(*host_ports));
	struct ctb_doctor_cand *ranked = NULL, late[LATE_MAX];
	size_t nranked = 0, nlate = 0, picked[RANK_MAX], npicked, used = 0, skipped = 0;
	bool ok[RANK_MAX] = { false };
	uint64_t entries, max, drops;
	bool have_drops;
	int ret;

	summary[0] = '\0';
	*next = *g->record;
	if (!host_ports)
		return -ENOMEM;
	ret = ctb_doctor_host_read(&host);
	if (ret) {
		free(host_ports);
		return ret;
	}
	st.host = &host;
	ret = ctb_doctor_dump(on_entry, &st);
	if (!ret)
		ret = ctb_doctor_cands_rank(&st.cands, &host, RANK_MAX, &ranked, &nranked);
	host_ports[0] = host.listen_tcp;
	host_ports[1] = host.listen_udp;
	ctb_doctor_cands_free(&st.cands);
	ctb_doctor_host_free(&host);
	if (ret) {
		free(host_ports);
		return ret;
	}
	/* The allowlist first; then the verdicts not computed ahead, in one reading. */
	for (size_t i = 0; i < nranked; i++) {
		char no[96];

		ok[i] = ctb_guard_allows(s, bypassed, &ranked[i], no, sizeof(no));
		if (ok[i] && !cache_find(g->verdicts, &ranked[i]) && nlate < LATE_MAX)
			late[nlate++] = ranked[i];
	}
	if (nlate)
		compute_verdicts(g, late, nlate, accept);
	for (size_t i = 0; i < nranked; i++) {
		const struct verdict *v = ok[i] ? cache_find(g->verdicts, &ranked[i]) : NULL;

		if (ok[i] && (!v || !v->ok)) {
			char name[CTB_UPSTREAM_STRLEN + 8];

			ok[i] = false;
			/* Passed over for the preflight: said, since the operator may fix it. */
			if (skipped++ < 3 && ranked[i].entries) {
				ctb_guard_cand_name(&ranked[i], name, sizeof(name));
				say(summary, summarylen, &used, "%s passed over (%s, %llu entries); ",
				    name, v ? v->why : "preflight not run",
				    (unsigned long long)ranked[i].entries);
			}
		}
	}
	if (!read_table(false, &entries, &max, &have_drops, &drops)) {
		free(ranked);
		free(host_ports);
		return -EIO;
	}
	npicked = ctb_guard_choose(ranked, ok, nranked, entries, max, s->release_fill, picked);
	for (size_t k = 0; k < npicked && next->count < CTB_GUARD_RECORD_MAX; k++)
		add_item(next, &ranked[picked[k]], why, !k, summary, summarylen, &used);
	if (!npicked)
		npicked = pick_listed(g, bypassed, host_ports, next, why, summary, summarylen, &used);
	if (!npicked)
		say(summary, summarylen, &used, "nothing allowed holds entries (%zu candidates "
		    "looked at)", nranked);
	free(ranked);
	free(host_ports);
	return (int)npicked;
}

void ctb_daemon_guard_commit(struct ctb_daemon_guard *g, const struct ctb_guard_record *next)
{
	*g->record = *next;
	g->state->guarded = next->count;
	/* The flush moved the level at once: the trend starts again from here. */
	ctb_fill_forecast_reset(&g->forecast);
	if (ctb_guard_record_save(g->record))
		ctb_dlog(LOG_WARNING, "guard: cannot save what it added: a restart would not "
				      "know it");
	if (!next->count)
		ctb_guard_trigger_released(&g->trigger);
}
