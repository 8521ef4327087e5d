// SPDX-License-Identifier: GPL-2.0
/*
 * `ctbypass watch`: what the conntrack table does, one line per interval, from
 * the best backend that loads (fentry, kprobe, netlink). Everything it attaches
 * belongs to this process: Ctrl-C, SIGTERM or any exit leaves nothing loaded.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "commands.h"
#include "fill_forecast.h"
#include "log.h"
#include "watch.h"
#include "watch_output.h"
#include "watch_rates.h"

#define TOP_MAX 100

static const char help[] =
	"Usage: ctbypass [-n NETNS] watch [--interval SECONDS] [--count N] [--top K] [--json]\n"
	"                                 [--backend auto|fentry|kprobe|netlink]\n"
	"\n"
	"Shows what the namespace's conntrack table does, one line per interval:\n"
	"entries, max, fill %, then counts within the interval: inserts, drops (table\n"
	"full), early drops, insert failures, destroys, packets bypassed by ctbypass,\n"
	"lost events. '-' marks a metric this kernel cannot provide (stderr says why).\n"
	"\n"
	"  --interval SECONDS  length of an interval (default 1; 0.1 to 86400)\n"
	"  --count N           stop after N intervals (default: until Ctrl-C)\n"
	"  --top K             also the top K source addresses and destination ports\n"
	"                      among new entries and among drops (K up to 100)\n"
	"  --json              one JSON object per interval (README.md lists the fields)\n"
	"  --backend B         auto (default: the best that loads), fentry, kprobe, netlink\n"
	"\n"
	"Ctrl-C or SIGTERM prints the interval under way, then detaches everything.\n"
	"  -h, --help           print this help\n";

struct watch_opts {
	double interval;
	unsigned long count; /* 0: forever */
	size_t top;
	bool json;
	enum ctb_watch_backend_kind backend;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static int parse_opts(int argc, char **argv, struct watch_opts *o)
{
	static const struct option options[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'c' },
		{ "top", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "backend", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		char *end = NULL;
		unsigned long long v;

		switch (opt) {
		case 'i':
			errno = 0;
			o->interval = strtod(optarg, &end);
			if (errno || end == optarg || *end || !isfinite(o->interval) ||
			    o->interval < 0.1 || o->interval > 86400)
				return ctb_usage_error("watch", "bad --interval '%s' (0.1 to 86400)",
						       optarg);
			break;
		case 'c':
		case 't':
			errno = 0;
			v = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || *optarg == '-' || !v ||
			    (opt == 't' && v > TOP_MAX))
				return ctb_usage_error("watch", "bad --%s '%s' (%s)",
						       opt == 'c' ? "count" : "top", optarg,
						       opt == 'c' ? "a positive number" : "1 to 100");
			if (opt == 'c')
				o->count = v;
			else
				o->top = v;
			break;
		case 'j':
			o->json = true;
			break;
		case 'b':
			if (!strcmp(optarg, "auto"))
				o->backend = CTB_WATCH_AUTO;
			else if (!strcmp(optarg, "fentry"))
				o->backend = CTB_WATCH_FENTRY;
			else if (!strcmp(optarg, "kprobe"))
				o->backend = CTB_WATCH_KPROBE;
			else if (!strcmp(optarg, "netlink"))
				o->backend = CTB_WATCH_NETLINK;
			else
				return ctb_usage_error("watch",
						       "bad --backend '%s' (auto, fentry, kprobe, netlink)",
						       optarg);
			break;
		case 'h':
			fputs(help, stdout);
			return -1;
		default:
			return ctb_usage_error("watch", "unknown or incomplete option '%s'",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return ctb_usage_error("watch", "unexpected argument '%s'", argv[optind]);
	return 0;
}

static int open_one(struct ctb_watch_backend *b, enum ctb_watch_backend_kind kind,
		    uint32_t netns, char *why, size_t whylen)
{
	if (kind == CTB_WATCH_NETLINK)
		return ctb_watch_netlink_open(b, netns, why, whylen);
	return ctb_watch_probes_open(b, kind, netns, why, whylen);
}

/* The requested backend, or the best that loads; says which, and with -v why not better. */
static int open_backend(struct ctb_watch_backend *b, enum ctb_watch_backend_kind want,
			uint32_t netns)
{
	static const enum ctb_watch_backend_kind order[] = { CTB_WATCH_FENTRY, CTB_WATCH_KPROBE,
							     CTB_WATCH_NETLINK };
	char why[3][256] = { "", "", "" };
	struct ctb_watch_top *top = b->top;

	for (size_t i = 0; i < 3; i++) {
		if (want != CTB_WATCH_AUTO && want != order[i])
			continue;
		memset(b, 0, sizeof(*b));
		b->top = top;
		if (!open_one(b, order[i], netns, why[i], sizeof(why[i]))) {
			for (size_t j = 0; j < i && want == CTB_WATCH_AUTO; j++)
				ctb_debug("watch: %s backend: %s", ctb_watch_backend_name(order[j]),
					  why[j]);
			/* Not a warning: which backend runs, and that everything is attached. */
			fprintf(stderr, "ctbypass: watch: using the %s backend%s\n",
				ctb_watch_backend_name(order[i]),
				want == CTB_WATCH_AUTO && i && !ctb_verbose
					? " (-v says why not a better one)"
					: "");
			if (order[i] == CTB_WATCH_NETLINK)
				/* Measured on 6.18 with `conntrack -E` as much as with us. */
				ctb_warn("watch: ctnetlink events slow the kernel down under "
					 "high connection rates (here up to 15x fewer new "
					 "connections/s, lasting after exit); watch briefly");
			return 0;
		}
		if (want != CTB_WATCH_AUTO) {
			ctb_err("watch: the %s backend cannot run: %s",
				ctb_watch_backend_name(order[i]), why[i]);
			return -1;
		}
	}
	ctb_err("watch: no backend works: fentry: %s; kprobe: %s; netlink: %s", why[0], why[1],
		why[2]);
	return -1;
}

static uint64_t now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct watch_state {
	const struct watch_opts *o;
	struct ctb_watch_backend *b;
	struct ctb_watch_top top;
	uint64_t last_sample;
	uint64_t bypassed_prev;
	bool bypassed_known;
	struct ctb_fill_forecast forecast;
};

/* Reads, prints and resets one interval ending now. */
static int sample(struct watch_state *st)
{
	struct ctb_watch_interval iv = { .backend = ctb_watch_backend_name(st->b->kind) };
	uint64_t now = now_ns(CLOCK_MONOTONIC), total;
	int ret;

	/* Events wake us only in batches: take what waits before counting. */
	st->b->drain(st->b);
	ret = st->b->read(st->b, iv.count);
	if (ret) {
		ctb_err("watch: reading the counters failed: %s", strerror(-ret));
		return ret;
	}
	if (ctb_watch_table_size(&iv.entries, &iv.max))
		iv.entries = iv.max = -1;
	iv.seconds_to_full = INFINITY;
	if (iv.entries >= 0 && iv.max > 0) {
		ctb_fill_forecast_add(&st->forecast, (long long)(now / 1000000), (uint64_t)iv.entries);
		iv.seconds_to_full = ctb_fill_forecast_seconds(&st->forecast, (uint64_t)iv.entries,
								 (uint64_t)iv.max);
	}
	ret = ctb_watch_bypassed_total(&total);
	if (!ret) {
		iv.attached = true;
		/* Attached during the interval: its counters started at zero. */
		iv.bypassed = st->bypassed_known ? ctb_counter_delta(st->bypassed_prev, total) : total;
		st->bypassed_prev = total;
	}
	st->bypassed_known = !ret;
	memcpy(iv.avail, st->b->avail, sizeof(iv.avail));
	iv.ts = (double)now_ns(CLOCK_REALTIME) / 1e9;
	iv.elapsed = (double)(now - st->last_sample) / 1e9;
	st->last_sample = now;
	iv.top_k = st->b->top ? st->o->top : 0;
	iv.top = st->b->top;
	ret = st->o->json ? ctb_watch_print_json(stdout, &iv) : ctb_watch_print_text(stdout, &iv);
	if (st->b->top)
		ctb_watch_top_reset(st->b->top);
	return ret;
}

/* Waits until DEADLINE (monotonic), draining events; false when a signal asks to stop. */
static bool wait_until(struct watch_state *st, uint64_t deadline, const sigset_t *unblocked)
{
	struct pollfd fds[2];
	nfds_t n = 0;

	for (int i = 0; i < 2; i++)
		if (st->b->poll_fds[i] >= 0)
			fds[n++] = (struct pollfd){ .fd = st->b->poll_fds[i], .events = POLLIN };
	for (;;) {
		uint64_t now = now_ns(CLOCK_MONOTONIC);
		struct timespec left;

		if (stop_signal)
			return false;
		if (now >= deadline)
			return true;
		left.tv_sec = (deadline - now) / 1000000000ull;
		left.tv_nsec = (deadline - now) % 1000000000ull;
		if (ppoll(fds, n, &left, unblocked) > 0)
			st->b->drain(st->b);
	}
}

static int run(struct watch_state *st, const sigset_t *unblocked)
{
	uint64_t period = (uint64_t)(st->o->interval * 1e9), start, tick, skipped;
	unsigned long done = 0;
	int ret;

	if (!ctb_watch_bypassed_total(&st->bypassed_prev))
		st->bypassed_known = true;
	if (!st->o->json)
		ctb_watch_print_header(stdout);
	start = st->last_sample = now_ns(CLOCK_MONOTONIC);
	tick = start + period;
	while (wait_until(st, tick, unblocked)) {
		ret = sample(st);
		if (ret)
			return ret;
		if (st->o->count && ++done >= st->o->count)
			return 0;
		tick = ctb_interval_next(start, period, tick, now_ns(CLOCK_MONOTONIC), &skipped);
		if (skipped)
			ctb_debug("watch: the interval overran %llu tick(s)",
				  (unsigned long long)skipped);
	}
	/* Stopped by a signal: the interval under way still counts. */
	st->b->drain(st->b);
	return sample(st);
}

static void report_unavailable(const struct ctb_watch_backend *b)
{
	for (int m = 0; m < CTB_W_METRICS; m++)
		if (!b->avail[m])
			ctb_warn("watch: %s unavailable: %s", ctb_watch_metric_names[m], b->why[m]);
	if (b->top && b->drop_detail_why[0])
		ctb_warn("watch: drops are counted but not attributed to sources: %s",
			 b->drop_detail_why);
}

int ctb_cmd_watch(const struct ctb_context *ctx, int argc, char **argv)
{
	struct watch_opts o = { .interval = 1.0, .backend = CTB_WATCH_AUTO };
	struct ctb_watch_backend b = { 0 };
	struct watch_state st = { .o = &o, .b = &b };
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, old;
	struct stat ns;
	int ret;

	ret = parse_opts(argc, argv, &o);
	if (ret)
		return ret < 0 ? CTB_EXIT_OK : ret;
	ret = ctb_enter_target(ctx);
	if (ret)
		return ret;
	/* The namespace we are in now: the probes count only its entries. */
	if (stat("/proc/self/ns/net", &ns)) {
		ctb_err("watch: cannot identify the network namespace: %s", strerror(errno));
		return CTB_EXIT_RUNTIME;
	}
	/* Signals wait until ppoll, so setup and teardown are never cut short. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (o.top && ctb_watch_top_init(&st.top)) {
		ctb_err("watch: %s", strerror(ENOMEM));
		return CTB_EXIT_RUNTIME;
	}
	b.top = o.top ? &st.top : NULL;
	if (open_backend(&b, o.backend, (uint32_t)ns.st_ino)) {
		ret = CTB_EXIT_RUNTIME;
		goto out;
	}
	report_unavailable(&b);
	ret = run(&st, &old) ? CTB_EXIT_RUNTIME : CTB_EXIT_OK;
	b.close(&b);
out:
	if (o.top)
		ctb_watch_top_free(&st.top);
	return ret;
}
