// SPDX-License-Identifier: GPL-2.0
/*
 * `ctbypass metrics`: the daemon's exposition, sampled once, for
 * node_exporter's textfile collector (or a look by hand).
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "commands.h"
#include "log.h"
#include "metrics.h"

static const char help[] =
	"Usage: ctbypass [-n NETNS] metrics [--output FILE]\n"
	"\n"
	"Prints the namespace's metrics once in the Prometheus text format: the\n"
	"conntrack table, the kernel's drop counters, what is bypassed, health.\n"
	"Metrics only the daemon knows (repairs, reloads, inserts) are left out.\n"
	"\n"
	"  --output FILE   write FILE atomically instead (a temporary file in the same\n"
	"                  folder, renamed over it): for node_exporter's textfile\n"
	"                  collector, FILE ends in .prom in its --collector.textfile.directory\n"
	"  -h, --help           print this help\n";

/* Writes S to PATH through a temporary file in its folder, renamed over it. */
static int write_atomically(const char *path, const struct ctb_metrics_sample *s)
{
	char *copy = strdup(path), tmp[4096];
	FILE *f;
	int fd, ret;

	if (!copy)
		return -ENOMEM;
	/* A leading dot: the collector reads only *.prom, never a half-written file. */
	snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dirname(copy), basename((char *)path));
	free(copy);
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		ret = -errno;
		close(fd);
		unlink(tmp);
		return ret;
	}
	ret = ctb_metrics_write(f, s);
	if (!ret && (fchmod(fd, 0644) || fsync(fd)))
		ret = -errno;
	if (fclose(f) && !ret)
		ret = -EIO;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

int ctb_cmd_metrics(const struct ctb_context *ctx, int argc, char **argv)
{
	static const struct option options[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct ctb_metrics_sample sample;
	const char *output = NULL;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "+o:h", options, NULL)) != -1) {
		if (opt == 'o') {
			if (!*optarg)
				return ctb_usage_error("metrics", "--output needs a file name");
			output = optarg;
		} else if (opt == 'h') {
			fputs(help, stdout);
			return CTB_EXIT_OK;
		} else {
			return ctb_usage_error("metrics", "unknown or incomplete option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return ctb_usage_error("metrics", "unexpected argument '%s'", argv[optind]);
	ret = ctb_enter_target(ctx);
	if (ret)
		return ret;
	ctb_metrics_collect(&sample, true);
	if (!sample.have_table && !sample.have_ctstats) {
		ctb_metrics_sample_free(&sample);
		ctb_err("cannot read conntrack's statistics (is nf_conntrack loaded?)");
		return CTB_EXIT_RUNTIME;
	}
	ret = output ? write_atomically(output, &sample) : ctb_metrics_write(stdout, &sample);
	ctb_metrics_sample_free(&sample);
	if (ret) {
		ctb_err("cannot write %s: %s", output ? output : "the metrics", strerror(-ret));
		return CTB_EXIT_RUNTIME;
	}
	return CTB_EXIT_OK;
}
