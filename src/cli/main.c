// SPDX-License-Identifier: GPL-2.0
/* ctbypass: make chosen traffic skip connection tracking, reversibly. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "commands.h"
#include "log.h"
#include <bpf/libbpf.h>

#ifndef CTB_VERSION
#define CTB_VERSION "unknown"
#endif

static const char usage[] =
	"Usage: ctbypass [-n NETNS] [-w SECONDS] [-v] COMMAND [OPTIONS]\n"
	"\n"
	"Make traffic on chosen ports skip connection tracking, in both directions,\n"
	"so a full conntrack table stops dropping it.\n"
	"\n"
	"Commands:\n"
	"  attach     bypass server ports and/or upstreams (replaces any current setup)\n"
	"  detach     remove everything ctbypass added\n"
	"  ports      add|del LIST, or list: change bypassed server ports live\n"
	"  upstream   add|del LIST: change bypassed upstreams live\n"
	"  status     show what is bypassed and the counters (--json)\n"
	"  doctor     diagnose the conntrack table and propose what to bypass (--json)\n"
	"  watch      conntrack telemetry: inserts, drops, evictions per interval\n"
	"  daemon     keep the bypass in place as a service (config file, repairs, /metrics)\n"
	"  metrics    print the Prometheus metrics once (--output FILE for node_exporter)\n"
	"\n"
	"Options:\n"
	"  -n, --netns NETNS  run in network namespace NETNS (as in 'ip -n')\n"
	"  -w, --wait SECONDS how long a change waits while another ctbypass command\n"
	"                     changes the same namespace (default 10)\n"
	"  -v, --verbose      show details, including libbpf's messages\n"
	"  -V, --version      print the version\n"
	"  -h, --help         print this help\n"
	"\n"
	"'ctbypass COMMAND --help' describes each command. Exit status: 0 success,\n"
	"1 runtime failure, 2 bad usage or input; on failure nothing is changed.\n";

static const struct {
	const char *name;
	int (*run)(const struct ctb_context *, int, char **);
} commands[] = {
	{ "attach", ctb_cmd_attach },	  { "detach", ctb_cmd_detach },
	{ "ports", ctb_cmd_ports },	  { "upstream", ctb_cmd_upstream },
	{ "status", ctb_cmd_status },	  { "watch", ctb_cmd_watch },
	{ "doctor", ctb_cmd_doctor },	  { "daemon", ctb_cmd_daemon },
	{ "metrics", ctb_cmd_metrics },
};

/* libbpf's own chatter only with -v: failures are reported in one line by us. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	return ctb_verbose ? vfprintf(stderr, fmt, ap) : 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "netns", required_argument, NULL, 'n' },
		{ "wait", required_argument, NULL, 'w' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct ctb_context ctx = { .wait_seconds = CTB_LOCK_WAIT_DEFAULT };
	char err[CTB_ERR_LEN];
	int opt;

	libbpf_set_print(libbpf_print);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+n:w:vVh", options, NULL)) != -1) {
		switch (opt) {
		case 'n':
			ctx.netns = optarg;
			break;
		case 'w':
			if (ctb_wait_parse(optarg, &ctx.wait_seconds, err, sizeof(err))) {
				ctb_err("%s (see 'ctbypass --help')", err);
				return CTB_EXIT_USAGE;
			}
			break;
		case 'v':
			ctb_verbose = 1;
			break;
		case 'V':
			printf("ctbypass %s\n", CTB_VERSION);
			return CTB_EXIT_OK;
		case 'h':
			fputs(usage, stdout);
			return CTB_EXIT_OK;
		default:
			ctb_err("unknown or incomplete option '%s' (see 'ctbypass --help')",
				argv[optind - 1]);
			return CTB_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		ctb_err("no command given (see 'ctbypass --help')");
		return CTB_EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(argv[optind], commands[i].name)) {
			argv += optind;
			argc -= optind;
			optind = 0; /* restart getopt for the command's own options */
			return commands[i].run(&ctx, argc, argv);
		}
	}
	ctb_err("unknown command '%s' (see 'ctbypass --help')", argv[optind]);
	return CTB_EXIT_USAGE;
}
