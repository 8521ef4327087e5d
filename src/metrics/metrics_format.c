// SPDX-License-Identifier: GPL-2.0
/*
 * The text exposition: every family with its HELP and TYPE once, counters
 * ending in _total, a metric nothing can provide on this kernel left out.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <string.h>
#include "metrics.h"

#ifndef CTB_VERSION
#define CTB_VERSION "unknown"
#endif

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void gauge(FILE *f, const char *name, const char *help, double value)
{
	family(f, name, "gauge", help);
	fprintf(f, "%s %.17g\n", name, value);
}

static void counter(FILE *f, const char *name, const char *help, uint64_t value)
{
	family(f, name, "counter", help);
	fprintf(f, "%s %" PRIu64 "\n", name, value);
}

/* A label value as the format wants it: backslash, quote and newline escaped. */
static void label_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(f, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static const char *proto_name(uint8_t l4proto)
{
	return l4proto == IPPROTO_TCP ? "tcp" : l4proto == IPPROTO_UDP ? "udp" : "any";
}

/* One series of the bypassed families: LABEL is "port" or "upstream". */
static void bypassed_series(FILE *f, const char *suffix, const char *proto, const char *label,
			    const char *value, uint64_t v)
{
	fprintf(f, "ctbypass_bypassed_%s_total{protocol=\"%s\",%s=\"", suffix, proto, label);
	label_value(f, value);
	fprintf(f, "\"} %" PRIu64 "\n", v);
}

/*
 * Classifier counters by port and upstream: the first CTB_METRICS_*_SERIES of
 * each get their own series, the rest one "other" series per protocol.
 */
static void bypassed(FILE *f, const struct ctb_metrics_sample *s, bool bytes)
{
	const char *suffix = bytes ? "bytes" : "packets";
	struct ctb_counter other_port[2] = { 0 }, other_up[2] = { 0 }, shared = { 0 };
	size_t ports[2] = { 0 }, ups = 0;
	bool any_other_port[2] = { false }, any_other_up[2] = { false };

	for (size_t i = 0; i < s->line_count; i++) {
		const struct ctb_counter_line *l = &s->lines[i];
		uint64_t v = bytes ? l->counter.bytes : l->counter.packets;
		int p = l->l4proto == IPPROTO_UDP;
		char text[CTB_UPSTREAM_STRLEN];

		if (!l->upstream && !l->port) {
			shared = l->counter; /* the classifier's own overflow slot */
		} else if (!l->upstream && ports[p] < CTB_METRICS_PORT_SERIES) {
			ports[p]++;
			snprintf(text, sizeof(text), "%u", l->port);
			bypassed_series(f, suffix, proto_name(l->l4proto), "port", text, v);
		} else if (!l->upstream) {
			any_other_port[p] = true;
			other_port[p].packets += l->counter.packets;
			other_port[p].bytes += l->counter.bytes;
		} else if (ups < CTB_METRICS_UPSTREAM_SERIES) {
			ups++;
			ctb_upstream_format(&l->up, text);
			bypassed_series(f, suffix, proto_name(l->l4proto), "upstream", text, v);
		} else {
			any_other_up[p] = true;
			other_up[p].packets += l->counter.packets;
			other_up[p].bytes += l->counter.bytes;
		}
	}
	for (int p = 0; p < 2; p++) {
		const char *proto = p ? "udp" : "tcp";

		if (any_other_port[p])
			bypassed_series(f, suffix, proto, "port", "other",
					bytes ? other_port[p].bytes : other_port[p].packets);
		if (any_other_up[p])
			bypassed_series(f, suffix, proto, "upstream", "other",
					bytes ? other_up[p].bytes : other_up[p].packets);
	}
	if (shared.packets)
		bypassed_series(f, suffix, "any", "port", "other",
				bytes ? shared.bytes : shared.packets);
}

static void conntrack(FILE *f, const struct ctb_metrics_sample *s)
{
	if (s->have_table) {
		gauge(f, "ctbypass_conntrack_entries",
		      "Entries in this network namespace's conntrack table.", (double)s->entries);
		gauge(f, "ctbypass_conntrack_entries_limit",
		      "The table's limit (nf_conntrack_max, shared by all namespaces).",
		      (double)s->limit);
	}
	if (s->have_inserts)
		counter(f, "ctbypass_conntrack_inserts_total",
			"Entries conntrack inserted (confirmed), counted by the probes since the "
			"daemon started.", s->inserts);
	if (s->have_ctstats) {
		counter(f, "ctbypass_conntrack_drops_total",
			"Packets dropped because the table was full (kernel statistic drop).",
			s->drops);
		counter(f, "ctbypass_conntrack_early_drops_total",
			"Entries evicted to make room (kernel statistic early_drop).",
			s->early_drops);
		counter(f, "ctbypass_conntrack_insert_failed_total",
			"Packets dropped because their entry could not be inserted (kernel "
			"statistic insert_failed).", s->insert_failed);
	}
}

static void bypass(FILE *f, const struct ctb_metrics_sample *s)
{
	/* Unknown is absent, never "not attached". */
	if (s->have_attachment)
		gauge(f, "ctbypass_attached", "1 when ctbypass is attached in this namespace.",
		      s->attached);
	if (s->line_count) {
		family(f, "ctbypass_bypassed_packets_total", "counter",
		       "Arrivals the classifier marked to skip conntrack, by port or upstream.");
		bypassed(f, s, false);
		family(f, "ctbypass_bypassed_bytes_total", "counter",
		       "Bytes of the arrivals the classifier marked, by port or upstream.");
		bypassed(f, s, true);
	}
	if (s->have_nft) {
		family(f, "ctbypass_untracked_packets_total", "counter",
		       "Packets ctbypass's nftables rules untracked, by path.");
		fprintf(f, "ctbypass_untracked_packets_total{path=\"arrivals\"} %" PRIu64 "\n"
			   "ctbypass_untracked_packets_total{path=\"departures\"} %" PRIu64 "\n"
			   "ctbypass_untracked_packets_total{path=\"loopback\"} %" PRIu64 "\n",
			(uint64_t)s->arrivals.packets, (uint64_t)s->departures.packets,
			(uint64_t)s->loopback.packets);
	}
	if (s->have_backstop)
		counter(f, "ctbypass_backstop_packets_total",
			"Bypassed arrivals the classifier did not mark, untracked by the backstop "
			"rule.", s->backstop.packets);
}

static void health(FILE *f, const struct ctb_metrics_sample *s)
{
	size_t total = 0;

	if (!s->have_health)
		return;
	for (int k = 0; k < CTB_PROBLEM_KINDS; k++)
		total += s->problems[k];
	if (s->daemon)
		total += s->daemon->preflight_blocking;
	gauge(f, "ctbypass_healthy",
	      "1 when the kernel's state does what ctbypass meant (status lists no problem).",
	      !total);
	family(f, "ctbypass_problems", "gauge", "Problems status reports now, by kind.");
	for (int k = 0; k < CTB_PROBLEM_KINDS; k++) {
		size_t n = s->problems[k];

		if (k == CTB_PROBLEM_PREFLIGHT && s->daemon)
			n += s->daemon->preflight_blocking;
		fprintf(f, "ctbypass_problems{kind=\"%s\"} %zu\n", ctb_problem_kind_names[k], n);
	}
	gauge(f, "ctbypass_interfaces_uncovered",
	      "Interfaces that should carry the classifier and do not.", (double)s->uncovered);
}

static void daemon_state(FILE *f, const struct ctb_metrics_daemon *d)
{
	family(f, "ctbypass_repairs_total", "counter",
	       "Repairs the daemon applied, by what was wrong.");
	for (int r = 0; r < CTB_REPAIR_REASONS; r++)
		fprintf(f, "ctbypass_repairs_total{reason=\"%s\"} %" PRIu64 "\n",
			ctb_repair_reason_name(r), d->repairs[r]);
	gauge(f, "ctbypass_config_reload_success",
	      "1 when the daemon's last configuration reload was applied.", d->reload_ok);
	if (d->have_forecast) {
		family(f, "ctbypass_conntrack_seconds_to_full", "gauge",
		       "Seconds until the conntrack table is full at the last 10 s's fill rate "
		       "(+Inf: not filling).");
		if (isinf(d->seconds_to_full))
			fprintf(f, "ctbypass_conntrack_seconds_to_full +Inf\n");
		else
			fprintf(f, "ctbypass_conntrack_seconds_to_full %.1f\n", d->seconds_to_full);
	}
	if (!d->guard_enabled)
		return;
	family(f, "ctbypass_guard_actions_total", "counter",
	       "What the guard did when the table neared full, by action.");
	for (int a = 0; a < CTB_GUARD_ACTIONS; a++)
		fprintf(f, "ctbypass_guard_actions_total{action=\"%s\"} %" PRIu64 "\n",
			ctb_guard_action_names[a], d->guard_actions[a]);
	gauge(f, "ctbypass_guarded", "Ports and upstreams the guard added that are bypassed now.",
	      (double)d->guarded);
}

int ctb_metrics_write(FILE *f, const struct ctb_metrics_sample *s)
{
	conntrack(f, s);
	bypass(f, s);
	health(f, s);
	if (s->daemon)
		daemon_state(f, s->daemon);
	family(f, "ctbypass_telemetry_backend_info", "gauge",
	       "What counts conntrack's events: fentry, kprobe, or stats (kernel statistics only).");
	fprintf(f, "ctbypass_telemetry_backend_info{backend=\"%s\"} 1\n", s->backend);
	if (s->have_inserts)
		counter(f, "ctbypass_lost_events_total",
			"Probe events lost (ring buffer full, or a return without its entry).",
			s->lost_events);
	gauge(f, "ctbypass_sample_timestamp_seconds",
	      "When these values were read (Unix time): the daemon samples off the request path.",
	      s->taken_at);
	family(f, "ctbypass_build_info", "gauge", "The running ctbypass's version.");
	fputs("ctbypass_build_info{version=\"", f);
	label_value(f, CTB_VERSION);
	fputs("\"} 1\n", f);
	fflush(f);
	return ferror(f) ? -EIO : 0;
}
