// SPDX-License-Identifier: GPL-2.0
/*
 * Interface facts come from one RTM_GETLINK dump of the current namespace, not
 * from /sys, which `-n` does not remount, and not one ioctl per interface.
 */
#include <errno.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ifaces.h"
#include "netlink_request.h"

struct link {
	int ifindex;
	char name[IF_NAMESIZE];
	bool up, loopback, ethernet;
	char port_of[16]; /* IFLA_INFO_SLAVE_KIND: "bridge", "bond", "team", "vrf"… */
};

struct links {
	struct link *items;
	size_t count;
};

bool ctb_iface_list_has(const struct ctb_iface_list *list, int ifindex)
{
	for (size_t i = 0; i < list->count; i++)
		if (list->items[i].ifindex == ifindex)
			return true;
	return false;
}

int ctb_iface_list_add(struct ctb_iface_list *list, int ifindex, const char *name)
{
	if (ctb_iface_list_has(list, ifindex))
		return 0;
	if (list->count == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 16;
		struct ctb_iface *grown = realloc(list->items, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		list->items = grown;
		list->cap = cap;
	}
	list->items[list->count].ifindex = ifindex;
	snprintf(list->items[list->count].name, IF_NAMESIZE, "%s", name);
	list->count++;
	return 0;
}

void ctb_iface_list_free(struct ctb_iface_list *list)
{
	free(list->items);
	memset(list, 0, sizeof(*list));
}

#define NAMES_SHOWN 8

void ctb_iface_list_format(const struct ctb_iface_list *list, char *buf, size_t len)
{
	size_t used = 0, shown = list->count > NAMES_SHOWN + 1 ? NAMES_SHOWN : list->count;

	buf[0] = '\0';
	for (size_t i = 0; i < shown && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "",
					 list->items[i].name);
	if (shown < list->count && used < len)
		snprintf(buf + used, len - used, " and %zu more", list->count - shown);
	if (!list->count)
		snprintf(buf, len, "none");
}

static void parse_linkinfo(const struct nlattr *info, struct link *l)
{
	const struct nlattr *attr;

	mnl_attr_for_each_nested(attr, info)
		if (mnl_attr_get_type(attr) == IFLA_INFO_SLAVE_KIND &&
		    !mnl_attr_validate(attr, MNL_TYPE_NUL_STRING))
			snprintf(l->port_of, sizeof(l->port_of), "%s", mnl_attr_get_str(attr));
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct links *links = data;
	const struct nlattr *attr;
	struct link l = { 0 };
	struct link *grown;

	if (nlh->nlmsg_type != RTM_NEWLINK || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return MNL_CB_OK;
	l.ifindex = ifi->ifi_index;
	l.up = ifi->ifi_flags & IFF_UP;
	l.loopback = ifi->ifi_flags & IFF_LOOPBACK;
	/* The classifier parses Ethernet headers; L3 devices (tun, wireguard) have none. */
	l.ethernet = ifi->ifi_type == ARPHRD_ETHER;
	mnl_attr_for_each(attr, nlh, sizeof(*ifi)) {
		if (mnl_attr_get_type(attr) == IFLA_IFNAME &&
		    !mnl_attr_validate(attr, MNL_TYPE_NUL_STRING))
			snprintf(l.name, sizeof(l.name), "%s", mnl_attr_get_str(attr));
		else if (mnl_attr_get_type(attr) == IFLA_LINKINFO &&
			 !mnl_attr_validate(attr, MNL_TYPE_NESTED))
			parse_linkinfo(attr, &l);
	}
	if (!l.name[0] || l.ifindex <= 0)
		return MNL_CB_OK;
	grown = realloc(links->items, (links->count + 1) * sizeof(*grown));
	if (!grown)
		return MNL_CB_ERROR;
	links->items = grown;
	links->items[links->count++] = l;
	return MNL_CB_OK;
}

static int dump_links(struct links *links)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtgenmsg *rt;
	int ret;

	memset(links, 0, sizeof(*links));
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	rt->rtgen_family = AF_UNSPEC;
	ret = ctb_nl_request(NETLINK_ROUTE, nlh, link_cb, links);
	if (ret) {
		free(links->items);
		memset(links, 0, sizeof(*links));
	}
	return ret;
}

/*
 * A port of a bridge or bond hands what is addressed to this host up to its
 * master, whose TC ingress sees it again: the classifier belongs on the
 * master. On the port it would also mark frames the bridge forwards between
 * containers, which never meet our prerouting chain without br_netfilter.
 */
static bool is_port(const struct link *l)
{
	return !strcmp(l->port_of, "bridge") || !strcmp(l->port_of, "bond") ||
	       !strcmp(l->port_of, "team");
}

static bool eligible(const struct link *l)
{
	return l->up && !l->loopback && l->ethernet && !is_port(l);
}

static int walk(struct ctb_iface_list *out, bool eligible_only)
{
	struct links links;
	int ret = dump_links(&links);

	ctb_iface_list_free(out);
	for (size_t i = 0; !ret && i < links.count; i++)
		if (!eligible_only || eligible(&links.items[i]))
			ret = ctb_iface_list_add(out, links.items[i].ifindex, links.items[i].name);
	free(links.items);
	return ret;
}

int ctb_ifaces_default(struct ctb_iface_list *out)
{
	return walk(out, true);
}

int ctb_ifaces_all(struct ctb_iface_list *out)
{
	return walk(out, false);
}

static const struct link *find_link(const struct links *links, const char *name)
{
	for (size_t i = 0; i < links->count; i++)
		if (!strcmp(links->items[i].name, name))
			return &links->items[i];
	return NULL;
}

static int check_named(const struct link *l, const char *name, char *err, size_t errlen)
{
	if (!l) {
		snprintf(err, errlen, "unknown interface '%s'", name);
		return -ENODEV;
	}
	/* The name goes into an nftables set as a quoted string. */
	if (strpbrk(name, "\"\\")) {
		snprintf(err, errlen, "interface '%s': names with quotes or backslashes are not "
				      "supported with --iface", name);
		return -EINVAL;
	}
	if (l->loopback) {
		snprintf(err, errlen,
			 "interface '%s' is loopback: loopback traffic is bypassed by the output "
			 "rules, no classifier is needed",
			 name);
		return -EPROTONOSUPPORT;
	}
	if (!l->ethernet) {
		snprintf(err, errlen,
			 "interface '%s' does not carry Ethernet frames (tun, wireguard, ipip): "
			 "not supported",
			 name);
		return -EPROTONOSUPPORT;
	}
	if (is_port(l)) {
		snprintf(err, errlen,
			 "interface '%s' is a %s port: name its %s instead, which sees this "
			 "host's traffic",
			 name, l->port_of, l->port_of);
		return -EPROTONOSUPPORT;
	}
	return 0;
}

int ctb_ifaces_resolve(const char *list, struct ctb_iface_list *out, char *err, size_t errlen)
{
	struct links links;
	const char *s = list;
	int ret = dump_links(&links);

	ctb_iface_list_free(out);
	if (ret) {
		snprintf(err, errlen, "cannot list interfaces: %s", strerror(-ret));
		return ret == -EINVAL ? -EIO : ret;
	}
	while (!ret) {
		const char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s) : strlen(s);
		char name[IF_NAMESIZE];
		const struct link *l;

		if (n == 0 || n >= IF_NAMESIZE) {
			snprintf(err, errlen, "bad interface list '%s'", list);
			ret = -EINVAL;
			break;
		}
		memcpy(name, s, n);
		name[n] = '\0';
		l = find_link(&links, name);
		ret = check_named(l, name, err, errlen);
		if (!ret)
			ret = ctb_iface_list_add(out, l->ifindex, name);
		if (!comma)
			break;
		s = comma + 1;
	}
	free(links.items);
	return ret;
}
