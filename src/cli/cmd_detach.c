// SPDX-License-Identifier: GPL-2.0
/* `ctbypass detach`: remove every trace; safe to run again. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include "attachment.h"
#include "commands.h"
#include "log.h"

static const char help[] = "Usage: ctbypass [-n NETNS] detach [--wait SECONDS]\n"
			   "\n"
			   "Removes the classifier from every interface (its tcx program, or\n"
			   "its TC filter and the clsact qdisc where ctbypass created it and\n"
			   "nothing else uses it), its maps and the nftables table. Traffic is\n"
			   "tracked again from the next packet.\n"
			   "Running it when nothing is attached is not an error.\n"
			   "--wait SECONDS: how long to wait while another ctbypass command\n"
			   "changes this namespace (default 10).\n"
			   "\n"
			   "  -h, --help           print this help\n";

static int detach_locked(void)
{
	struct ctb_attachment att;
	char err[CTB_ERR_LEN];
	int ret;

	ret = ctb_attachment_find(&att, err, sizeof(err));
	if (ret == -EPROTO) {
		/* A table by our name we cannot read: it is still ours to remove. */
		att.nft.present = true;
	} else if (ret) {
		ctb_err("cannot read the current state: %s", err);
		ctb_attachment_free(&att);
		return CTB_EXIT_RUNTIME;
	}
	if (!ctb_attachment_exists(&att)) {
		puts("not attached: nothing to remove");
		ctb_attachment_free(&att);
		return CTB_EXIT_OK;
	}
	ret = ctb_attachment_remove(&att, err, sizeof(err));
	if (ret)
		ctb_err("detach incomplete: %s", err);
	else
		printf("detached: removed the classifier from %zu interface%s and table inet %s\n",
		       att.filter_count, att.filter_count == 1 ? "" : "s", CTB_NFT_TABLE);
	ctb_attachment_free(&att);
	return ret ? CTB_EXIT_RUNTIME : CTB_EXIT_OK;
}

int ctb_cmd_detach(const struct ctb_context *ctx, int argc, char **argv)
{
	static const struct option options[] = {
		{ "wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct ctb_lock lock;
	char err[CTB_ERR_LEN];
	double wait_seconds = -1;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		if (opt == 'w') {
			if (ctb_wait_parse(optarg, &wait_seconds, err, sizeof(err)))
				return ctb_usage_error("detach", "%s", err);
			continue;
		}
		if (opt != 'h')
			return ctb_usage_error("detach", "unknown option '%s'", argv[optind - 1]);
		fputs(help, stdout);
		return CTB_EXIT_OK;
	}
	if (optind < argc)
		return ctb_usage_error("detach", "unexpected argument '%s'", argv[optind]);
	ret = ctb_enter_target(ctx);
	if (ret)
		return ret;
	ret = ctb_begin_change(ctx, "detach", wait_seconds, &lock);
	if (ret)
		return ret;
	ret = detach_locked();
	ctb_end_change(&lock, ret == CTB_EXIT_OK, ret == CTB_EXIT_OK);
	return ret;
}
