// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "local_addrs.h"
#include "netlink_request.h"

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

int ctb_local_addrs_add(struct ctb_local_addrs *locals, int family, const uint8_t *addr,
			uint8_t prefixlen)
{
	size_t len = addr_len(family);
	struct ctb_local_prefix *p;

	if (!len || prefixlen > len * 8)
		return -EINVAL;
	if (locals->count == locals->cap) {
		size_t cap = locals->cap ? locals->cap * 2 : 16;

		p = realloc(locals->items, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		locals->items = p;
		locals->cap = cap;
	}
	p = &locals->items[locals->count++];
	memset(p, 0, sizeof(*p));
	p->family = family;
	memcpy(p->addr, addr, len);
	p->prefixlen = prefixlen;
	return 0;
}

static bool prefix_covers(const struct ctb_local_prefix *p, const uint8_t *addr)
{
	unsigned int full = p->prefixlen / 8, rest = p->prefixlen % 8;

	if (memcmp(p->addr, addr, full))
		return false;
	return !rest || !((p->addr[full] ^ addr[full]) & (uint8_t)(0xff << (8 - rest)));
}

bool ctb_local_addrs_has(const struct ctb_local_addrs *locals, int family, const uint8_t *addr)
{
	for (size_t i = 0; i < locals->count; i++) {
		const struct ctb_local_prefix *p = &locals->items[i];

		if (p->family == family && prefix_covers(p, addr))
			return true;
	}
	return false;
}

void ctb_local_addrs_free(struct ctb_local_addrs *locals)
{
	free(locals->items);
	memset(locals, 0, sizeof(*locals));
}

struct route_attrs {
	const struct nlattr *dst;
	uint32_t table;
};

static int route_attr_cb(const struct nlattr *attr, void *data)
{
	struct route_attrs *ra = data;

	switch (mnl_attr_get_type(attr)) {
	case RTA_DST:
		ra->dst = attr;
		break;
	case RTA_TABLE:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
			return MNL_CB_ERROR;
		ra->table = mnl_attr_get_u32(attr);
		break;
	}
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct route_attrs ra = {0};
	static const uint8_t any[16];
	size_t len;
	int err;

	if (nlh->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm))
		return MNL_CB_OK;
	/* Other families (multicast routing, MPLS) answer an AF_UNSPEC dump too. */
	len = addr_len(rtm->rtm_family);
	if (!len || rtm->rtm_type != RTN_LOCAL)
		return MNL_CB_OK;
	ra.table = rtm->rtm_table; /* RTA_TABLE, when present, holds ids above 255 */
	if (mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, &ra) < 0)
		return MNL_CB_ERROR;
	if (ra.table != RT_TABLE_LOCAL)
		return MNL_CB_OK;
	/* No RTA_DST is a /0 route: `local default` makes every address local. */
	if (ra.dst && mnl_attr_get_payload_len(ra.dst) != len) {
		errno = EPROTO;
		return MNL_CB_ERROR;
	}
	err = ctb_local_addrs_add(data, rtm->rtm_family,
				  ra.dst ? mnl_attr_get_payload(ra.dst) : any, rtm->rtm_dst_len);
	if (err) {
		errno = err == -EINVAL ? EPROTO : -err;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

int ctb_local_addrs_read(struct ctb_local_addrs *locals)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;
	int ret;

	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_UNSPEC;
	/* A hint only: without strict checking the kernel dumps every table. */
	rtm->rtm_table = RT_TABLE_LOCAL;
	ret = ctb_nl_request(NETLINK_ROUTE, nlh, route_cb, locals);
	if (ret)
		ctb_local_addrs_free(locals);
	return ret;
}
