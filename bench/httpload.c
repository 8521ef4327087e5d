// SPDX-License-Identifier: GPL-2.0
/*
 * httpload: the flash-sale benchmark's two kinds of client, bounded in time.
 *
 *   httpload clients --to ADDR [--port P] --rate R --duration S [--timeout-ms T]
 *   httpload flood   --to ADDR [--port P] --rate R --count N --duration S
 *
 * `clients` starts R requests a second on new connections (HTTP/1.1,
 * Connection: close), at a fixed pace whatever earlier ones are doing, so a
 * stalled server shows as failures rather than as fewer attempts. Each request
 * is one CSV line on stdout: start (Unix time), latency in ms, result (ok,
 * timeout, refused, reset, http, error). A request that gets no full answer
 * within T ms is a timeout, with latency T.
 *
 * `flood` opens N connections at R a second, sends each one keep-alive request
 * and then holds it open, as a crowd of browsers would: held connections are
 * ESTABLISHED conntrack entries, which early drop never evicts. Prints a
 * summary line on stderr at the end.
 *
 * Both stop after S seconds (or SIGINT/SIGTERM) and close everything.
 * Exit: 0 done, 1 runtime failure, 2 usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 65536
#define MAX_EVENTS 256
#define TICK_MS 5

enum mode { MODE_CLIENTS, MODE_FLOOD };

enum state { ST_FREE, ST_CONNECTING, ST_READING, ST_HELD };

struct conn {
	int fd;
	enum state state;
	double start; /* CLOCK_REALTIME seconds, for the CSV */
	double mono_start;
	char status[13]; /* "HTTP/1.1 200" */
	size_t got;
};

struct opts {
	enum mode mode;
	struct sockaddr_in to;
	double rate, duration;
	unsigned int count, timeout_ms;
};

struct stats {
	unsigned long started, ok, failed, established, answered, held_peak;
};

static volatile sig_atomic_t stop;
static struct conn conns[MAX_CONNS];
static int nconns; /* slots in use, including free ones below it */

static const char req_close[] = "GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
static const char req_keep[] = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n";

static void on_signal(int sig)
{
	stop = sig;
}

static double now(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: httpload clients --to ADDR [--port P] --rate R --duration S"
		   " [--timeout-ms T]\n"
		   "       httpload flood   --to ADDR [--port P] --rate R --count N"
		   " --duration S\n");
}

static int parse_num(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "port", required_argument, NULL, 'p' },
		{ "rate", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'c' },
		{ "timeout-ms", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	bool have_to = false;
	double v;
	int c;

	if (argc < 2) {
		usage(stderr);
		return -EINVAL;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		exit(0);
	}
	if (!strcmp(argv[1], "clients")) {
		o->mode = MODE_CLIENTS;
	} else if (!strcmp(argv[1], "flood")) {
		o->mode = MODE_FLOOD;
	} else {
		fprintf(stderr, "httpload: unknown mode '%s' (clients, flood)\n", argv[1]);
		return -EINVAL;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "t:p:r:d:c:T:h", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (inet_pton(AF_INET, optarg, &o->to.sin_addr) != 1) {
				fprintf(stderr, "httpload: bad IPv4 address '%s'\n", optarg);
				return -EINVAL;
			}
			have_to = true;
			break;
		case 'p':
			if (parse_num(optarg, 1, 65535, &v))
				goto bad;
			o->to.sin_port = htons((uint16_t)v);
			break;
		case 'r':
			if (parse_num(optarg, 0.1, 100000, &o->rate))
				goto bad;
			break;
		case 'd':
			if (parse_num(optarg, 0.1, 3600, &o->duration))
				goto bad;
			break;
		case 'c':
			if (parse_num(optarg, 1, MAX_CONNS - 1024, &v))
				goto bad;
			o->count = v;
			break;
		case 'T':
			if (parse_num(optarg, 1, 600000, &v))
				goto bad;
			o->timeout_ms = v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc || !have_to || !o->rate || !o->duration ||
	    (o->mode == MODE_FLOOD && !o->count)) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
bad:
	fprintf(stderr, "httpload: bad value '%s'\n", optarg);
	return -EINVAL;
}

static struct conn *conn_alloc(void)
{
	for (int i = 0; i < nconns; i++)
		if (conns[i].state == ST_FREE)
			return &conns[i];
	return nconns < MAX_CONNS ? &conns[nconns++] : NULL;
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	c->fd = -1;
	c->state = ST_FREE;
}

static void record(const struct opts *o, struct stats *st, struct conn *c, const char *result,
		   double mono)
{
	if (o->mode != MODE_CLIENTS)
		return;
	if (!strcmp(result, "ok"))
		st->ok++;
	else
		st->failed++;
	printf("%.3f,%.2f,%s\n", c->start, (mono - c->mono_start) * 1e3, result);
}

static int launch(int ep, const struct opts *o, struct stats *st)
{
	struct epoll_event ev = { .events = EPOLLOUT };
	struct conn *c = conn_alloc();
	int fd;

	if (!c)
		return -EMFILE;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	*c = (struct conn){ .fd = fd, .state = ST_CONNECTING, .start = now(CLOCK_REALTIME),
			    .mono_start = now(CLOCK_MONOTONIC) };
	st->started++;
	if (connect(fd, (struct sockaddr *)&o->to, sizeof(o->to)) && errno != EINPROGRESS) {
		record(o, st, c, errno == ECONNREFUSED ? "refused" : "error", c->mono_start);
		conn_close(c);
		return 0;
	}
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
		int err = -errno;

		conn_close(c);
		return err;
	}
	return 0;
}

static const char *sock_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	switch (err) {
	case 0:
		return NULL;
	case ECONNREFUSED:
		return "refused";
	case ECONNRESET:
		return "reset";
	case ETIMEDOUT:
		return "timeout";
	default:
		return "error";
	}
}

static void on_connected(int ep, const struct opts *o, struct stats *st, struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	const char *req = o->mode == MODE_CLIENTS ? req_close : req_keep;
	size_t len = o->mode == MODE_CLIENTS ? sizeof(req_close) - 1 : sizeof(req_keep) - 1;
	const char *err = sock_error(c->fd);

	if (!err && send(c->fd, req, len, MSG_NOSIGNAL) != (ssize_t)len)
		err = "error";
	if (err) {
		record(o, st, c, err, now(CLOCK_MONOTONIC));
		conn_close(c);
		return;
	}
	st->established++;
	c->state = ST_READING;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Reads what is there; a client's answer is complete at EOF. */
static void on_readable(const struct opts *o, struct stats *st, struct conn *c)
{
	const char *result = "ok";
	char buf[4096];
	ssize_t n;

	while ((n = recv(c->fd, buf, sizeof(buf), 0)) > 0) {
		size_t room = sizeof(c->status) - 1 - c->got;
		size_t take = (size_t)n < room ? (size_t)n : room;

		memcpy(c->status + c->got, buf, take);
		c->got += take;
		if (o->mode == MODE_FLOOD && c->state == ST_READING && c->got >= 12) {
			st->answered++;
			c->state = ST_HELD;
		}
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	/* EOF or error: the exchange is over. */
	if (n < 0)
		result = errno == ECONNRESET ? "reset" : "error";
	else if (strncmp(c->status, "HTTP/1.1 200", 12))
		result = "http";
	record(o, st, c, result, now(CLOCK_MONOTONIC));
	conn_close(c);
}

static void expire(const struct opts *o, struct stats *st, double mono)
{
	if (o->mode != MODE_CLIENTS)
		return;
	for (int i = 0; i < nconns; i++) {
		struct conn *c = &conns[i];

		if (c->state != ST_FREE && (mono - c->mono_start) * 1e3 >= o->timeout_ms) {
			/* Reported at exactly the timeout, whatever the loop's lag. */
			record(o, st, c, "timeout", c->mono_start + o->timeout_ms / 1e3);
			conn_close(c);
		}
	}
}

static unsigned long held(void)
{
	unsigned long n = 0;

	for (int i = 0; i < nconns; i++)
		n += conns[i].state == ST_HELD;
	return n;
}

static int run(const struct opts *o, struct stats *st)
{
	struct epoll_event evs[MAX_EVENTS];
	double t0 = now(CLOCK_MONOTONIC), end = t0 + o->duration;
	/* Clients stop starting requests at the end and let the last ones finish. */
	double hard_end = o->mode == MODE_CLIENTS ? end + o->timeout_ms / 1e3 : end;
	unsigned long launched = 0;
	int ep = epoll_create1(EPOLL_CLOEXEC), err = 0;

	if (ep < 0)
		return -errno;
	while (!stop) {
		double mono = now(CLOCK_MONOTONIC);
		int n;

		if (mono >= hard_end)
			break;
		/* Catch up on the schedule: the pace is fixed, not closed-loop. */
		while (!err && mono < end &&
		       launched < (unsigned long)((mono - t0) * o->rate) + 1 &&
		       (o->mode == MODE_CLIENTS || launched < o->count)) {
			err = launch(ep, o, st);
			launched++;
		}
		if (err)
			break;
		n = epoll_wait(ep, evs, MAX_EVENTS, TICK_MS);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c->state == ST_CONNECTING)
				on_connected(ep, o, st, c);
			else
				on_readable(o, st, c);
		}
		expire(o, st, now(CLOCK_MONOTONIC));
		if (o->mode == MODE_FLOOD) {
			unsigned long h = held();

			if (h > st->held_peak)
				st->held_peak = h;
		}
		if (o->mode == MODE_CLIENTS && mono >= end && st->ok + st->failed == st->started)
			break;
	}
	/* Stopped early or at the end: whatever is still open did not finish in time. */
	for (int i = 0; i < nconns; i++) {
		if (conns[i].state == ST_FREE)
			continue;
		if (o->mode == MODE_CLIENTS)
			record(o, st, &conns[i], "timeout", now(CLOCK_MONOTONIC));
		conn_close(&conns[i]);
	}
	close(ep);
	return err;
}

int main(int argc, char **argv)
{
	struct opts o = { .timeout_ms = 1000 };
	struct stats st = { 0 };
	struct rlimit rl;
	int err;

	o.to.sin_family = AF_INET;
	o.to.sin_port = htons(80);
	if (parse_args(argc, argv, &o))
		return 2;
	/* A flood holds many sockets; the soft limit is often 1,024. */
	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (o.mode == MODE_CLIENTS)
		printf("start,latency_ms,result\n");
	err = run(&o, &st);
	fflush(stdout);
	if (o.mode == MODE_CLIENTS)
		fprintf(stderr, "httpload: started=%lu ok=%lu failed=%lu\n", st.started, st.ok,
			st.failed);
	else
		fprintf(stderr,
			"httpload: started=%lu established=%lu answered=%lu held_peak=%lu\n",
			st.started, st.established, st.answered, st.held_peak);
	if (err) {
		fprintf(stderr, "httpload: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}
