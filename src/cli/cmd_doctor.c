// SPDX-License-Identifier: GPL-2.0
/* `ctbypass doctor`: what fills the table, how big it should be, what to bypass. Changes nothing.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "commands.h"
#include "doctor_output.h"
#include "log.h"

static const char help[] =
    "Usage: ctbypass [-n NETNS] doctor [--ports LIST] [--upstream LIST] [--json]\n"
    "\n"
    "Reads the namespace's conntrack table and changes nothing. Shows:\n"
    "  - the table: entries, max, buckets, fill, TCP states, top sources and\n"
    "    destination ports, and the kernel's drop counters;\n"
    "  - sizing: nf_conntrack_max and buckets for this machine's memory, what the\n"
    "    entries cost, timeouts far above need, and the sysctl lines to apply;\n"
    "  - bypass candidates: the traffic holding the most entries, as server ports\n"
    "    or upstreams, each with its 'ctbypass attach' command and the preflight's\n"
    "    findings for exactly that traffic.\n"
    "  --ports LIST       also run the preflight for these server ports\n"
    "  --upstream LIST    also run the preflight for these upstreams\n"
    "  --json             print one object (README.md documents its fields)\n"
    "  -h, --help           print this help\n";

struct doctor_args {
	struct ctb_config requested;
	bool json;
};

static int parse_args(int argc, char **argv, struct doctor_args *a)
{
	static const struct option options[] = {
	    {"ports", required_argument, NULL, 'p'},
	    {"upstream", required_argument, NULL, 'u'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	char err[CTB_ERR_LEN];
	int opt, ret = 0;

	while (!ret && (opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (opt) {
		case 'p':
			ret = ctb_portset_parse(&a->requested.ports, optarg, err, sizeof(err));
			break;
		case 'u':
			ret = ctb_upstream_list_parse(&a->requested.upstreams, optarg, err,
						      sizeof(err));
			break;
		case 'j':
			a->json = true;
			break;
		case 'h':
			fputs(help, stdout);
			return -1;
		default:
			return ctb_usage_error("doctor", "unknown or incomplete option '%s'",
					       argv[optind - 1]);
		}
	}
	if (ret)
		return ctb_usage_error("doctor", "%s", err);
	if (optind < argc)
		return ctb_usage_error("doctor", "unexpected argument '%s'", argv[optind]);
	return 0;
}

struct dump_state {
	struct ctb_doctor_report *r;
	const struct ctb_doctor_host *host;
};

static int on_entry(const struct ctb_doctor_entry *e, void *data)
{
	struct dump_state *st = data;
	int ret = ctb_doctor_agg_add(&st->r->agg, e);

	return ret ? ret : ctb_doctor_cands_add(&st->r->cands, st->host, &e->flow);
}

static int read_table(struct ctb_doctor_report *r, const struct ctb_doctor_host *host)
{
	struct dump_state st = {.r = r, .host = host};
	int ret;

	ctb_doctor_read_sysctls(&r->sys);
	if (r->sys.count < 0 || r->sys.max < 0) {
		ctb_err("doctor: cannot read /proc/sys/net/netfilter/nf_conntrack_count and _max "
			"(is nf_conntrack loaded?)");
		return -ENOENT;
	}
	ret = ctb_doctor_ctstats(&r->stats);
	if (ret) {
		ctb_err("doctor: cannot read the conntrack statistics: %s", strerror(-ret));
		return ret;
	}
	ret = ctb_doctor_agg_init(&r->agg);
	if (!ret)
		ret = ctb_doctor_dump(on_entry, &st);
	if (ret) {
		ctb_err("doctor: cannot dump the conntrack table: %s", strerror(-ret));
		return ret;
	}
	r->nsources = ctb_doctor_top_sources(&r->agg, r->sources, CTB_DOCTOR_TOPK);
	r->nports = ctb_doctor_top_ports(&r->agg, r->ports, CTB_DOCTOR_TOPK);
	return 0;
}

static void compute_sizing(struct ctb_doctor_report *r)
{
	struct ctb_sizing_input *in = &r->sizing_in;

	in->ram_bytes = ctb_doctor_ram_bytes();
	in->arch_bits = sizeof(long) * 8;
	in->cur_entries = (uint64_t)r->sys.count;
	in->cur_max = (uint64_t)r->sys.max;
	in->cur_buckets = r->sys.buckets > 0 ? (uint64_t)r->sys.buckets : 0;
	in->cur_tcp_established = r->sys.tcp_established > 0 ? (uint64_t)r->sys.tcp_established : 0;
	in->objsize = ctb_doctor_slab_objsize();
	in->initial_netns = r->initial_netns;
	in->netns = r->netns;
	ctb_sizing_compute(in, &r->sizing);
}

/* The preflight `attach` would run for CHECK's traffic, and the command itself. */
static int run_check(const char *netns, struct ctb_doctor_check *check)
{
	char err[CTB_ERR_LEN];

	ctb_doctor_attach_command(netns, &check->cfg, check->command, sizeof(check->command));
	if (ctb_preflight(&check->cfg, &check->findings, err, sizeof(err))) {
		ctb_err("doctor: preflight failed: %s", err);
		return -EIO;
	}
	return 0;
}

static int check_candidates(struct ctb_doctor_report *r, const struct ctb_doctor_host *host)
{
	int ret =
	    ctb_doctor_cands_rank(&r->cands, host, CTB_DOCTOR_MAX_CANDIDATES, &r->cand, &r->ncand);

	if (!ret) {
		r->cand_checks = calloc(r->ncand ? r->ncand : 1, sizeof(*r->cand_checks));
		ret = r->cand_checks ? 0 : -ENOMEM;
	}
	for (size_t i = 0; !ret && i < r->ncand; i++) {
		ret = ctb_doctor_cand_config(&r->cand[i], &r->cand_checks[i].cfg);
		if (!ret)
			ret = run_check(r->netns, &r->cand_checks[i]);
	}
	if (ret == -ENOMEM)
		ctb_err("doctor: out of memory");
	return ret;
}

static void report_free(struct ctb_doctor_report *r)
{
	for (size_t i = 0; r->cand_checks && i < r->ncand; i++) {
		ctb_config_free(&r->cand_checks[i].cfg);
		ctb_findings_free(&r->cand_checks[i].findings);
	}
	free(r->cand_checks);
	free(r->cand);
	ctb_findings_free(&r->requested.findings);
	ctb_doctor_cands_free(&r->cands);
	ctb_doctor_agg_free(&r->agg);
}

int ctb_cmd_doctor(const struct ctb_context *ctx, int argc, char **argv)
{
	struct ctb_doctor_report *r = calloc(1, sizeof(*r));
	struct doctor_args args = {0};
	struct ctb_doctor_host host = {0};
	int ret;

	if (!r) {
		ctb_err("doctor: out of memory");
		return CTB_EXIT_RUNTIME;
	}
	ctb_config_init(&args.requested);
	ret = parse_args(argc, argv, &args);
	if (ret)
		goto out;
	ret = ctb_enter_target(ctx);
	if (ret)
		goto out;
	r->netns = ctx->netns;
	r->initial_netns = ctb_doctor_initial_netns();
	ret = ctb_doctor_host_read(&host);
	if (ret) {
		ctb_err("doctor: cannot read local addresses and sockets: %s", strerror(-ret));
		ret = CTB_EXIT_RUNTIME;
		goto out;
	}
	if (read_table(r, &host) || check_candidates(r, &host)) {
		ret = CTB_EXIT_RUNTIME;
		goto out;
	}
	compute_sizing(r);
	if (ctb_config_has_targets(&args.requested)) {
		r->have_requested = true;
		r->requested.cfg = args.requested;
		if (run_check(r->netns, &r->requested)) {
			ret = CTB_EXIT_RUNTIME;
			goto out;
		}
	}
	ret = args.json ? ctb_doctor_print_json(stdout, r) : (ctb_doctor_print_text(stdout, r), 0);
	if (!ret && fflush(stdout))
		ret = -errno;
	ret = ret ? CTB_EXIT_RUNTIME : CTB_EXIT_OK;
out:
	ctb_doctor_host_free(&host);
	report_free(r);
	free(r);
	ctb_config_free(&args.requested);
	return ret < 0 ? CTB_EXIT_OK : ret;
}
