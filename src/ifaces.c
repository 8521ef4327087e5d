// SPDX-License-Identifier: GPL-2.0
/*
 * Interface facts come from ioctls on a socket of the current namespace, not
 * from /sys, which `-n` does not remount.
 */
#include <errno.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "ifaces.h"

struct iface_facts {
	bool up, loopback, ethernet;
};

static int iface_facts(int sock, const char *name, struct iface_facts *facts)
{
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(sock, SIOCGIFFLAGS, &ifr))
		return -errno;
	facts->up = ifr.ifr_flags & IFF_UP;
	facts->loopback = ifr.ifr_flags & IFF_LOOPBACK;
	if (ioctl(sock, SIOCGIFHWADDR, &ifr))
		return -errno;
	/* The classifier parses Ethernet headers; L3 devices (tun, wireguard) have none. */
	facts->ethernet = ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER;
	return 0;
}

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

static int walk(struct ctb_iface_list *out, bool eligible_only)
{
	struct if_nameindex *all = if_nameindex(), *it;
	int sock, ret = 0;

	if (!all)
		return -errno;
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		ret = -errno;
		if_freenameindex(all);
		return ret;
	}
	ctb_iface_list_free(out);
	for (it = all; it->if_index && !ret; it++) {
		struct iface_facts facts;

		if (eligible_only &&
		    (iface_facts(sock, it->if_name, &facts) || !facts.up || facts.loopback ||
		     !facts.ethernet))
			continue;
		ret = ctb_iface_list_add(out, (int)it->if_index, it->if_name);
	}
	close(sock);
	if_freenameindex(all);
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

int ctb_ifaces_resolve(const char *list, struct ctb_iface_list *out, char *err, size_t errlen)
{
	const char *s = list;
	int sock, ret = 0;

	ctb_iface_list_free(out);
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -errno;
	while (!ret) {
		const char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s) : strlen(s);
		char name[IF_NAMESIZE];
		struct iface_facts facts;
		unsigned int ifindex;

		if (n == 0 || n >= IF_NAMESIZE) {
			snprintf(err, errlen, "bad interface list '%s'", list);
			ret = -EINVAL;
			break;
		}
		memcpy(name, s, n);
		name[n] = '\0';
		ifindex = if_nametoindex(name);
		if (!ifindex || iface_facts(sock, name, &facts)) {
			snprintf(err, errlen, "unknown interface '%s'", name);
			ret = -ENODEV;
		} else if (facts.loopback) {
			snprintf(err, errlen,
				 "interface '%s' is loopback: loopback traffic is bypassed by the "
				 "output rules, no classifier is needed",
				 name);
			ret = -EPROTONOSUPPORT;
		} else if (!facts.ethernet) {
			snprintf(err, errlen,
				 "interface '%s' does not carry Ethernet frames (tun, wireguard, "
				 "ipip): not supported",
				 name);
			ret = -EPROTONOSUPPORT;
		} else {
			ret = ctb_iface_list_add(out, (int)ifindex, name);
		}
		if (!comma)
			break;
		s = comma + 1;
	}
	close(sock);
	return ret;
}
