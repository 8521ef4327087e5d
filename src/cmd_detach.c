// SPDX-License-Identifier: GPL-2.0
/* `ctbypass detach`: remove every trace; safe to run again. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include "attachment.h"
#include "commands.h"
#include "log.h"

static const char help[] = "Usage: ctbypass [-n NETNS] detach\n"
			   "\n"
			   "Removes the classifier's TC filters (and the clsact qdisc where\n"
			   "ctbypass created it and nothing else uses it), its maps and the\n"
			   "nftables table. Traffic is tracked again from the next packet.\n"
			   "Running it when nothing is attached is not an error.\n";

int ctb_cmd_detach(const struct ctb_context *ctx, int argc, char **argv)
{
	static const struct option options[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
	struct ctb_attachment att;
	char err[CTB_ERR_LEN];
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
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
