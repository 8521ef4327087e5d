// SPDX-License-Identifier: GPL-2.0
/*
 * trafficgen: bounded TCP/UDP traffic for namespace tests.
 *
 *   trafficgen serve   --proto tcp|udp --port P [--bind ADDR] [--duration S]
 *   trafficgen connect --proto tcp|udp --to ADDR --port P [--count N] [--size B]
 *                      [--timeout-ms T] [--sport P] [--bind ADDR] [--http] [--pause-ms P]
 *
 * The server replies to every TCP connection with a short HTTP response and
 * echoes every UDP datagram from the address it arrived at. The client makes
 * N sequential attempts, each bounded by --timeout-ms, and prints
 * "ok=N fail=M". Both allow IP fragmentation so large datagrams get through.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_DGRAM 65507
#define MAX_CONNS 512
#define CONN_LINGER_MS 2000
#define MAX_REPORTED_FAILURES 3

static const char http_reply[] = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
				 "Content-Length: 3\r\nConnection: close\r\n\r\nok\n";

enum mode { MODE_SERVE, MODE_CONNECT };

struct tg_opts {
	enum mode mode;
	const char *netns;
	int proto; /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port;
	uint16_t sport;
	bool have_to, have_bind, http;
	struct sockaddr_storage to, bind;
	socklen_t to_len, bind_len;
	unsigned int duration_s;
	unsigned int count;
	unsigned int size;
	unsigned int timeout_ms;
	unsigned int pause_ms; /* between attempts: a steady rate the host can keep up with */
};

static volatile sig_atomic_t stop; /* the signal that asked us to stop */

static void on_signal(int sig)
{
	stop = sig;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ms_left(int64_t deadline)
{
	int64_t left = deadline - now_ms();

	return left < 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: trafficgen [-n NETNS] serve --proto tcp|udp --port P [--bind ADDR]\n"
		   "                  [--duration S]\n"
		   "       trafficgen [-n NETNS] connect --proto tcp|udp --to ADDR --port P\n"
		   "                  [--count N] [--size BYTES] [--timeout-ms T] [--sport P]\n"
		   "                  [--bind ADDR] [--http] [--pause-ms P]\n"
		   "serve: TCP replies a short HTTP 200 and closes; UDP echoes each datagram.\n"
		   "  Prints \"listening PROTO PORT\" once bound, \"served=N\" on exit; exits\n"
		   "  after --duration seconds (default 60) or on SIGTERM/SIGINT.\n"
		   "connect: N sequential attempts (default 1), each within --timeout-ms\n"
		   "  (default 1000). TCP: connect and read the reply until EOF (--http sends\n"
		   "  a GET and wants status 2xx). UDP: send --size bytes (default 64) and\n"
		   "  wait for the same bytes back. Prints \"ok=N fail=M\".\n"
		   "Exit: 0 success, 1 some attempt failed or runtime error, 2 usage error.\n");
}

static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* Fills ss with ADDR (IPv4 or IPv6) and port; returns 0 or -EINVAL. */
static int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		*len = sizeof(*sin6);
		return 0;
	}
	return -EINVAL;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static int parse_option(struct tg_opts *o, int c, const char *arg)
{
	unsigned long v;

	switch (c) {
	case 'P':
		if (!strcmp(arg, "tcp"))
			o->proto = IPPROTO_TCP;
		else if (!strcmp(arg, "udp"))
			o->proto = IPPROTO_UDP;
		else
			return -EINVAL;
		return 0;
	case 'p':
	case 's':
		if (parse_uint(arg, 1, 65535, &v))
			return -EINVAL;
		*(c == 'p' ? &o->port : &o->sport) = v;
		return 0;
	case 't':
		o->have_to = true;
		return parse_addr(arg, &o->to, &o->to_len);
	case 'b':
		o->have_bind = true;
		return parse_addr(arg, &o->bind, &o->bind_len);
	case 'd':
		if (parse_uint(arg, 1, 86400, &v))
			return -EINVAL;
		o->duration_s = v;
		return 0;
	case 'c':
		if (parse_uint(arg, 1, 1000000, &v))
			return -EINVAL;
		o->count = v;
		return 0;
	case 'S':
		if (parse_uint(arg, 1, MAX_DGRAM, &v))
			return -EINVAL;
		o->size = v;
		return 0;
	case 'T':
		if (parse_uint(arg, 1, 600000, &v))
			return -EINVAL;
		o->timeout_ms = v;
		return 0;
	case 'H':
		o->http = true;
		return 0;
	case 'W':
		if (parse_uint(arg, 1, 60000, &v))
			return -EINVAL;
		o->pause_ms = v;
		return 0;
	}
	return -EINVAL;
}

static int check_opts(const struct tg_opts *o)
{
	const char *missing = NULL;

	if (!o->proto)
		missing = "--proto";
	else if (!o->port)
		missing = "--port";
	else if (o->mode == MODE_CONNECT && !o->have_to)
		missing = "--to";
	if (missing) {
		fprintf(stderr, "trafficgen: %s is required\n", missing);
		return -EINVAL;
	}
	if (o->mode == MODE_CONNECT && o->have_bind && o->bind.ss_family != o->to.ss_family) {
		fprintf(stderr, "trafficgen: --bind and --to must be the same address family\n");
		return -EINVAL;
	}
	if (o->http && (o->mode != MODE_CONNECT || o->proto != IPPROTO_TCP)) {
		fprintf(stderr, "trafficgen: --http is only for connect --proto tcp\n");
		return -EINVAL;
	}
	return 0;
}

static const char *option_name(const struct option *opts, int val)
{
	for (; opts->name; opts++)
		if (opts->val == val)
			return opts->name;
	return "?";
}

static int parse_args(int argc, char **argv, struct tg_opts *o)
{
	static const struct option longopts[] = {
	    {"netns", required_argument, NULL, 'n'},
	    {"proto", required_argument, NULL, 'P'},
	    {"port", required_argument, NULL, 'p'},
	    {"sport", required_argument, NULL, 's'},
	    {"to", required_argument, NULL, 't'},
	    {"bind", required_argument, NULL, 'b'},
	    {"duration", required_argument, NULL, 'd'},
	    {"count", required_argument, NULL, 'c'},
	    {"size", required_argument, NULL, 'S'},
	    {"timeout-ms", required_argument, NULL, 'T'},
	    {"http", no_argument, NULL, 'H'},
	    {"pause-ms", required_argument, NULL, 'W'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	const char *mode = NULL;
	int c;

	/* "+" stops at the mode word so global options come first. */
	while ((c = getopt_long(argc, argv, "+n:h", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c != 'n')
			goto bad;
		o->netns = optarg;
	}
	if (optind >= argc)
		goto bad;
	mode = argv[optind];
	if (!strcmp(mode, "serve"))
		o->mode = MODE_SERVE;
	else if (!strcmp(mode, "connect"))
		o->mode = MODE_CONNECT;
	else
		goto bad;
	optind++;
	while ((c = getopt_long(argc, argv, "n:h", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c == 'n') {
			o->netns = optarg;
			continue;
		}
		if (c == '?' || parse_option(o, c, optarg)) {
			if (c != '?')
				fprintf(stderr, "trafficgen: bad value '%s' for --%s\n", optarg,
					option_name(longopts, c));
			goto bad;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "trafficgen: unexpected argument '%s'\n", argv[optind]);
		goto bad;
	}
	return check_opts(o);
bad:
	usage(stderr);
	return -EINVAL;
}

static int enter_netns(const char *name)
{
	char path[PATH_MAX];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "trafficgen: open %s: %s\n", path, strerror(-err));
		return err;
	}
	if (setns(fd, CLONE_NEWNET)) {
		err = -errno;
		fprintf(stderr, "trafficgen: setns %s: %s\n", name, strerror(-err));
	}
	close(fd);
	return err;
}

/* Let the kernel fragment datagrams larger than the path MTU. */
static void allow_fragments(int fd, int family)
{
	int dont = IP_PMTUDISC_DONT, dont6 = IPV6_PMTUDISC_DONT, zero = 0;

	if (family == AF_INET) {
		setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &dont, sizeof(dont));
	} else {
		setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &dont6, sizeof(dont6));
		setsockopt(fd, IPPROTO_IPV6, IPV6_DONTFRAG, &zero, sizeof(zero));
	}
}

/* A socket bound to addr (port set inside), or a negative errno. */
static int bound_socket(int family, int type, const struct sockaddr_storage *addr, socklen_t len,
			bool v6only)
{
	int fd = socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1, err;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6 && v6only)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (type == SOCK_DGRAM)
		allow_fragments(fd, family);
	if (bind(fd, (const struct sockaddr *)addr, len)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* ---- serve ---- */

struct server {
	int lfd[2];
	int lfamily[2];
	int nlfd;
	struct {
		int fd;
		int64_t deadline;
	} conns[MAX_CONNS];
	int nconns;
	unsigned long served;
	char *buf;
};

/*
 * Without --bind, serve both families on two sockets (IPv6 only if the kernel
 * has it), so replies need no IPv4-mapped addresses.
 */
static int server_open(struct server *s, const struct tg_opts *o)
{
	int type = o->proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM;
	struct sockaddr_storage any = {};
	int one = 1, fd;

	if (o->have_bind) {
		struct sockaddr_storage a = o->bind;

		set_port(&a, o->port);
		fd = bound_socket(a.ss_family, type, &a, o->bind_len, true);
		if (fd < 0)
			return fd;
		s->lfamily[s->nlfd] = a.ss_family;
		s->lfd[s->nlfd++] = fd;
	} else {
		any.ss_family = AF_INET;
		set_port(&any, o->port);
		fd = bound_socket(AF_INET, type, &any, sizeof(struct sockaddr_in), false);
		if (fd < 0)
			return fd;
		s->lfamily[s->nlfd] = AF_INET;
		s->lfd[s->nlfd++] = fd;
		memset(&any, 0, sizeof(any));
		any.ss_family = AF_INET6;
		set_port(&any, o->port);
		fd = bound_socket(AF_INET6, type, &any, sizeof(struct sockaddr_in6), true);
		if (fd >= 0) {
			s->lfamily[s->nlfd] = AF_INET6;
			s->lfd[s->nlfd++] = fd;
		} else if (fd != -EAFNOSUPPORT && fd != -EADDRNOTAVAIL)
			return fd;
	}
	for (int i = 0; i < s->nlfd; i++) {
		fd = s->lfd[i];
		if (type == SOCK_STREAM && listen(fd, 128))
			return -errno;
		if (type == SOCK_DGRAM) {
			/* Learn each datagram's destination to reply from it. */
			if (s->lfamily[i] == AF_INET)
				setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
			else
				setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
		}
	}
	return 0;
}

static void tcp_accept(struct server *s, int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	s->served++;
	/*
	 * Reply at once, then wait for the client's FIN before closing: closing
	 * with its request unread would send a RST instead.
	 */
	if (send(fd, http_reply, sizeof(http_reply) - 1, MSG_NOSIGNAL) < 0 ||
	    shutdown(fd, SHUT_WR) || s->nconns == MAX_CONNS) {
		close(fd);
		return;
	}
	s->conns[s->nconns].fd = fd;
	s->conns[s->nconns].deadline = now_ms() + CONN_LINGER_MS;
	s->nconns++;
}

static void tcp_drop_conn(struct server *s, int i)
{
	close(s->conns[i].fd);
	s->conns[i] = s->conns[--s->nconns];
}

/* Echo one datagram back from the address it was sent to. */
static void udp_echo(struct server *s, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
			 CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} cbuf;
	struct sockaddr_storage peer;
	struct iovec iov = {.iov_base = s->buf, .iov_len = MAX_DGRAM + 1};
	struct msghdr msg = {};
	struct cmsghdr *cm;
	ssize_t n;

	msg.msg_name = &peer;
	msg.msg_namelen = sizeof(peer);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof(cbuf.buf);
	n = recvmsg(fd, &msg, 0);
	if (n < 0)
		return;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo *pi = (struct in_pktinfo *)CMSG_DATA(cm);

			pi->ipi_spec_dst = pi->ipi_addr;
			pi->ipi_ifindex = 0;
		}
		/* IPV6_PKTINFO already names the destination as the source to use. */
	}
	iov.iov_len = n;
	msg.msg_flags = 0;
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) == n)
		s->served++;
}

static int serve(const struct tg_opts *o)
{
	struct server s = {.buf = malloc(MAX_DGRAM + 1)};
	struct pollfd pfd[2 + MAX_CONNS];
	int64_t end = now_ms() + (int64_t)o->duration_s * 1000;
	int err;

	if (!s.buf)
		return -ENOMEM;
	err = server_open(&s, o);
	if (err) {
		fprintf(stderr, "trafficgen: serve %s port %u: %s\n",
			o->proto == IPPROTO_TCP ? "tcp" : "udp", o->port, strerror(-err));
		goto out;
	}
	printf("listening %s %u\n", o->proto == IPPROTO_TCP ? "tcp" : "udp", o->port);
	fflush(stdout);

	while (!stop && now_ms() < end) {
		int64_t now = now_ms(), wake = end;
		int n = 0;

		for (int i = 0; i < s.nlfd; i++)
			pfd[n++] = (struct pollfd){.fd = s.lfd[i], .events = POLLIN};
		for (int i = s.nconns - 1; i >= 0; i--) {
			if (s.conns[i].deadline <= now)
				tcp_drop_conn(&s, i);
			else if (s.conns[i].deadline < wake)
				wake = s.conns[i].deadline;
		}
		for (int i = 0; i < s.nconns; i++)
			pfd[n++] = (struct pollfd){.fd = s.conns[i].fd, .events = POLLIN};
		if (poll(pfd, n, ms_left(wake)) <= 0)
			continue;
		/* Connections first: indexes shift when listeners add more. */
		for (int i = n - 1; i >= s.nlfd; i--) {
			char sink[4096];
			ssize_t r;

			if (!pfd[i].revents)
				continue;
			r = read(pfd[i].fd, sink, sizeof(sink));
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
				tcp_drop_conn(&s, i - s.nlfd);
		}
		for (int i = 0; i < s.nlfd; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			if (o->proto == IPPROTO_TCP)
				tcp_accept(&s, pfd[i].fd);
			else
				udp_echo(&s, pfd[i].fd);
		}
	}
	printf("served=%lu\n", s.served);
out:
	while (s.nconns)
		tcp_drop_conn(&s, 0);
	for (int i = 0; i < s.nlfd; i++)
		close(s.lfd[i]);
	free(s.buf);
	return err;
}

/* ---- connect ---- */

struct attempt {
	const struct tg_opts *o;
	int64_t deadline;
	const char *why; /* failure reason for the report */
	int err;
};

static int fail_with(struct attempt *a, const char *why, int err)
{
	a->why = why;
	a->err = err;
	return -1;
}

/* Wait for events on fd until the attempt's deadline; 0 on timeout. */
static int wait_fd(struct attempt *a, int fd, short events)
{
	struct pollfd p = {.fd = fd, .events = events};
	int r;

	do {
		r = poll(&p, 1, ms_left(a->deadline));
	} while (r < 0 && errno == EINTR && !stop);
	return r;
}

static int client_socket(struct attempt *a, int type)
{
	const struct tg_opts *o = a->o;
	struct sockaddr_storage local = {};
	socklen_t len = o->to_len;
	int fd;

	if (!o->have_bind && !o->sport) {
		fd = socket(o->to.ss_family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return fail_with(a, "socket", errno);
		if (type == SOCK_DGRAM)
			allow_fragments(fd, o->to.ss_family);
		return fd;
	}
	if (o->have_bind) {
		local = o->bind;
		len = o->bind_len;
	} else {
		local.ss_family = o->to.ss_family;
	}
	set_port(&local, o->sport);
	fd = bound_socket(local.ss_family, type, &local, len, false);
	if (fd < 0)
		return fail_with(a, "bind", -fd);
	return fd;
}

static int tcp_connect(struct attempt *a, int fd)
{
	const struct tg_opts *o = a->o;
	struct sockaddr_storage to = o->to;
	socklen_t elen = sizeof(int);
	int soerr = 0;

	set_port(&to, o->port);
	if (!connect(fd, (struct sockaddr *)&to, o->to_len))
		return 0;
	if (errno != EINPROGRESS)
		return fail_with(a, "connect", errno);
	if (wait_fd(a, fd, POLLOUT) <= 0)
		return fail_with(a, "connect", ETIMEDOUT);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen);
	return soerr ? fail_with(a, "connect", soerr) : 0;
}

/* Read until EOF into buf (keeping the first cap bytes); returns bytes seen. */
static ssize_t read_to_eof(struct attempt *a, int fd, char *buf, size_t cap)
{
	size_t got = 0;

	for (;;) {
		char tmp[4096];
		ssize_t r = read(fd, tmp, sizeof(tmp));

		if (r > 0) {
			if (got < cap)
				memcpy(buf + got, tmp,
				       (size_t)r < cap - got ? (size_t)r : cap - got);
			got += r;
			continue;
		}
		if (r == 0)
			return got;
		if (errno != EAGAIN && errno != EINTR)
			return fail_with(a, "read", errno);
		if (wait_fd(a, fd, POLLIN) <= 0)
			return fail_with(a, "read", ETIMEDOUT);
	}
}

static int tcp_attempt(struct attempt *a)
{
	char req[256], reply[64] = "";
	ssize_t got;
	int fd, rc = -1;

	fd = client_socket(a, SOCK_STREAM);
	if (fd < 0)
		return -1;
	if (tcp_connect(a, fd))
		goto out;
	if (a->o->http) {
		int len = snprintf(req, sizeof(req),
				   "GET / HTTP/1.0\r\nHost: trafficgen\r\n"
				   "User-Agent: trafficgen\r\n\r\n");

		/* The request is tiny: one send fits the fresh socket's buffer. */
		if (send(fd, req, len, MSG_NOSIGNAL) != len) {
			fail_with(a, "send", errno);
			goto out;
		}
	}
	got = read_to_eof(a, fd, reply, sizeof(reply) - 1);
	if (got < 0)
		goto out;
	if (got == 0) {
		fail_with(a, "empty reply", 0);
		goto out;
	}
	if (a->o->http && (strncmp(reply, "HTTP/1.", 7) || strlen(reply) < 10 || reply[9] != '2')) {
		fail_with(a, "HTTP status not 2xx", 0);
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

/* Payload for attempt n: the attempt number, then a pattern. */
static void fill_payload(unsigned char *p, unsigned int size, unsigned int n)
{
	for (unsigned int i = 0; i < size; i++)
		p[i] = i < sizeof(n) ? (unsigned char)(n >> (8 * i)) : (unsigned char)(i * 7 + n);
}

static int udp_attempt(struct attempt *a, int fd, unsigned int n, unsigned char *out,
		       unsigned char *in)
{
	unsigned int size = a->o->size;

	fill_payload(out, size, n);
	if (send(fd, out, size, MSG_NOSIGNAL) != (ssize_t)size)
		return fail_with(a, "send", errno);
	for (;;) {
		ssize_t r = recv(fd, in, MAX_DGRAM + 1, 0);

		/* Late echoes of earlier attempts differ in the attempt number. */
		if (r == (ssize_t)size && !memcmp(in, out, size))
			return 0;
		if (r >= 0)
			continue;
		if (errno != EAGAIN && errno != EINTR)
			return fail_with(a, "recv", errno);
		if (wait_fd(a, fd, POLLIN) <= 0)
			return fail_with(a, "recv", ETIMEDOUT);
	}
}

static int udp_client_socket(struct attempt *a)
{
	struct sockaddr_storage to = a->o->to;
	int fd = client_socket(a, SOCK_DGRAM);

	if (fd < 0)
		return -1;
	set_port(&to, a->o->port);
	/* Connected: only the server's replies arrive, and ICMP errors surface. */
	if (connect(fd, (struct sockaddr *)&to, a->o->to_len)) {
		fail_with(a, "connect", errno);
		close(fd);
		return -1;
	}
	return fd;
}

static int run_connect(const struct tg_opts *o)
{
	unsigned char *out = malloc(MAX_DGRAM + 1), *in = malloc(MAX_DGRAM + 1);
	unsigned int ok = 0, fail = 0;
	struct attempt a = {.o = o};
	int udp_fd = -1;

	if (!out || !in) {
		fprintf(stderr, "trafficgen: %s\n", strerror(ENOMEM));
		free(out);
		free(in);
		return -ENOMEM;
	}
	for (unsigned int n = 0; n < o->count && !stop; n++) {
		int rc;

		if (n && o->pause_ms)
			usleep(o->pause_ms * 1000);
		a.deadline = now_ms() + o->timeout_ms;
		a.why = NULL;
		a.err = 0;
		if (o->proto == IPPROTO_TCP) {
			rc = tcp_attempt(&a);
		} else {
			/* One socket for all attempts; a new one after an error. */
			if (udp_fd < 0)
				udp_fd = udp_client_socket(&a);
			rc = udp_fd < 0 ? -1 : udp_attempt(&a, udp_fd, n, out, in);
			if (rc && udp_fd >= 0) {
				close(udp_fd);
				udp_fd = -1;
			}
		}
		if (!rc) {
			ok++;
			continue;
		}
		/* Cut short by the signal that stops us: not a failure of the network. */
		if (stop)
			break;
		if (++fail <= MAX_REPORTED_FAILURES)
			fprintf(stderr, "trafficgen: attempt %u: %s%s%s\n", n + 1, a.why,
				a.err ? ": " : "", a.err ? strerror(a.err) : "");
	}
	if (udp_fd >= 0)
		close(udp_fd);
	free(out);
	free(in);
	printf("ok=%u fail=%u\n", ok, fail);
	return fail || !ok ? -EIO : 0;
}

int main(int argc, char **argv)
{
	struct tg_opts o = {.duration_s = 60, .count = 1, .size = 64, .timeout_ms = 1000};
	struct sigaction sa = {.sa_handler = on_signal};
	int err;

	if (parse_args(argc, argv, &o))
		return 2;
	if (o.netns && enter_netns(o.netns))
		return 1;
	/* No SA_RESTART: a signal must end a blocking poll(). */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	err = o.mode == MODE_SERVE ? serve(&o) : run_connect(&o);
	if (stop) {
		/*
		 * Die by the signal after reporting: a shell that sees its child
		 * exit normally after Ctrl-C assumes the child used it, and goes on.
		 */
		fflush(stdout);
		signal(stop, SIG_DFL);
		raise(stop);
	}
	return err ? 1 : 0;
}
