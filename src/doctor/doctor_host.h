/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `doctor`: facts about the host, read in the current namespace: conntrack
 * sysctls, memory, the nf_conn object size, local addresses (getifaddrs) and
 * listening sockets (sock_diag over netlink).
 */
#ifndef CTB_DOCTOR_HOST_H
#define CTB_DOCTOR_HOST_H

#include <stdbool.h>
#include <stdint.h>
#include "doctor_candidates.h"

struct ctb_doctor_sysctls {
	/* -1 when unreadable (nf_conntrack not loaded). /proc/sys/net follows our netns. */
	int64_t count, max, buckets, tcp_established;
};

void ctb_doctor_read_sysctls(struct ctb_doctor_sysctls *s);
/* nf_conntrack's objsize in /proc/slabinfo, or 0 when unreadable. */
uint64_t ctb_doctor_slab_objsize(void);
uint64_t ctb_doctor_ram_bytes(void);
/* True in the initial network namespace: where nf_conntrack_max is writable. */
bool ctb_doctor_initial_netns(void);

/* Local addresses and listening TCP/UDP ports. Returns 0 or negative errno. */
int ctb_doctor_host_read(struct ctb_doctor_host *host);
void ctb_doctor_host_free(struct ctb_doctor_host *host);

#endif
