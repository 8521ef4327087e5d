// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "metrics_http.h"

#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"

static const char index_page[] =
	"<html><head><title>ctbypass</title></head><body><h1>ctbypass</h1>"
	"<p><a href=\"/metrics\">Metrics</a></p></body></html>\n";

struct ctb_metrics_server {
	struct MHD_Daemon *mhd;
	pthread_mutex_t lock; /* guards current: the request thread queues it, publish swaps it */
	struct MHD_Response *current; /* NULL until the first publish */
	struct MHD_Response *index, *not_found, *not_allowed, *not_ready;
};

int ctb_metrics_address_parse(const char *text, struct sockaddr_storage *addr, socklen_t *len,
			      char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *port_text;
	bool bracketed = text[0] == '[';
	unsigned long port;
	char *end;
	size_t n;

	memset(addr, 0, sizeof(*addr));
	colon = strrchr(text, ':');
	if (!colon || colon == text)
		goto bad;
	n = (size_t)(colon - text);
	port_text = colon + 1;
	if (bracketed) {
		if (n < 3 || text[n - 1] != ']')
			goto bad;
		text++;
		n -= 2;
	}
	if (n >= sizeof(host))
		goto bad;
	memcpy(host, text, n);
	host[n] = '\0';
	/* Digits only: strtoul alone would take blanks and signs. */
	if (!*port_text || strspn(port_text, "0123456789") != strlen(port_text) ||
	    strlen(port_text) > 5)
		goto bad;
	port = strtoul(port_text, &end, 10);
	if (port < 1 || port > 65535)
		goto bad;
	if (!bracketed) {
		struct sockaddr_in *in = (struct sockaddr_in *)addr;

		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			goto bad;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*len = sizeof(*in);
		return 0;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)addr;

		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			goto bad;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return 0;
	}
bad:
	snprintf(err, errlen, "expected ADDRESS:PORT, e.g. %s or [::1]:%d", CTB_METRICS_ADDRESS_DEFAULT,
		 CTB_METRICS_PORT);
	return -EINVAL;
}

static struct MHD_Response *fixed(const char *text, const char *type)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);

	if (r)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	struct ctb_metrics_server *srv = cls;
	enum MHD_Result ret;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED, srv->not_allowed);
	if (!strcmp(url, "/"))
		return MHD_queue_response(conn, MHD_HTTP_OK, srv->index);
	if (strcmp(url, "/metrics"))
		return MHD_queue_response(conn, MHD_HTTP_NOT_FOUND, srv->not_found);
	/* Queued under the lock: publish cannot drop the response between. */
	pthread_mutex_lock(&srv->lock);
	if (srv->current)
		ret = MHD_queue_response(conn, MHD_HTTP_OK, srv->current);
	else
		ret = MHD_queue_response(conn, MHD_HTTP_SERVICE_UNAVAILABLE, srv->not_ready);
	pthread_mutex_unlock(&srv->lock);
	return ret;
}

static void destroy(struct ctb_metrics_server *srv)
{
	if (srv->mhd)
		MHD_stop_daemon(srv->mhd);
	if (srv->current)
		MHD_destroy_response(srv->current);
	if (srv->index)
		MHD_destroy_response(srv->index);
	if (srv->not_found)
		MHD_destroy_response(srv->not_found);
	if (srv->not_allowed)
		MHD_destroy_response(srv->not_allowed);
	if (srv->not_ready)
		MHD_destroy_response(srv->not_ready);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}

static int start(const struct sockaddr_storage *addr, struct ctb_metrics_server **out)
{
	struct ctb_metrics_server *srv = calloc(1, sizeof(*srv));
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY;

	if (!srv)
		return -ENOMEM;
	pthread_mutex_init(&srv->lock, NULL);
	srv->index = fixed(index_page, "text/html; charset=utf-8");
	srv->not_found = fixed("Not found: ctbypass serves /metrics\n", "text/plain");
	srv->not_allowed = fixed("Only GET and HEAD\n", "text/plain");
	srv->not_ready = fixed("No sample yet\n", "text/plain");
	if (!srv->index || !srv->not_found || !srv->not_allowed || !srv->not_ready) {
		destroy(srv);
		return -ENOMEM;
	}
	MHD_add_response_header(srv->not_allowed, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (!addr)
		flags |= MHD_USE_NO_LISTEN_SOCKET;
	else if (addr->ss_family == AF_INET6)
		/* "[::]:PORT" means every address, IPv4 too, as it does for other servers. */
		flags |= IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)addr)->sin6_addr)
				 ? MHD_USE_DUAL_STACK
				 : MHD_USE_IPv6;
	errno = 0;
	srv->mhd = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, srv,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CTB_METRICS_CONNECTIONS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CTB_METRICS_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CTB_METRICS_REQUEST_BYTES,
		MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
		addr ? MHD_OPTION_SOCK_ADDR : MHD_OPTION_END, (const struct sockaddr *)addr,
		MHD_OPTION_END);
	if (!srv->mhd) {
		int ret = errno ? -errno : -EADDRNOTAVAIL;

		destroy(srv);
		return ret;
	}
	*out = srv;
	return 0;
}

int ctb_metrics_server_start(const char *address, struct ctb_metrics_server **out, char *err,
			     size_t errlen)
{
	struct sockaddr_storage addr;
	socklen_t len;
	int ret = ctb_metrics_address_parse(address, &addr, &len, err, errlen);

	if (ret)
		return ret;
	ret = start(&addr, out);
	if (ret)
		snprintf(err, errlen, "cannot serve metrics on %s: %s", address, strerror(-ret));
	return ret;
}

int ctb_metrics_server_start_unbound(struct ctb_metrics_server **out)
{
	return start(NULL, out);
}

int ctb_metrics_server_add(struct ctb_metrics_server *srv, int fd)
{
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	/* MHD closes FD itself, on failure too. */
	return MHD_add_connection(srv->mhd, fd, (struct sockaddr *)&peer, sizeof(peer)) == MHD_YES
		       ? 0
		       : -EIO;
}

int ctb_metrics_server_publish(struct ctb_metrics_server *srv, const char *text, size_t len)
{
	struct MHD_Response *next =
		MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
	struct MHD_Response *old;

	if (!next)
		return -ENOMEM;
	MHD_add_response_header(next, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE_METRICS);
	pthread_mutex_lock(&srv->lock);
	old = srv->current;
	srv->current = next;
	pthread_mutex_unlock(&srv->lock);
	/* Connections still sending OLD hold their own reference: it goes with the last. */
	if (old)
		MHD_destroy_response(old);
	return 0;
}

void ctb_metrics_server_stop(struct ctb_metrics_server *srv)
{
	if (srv)
		destroy(srv);
}
