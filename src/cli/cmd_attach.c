// SPDX-License-Identifier: GPL-2.0
/* `ctbypass attach`: bypass server ports and upstreams, or replace what is bypassed. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "attachment.h"
#include "commands.h"
#include "ct_flush.h"
#include "health.h"
#include "guard_record.h"
#include "log.h"
#include "preflight.h"
#include "report.h"
#include "tc_neighbours.h"

static const char help[] =
	"Usage: ctbypass [-n NETNS] attach [--ports LIST] [--upstream LIST] [--iface LIST]\n"
	"                [--proto tcp,udp] [--mark MASK] [--no-flush] [--accept IDS]\n"
	"                [--force] [--dry-run]\n"
	"\n"
	"Bypass conntrack for:\n"
	"  --ports LIST       services this host serves: arrivals to these ports and\n"
	"                     departures from them. LIST: 80,81,8000-8010 (1-65535)\n"
	"  --upstream LIST    remote services this host connects to: departures to and\n"
	"                     arrivals from ADDR[/LEN]:PORT or [IPV6][/LEN]:PORT, matched\n"
	"                     on address and port so no other sender can use the port\n"
	"At least one of the two is required. Other options:\n"
	"  --iface LIST       interfaces for the ingress classifier (default: every\n"
	"                     interface that is up, except loopback, that carries Ethernet)\n"
	"  --proto LIST       tcp, udp or tcp,udp (default: tcp)\n"
	"  --mark MASK        mark bit(s) the classifier uses (default: 0x4; decimal\n"
	"                     or 0x hex, a leading zero is refused as ambiguous)\n"
	"  --no-flush         keep existing conntrack entries of bypassed traffic\n"
	"                     (default: delete them, they would keep the table full)\n"
	"  --accept IDS       attach over the preflight's blocking findings with these\n"
	"                     ids (as it prints them: state-3f9a2c,...), and no others\n"
	"                     (recorded in 'status')\n"
	"  --force            attach over every blocking finding (recorded in 'status')\n"
	"  --dry-run          print what would be done and change nothing; exits as\n"
	"                     the command would (1 if the preflight refuses)\n"
	"  --wait SECONDS     wait this long while another ctbypass command changes\n"
	"                     this namespace (default 10)\n"
	"\n"
	"Before changing anything, a preflight reads the namespace's nftables and\n"
	"iptables rules and refuses if the bypass would break NAT or a stateful\n"
	"firewall on this traffic, printing the exact rule to add. Attaching again\n"
	"replaces the configuration in place: traffic bypassed before and after stays\n"
	"bypassed throughout.\n"
	"  -h, --help           print this help\n";

struct attach_args {
	struct ctb_config cfg;
	const char *iface_list;
	bool no_flush, dry_run, force;
	const char *accept; /* --accept: finding ids */
	double wait_seconds; /* negative: the global --wait */
};

static int parse_args(int argc, char **argv, struct attach_args *a)
{
	static const struct option options[] = {
		{ "ports", required_argument, NULL, 'p' },
		{ "upstream", required_argument, NULL, 'u' },
		{ "iface", required_argument, NULL, 'i' },
		{ "proto", required_argument, NULL, 'P' },
		{ "mark", required_argument, NULL, 'm' },
		{ "no-flush", no_argument, NULL, 'F' },
		{ "dry-run", no_argument, NULL, 'd' },
		{ "force", no_argument, NULL, 'f' },
		{ "accept", required_argument, NULL, 'a' },
		{ "wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char err[CTB_ERR_LEN];
	int opt, ret = 0;

	a->wait_seconds = -1;
	while (!ret && (opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (opt) {
		case 'p':
			ret = ctb_portset_parse(&a->cfg.ports, optarg, err, sizeof(err));
			break;
		case 'u':
			ret = ctb_upstream_list_parse(&a->cfg.upstreams, optarg, err, sizeof(err));
			break;
		case 'i':
			a->iface_list = optarg;
			break;
		case 'P':
			ret = ctb_protocols_parse(optarg, &a->cfg.protocols, err, sizeof(err));
			break;
		case 'm':
			ret = ctb_mark_parse(optarg, &a->cfg.mark, err, sizeof(err));
			break;
		case 'F':
			a->no_flush = true;
			break;
		case 'd':
			a->dry_run = true;
			break;
		case 'f':
			a->force = true;
			break;
		case 'a':
			a->accept = optarg;
			ret = ctb_accept_list_parse(optarg, err, sizeof(err));
			break;
		case 'w':
			ret = ctb_wait_parse(optarg, &a->wait_seconds, err, sizeof(err));
			break;
		case 'h':
			fputs(help, stdout);
			return -1;
		default:
			return ctb_usage_error("attach", "unknown or incomplete option '%s'",
					       argv[optind - 1]);
		}
	}
	if (ret)
		return ctb_usage_error("attach", "%s", err);
	if (optind < argc)
		return ctb_usage_error("attach", "unexpected argument '%s'", argv[optind]);
	if (!ctb_config_has_targets(&a->cfg))
		return ctb_usage_error("attach", "give --ports, --upstream or both");
	return 0;
}

int ctb_resolve_ifaces(const char *list, struct ctb_iface_list *ifaces)
{
	char err[CTB_ERR_LEN];
	int ret;

	if (!list) {
		ret = ctb_ifaces_default(ifaces);
		if (ret) {
			ctb_err("cannot list interfaces: %s", strerror(-ret));
			return CTB_EXIT_RUNTIME;
		}
		return CTB_EXIT_OK;
	}
	ret = ctb_ifaces_resolve(list, ifaces, err, sizeof(err));
	if (ret) {
		bool bad_input = ret == -ENODEV || ret == -EINVAL || ret == -EPROTONOSUPPORT;

		if (ret == -ENOMEM)
			snprintf(err, sizeof(err), "out of memory");
		ctb_err("%s", err);
		return bad_input ? CTB_EXIT_USAGE : CTB_EXIT_RUNTIME;
	}
	return CTB_EXIT_OK;
}

int ctb_record_iface_list(const struct ctb_iface_list *ifaces, struct ctb_config *cfg)
{
	size_t len = 1;
	char *list;

	for (size_t i = 0; i < ifaces->count; i++)
		len += strlen(ifaces->items[i].name) + 1;
	list = calloc(1, len);
	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < ifaces->count; i++)
		sprintf(list + strlen(list), "%s%s", i ? "," : "", ifaces->items[i].name);
	cfg->iface_list = list;
	return 0;
}

static int flush_entries(const struct ctb_config *cfg)
{
	unsigned long deleted;
	int ret = ctb_ct_flush(cfg, &deleted);

	if (ret) {
		/* The bypass is in place; stale entries only age out more slowly. */
		ctb_warn("bypass active, but stale conntrack entries could not be deleted: %s",
			 strerror(-ret));
		return CTB_EXIT_OK;
	}
	printf("deleted %lu conntrack entries of now-bypassed traffic\n", deleted);
	return CTB_EXIT_OK;
}

/*
 * Other programs on the hook: said once per kind, with an example interface.
 * Warnings only: the backstop keeps the bypass whole whatever they do.
 */
static void warn_neighbours(const struct ctb_iface_list *ifaces, uint32_t mark)
{
	bool said_cilium = false, said_calico = false;

	for (size_t i = 0; i < ifaces->count; i++) {
		struct ctb_tc_neighbours n;
		const char *name = ifaces->items[i].name;

		if (ctb_tc_neighbours(ifaces->items[i].ifindex, &n))
			continue;
		if ((n.cilium && !said_cilium) || (n.calico && !said_calico)) {
			ctb_warn("%s's programs run on %s (%s): it uses mark bits of its own on "
				 "this path; check that mark 0x%x is free in its configuration "
				 "(README.md, \"The mark\")",
				 n.cilium ? "Cilium" : "Calico", name, n.example, mark);
			said_cilium |= n.cilium;
			said_calico |= n.calico;
		}
	}
}

/* Adds the accepted findings' ids to RECORD, or marks it forced when they do not fit. */
static void record_accepted(const struct ctb_findings *findings, struct ctb_config *record)
{
	for (size_t i = 0; i < findings->count; i++) {
		const struct ctb_finding *it = &findings->items[i];
		size_t used = strlen(record->accepted), len = strlen(it->id);

		if (!it->accepted || ctb_accepted_has(record->accepted, it->id))
			continue;
		if (used + len + 2 > sizeof(record->accepted)) {
			record->forced = true;
			continue;
		}
		snprintf(record->accepted + used, sizeof(record->accepted) - used, "%s%s",
			 used ? "," : "", it->id);
	}
}

int ctb_preflight_gate(const char *command, const struct ctb_config *traffic, bool force,
		       const char *accept, bool dry_run, struct ctb_config *record)
{
	struct ctb_findings findings;
	char err[CTB_ERR_LEN];
	size_t blocking, unknown;

	if (ctb_preflight(traffic, &findings, err, sizeof(err))) {
		ctb_err("%s failed, nothing was changed: %s", command, err);
		return CTB_EXIT_RUNTIME;
	}
	unknown = ctb_findings_accept(&findings, accept);
	ctb_findings_print(stdout, &findings);
	if (unknown)
		printf("preflight: note: %zu id%s given to --accept name%s no finding now\n",
		       unknown, unknown == 1 ? "" : "s", unknown == 1 ? "s" : "");
	blocking = ctb_findings_blocking(&findings);
	if (blocking && !force) {
		ctb_err("%s%s refused, nothing was changed: the bypass would break the traffic "
			"named above (fix the rules, or --accept the ids you have checked)",
			command, dry_run ? " --dry-run: the real command would be" : "");
		ctb_findings_free(&findings);
		return CTB_EXIT_RUNTIME;
	}
	if (blocking)
		record->forced = true;
	record_accepted(&findings, record);
	ctb_findings_free(&findings);
	return CTB_EXIT_OK;
}

int ctb_apply_and_report(const char *command, struct ctb_attachment *att,
			 const struct ctb_config *cfg, const struct ctb_iface_list *ifaces,
			 bool reload_prog, bool flush)
{
	char err[CTB_ERR_LEN];
	bool replacing = ctb_attachment_exists(att);
	int ret = ctb_attachment_apply(att, cfg, ifaces, reload_prog, err, sizeof(err));

	if (ret) {
		ctb_err("%s failed, nothing was changed: %s", command, err);
		return CTB_EXIT_RUNTIME;
	}
	ctb_health_baseline(att);
	printf("%s: ", replacing ? "updated" : "attached");
	ctb_report_config(stdout, cfg, ifaces);
	if (!ifaces->count)
		printf("no interface for the classifier: only locally sent and loopback traffic "
		       "is bypassed\n");
	return flush ? flush_entries(cfg) : CTB_EXIT_OK;
}

int ctb_cmd_attach(const struct ctb_context *ctx, int argc, char **argv)
{
	struct attach_args args = { 0 };
	struct ctb_iface_list ifaces = { 0 };
	struct ctb_attachment att;
	struct ctb_lock lock = { -1 };
	char err[CTB_ERR_LEN];
	int ret;

	ctb_config_init(&args.cfg);
	ret = parse_args(argc, argv, &args);
	if (ret)
		goto out;
	ret = ctb_enter_target(ctx);
	if (ret)
		goto out;
	/* A dry run changes nothing: it needs no lock, and must not wait for one. */
	if (!args.dry_run) {
		ret = ctb_begin_change(ctx, "attach", args.wait_seconds, &lock);
		if (ret)
			goto out;
	}
	/* Under the lock: after a wait, the interfaces are those of now. */
	ret = ctb_resolve_ifaces(args.iface_list, &ifaces);
	if (ret)
		goto out;
	if (args.iface_list && ifaces.count && ctb_record_iface_list(&ifaces, &args.cfg)) {
		ctb_err("attach failed, nothing was changed: out of memory");
		ret = CTB_EXIT_RUNTIME;
		goto out;
	}
	if (ctb_attachment_find(&att, err, sizeof(err))) {
		ctb_err("cannot read the current state: %s", err);
		ctb_attachment_free(&att);
		ret = CTB_EXIT_RUNTIME;
		goto out;
	}
	ret = ctb_preflight_gate("attach", &args.cfg, args.force, args.accept, args.dry_run,
				 &args.cfg);
	if (ret) {
		ctb_attachment_free(&att);
		goto out;
	}
	warn_neighbours(&ifaces, args.cfg.mark);
	if (args.dry_run) {
		ctb_report_plan(stdout, &att, &args.cfg, &ifaces);
		ret = CTB_EXIT_OK;
	} else {
		ret = ctb_apply_and_report("attach", &att, &args.cfg, &ifaces, true,
					   !args.no_flush);
		/* It says exactly what is bypassed: what a stopped daemon's guard had added
		 * is no longer the guard's (a daemon started later applies its own anyway). */
		if (ret == CTB_EXIT_OK && ctb_guard_record_remove())
			ctb_warn("cannot remove the guard's record (status may still list it)");
	}
	ctb_attachment_free(&att);
out:
	if (lock.fd >= 0)
		ctb_end_change(&lock, ret == CTB_EXIT_OK, false);
	ctb_iface_list_free(&ifaces);
	ctb_config_free(&args.cfg);
	return ret < 0 ? CTB_EXIT_OK : ret;
}
