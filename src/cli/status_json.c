// SPDX-License-Identifier: GPL-2.0
/* `status --json`: one object, built with jansson. Fields are documented in README.md. */
#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <netinet/in.h>
#include <stdlib.h>
#include "guard_pick.h"
#include "report.h"

/* The comma-separated ids as an array. */
static json_t *accepted_json(const char *list)
{
	json_t *arr = json_array();

	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");

		json_array_append_new(arr, json_stringn(p, n));
		p += n;
		if (*p == ',')
			p++;
	}
	return arr;
}

static json_t *counter_json(const struct ctb_counter *c)
{
	return json_pack("{s:I,s:I}", "packets", (json_int_t)c->packets, "bytes",
			 (json_int_t)c->bytes);
}

static json_t *ports_json(const struct ctb_portset *ports)
{
	json_t *arr = json_array();

	for (uint32_t p = 1; p < CTB_PORTS; p++)
		if (ctb_portset_has(ports, (uint16_t)p))
			json_array_append_new(arr, json_integer(p));
	return arr;
}

static json_t *upstreams_json(const struct ctb_upstream_list *list)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < list->count; i++) {
		char text[CTB_UPSTREAM_STRLEN];

		ctb_upstream_format(&list->items[i], text);
		json_array_append_new(arr, json_string(text));
	}
	return arr;
}

static json_t *protocols_json(unsigned int protocols)
{
	json_t *arr = json_array();

	if (protocols & CTB_PROTO_TCP)
		json_array_append_new(arr, json_string("tcp"));
	if (protocols & CTB_PROTO_UDP)
		json_array_append_new(arr, json_string("udp"));
	return arr;
}

static json_t *classifier_json(const struct ctb_attachment *att)
{
	json_t *ports = json_array(), *ups = json_array();
	struct ctb_counter total = { 0 };
	struct ctb_counter_line *lines = NULL;
	size_t count = 0;

	if (att->have_maps)
		ctb_maps_read_counters(&att->maps, &att->nft.cfg, &lines, &count);
	for (size_t i = 0; i < count; i++) {
		const struct ctb_counter_line *l = &lines[i];
		const char *proto = l->l4proto == IPPROTO_TCP ? "tcp" : "udp";
		json_t *o = counter_json(&l->counter);

		total.packets += l->counter.packets;
		total.bytes += l->counter.bytes;
		if (l->upstream) {
			char text[CTB_UPSTREAM_STRLEN];

			ctb_upstream_format(&l->up, text);
			json_object_set_new(o, "upstream", json_string(text));
			json_object_set_new(o, "protocol", json_string(proto));
			json_array_append_new(ups, o);
		} else {
			/* port 0: the shared line of ports beyond the counter slots */
			json_object_set_new(o, "port", json_integer(l->port));
			json_object_set_new(o, "protocol", json_string(l->port ? proto : "other"));
			json_array_append_new(ports, o);
		}
	}
	free(lines);
	json_t *out = counter_json(&total);

	json_object_set_new(out, "ports", ports);
	json_object_set_new(out, "upstreams", ups);
	return out;
}

static json_t *problems_json(const struct ctb_health *health)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < health->count; i++)
		json_array_append_new(arr, json_string(health->problems[i]));
	return arr;
}

static json_t *changing_json(const struct ctb_health *health)
{
	if (!health->changing)
		return json_null();
	return json_pack("{s:i,s:s}", "pid", (int)health->holder.pid, "command",
			 health->holder.command[0] ? health->holder.command : "?");
}

static json_t *guarded_json(const struct ctb_config *cfg, const struct ctb_guard_record *guarded)
{
	json_t *arr = json_array();

	for (size_t i = 0; guarded && i < guarded->count; i++) {
		const struct ctb_guard_item *it = &guarded->items[i];

		/* Only what is bypassed now: the record says why, the kernel says what. */
		if (!ctb_guard_covered(cfg, &it->cand))
			continue;
		char name[CTB_UPSTREAM_STRLEN + 8];

		ctb_guard_cand_name(&it->cand, name, sizeof(name));
		json_array_append_new(arr, json_pack("{s:s,s:s,s:I,s:I,s:s}", "traffic", name, "role",
						     it->cand.role == CTB_ROLE_SERVER ? "port"
										      : "upstream",
						     "added", (json_int_t)it->added, "entries",
						     (json_int_t)it->entries, "why", it->why));
	}
	return arr;
}

int ctb_report_status_json(FILE *f, const struct ctb_attachment *att,
			   const struct ctb_health *health, const struct ctb_guard_record *guarded)
{
	const struct ctb_config *cfg = &att->nft.cfg;
	json_t *root = json_object(), *ifaces = json_array(), *counters = json_object();
	int ret;

	for (size_t i = 0; i < att->ifaces.count; i++)
		json_array_append_new(ifaces, json_string(att->ifaces.items[i].name));
	json_object_set_new(root, "attached", json_boolean(ctb_attachment_exists(att)));
	json_object_set_new(root, "complete", json_boolean(att->nft.present));
	json_object_set_new(root, "ports", ports_json(&cfg->ports));
	json_object_set_new(root, "upstreams", upstreams_json(&cfg->upstreams));
	json_object_set_new(root, "protocols", protocols_json(att->nft.present ? cfg->protocols : 0));
	json_object_set_new(root, "interfaces", ifaces);
	json_object_set_new(root, "iface_selection",
			    json_string(cfg->iface_list ? "list" : "auto"));
	json_object_set_new(root, "hook", ctb_attachment_hook(att)
						  ? json_string(ctb_attachment_hook(att))
						  : json_null());
	json_object_set_new(root, "mark", att->nft.present ? json_integer(cfg->mark) : json_null());
	json_object_set_new(root, "forced", json_boolean(cfg->forced));
	json_object_set_new(root, "accepted", accepted_json(cfg->accepted));
	json_object_set_new(root, "guarded", guarded_json(cfg, guarded));
	json_object_set_new(counters, "classifier", classifier_json(att));
	json_object_set_new(counters, "untracked_arrivals", counter_json(&att->nft.arrivals));
	json_object_set_new(counters, "untracked_departures", counter_json(&att->nft.departures));
	json_object_set_new(counters, "untracked_loopback", counter_json(&att->nft.loopback));
	json_object_set_new(counters, "backstop", counter_json(&att->nft.backstop));
	json_object_set_new(root, "counters", counters);
	json_object_set_new(root, "healthy", json_boolean(!health->count));
	json_object_set_new(root, "problems", problems_json(health));
	json_object_set_new(root, "changing", changing_json(health));
	ret = json_dumpf(root, f, JSON_COMPACT) ? -EIO : 0;
	fputc('\n', f);
	json_decref(root);
	return ret;
}
