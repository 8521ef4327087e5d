// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <time.h>
#include "nft_table.h"
#include "guard_pick.h"
#include "report.h"

static void print_ports(FILE *f, const struct ctb_portset *ports)
{
	size_t need = ctb_portset_format(ports, NULL, 0) + 1;
	char *buf = malloc(need);

	if (!buf)
		return;
	ctb_portset_format(ports, buf, need);
	fputs(need > 1 ? buf : "none", f);
	free(buf);
}

static void print_upstreams(FILE *f, const struct ctb_upstream_list *list)
{
	if (!list->count)
		fputs("none", f);
	for (size_t i = 0; i < list->count; i++) {
		char text[CTB_UPSTREAM_STRLEN];

		ctb_upstream_format(&list->items[i], text);
		fprintf(f, "%s%s", i ? "," : "", text);
	}
}

void ctb_report_config(FILE *f, const struct ctb_config *cfg, const struct ctb_iface_list *ifaces)
{
	char names[512];

	ctb_iface_list_format(ifaces, names, sizeof(names));
	fprintf(f, "%s ports ", ctb_protocols_name(cfg->protocols));
	print_ports(f, &cfg->ports);
	fputs(", upstreams ", f);
	print_upstreams(f, &cfg->upstreams);
	fprintf(f, " on %s (mark 0x%x)\n", names, cfg->mark);
}

void ctb_report_plan(FILE *f, const struct ctb_attachment *att, const struct ctb_config *cfg,
		     const struct ctb_iface_list *ifaces)
{
	const struct ctb_config *have = att->nft.present ? &att->nft.cfg : NULL;
	struct ctb_nft_step grow = {
		.want = cfg, .have = have, .grow = true,
		.upgrade = have && !att->nft.complete,
		.extra_marks = { have ? have->mark : 0, have ? att->nft.transition_mark : 0 },
		.classified_want = ifaces, .classified_have = &att->nft.classified,
	};
	struct ctb_nft_step shrink = {
		.want = cfg, .have = have,
		.classified_want = ifaces, .classified_have = &att->nft.classified,
	};
	char *first = ctb_nft_render(&grow), *last = have ? ctb_nft_render(&shrink) : NULL;

	fprintf(f, "dry run: would %s: ", ctb_attachment_exists(att) ? "replace the current "
								      "setup with" : "attach");
	ctb_report_config(f, cfg, ifaces);
	fprintf(f, "classifier %s of: ", ctb_tc_hook_in_use() == CTB_HOOK_TCX
					  ? "first on tcx ingress"
					  : "on clsact ingress (priority 1)");
	for (size_t i = 0; i < ifaces->count; i++)
		fprintf(f, "%s%s", i ? ", " : "", ifaces->items[i].name);
	fprintf(f, "%s\nnftables transaction, before the classifier changes:\n%s",
		ifaces->count ? "" : "none", first ? first : "");
	if (last)
		fprintf(f, "nftables transaction, after it (and an RCU grace period):\n%s", last);
	free(first);
	free(last);
}

static void print_counter(FILE *f, const char *what, const struct ctb_counter *c)
{
	fprintf(f, "  %-28s %12llu packets %14llu bytes\n", what, (unsigned long long)c->packets,
		(unsigned long long)c->bytes);
}

static void print_classifier_lines(FILE *f, const struct ctb_attachment *att)
{
	struct ctb_counter_line *lines;
	size_t count, silent = 0;

	if (!att->have_maps ||
	    ctb_maps_read_counters(&att->maps, &att->nft.cfg, &lines, &count))
		return;
	for (size_t i = 0; i < count; i++) {
		char what[96];

		if (!lines[i].counter.packets) {
			silent++;
			continue;
		}
		if (lines[i].upstream) {
			char up[CTB_UPSTREAM_STRLEN];

			ctb_upstream_format(&lines[i].up, up);
			snprintf(what, sizeof(what), "from %s/%s", up,
				 lines[i].l4proto == IPPROTO_TCP ? "tcp" : "udp");
		} else if (lines[i].port) {
			snprintf(what, sizeof(what), "to %s/%u",
				 lines[i].l4proto == IPPROTO_TCP ? "tcp" : "udp", lines[i].port);
		} else {
			snprintf(what, sizeof(what), "other (beyond %d counters)",
				 CTB_STAT_SLOTS - 2);
		}
		print_counter(f, what, &lines[i].counter);
	}
	if (silent)
		fprintf(f, "  (%zu more ports or upstreams without traffic)\n", silent);
	free(lines);
}

static void print_health(FILE *f, const struct ctb_health *health)
{
	if (health->changing)
		fprintf(f, "  changing       now, by pid %d ('ctbypass %s')\n", (int)health->holder.pid,
			health->holder.command[0] ? health->holder.command : "?");
	if (!health->count) {
		fputs("  health         ok\n", f);
		return;
	}
	fprintf(f, "  health         %zu problem%s:\n", health->count, health->count == 1 ? "" : "s");
	for (size_t i = 0; i < health->count; i++)
		fprintf(f, "    - %s\n", health->problems[i]);
}

/* One line per addition of the guard: what, since when, why, and what it held. */
static void print_guarded(FILE *f, const struct ctb_config *cfg,
			  const struct ctb_guard_record *guarded)
{
	bool first = true;

	for (size_t i = 0; guarded && i < guarded->count; i++) {
		const struct ctb_guard_item *it = &guarded->items[i];

		/* Only what is bypassed now: the record says why, the kernel says what. */
		if (!ctb_guard_covered(cfg, &it->cand))
			continue;
		char name[CTB_UPSTREAM_STRLEN + 8], when[32];
		time_t t = (time_t)it->added;
		struct tm tm;

		ctb_guard_cand_name(&it->cand, name, sizeof(name));
		if (!gmtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm))
			snprintf(when, sizeof(when), "?");
		fprintf(f, "  %-14s %s since %s: %s; it held %llu entries\n",
			first ? "guarded" : "", name, when, it->why, (unsigned long long)it->entries);
		first = false;
	}
}

int ctb_report_status(FILE *f, const struct ctb_attachment *att, const struct ctb_health *health,
		      const struct ctb_guard_record *guarded)
{
	const struct ctb_config *cfg = &att->nft.cfg;
	char names[512];

	if (!ctb_attachment_exists(att)) {
		fputs("not attached\n", f);
		/* Debris of an interrupted command is worth knowing even then. */
		if (health->count || health->changing)
			print_health(f, health);
		return 0;
	}
	ctb_iface_list_format(&att->ifaces, names, sizeof(names));
	fprintf(f, "attached%s\n", att->nft.present ? "" : " (partly: no nftables table)");
	print_health(f, health);
	fprintf(f, "  protocols      %s\n  server ports   ", ctb_protocols_name(cfg->protocols));
	print_ports(f, &cfg->ports);
	fputs("\n  upstreams      ", f);
	print_upstreams(f, &cfg->upstreams);
	fprintf(f, "\n  interfaces     %s%s\n", names,
		cfg->iface_list ? " (chosen with --iface)" : "");
	if (ctb_attachment_hook(att))
		fprintf(f, "  hook           %s\n", ctb_attachment_hook(att));
	fprintf(f, "  mark           0x%x\n", cfg->mark);
	if (cfg->forced)
		fputs("  forced         yes: attached over preflight findings (--force)\n", f);
	if (cfg->accepted[0])
		fprintf(f, "  accepted       %s (preflight findings accepted with --accept)\n",
			cfg->accepted);
	print_guarded(f, cfg, guarded);
	fputs("arrivals marked by the classifier:\n", f);
	print_classifier_lines(f, att);
	fputs("untracked by the nftables rules:\n", f);
	print_counter(f, "arrivals (prerouting)", &att->nft.arrivals);
	print_counter(f, "departures (output)", &att->nft.departures);
	print_counter(f, "loopback", &att->nft.loopback);
	print_counter(f, "backstop (classifier missed)", &att->nft.backstop);
	return 0;
}
