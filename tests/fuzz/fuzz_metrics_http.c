// SPDX-License-Identifier: GPL-2.0
/*
 * The /metrics server (libmicrohttpd and our handler) fed whatever a client
 * could send: each input is written into one end of a socketpair whose other
 * end the server serves, then the client half-closes and reads the reply.
 * Beyond not crashing: any reply is HTTP, never 500, and never 503 (a
 * sample is published). The same bytes, as a C string, go to
 * ctb_metrics_address_parse: what it accepts prints back and parses to the
 * same address.
 *
 * The file is compiled in for the server's MHD daemon, to wait after each
 * input until MHD has freed the connection: so an input's allocations are
 * freed within it (libFuzzer's leak check after each input stays on), and
 * connections never pile up. They must not: libmicrohttpd 0.9.75 (Debian 12)
 * leaves a mutex locked when connections added with MHD_add_connection
 * exceed the connection limit, and its thread then deadlocks for good
 * (fixed upstream in 1.0.0, commit 67061d5c).
 */
#include "../../src/metrics/metrics_http.c"
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <time.h>
#include "fuzz.h"

/*
 * A reply comes within a millisecond or two; a connection quiet this long is
 * one MHD waits on (a body still owed), and then only its 5 s timeout would
 * end it. IDLE after the last progress, TOTAL at most, so hangs are bounded
 * and an input costs little; closing early loses a check, never fails one.
 */
#define IDLE_MS 20
#define TOTAL_MS 200
#define DRAIN_MS 1000 /* for MHD to free a connection we closed */

static const char sample[] =
	"# HELP ctbypass_attached 1 when ctbypass is attached in this namespace.\n"
	"# TYPE ctbypass_attached gauge\n"
	"ctbypass_attached 1\n";

static struct ctb_metrics_server *server;

/* Joins the server's thread and frees it, so what is left at exit is a leak. */
static void stop_server(void)
{
	ctb_metrics_server_stop(server);
	server = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (ctb_metrics_server_start_unbound(&server) ||
	    ctb_metrics_server_publish(server, sample, sizeof(sample) - 1)) {
		fprintf(stderr, "fuzz: cannot start the metrics server\n");
		abort();
	}
	atexit(stop_server);
	return 0;
}

static long elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

static unsigned int connections(void)
{
	const union MHD_DaemonInfo *info =
		MHD_get_daemon_info(server->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

	return __atomic_load_n(&info->num_connections, __ATOMIC_RELAXED);
}

/* Until MHD has freed every connection (it counts one down after freeing it). */
static void drain(void)
{
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (connections() && elapsed_ms(&start) < DRAIN_MS)
		nanosleep(&(struct timespec){ .tv_nsec = 20000 }, NULL);
}

/* Until the server has read all we sent (or closed): then it has the connection. */
static void wait_read(int fd)
{
	struct timespec start;
	int queued;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!ioctl(fd, SIOCOUTQ, &queued) && queued > 0 && elapsed_ms(&start) < TOTAL_MS)
		nanosleep(&(struct timespec){ .tv_nsec = 20000 }, NULL);
}

/*
 * Writes DATA (reading as the server answers, so neither side waits on a full
 * buffer), half-closes, and reads the reply until the server closes or the
 * connection stays quiet. Returns the reply's first bytes in REPLY.
 */
static size_t exchange(const uint8_t *data, size_t size, char *reply, size_t cap)
{
	struct timespec start, last;
	size_t sent = 0, got = 0;
	bool shut = false;
	int sv[2];

	FUZZ_ASSERT(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv),
		    "socketpair: %s", strerror(errno));
	/* The server takes sv[1] over, and closes it on failure too. */
	FUZZ_ASSERT(!ctb_metrics_server_add(server, sv[1]), "the server refused a connection");
	/*
	 * Without a newline MHD has not a whole request line: it can only wait
	 * for the rest, even after the end of input. Closed once it has read it.
	 */
	if (!memchr(data, '\n', size)) {
		if (send(sv[0], data, size, MSG_NOSIGNAL) > 0)
			wait_read(sv[0]);
		close(sv[0]);
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	last = start;
	for (;;) {
		struct pollfd pfd = { .fd = sv[0], .events = POLLIN };
		long left = IDLE_MS - elapsed_ms(&last), total = TOTAL_MS - elapsed_ms(&start);
		char buf[4096];
		ssize_t n;

		if (sent == size && !shut) {
			shutdown(sv[0], SHUT_WR);
			shut = true;
		}
		if (!shut)
			pfd.events |= POLLOUT;
		if (total < left)
			left = total;
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		if (!shut && (pfd.revents & POLLOUT)) {
			n = send(sv[0], data + sent, size - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN)
				sent = size; /* the server closed: it read all it wanted */
			clock_gettime(CLOCK_MONOTONIC, &last);
		}
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = recv(sv[0], buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN))
			break;
		if (n > 0 && got < cap) {
			size_t keep = (size_t)n < cap - got ? (size_t)n : cap - got;

			memcpy(reply + got, buf, keep);
			got += keep;
		}
		clock_gettime(CLOCK_MONOTONIC, &last);
	}
	/* Whatever the server still waits for, it sees the end now, not after its 5 s timeout. */
	close(sv[0]);
	return got;
}

static void check_reply(const char *reply, size_t len, const uint8_t *data, size_t size)
{
	int status = 0;
	char head[32];

	if (!len)
		return; /* closed without a word: MHD's answer to what it cannot parse */
	memcpy(head, reply, len < sizeof(head) - 1 ? len : sizeof(head) - 1);
	head[len < sizeof(head) - 1 ? len : sizeof(head) - 1] = '\0';
	/* Closing early may cut a reply short: what came must still start as HTTP does. */
	FUZZ_ASSERT(!strncmp(head, "HTTP/1.", len < 7 ? len : 7), "reply is not HTTP: '%s'", head);
	if (len >= 12) /* "HTTP/1.x NNN" */
		status = atoi(head + 9);
	/* 505 (a version MHD does not speak) is fine; 500 is a failure, 503 a lost sample. */
	FUZZ_ASSERT(len < 12 || (status >= 200 && status != 500 && status != 503),
		    "status %d to %zu bytes: '%.*s'", status, size, (int)(size < 200 ? size : 200),
		    (const char *)data);
}

static void check_address(const char *text)
{
	struct sockaddr_storage addr, again;
	socklen_t len = 0, len_again = 0;
	char err[128], host[INET6_ADDRSTRLEN], printed[INET6_ADDRSTRLEN + 16];

	if (ctb_metrics_address_parse(text, &addr, &len, err, sizeof(err))) {
		fuzz_check_err(err, sizeof(err));
		return;
	}
	if (addr.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&addr;

		FUZZ_ASSERT(len == sizeof(*in), "length %u for IPv4", len);
		FUZZ_ASSERT(in->sin_port, "port 0 from '%s'", text);
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(printed, sizeof(printed), "%s:%u", host, ntohs(in->sin_port));
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&addr;

		FUZZ_ASSERT(addr.ss_family == AF_INET6, "family %d from '%s'", addr.ss_family,
			    text);
		FUZZ_ASSERT(len == sizeof(*in6), "length %u for IPv6", len);
		FUZZ_ASSERT(in6->sin6_port, "port 0 from '%s'", text);
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(printed, sizeof(printed), "[%s]:%u", host, ntohs(in6->sin6_port));
	}
	FUZZ_ASSERT(!ctb_metrics_address_parse(printed, &again, &len_again, err, sizeof(err)),
		    "'%s' parsed, printed back as '%s', which does not: %s", text, printed, err);
	FUZZ_ASSERT(len == len_again && !memcmp(&addr, &again, len),
		    "'%s' and '%s' parse differently", text, printed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char reply[64];
	char *text = fuzz_cstr(data, size);
	size_t len;

	check_address(text);
	free(text);
	if (!size)
		return 0; /* nothing for the server to read */
	len = exchange(data, size, reply, sizeof(reply));
	drain();
	check_reply(reply, len, data, size);
	return 0;
}
