/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The daemon's /metrics endpoint, through libmicrohttpd in its own thread.
 * It serves only what the daemon last published: a scrape never reads the
 * kernel, so a slow kernel or a busy daemon never makes it wait. Only GET and
 * HEAD of "/metrics" and "/" are served; requests are capped in size, time
 * and number (README.md "Metrics").
 */
#ifndef CTB_METRICS_HTTP_H
#define CTB_METRICS_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

#define CTB_METRICS_PORT 10127
#define CTB_METRICS_ADDRESS_DEFAULT "127.0.0.1:10127"
#define CTB_METRICS_CONNECTIONS 64 /* at once; more are closed on accept */
/* libmicrohttpd's memory pool per connection: the request line and headers must fit in
 * it (a longer line gets 414, longer headers 431). */
#define CTB_METRICS_REQUEST_BYTES 16384
#define CTB_METRICS_TIMEOUT_S 5 /* a connection idle this long is closed */

struct ctb_metrics_server;

/*
 * Parses "ADDR:PORT" ("127.0.0.1:10127", "[::1]:10127", "0.0.0.0:10127").
 * -EINVAL with ERR on bad input.
 */
int ctb_metrics_address_parse(const char *text, struct sockaddr_storage *addr, socklen_t *len,
			      char *err, size_t errlen);

/* Listens on ADDRESS. Call with the daemon's signals blocked: the thread inherits the mask. */
int ctb_metrics_server_start(const char *address, struct ctb_metrics_server **out, char *err,
			     size_t errlen);
/* A server with no listening socket, fed connections by ctb_metrics_server_add (fuzzing). */
int ctb_metrics_server_start_unbound(struct ctb_metrics_server **out);
/*
 * Serves the connected socket FD (taken over: the server closes it). Only with
 * fewer than CTB_METRICS_CONNECTIONS open: past the limit, libmicrohttpd 0.9.75
 * (Debian 12) leaves a mutex locked and its thread hangs (fixed upstream in
 * 1.0.0). The listening socket checks the limit before accepting: not affected.
 */
int ctb_metrics_server_add(struct ctb_metrics_server *srv, int fd);

/* Makes TEXT (copied) what /metrics returns from now on. */
int ctb_metrics_server_publish(struct ctb_metrics_server *srv, const char *text, size_t len);

void ctb_metrics_server_stop(struct ctb_metrics_server *srv);

#endif
