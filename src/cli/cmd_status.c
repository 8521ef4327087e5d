// SPDX-License-Identifier: GPL-2.0
/* `ctbypass status`: what is bypassed here, and the counters. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include "attachment.h"
#include "health.h"
#include "preflight.h"
#include "commands.h"
#include "log.h"
#include "report.h"

static const char help[] = "Usage: ctbypass [-n NETNS] status [--json]\n"
			   "\n"
			   "Shows what is bypassed in the namespace and the counters: arrivals\n"
			   "marked by the classifier (per port and upstream) and packets the\n"
			   "nftables rules left untracked. --json prints one object (README.md\n"
			   "documents its fields). It also checks that the kernel still holds\n"
			   "what ctbypass meant (health); exit status 1 when attached with\n"
			   "problems, 0 when healthy or not attached.\n"
			   "\n"
			   "  -h, --help           print this help\n";

int ctb_cmd_status(const struct ctb_context *ctx, int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct ctb_guard_record *guarded;
	struct ctb_attachment att;
	struct ctb_health health;
	char err[CTB_ERR_LEN];
	bool json = false;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		if (opt == 'j') {
			json = true;
		} else if (opt == 'h') {
			fputs(help, stdout);
			return CTB_EXIT_OK;
		} else {
			return ctb_usage_error("status", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return ctb_usage_error("status", "unexpected argument '%s'", argv[optind]);
	ret = ctb_enter_target(ctx);
	if (ret)
		return ret;
	if (ctb_attachment_find(&att, err, sizeof(err))) {
		ctb_err("cannot read the current state: %s", err);
		ctb_attachment_free(&att);
		return CTB_EXIT_RUNTIME;
	}
	if (ctb_health_check(&att, &health)) {
		ctb_err("cannot check the state's health: out of memory");
		ctb_health_free(&health);
		ctb_attachment_free(&att);
		return CTB_EXIT_RUNTIME;
	}
	if (att.nft.present && ctb_preflight_health(&att.nft.cfg, &health)) {
		ctb_err("cannot check the state's health: out of memory");
		ctb_health_free(&health);
		ctb_attachment_free(&att);
		return CTB_EXIT_RUNTIME;
	}
	guarded = malloc(sizeof(*guarded));
	if (guarded && ctb_guard_record_load(guarded)) {
		ctb_warn("cannot read what the daemon's guard added");
		free(guarded);
		guarded = NULL;
	}
	ret = json ? ctb_report_status_json(stdout, &att, &health, guarded)
		   : ctb_report_status(stdout, &att, &health, guarded);
	free(guarded);
	if (!ret && health.count && ctb_attachment_exists(&att))
		ret = 1; /* attached, but not doing what it should */
	ctb_health_free(&health);
	ctb_attachment_free(&att);
	return ret ? CTB_EXIT_RUNTIME : CTB_EXIT_OK;
}
