// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>
#include "watch_output.h"

#define ADDR_STRLEN INET6_ADDRSTRLEN

void ctb_watch_format_addr(uint8_t family, const uint8_t *addr, char *buf)
{
	int af = family == AF_INET6 ? AF_INET6 : AF_INET;

	if (family != AF_INET && family != AF_INET6) {
		strcpy(buf, "?");
		return;
	}
	if (!inet_ntop(af, addr, buf, ADDR_STRLEN))
		strcpy(buf, "?");
}

static const char *proto_name(uint8_t l4proto, char *buf, size_t len)
{
	switch (l4proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_SCTP:
		return "sctp";
	case IPPROTO_DCCP:
		return "dccp";
	case IPPROTO_UDPLITE:
		return "udplite";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	default:
		snprintf(buf, len, "%u", l4proto);
		return buf;
	}
}

void ctb_watch_print_header(FILE *f)
{
	fprintf(f, "%-8s %8s %8s %5s %8s %8s %8s %8s %8s %8s %6s\n", "time", "entries", "max",
		"fill%", "inserts", "drops", "early", "insfail", "destroys", "bypassed", "lost");
}

static void col_count(char *buf, size_t len, bool avail, uint64_t v)
{
	if (avail)
		snprintf(buf, len, "%llu", (unsigned long long)v);
	else
		snprintf(buf, len, "-");
}

static void col_signed(char *buf, size_t len, int64_t v)
{
	if (v >= 0)
		snprintf(buf, len, "%lld", (long long)v);
	else
		snprintf(buf, len, "-");
}

/* "198.18.0.2 12, 198.18.0.3 4" or "tcp/80 12": one top-K list on one line. */
static void print_top_line(FILE *f, const char *label, const struct ctb_topk *t, size_t k,
			   bool ports)
{
	struct ctb_topk_entry out[k ? k : 1];
	size_t n = ctb_topk_top(t, k, out);

	fprintf(f, "  %-17s", label);
	if (!n)
		fputs(" -", f);
	for (size_t i = 0; i < n; i++) {
		char a[ADDR_STRLEN], p[8];

		if (ports)
			fprintf(f, "%s %s/%u %llu", i ? "," : "",
				proto_name(out[i].key.l4proto, p, sizeof(p)), out[i].key.port,
				(unsigned long long)out[i].count);
		else {
			ctb_watch_format_addr(out[i].key.family, out[i].key.addr, a);
			fprintf(f, "%s %s %llu", i ? "," : "", a, (unsigned long long)out[i].count);
		}
	}
	fputc('\n', f);
}

int ctb_watch_print_text(FILE *f, const struct ctb_watch_interval *iv)
{
	char c[CTB_W_METRICS][24], entries[24], max[24], fill[16], bypassed[24], when[16];
	time_t secs = (time_t)iv->ts;
	struct tm tm;

	for (int m = 0; m < CTB_W_METRICS; m++)
		col_count(c[m], sizeof(c[m]), iv->avail[m], iv->count[m]);
	col_signed(entries, sizeof(entries), iv->entries);
	col_signed(max, sizeof(max), iv->max);
	if (iv->entries >= 0 && iv->max > 0)
		snprintf(fill, sizeof(fill), "%.1f", 100.0 * (double)iv->entries / (double)iv->max);
	else
		snprintf(fill, sizeof(fill), "-");
	col_count(bypassed, sizeof(bypassed), iv->attached, iv->bypassed);
	if (!localtime_r(&secs, &tm) || !strftime(when, sizeof(when), "%H:%M:%S", &tm))
		snprintf(when, sizeof(when), "?");
	fprintf(f, "%-8s %8s %8s %5s %8s %8s %8s %8s %8s %8s %6s\n", when, entries, max, fill,
		c[CTB_W_INSERTS], c[CTB_W_DROPS], c[CTB_W_EARLY_DROPS], c[CTB_W_INSERT_FAILED],
		c[CTB_W_DESTROYS], bypassed, c[CTB_W_LOST]);
	if (iv->top_k && iv->top) {
		print_top_line(f, "new, sources:", &iv->top->new_sources, iv->top_k, false);
		print_top_line(f, "new, ports:", &iv->top->new_ports, iv->top_k, true);
		print_top_line(f, "drops, sources:", &iv->top->drop_sources, iv->top_k, false);
		print_top_line(f, "drops, ports:", &iv->top->drop_ports, iv->top_k, true);
	}
	fflush(f);
	return ferror(f) ? -EIO : 0;
}

static json_t *count_json(bool avail, uint64_t v)
{
	return avail ? json_integer((json_int_t)v) : json_null();
}

static json_t *top_json(const struct ctb_topk *t, size_t k, bool ports)
{
	struct ctb_topk_entry out[k ? k : 1];
	size_t n = ctb_topk_top(t, k, out);
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		char a[ADDR_STRLEN], p[8];

		if (ports) {
			json_object_set_new(o, "port", json_integer(out[i].key.port));
			json_object_set_new(o, "protocol",
					    json_string(proto_name(out[i].key.l4proto, p, sizeof(p))));
		} else {
			ctb_watch_format_addr(out[i].key.family, out[i].key.addr, a);
			json_object_set_new(o, "addr", json_string(a));
		}
		json_object_set_new(o, "count", json_integer((json_int_t)out[i].count));
		json_array_append_new(arr, o);
	}
	return arr;
}

json_t *ctb_watch_json(const struct ctb_watch_interval *iv)
{
	json_t *o = json_object();

	json_object_set_new(o, "ts", json_real(iv->ts));
	json_object_set_new(o, "interval", json_real(iv->elapsed));
	json_object_set_new(o, "backend", json_string(iv->backend));
	json_object_set_new(o, "entries", iv->entries >= 0 ? json_integer(iv->entries) : json_null());
	json_object_set_new(o, "max", iv->max >= 0 ? json_integer(iv->max) : json_null());
	/* JSON has no infinity: null says "not filling" (or not known yet). */
	json_object_set_new(o, "seconds_to_full", isinf(iv->seconds_to_full)
							  ? json_null()
							  : json_real(iv->seconds_to_full));
	for (int m = 0; m < CTB_W_METRICS; m++) {
		if (m == CTB_W_LOST)
			json_object_set_new(o, "bypassed", count_json(iv->attached, iv->bypassed));
		json_object_set_new(o, ctb_watch_metric_names[m],
				    count_json(iv->avail[m], iv->count[m]));
	}
	if (iv->top_k && iv->top) {
		json_t *src = json_object(), *ports = json_object();

		json_object_set_new(src, "new", top_json(&iv->top->new_sources, iv->top_k, false));
		json_object_set_new(src, "drops", top_json(&iv->top->drop_sources, iv->top_k, false));
		json_object_set_new(ports, "new", top_json(&iv->top->new_ports, iv->top_k, true));
		json_object_set_new(ports, "drops", top_json(&iv->top->drop_ports, iv->top_k, true));
		json_object_set_new(o, "top_sources", src);
		json_object_set_new(o, "top_ports", ports);
	}
	return o;
}

int ctb_watch_print_json(FILE *f, const struct ctb_watch_interval *iv)
{
	json_t *o = ctb_watch_json(iv);
	int ret;

	if (!o)
		return -ENOMEM;
	ret = json_dumpf(o, f, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(13)) ? -EIO
											       : 0;
	json_decref(o);
	fputc('\n', f);
	fflush(f);
	return ret || ferror(f) ? -EIO : 0;
}
