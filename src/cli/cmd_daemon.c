// SPDX-License-Identifier: GPL-2.0
/* `ctbypass daemon`: the command line; the service itself is src/daemon/. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "commands.h"
#include "daemon.h"
#include "log.h"
#include "metrics_http.h"

static const char help[] =
	"Usage: ctbypass [-n NETNS] daemon [--config FILE] [--check-config] [OPTIONS]\n"
	"\n"
	"Keeps the bypass in place as configured, as a service (systemd Type=notify):\n"
	"applies it at start (adopting what is there, with no gap), covers interfaces as\n"
	"they appear, repairs a flushed table or deleted qdisc within a second, re-runs\n"
	"the preflight when the rules change, and logs each repair (stderr, with <N>\n"
	"priorities for journald). SIGHUP re-reads the configuration; SIGTERM leaves\n"
	"the bypass in place unless --detach-on-stop. While it runs, attach, detach,\n"
	"ports and upstream refuse in its namespace: change the file and reload.\n"
	"\n"
	"  --config FILE        settings, INI 'key = value' (default " CTB_DAEMON_CONFIG_DEFAULT ";\n"
	"                       missing is fine for the default, an error when given)\n"
	"  --check-config       print the effective settings and exit (2 if invalid)\n"
	"Settings (each also a key of the file; a flag overrides the file's key):\n"
	"  --ports LIST  --upstream LIST  --iface LIST  --proto LIST  --mark MASK\n"
	"  --accept IDS  --force  --no-flush   as for 'ctbypass attach'\n"
	"  --detach-on-stop     remove the bypass on SIGTERM (default: it stays)\n"
	"  --verify-interval S  seconds between periodic checks (default 10)\n"
	"  --metrics-address A  serve Prometheus metrics on ADDR:PORT, or off (default\n"
	"                       " CTB_METRICS_ADDRESS_DEFAULT "; only GET /metrics and /)\n"
	"  --metrics-interval S seconds between metrics samples (default 5)\n"
	"  --telemetry KIND     what counts conntrack inserts: auto (fentry, else kprobe,\n"
	"                       else none), fentry, kprobe, stats (none; drops still count)\n"
	"Guard (off unless an allowlist is given; README.md \"Guard\"):\n"
	"  --guard-ports LIST|auto    server ports it may bypass by itself when the table\n"
	"                       nears full (auto: any port something listens on)\n"
	"  --guard-upstreams LIST|auto  upstreams it may bypass (auto: any this host uses)\n"
	"  --guard-deny LIST    ports it never bypasses (default 22; none: no port)\n"
	"  --guard-fill PCT     act at this fill of nf_conntrack_max, or on a drop\n"
	"                       (default 90)\n"
	"  --guard-release-fill PCT  the level for letting go (default 70)\n"
	"  --guard-release MIN  remove what it added once the fill stayed below the\n"
	"                       release level this many minutes (default never)\n"
	"  -h, --help           print this help\n";

#define MAX_FLAGS 32

int ctb_cmd_daemon(const struct ctb_context *ctx, int argc, char **argv)
{
	static const struct option options[] = {
		{ "ports", required_argument, NULL, 0 },
		{ "upstream", required_argument, NULL, 0 },
		{ "iface", required_argument, NULL, 0 },
		{ "proto", required_argument, NULL, 0 },
		{ "mark", required_argument, NULL, 0 },
		{ "accept", required_argument, NULL, 0 },
		{ "force", no_argument, NULL, 0 },
		{ "no-flush", no_argument, NULL, 0 },
		{ "detach-on-stop", no_argument, NULL, 0 },
		{ "verify-interval", required_argument, NULL, 0 },
		{ "metrics-address", required_argument, NULL, 0 },
		{ "metrics-interval", required_argument, NULL, 0 },
		{ "telemetry", required_argument, NULL, 0 },
		{ "guard-ports", required_argument, NULL, 0 },
		{ "guard-upstreams", required_argument, NULL, 0 },
		{ "guard-deny", required_argument, NULL, 0 },
		{ "guard-fill", required_argument, NULL, 0 },
		{ "guard-release-fill", required_argument, NULL, 0 },
		{ "guard-release", required_argument, NULL, 0 },
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *keys[MAX_FLAGS], *values[MAX_FLAGS];
	struct ctb_daemon_source src = { .config_path = CTB_DAEMON_CONFIG_DEFAULT,
					 .keys = keys, .values = values };
	struct ctb_context daemon_ctx = *ctx;
	struct ctb_daemon_settings settings;
	char err[CTB_ERR_LEN];
	bool check = false;
	int opt, idx, ret;

	while ((opt = getopt_long(argc, argv, "+h", options, &idx)) != -1) {
		if (opt == 0) {
			if (src.count == MAX_FLAGS)
				return ctb_usage_error("daemon", "too many options");
			keys[src.count] = options[idx].name;
			/* a flag without argument is the key set to yes */
			values[src.count++] = options[idx].has_arg ? optarg : "yes";
		} else if (opt == 'c') {
			src.config_path = optarg;
			src.config_must_exist = true;
		} else if (opt == 'C') {
			check = true;
		} else if (opt == 'h') {
			fputs(help, stdout);
			return CTB_EXIT_OK;
		} else {
			return ctb_usage_error("daemon", "unknown or incomplete option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return ctb_usage_error("daemon", "unexpected argument '%s'", argv[optind]);
	/* Validated before anything else, so a bad file is one line and exit 2. */
	ret = ctb_daemon_load(&src, &settings, err, sizeof(err));
	if (ret) {
		ctb_err("%s", err);
		return ret == -EINVAL ? CTB_EXIT_USAGE : CTB_EXIT_RUNTIME;
	}
	if (check) {
		ctb_daemon_settings_print(stdout, &settings);
		ctb_daemon_settings_free(&settings);
		return CTB_EXIT_OK;
	}
	ctb_daemon_settings_free(&settings);
	ret = ctb_enter_target(ctx);
	if (ret)
		return ret;
	daemon_ctx.daemon = true;
	/* Lines, not blocks, reach the journal as they happen. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	return ctb_daemon_run(&daemon_ctx, &src);
}
