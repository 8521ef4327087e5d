// SPDX-License-Identifier: GPL-2.0
/* `ctbypass ports …` and `ctbypass upstream …`: change what is bypassed, live. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "attachment.h"
#include "commands.h"
#include "log.h"
#include "report.h"

static const char ports_help[] =
	"Usage: ctbypass [-n NETNS] ports add|del LIST [--no-flush] [--accept IDS] [--force]\n"
	"                [--wait S]\n"
	"       ctbypass [-n NETNS] ports list\n"
	"\n"
	"Adds or removes bypassed server ports while attached, on the protocols given at\n"
	"attach. LIST: 80,81,8000-8010. 'add' deletes existing conntrack entries of the\n"
	"added traffic (--no-flush keeps them). Traffic that stays bypassed is never\n"
	"tracked in between. Added ports go through the same preflight as attach\n"
	"(--accept IDS accepts the findings with those ids, --force every finding).\n"
	"\n"
	"  -h, --help           print this help\n";

static const char upstream_help[] =
	"Usage: ctbypass [-n NETNS] upstream add|del LIST [--no-flush] [--accept IDS] [--force]\n"
	"                [--wait S]\n"
	"\n"
	"Adds or removes bypassed upstreams while attached. LIST: comma-separated\n"
	"ADDR[/LEN]:PORT or [IPV6][/LEN]:PORT. 'add' deletes existing conntrack entries\n"
	"of the added traffic (--no-flush keeps them). Added upstreams go through the\n"
	"same preflight as attach (--accept IDS accepts the findings with those ids,\n"
	"--force every finding).\n"
	"\n"
	"  -h, --help           print this help\n";

enum change_kind { CHANGE_PORTS, CHANGE_UPSTREAMS };

struct change {
	enum change_kind kind;
	const char *command; /* "ports" or "upstream", for messages */
	bool add, list_only, no_flush, force;
	const char *accept; /* --accept: finding ids */
	double wait_seconds; /* negative: the global --wait */
	struct ctb_portset ports;
	struct ctb_upstream_list upstreams;
};

static int parse_change(int argc, char **argv, struct change *c, const char *help)
{
	static const struct option options[] = {
		{ "no-flush", no_argument, NULL, 'F' },
		{ "force", no_argument, NULL, 'f' },
		{ "accept", required_argument, NULL, 'a' },
		{ "wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char err[CTB_ERR_LEN];
	const char *op;
	int opt, ret;

	c->wait_seconds = -1;
	/* No "+": options may follow the action and list ("ports add 80 --no-flush"). */
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (opt == 'F') {
			c->no_flush = true;
		} else if (opt == 'f') {
			c->force = true;
		} else if (opt == 'a') {
			if (ctb_accept_list_parse(optarg, err, sizeof(err)))
				return ctb_usage_error(c->command, "%s", err);
			c->accept = optarg;
		} else if (opt == 'w') {
			if (ctb_wait_parse(optarg, &c->wait_seconds, err, sizeof(err)))
				return ctb_usage_error(c->command, "%s", err);
		} else if (opt == 'h') {
			fputs(help, stdout);
			return -1;
		} else {
			return ctb_usage_error(c->command, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return ctb_usage_error(c->command, "say add, del%s", c->kind == CHANGE_PORTS ? " or list" : "");
	op = argv[optind++];
	if (c->kind == CHANGE_PORTS && !strcmp(op, "list")) {
		c->list_only = true;
		return optind < argc ? ctb_usage_error(c->command, "unexpected argument '%s'",
						       argv[optind])
				     : 0;
	}
	if (strcmp(op, "add") && strcmp(op, "del"))
		return ctb_usage_error(c->command, "unknown action '%s'", op);
	c->add = !strcmp(op, "add");
	if (optind != argc - 1)
		return ctb_usage_error(c->command, "%s needs exactly one LIST", op);
	ret = c->kind == CHANGE_PORTS
		      ? ctb_portset_parse(&c->ports, argv[optind], err, sizeof(err))
		      : ctb_upstream_list_parse(&c->upstreams, argv[optind], err, sizeof(err));
	return ret ? ctb_usage_error(c->command, "%s", err) : 0;
}

/* The configuration after the change; -E2BIG when upstreams overflow. */
static int changed_config(const struct change *c, const struct ctb_config *cur,
			  struct ctb_config *next)
{
	int ret = ctb_config_copy(next, cur);

	if (ret)
		return ret;
	if (c->kind == CHANGE_PORTS) {
		if (c->add)
			ctb_portset_union(&next->ports, &c->ports);
		else
			ctb_portset_subtract(&next->ports, &c->ports);
		return 0;
	}
	for (size_t i = 0; !ret && i < c->upstreams.count; i++) {
		if (c->add)
			ret = ctb_upstream_list_add(&next->upstreams, &c->upstreams.items[i]);
		else
			ctb_upstream_list_remove(&next->upstreams, &c->upstreams.items[i]);
	}
	return ret;
}

static int list_ports(const struct ctb_config *cfg)
{
	size_t need = ctb_portset_format(&cfg->ports, NULL, 0) + 1;
	char *text = malloc(need);

	if (!text)
		return CTB_EXIT_RUNTIME;
	ctb_portset_format(&cfg->ports, text, need);
	printf("%s %s\n", ctb_protocols_name(cfg->protocols), need > 1 ? text : "none");
	free(text);
	return CTB_EXIT_OK;
}

static int change_locked(struct change *c);

static int run_change(const struct ctb_context *ctx, struct change *c)
{
	struct ctb_lock lock;
	int ret = ctb_enter_target(ctx);

	if (ret)
		return ret;
	/* `ports list` only reads. */
	if (c->list_only)
		return change_locked(c);
	ret = ctb_begin_change(ctx, c->command, c->wait_seconds, &lock);
	if (ret)
		return ret;
	ret = change_locked(c);
	ctb_end_change(&lock, ret == CTB_EXIT_OK, false);
	return ret;
}

static int change_locked(struct change *c)
{
	struct ctb_attachment att;
	struct ctb_config next;
	char err[CTB_ERR_LEN];
	int ret;

	if (ctb_attachment_find(&att, err, sizeof(err))) {
		ctb_err("cannot read the current state: %s", err);
		ctb_attachment_free(&att);
		return CTB_EXIT_RUNTIME;
	}
	if (!att.nft.present) {
		ctb_err("not attached in this namespace (run 'ctbypass attach' first)");
		ctb_attachment_free(&att);
		return CTB_EXIT_RUNTIME;
	}
	if (c->list_only) {
		ret = list_ports(&att.nft.cfg);
		ctb_attachment_free(&att);
		return ret;
	}
	if (changed_config(c, &att.nft.cfg, &next)) {
		ctb_err("too many upstreams (at most %d)", CTB_MAX_UPSTREAM_ITEMS);
		ctb_config_free(&next);
		ctb_attachment_free(&att);
		return CTB_EXIT_USAGE;
	}
	if (c->add) {
		/* Preflight only what is added: the rest passed (or was forced) before. */
		struct ctb_config added;

		ctb_config_init(&added);
		added.protocols = next.protocols;
		added.ports = c->ports;
		added.upstreams = c->upstreams;
		ret = ctb_preflight_gate(c->command, &added, c->force, c->accept, false, &next);
		if (ret)
			goto out;
	}
	ret = ctb_apply_and_report(c->command, &att, &next, &att.ifaces, false,
				   c->add && !c->no_flush);
	if (!ret && !ctb_config_has_targets(&next))
		printf("nothing is bypassed now; 'ctbypass detach' removes ctbypass\n");
out:
	ctb_config_free(&next);
	ctb_attachment_free(&att);
	return ret;
}

static int change_main(const struct ctb_context *ctx, int argc, char **argv,
		       enum change_kind kind)
{
	struct change c = { .kind = kind };
	int ret;

	c.command = kind == CHANGE_PORTS ? "ports" : "upstream";
	ret = parse_change(argc, argv, &c, kind == CHANGE_PORTS ? ports_help : upstream_help);
	if (!ret)
		ret = run_change(ctx, &c);
	ctb_upstream_list_free(&c.upstreams);
	return ret < 0 ? CTB_EXIT_OK : ret;
}

int ctb_cmd_ports(const struct ctb_context *ctx, int argc, char **argv)
{
	return change_main(ctx, argc, argv, CHANGE_PORTS);
}

int ctb_cmd_upstream(const struct ctb_context *ctx, int argc, char **argv)
{
	return change_main(ctx, argc, argv, CHANGE_UPSTREAMS);
}
