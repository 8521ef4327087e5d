// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include "doctor_output.h"

const char *ctb_doctor_finding_kind_name(enum ctb_finding_kind kind)
{
	switch (kind) {
	case CTB_FINDING_NAT:
		return "nat";
	case CTB_FINDING_STATEFUL:
		return "stateful";
	case CTB_FINDING_HELPER:
		return "helper";
	case CTB_FINDING_EPHEMERAL:
		return "ephemeral";
	case CTB_FINDING_ICMP:
		return "icmp";
	case CTB_FINDING_UNANALYZED:
		return "unanalyzed";
	case CTB_FINDING_ANY_SOURCE:
		return "any_source";
	case CTB_FINDING_NAT_TO_BYPASSED:
		return "nat_to_bypassed";
	case CTB_FINDING_RELOAD_WINDOW:
		return "reload_window";
	}
	return "unknown";
}

static const char *proto_name(uint8_t l4proto)
{
	return l4proto == IPPROTO_TCP ? "tcp" : "udp";
}

static double share(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static void addr_text(int family, const uint8_t *addr, char buf[INET6_ADDRSTRLEN])
{
	if (!inet_ntop(family, addr, buf, INET6_ADDRSTRLEN))
		snprintf(buf, INET6_ADDRSTRLEN, "?");
}

static void cand_traffic(const struct ctb_doctor_cand *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (c->role == CTB_ROLE_SERVER) {
		snprintf(buf, len, "%s/%u, a local port this host serves%s", proto_name(c->l4proto),
			 c->port, c->listening ? "" : " (nothing listens on it now)");
		return;
	}
	addr_text(c->family, c->addr, a);
	snprintf(buf, len, "%s to %s%s%s:%u, a remote service this host connects to",
		 proto_name(c->l4proto), c->family == AF_INET6 ? "[" : "", a,
		 c->family == AF_INET6 ? "]" : "", c->port);
}

/* Bytes as "78.0 KiB". */
static void size_text(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	unsigned int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u)
		snprintf(buf, len, "%.1f %s", v, units[u]);
	else
		snprintf(buf, len, "%" PRIu64 " bytes", bytes);
}

static void print_findings(FILE *f, const struct ctb_findings *fs)
{
	if (!fs->count)
		fprintf(f, "     preflight: no findings\n");
	for (size_t i = 0; i < fs->count; i++)
		fprintf(f, "     preflight: %s [%s]: %s\n",
			fs->items[i].blocking ? "refuse" : "warning", fs->items[i].id,
			fs->items[i].message);
}

static void print_table(FILE *f, const struct ctb_doctor_report *r)
{
	const struct ctb_doctor_agg *a = &r->agg;
	bool any = false;

	fprintf(f,
		"conntrack table: %" PRId64 " entries of max %" PRId64 " (%.1f%% full), %" PRId64
		" buckets\n",
		r->sys.count, r->sys.max, share((uint64_t)r->sys.count, (uint64_t)r->sys.max),
		r->sys.buckets);
	fprintf(f,
		"  dumped: %" PRIu64 " (tcp %" PRIu64 ", udp %" PRIu64 ", icmp %" PRIu64
		", other %" PRIu64 ")\n",
		a->entries, a->tcp, a->udp, a->icmp, a->other);
	fprintf(f, "  tcp states:");
	for (int s = 0; s < CTB_DOCTOR_TCP_STATES; s++) {
		if (!a->tcp_states[s])
			continue;
		fprintf(f, "%s %s %" PRIu64, any ? "," : "", ctb_doctor_tcp_state_name(s),
			a->tcp_states[s]);
		any = true;
	}
	fprintf(f, "%s\n", any ? "" : " none");
	fprintf(f,
		"  counters (all CPUs): drop %" PRIu64 ", early_drop %" PRIu64
		", insert_failed %" PRIu64,
		r->stats.drop, r->stats.early_drop, r->stats.insert_failed);
	if (r->stats.have_chaintoolong)
		fprintf(f, ", chaintoolong %" PRIu64, r->stats.chaintoolong);
	fprintf(f, "\n");
	fprintf(f, "  top sources:%s\n", r->nsources ? "" : " none");
	for (size_t i = 0; i < r->nsources; i++) {
		char text[INET6_ADDRSTRLEN];

		addr_text(r->sources[i].family, r->sources[i].addr, text);
		fprintf(f, "    %-40s %8" PRIu64 " (%.1f%%)\n", text, r->sources[i].entries,
			share(r->sources[i].entries, a->entries));
	}
	fprintf(f, "  top destination ports:%s\n", r->nports ? "" : " none");
	for (size_t i = 0; i < r->nports; i++) {
		char text[16];

		snprintf(text, sizeof(text), "%s/%u", proto_name(r->ports[i].l4proto),
			 r->ports[i].port);
		fprintf(f, "    %-40s %8" PRIu64 " (%.1f%%)\n", text, r->ports[i].entries,
			share(r->ports[i].entries, a->entries));
	}
}

static void print_sizing(FILE *f, const struct ctb_doctor_report *r)
{
	const struct ctb_sizing *s = &r->sizing;
	char m1[32], m2[32], m3[32], ram[32];

	size_text(r->sizing_in.ram_bytes, ram, sizeof(ram));
	size_text(s->mem_entries, m1, sizeof(m1));
	size_text(s->mem_cur_max, m2, sizeof(m2));
	size_text(s->mem_rec_max, m3, sizeof(m3));
	fprintf(f, "\nsizing (%s RAM, %u-bit):\n", ram, r->sizing_in.arch_bits);
	fprintf(f, "  seeds' formula %s: %" PRIu64 "\n", CTB_SIZING_SEEDS_FORMULA, s->seeds_max);
	fprintf(f, "  kernel default (%s): %" PRIu64 "\n", CTB_SIZING_KERNEL_FORMULA,
		s->kernel_buckets);
	fprintf(f, "  one entry: %" PRIu64 " bytes (%s)\n", s->objsize,
		s->objsize_assumed ? "assumed: /proc/slabinfo unreadable"
				   : "nf_conntrack objsize, /proc/slabinfo");
	fprintf(f,
		"  memory (entries and buckets): now %s; at the current max %s; at %" PRIu64
		" entries %s\n",
		m1, m2, s->rec_max, m3);
	fprintf(f, "  nf_conntrack_max: %s %" PRIu64 " (now %" PRId64 ")\n",
		s->raise_max ? "raise to" : "keep", s->rec_max, r->sys.max);
	fprintf(f,
		"  nf_conntrack_buckets: %s %" PRIu64 " (now %" PRId64
		"; one per entry, as the kernel's default)\n",
		s->raise_buckets ? "raise to" : "keep", s->rec_buckets, r->sys.buckets);
	if (s->rec_tcp_established)
		fprintf(f,
			"  nf_conntrack_tcp_timeout_established: lower to %" PRIu64 " (now %" PRId64
			"): %s\n",
			s->rec_tcp_established, r->sys.tcp_established, s->timeout_reason);
	if (s->napply) {
		fprintf(f, "  apply now:\n");
		for (unsigned int i = 0; i < s->napply; i++)
			fprintf(f, "    %s\n", s->apply[i]);
		fprintf(f, "  persist in %s:\n", CTB_SIZING_SYSCTL_FILE);
		for (unsigned int i = 0; i < s->npersist; i++)
			fprintf(f, "    %s\n", s->persist[i]);
	}
	if (s->modprobe[0])
		fprintf(f, "  or the buckets at module load, in %s:\n    %s\n",
			CTB_SIZING_MODPROBE_FILE, s->modprobe);
	if (s->netns_note[0])
		fprintf(f, "  note: %s\n", s->netns_note);
}

void ctb_doctor_print_text(FILE *f, const struct ctb_doctor_report *r)
{
	print_table(f, r);
	print_sizing(f, r);
	fprintf(f, "\nbypass candidates (most entries first):%s\n", r->ncand ? "" : " none");
	for (size_t i = 0; i < r->ncand; i++) {
		char traffic[160];

		cand_traffic(&r->cand[i], traffic, sizeof(traffic));
		fprintf(f, "  %zu. %s: %" PRIu64 " entries, would free %.1f%% of the table\n",
			i + 1, traffic, r->cand[i].entries,
			share(r->cand[i].entries, r->agg.entries));
		fprintf(f, "     %s\n", r->cand_checks[i].command);
		print_findings(f, &r->cand_checks[i].findings);
	}
	if (r->cands.forwarded)
		fprintf(f,
			"  (%" PRIu64 " entries of forwarded traffic: ctbypass leaves those "
			"tracked)\n",
			r->cands.forwarded);
	if (r->have_requested) {
		fprintf(f, "\nrequested traffic:\n     %s\n", r->requested.command);
		print_findings(f, &r->requested.findings);
	}
}

/* ---- --json ---- */

static json_t *findings_json(const struct ctb_findings *fs)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < fs->count; i++) {
		const struct ctb_finding *x = &fs->items[i];

		json_array_append_new(arr, json_pack("{s:s,s:s,s:b,s:s,s:s,s:s,s:s,s:s}", "id",
						     x->id, "kind",
						     ctb_doctor_finding_kind_name(x->kind),
						     "blocking", x->blocking, "traffic", x->traffic,
						     "where", x->where, "rule", x->rule, "fix",
						     x->fix, "message", x->message));
	}
	return arr;
}

static json_t *table_json(const struct ctb_doctor_report *r)
{
	const struct ctb_doctor_agg *a = &r->agg;
	json_t *states = json_object(), *sources = json_array(), *ports = json_array();
	json_t *t;

	for (int s = 0; s < CTB_DOCTOR_TCP_STATES; s++)
		json_object_set_new(states, ctb_doctor_tcp_state_name(s),
				    json_integer((json_int_t)a->tcp_states[s]));
	for (size_t i = 0; i < r->nsources; i++) {
		char text[INET6_ADDRSTRLEN];

		addr_text(r->sources[i].family, r->sources[i].addr, text);
		json_array_append_new(sources,
				      json_pack("{s:s,s:I,s:f}", "address", text, "entries",
						(json_int_t)r->sources[i].entries, "share_percent",
						share(r->sources[i].entries, a->entries)));
	}
	for (size_t i = 0; i < r->nports; i++)
		json_array_append_new(
		    ports, json_pack("{s:s,s:i,s:I,s:f}", "protocol",
				     proto_name(r->ports[i].l4proto), "port", (int)r->ports[i].port,
				     "entries", (json_int_t)r->ports[i].entries, "share_percent",
				     share(r->ports[i].entries, a->entries)));
	t = json_pack("{s:I,s:I,s:I,s:f,s:I}", "entries", (json_int_t)r->sys.count, "max",
		      (json_int_t)r->sys.max, "buckets", (json_int_t)r->sys.buckets, "fill_percent",
		      share((uint64_t)r->sys.count, (uint64_t)r->sys.max), "dumped",
		      (json_int_t)a->entries);
	json_object_set_new(t, "protocols",
			    json_pack("{s:I,s:I,s:I,s:I}", "tcp", (json_int_t)a->tcp, "udp",
				      (json_int_t)a->udp, "icmp", (json_int_t)a->icmp, "other",
				      (json_int_t)a->other));
	json_object_set_new(t, "tcp_states", states);
	json_object_set_new(t, "top_sources", sources);
	json_object_set_new(t, "top_destination_ports", ports);
	json_object_set_new(
	    t, "counters",
	    json_pack("{s:I,s:I,s:I,s:o}", "drop", (json_int_t)r->stats.drop, "early_drop",
		      (json_int_t)r->stats.early_drop, "insert_failed",
		      (json_int_t)r->stats.insert_failed, "chaintoolong",
		      r->stats.have_chaintoolong ? json_integer((json_int_t)r->stats.chaintoolong)
						 : json_null()));
	return t;
}

static json_t *lines_json(const char (*lines)[128], unsigned int n)
{
	json_t *arr = json_array();

	for (unsigned int i = 0; i < n; i++)
		json_array_append_new(arr, json_string(lines[i]));
	return arr;
}

static json_t *sizing_json(const struct ctb_doctor_report *r)
{
	const struct ctb_sizing *s = &r->sizing;
	json_t *o = json_pack(
	    "{s:I,s:i,s:b,s:s,s:I,s:s,s:I,s:I,s:I,s:I,s:I,s:b}", "ram_bytes",
	    (json_int_t)r->sizing_in.ram_bytes, "arch_bits", (int)r->sizing_in.arch_bits,
	    "initial_namespace", r->initial_netns, "seeds_formula", CTB_SIZING_SEEDS_FORMULA,
	    "seeds_max", (json_int_t)s->seeds_max, "kernel_formula", CTB_SIZING_KERNEL_FORMULA,
	    "kernel_default_buckets", (json_int_t)s->kernel_buckets, "kernel_default_max",
	    (json_int_t)s->kernel_max, "recommended_max", (json_int_t)s->rec_max,
	    "recommended_buckets", (json_int_t)s->rec_buckets, "entry_bytes",
	    (json_int_t)s->objsize, "entry_bytes_assumed", s->objsize_assumed);

	json_object_set_new(o, "memory_bytes",
			    json_pack("{s:I,s:I,s:I}", "entries", (json_int_t)s->mem_entries,
				      "current_max", (json_int_t)s->mem_cur_max, "recommended_max",
				      (json_int_t)s->mem_rec_max));
	json_object_set_new(o, "tcp_timeout_established",
			    r->sys.tcp_established >= 0 ? json_integer(r->sys.tcp_established)
							: json_null());
	json_object_set_new(o, "recommended_tcp_timeout_established",
			    s->rec_tcp_established
				? json_integer((json_int_t)s->rec_tcp_established)
				: json_null());
	json_object_set_new(o, "timeout_reason",
			    s->timeout_reason[0] ? json_string(s->timeout_reason) : json_null());
	json_object_set_new(o, "apply", lines_json(s->apply, s->napply));
	json_object_set_new(o, "persist_file", json_string(CTB_SIZING_SYSCTL_FILE));
	json_object_set_new(o, "persist_lines", lines_json(s->persist, s->npersist));
	json_object_set_new(o, "modprobe_file", json_string(CTB_SIZING_MODPROBE_FILE));
	json_object_set_new(o, "modprobe_line",
			    s->modprobe[0] ? json_string(s->modprobe) : json_null());
	json_object_set_new(o, "note", s->netns_note[0] ? json_string(s->netns_note) : json_null());
	return o;
}

static json_t *candidate_json(const struct ctb_doctor_report *r, size_t i)
{
	const struct ctb_doctor_cand *c = &r->cand[i];
	json_t *o = json_pack(
	    "{s:s,s:s,s:i,s:I,s:f,s:s}", "role", c->role == CTB_ROLE_SERVER ? "server" : "upstream",
	    "protocol", proto_name(c->l4proto), "port", (int)c->port, "entries",
	    (json_int_t)c->entries, "share_percent", share(c->entries, r->agg.entries), "command",
	    r->cand_checks[i].command);

	if (c->role == CTB_ROLE_UPSTREAM) {
		char text[CTB_UPSTREAM_STRLEN];

		ctb_upstream_format(&r->cand_checks[i].cfg.upstreams.items[0], text);
		json_object_set_new(o, "upstream", json_string(text));
		json_object_set_new(o, "listening", json_null());
	} else {
		json_object_set_new(o, "upstream", json_null());
		json_object_set_new(o, "listening", json_boolean(c->listening));
	}
	json_object_set_new(o, "findings", findings_json(&r->cand_checks[i].findings));
	return o;
}

static json_t *requested_json(const struct ctb_doctor_report *r)
{
	const struct ctb_config *cfg = &r->requested.cfg;
	json_t *ports = json_array(), *ups = json_array();

	for (uint32_t p = 1; p < CTB_PORTS; p++)
		if (ctb_portset_has(&cfg->ports, (uint16_t)p))
			json_array_append_new(ports, json_integer(p));
	for (size_t i = 0; i < cfg->upstreams.count; i++) {
		char text[CTB_UPSTREAM_STRLEN];

		ctb_upstream_format(&cfg->upstreams.items[i], text);
		json_array_append_new(ups, json_string(text));
	}
	return json_pack("{s:o,s:o,s:s,s:o}", "ports", ports, "upstreams", ups, "command",
			 r->requested.command, "findings", findings_json(&r->requested.findings));
}

int ctb_doctor_print_json(FILE *f, const struct ctb_doctor_report *r)
{
	json_t *root = json_object(), *cands = json_array();
	int ret;

	json_object_set_new(root, "namespace", r->netns ? json_string(r->netns) : json_null());
	json_object_set_new(root, "table", table_json(r));
	json_object_set_new(root, "sizing", sizing_json(r));
	for (size_t i = 0; i < r->ncand; i++)
		json_array_append_new(cands, candidate_json(r, i));
	json_object_set_new(root, "candidates", cands);
	json_object_set_new(root, "forwarded_entries",
			    json_integer((json_int_t)r->cands.forwarded));
	json_object_set_new(root, "requested", r->have_requested ? requested_json(r) : json_null());
	ret = json_dumpf(root, f, JSON_COMPACT) ? -EIO : 0;
	fputc('\n', f);
	json_decref(root);
	return ret;
}
