// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <time.h>
#include "doctor_host.h"
#include "netlink_request.h"

static int64_t read_sysctl(const char *name)
{
	char path[128];
	long long v;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/sys/net/netfilter/%s", name);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fscanf(f, "%lld", &v);
	fclose(f);
	return n == 1 && v >= 0 ? v : -1;
}

void ctb_doctor_read_sysctls(struct ctb_doctor_sysctls *s)
{
	s->count = read_sysctl("nf_conntrack_count");
	s->max = read_sysctl("nf_conntrack_max");
	s->buckets = read_sysctl("nf_conntrack_buckets");
	s->tcp_established = read_sysctl("nf_conntrack_tcp_timeout_established");
}

uint64_t ctb_doctor_slab_objsize(void)
{
	FILE *f = fopen("/proc/slabinfo", "re");
	char line[512];
	uint64_t size = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char name[64];
		unsigned long active, total, objsize;

		if (sscanf(line, "%63s %lu %lu %lu", name, &active, &total, &objsize) == 4 &&
		    !strcmp(name, "nf_conntrack")) {
			size = objsize;
			break;
		}
	}
	fclose(f);
	return size;
}

uint64_t ctb_doctor_ram_bytes(void)
{
	struct sysinfo si;

	if (sysinfo(&si))
		return 0;
	return (uint64_t)si.totalram * si.mem_unit;
}

bool ctb_doctor_initial_netns(void)
{
	struct stat self, init;

	/* The kernel makes the global max read-only outside the initial namespace. */
	if (!stat("/proc/sys/net/netfilter/nf_conntrack_max", &self))
		return self.st_mode & S_IWUSR;
	if (stat("/proc/self/ns/net", &self) || stat("/proc/1/ns/net", &init))
		return true; /* cannot tell: do not claim otherwise */
	return self.st_ino == init.st_ino && self.st_dev == init.st_dev;
}

static int add_addr(struct ctb_doctor_host *host, int family, const void *addr)
{
	struct ctb_doctor_addr *a = realloc(host->addrs, (host->naddrs + 1) * sizeof(*a));

	if (!a)
		return -ENOMEM;
	host->addrs = a;
	a = &host->addrs[host->naddrs++];
	memset(a, 0, sizeof(*a));
	a->family = family;
	memcpy(a->addr, addr, family == AF_INET ? 4 : 16);
	return 0;
}

static int read_addrs(struct ctb_doctor_host *host)
{
	struct ifaddrs *ifa, *i;
	int ret = 0;

	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i && !ret; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			ret =
			    add_addr(host, AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr);
		else if (i->ifa_addr->sa_family == AF_INET6)
			ret = add_addr(host, AF_INET6,
				       &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr);
	}
	freeifaddrs(ifa);
	return ret;
}

struct diag_ctx {
	struct ctb_portset *ports;
	bool unconnected_only; /* UDP: a socket with no peer receives from anyone */
};

static int diag_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct inet_diag_msg *msg = mnl_nlmsg_get_payload(nlh);
	struct diag_ctx *ctx = data;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*msg)))
		return MNL_CB_OK;
	if (ctx->unconnected_only && msg->id.idiag_dport)
		return MNL_CB_OK;
	if (msg->id.idiag_sport)
		ctb_portset_add(ctx->ports, ntohs(msg->id.idiag_sport));
	return MNL_CB_OK;
}

/* One inet_diag dump of FAMILY/PROTO sockets in STATES into PORTS. */
static int diag_dump(int family, uint8_t proto, uint32_t states, struct ctb_portset *ports)
{
	struct diag_ctx ctx = { .ports = ports, .unconnected_only = proto == IPPROTO_UDP };
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_req_v2 *req;

	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = (uint8_t)family;
	req->sdiag_protocol = proto;
	req->idiag_states = states;
	return ctb_nl_request(NETLINK_SOCK_DIAG, nlh, diag_cb, &ctx);
}

int ctb_doctor_host_read(struct ctb_doctor_host *host)
{
	static const int families[] = {AF_INET, AF_INET6};
	int ret;

	memset(host, 0, sizeof(*host));
	ret = read_addrs(host);
	for (size_t i = 0; !ret && i < 2; i++) {
		ret = diag_dump(families[i], IPPROTO_TCP, 1u << TCP_LISTEN, &host->listen_tcp);
		/* ENOENT: no IPv6, or no udp_diag module; those sockets count as absent. */
		if (ret == -ENOENT && families[i] == AF_INET6)
			ret = 0;
		if (!ret)
			ret = diag_dump(families[i], IPPROTO_UDP, ~0u, &host->listen_udp);
		if (ret == -ENOENT)
			ret = 0;
	}
	if (ret)
		ctb_doctor_host_free(host);
	return ret;
}

void ctb_doctor_host_free(struct ctb_doctor_host *host)
{
	free(host->addrs);
	memset(host, 0, sizeof(*host));
}
