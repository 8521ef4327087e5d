/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `doctor`: which traffic to bypass. Each entry is given a role from its
 * direction and the host's listening sockets: a local port this host serves
 * (`--ports`), or a remote service this host connects to (`--upstream`).
 * Pure: local addresses and listening ports are given, so it is unit-tested.
 */
#ifndef CTB_DOCTOR_CANDIDATES_H
#define CTB_DOCTOR_CANDIDATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "doctor_table.h"

struct ctb_doctor_addr {
	int family;
	uint8_t addr[16];
};

/* What the host is: its addresses and the ports it listens on. */
struct ctb_doctor_host {
	struct ctb_doctor_addr *addrs;
	size_t naddrs;
	struct ctb_portset listen_tcp, listen_udp;
};

enum ctb_doctor_role {
	CTB_ROLE_SERVER,   /* a local port this host serves: --ports */
	CTB_ROLE_UPSTREAM, /* a remote service this host connects to: --upstream */
};

struct ctb_doctor_cand {
	enum ctb_doctor_role role;
	uint8_t l4proto;
	int family;	  /* upstream only */
	uint8_t addr[16]; /* upstream only */
	uint16_t port;
	bool listening; /* server: something listens on the port */
	uint64_t entries;
};

/* Entries being sorted into candidates. */
struct ctb_doctor_cands {
	struct ctb_doctor_counts counts;
	uint64_t total;	    /* every entry seen, of any protocol */
	uint64_t forwarded; /* neither end local: ctbypass leaves forwarded traffic tracked */
};

bool ctb_doctor_host_is_local(const struct ctb_doctor_host *host, int family, const uint8_t *addr);

/* Counts ENTRY towards its candidate. Returns 0 or -ENOMEM. */
int ctb_doctor_cands_add(struct ctb_doctor_cands *c, const struct ctb_doctor_host *host,
			 const struct ctb_flow *flow);
void ctb_doctor_cands_free(struct ctb_doctor_cands *c);

/* Up to MAX candidates, most entries first, in a new array the caller frees. */
int ctb_doctor_cands_rank(const struct ctb_doctor_cands *c, const struct ctb_doctor_host *host,
			  size_t max, struct ctb_doctor_cand **out, size_t *count);

/* The traffic of CAND as a configuration (protocol, and its port or upstream). */
int ctb_doctor_cand_config(const struct ctb_doctor_cand *cand, struct ctb_config *cfg);

/* "ctbypass [-n NETNS] attach --ports 80" or "... --upstream 198.18.0.2:3128 --proto udp". */
void ctb_doctor_attach_command(const char *netns, const struct ctb_config *cfg, char *buf,
			       size_t len);

#endif
