// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <string.h>
#include "nft_set_dump.h"
#include "nft_generation.h"
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include "nft_table.h"
#include "netlink_request.h"

struct parse_ctx {
	ctb_set_elem_cb cb;
	void *data;
	int ret;
};

/* NFTA_SET_ELEM_KEY { NFTA_DATA_VALUE bytes } */
static int parse_key(const struct nlattr *key, struct parse_ctx *ctx)
{
	const struct nlattr *attr;

	mnl_attr_for_each_nested(attr, key) {
		if (mnl_attr_get_type(attr) != NFTA_DATA_VALUE)
			continue;
		return ctx->cb(mnl_attr_get_payload(attr), mnl_attr_get_payload_len(attr),
			       ctx->data);
	}
	return -EPROTO;
}

static int parse_elem(const struct nlattr *elem, struct parse_ctx *ctx)
{
	const struct nlattr *attr;

	if (mnl_attr_validate(elem, MNL_TYPE_NESTED))
		return -EPROTO;
	mnl_attr_for_each_nested(attr, elem) {
		if (mnl_attr_get_type(attr) != NFTA_SET_ELEM_KEY)
			continue;
		if (mnl_attr_validate(attr, MNL_TYPE_NESTED))
			return -EPROTO;
		return parse_key(attr, ctx);
	}
	return -EPROTO;
}

int ctb_nft_setelem_parse(const struct nlmsghdr *nlh, ctb_set_elem_cb cb, void *data)
{
	struct parse_ctx ctx = { cb, data, 0 };
	const struct nlattr *attr, *elem;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct nfgenmsg)))
		return -EPROTO;
	mnl_attr_for_each(attr, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(attr) != NFTA_SET_ELEM_LIST_ELEMENTS)
			continue;
		if (mnl_attr_validate(attr, MNL_TYPE_NESTED))
			return -EPROTO;
		mnl_attr_for_each_nested(elem, attr) {
			int ret = parse_elem(elem, &ctx);

			if (ret)
				return ret;
		}
	}
	return 0;
}

struct ports_ctx {
	struct ctb_portset *tcp, *udp;
	int ret;
};

/*
 * inet_proto . inet_service: each part padded to a 32-bit register, so the
 * protocol is byte 0 and the port (network order) bytes 4 and 5.
 */
static int port_key(const uint8_t *key, size_t len, void *data)
{
	struct ports_ctx *ctx = data;
	uint16_t port;

	if (len != 8)
		return -EPROTO;
	port = (uint16_t)(key[4] << 8 | key[5]);
	if (!port)
		return -EPROTO;
	if (key[0] == IPPROTO_TCP)
		ctb_portset_add(ctx->tcp, port);
	else if (key[0] == IPPROTO_UDP)
		ctb_portset_add(ctx->udp, port);
	else
		return -EPROTO;
	return 0;
}

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ports_ctx *ctx = data;

	ctx->ret = ctb_nft_setelem_parse(nlh, port_key, ctx);
	return ctx->ret ? MNL_CB_ERROR : MNL_CB_OK;
}

static int dump_server_ports(struct ctb_portset *tcp, struct ctb_portset *udp)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = ctb_nft_request(buf, NFT_MSG_GETSETELEM, NLM_F_DUMP);
	struct ports_ctx ctx = { tcp, udp, 0 };
	int ret;

	ctb_portset_clear(tcp);
	ctb_portset_clear(udp);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, CTB_NFT_TABLE);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, "server_ports");
	ret = ctb_nl_request(NETLINK_NETFILTER, nlh, dump_cb, &ctx);
	return ctx.ret ? ctx.ret : ret;
}

/*
 * The last dump and the generation it was read at, in this namespace. The
 * kernel restarts its hash walk from the first element for every message of
 * a set dump, so 65,535 ports cost ~0.25 s of kernel time per read: a look
 * with no nftables change since (the daemon's verify, every 10 s) reuses it.
 */
static struct {
	bool valid;
	ino_t netns;
	int64_t gen;
	struct ctb_portset tcp, udp;
} cache;

int ctb_nft_read_server_ports(struct ctb_portset *tcp, struct ctb_portset *udp)
{
	struct stat ns;
	int64_t before, after;
	int ret;

	if (stat("/proc/self/ns/net", &ns))
		return dump_server_ports(tcp, udp);
	before = ctb_nft_generation();
	if (before >= 0 && cache.valid && cache.netns == ns.st_ino && cache.gen == before) {
		*tcp = cache.tcp;
		*udp = cache.udp;
		return 0;
	}
	cache.valid = false;
	ret = dump_server_ports(tcp, udp);
	after = ctb_nft_generation();
	/* A change during the dump: what was read may mix both generations. */
	if (!ret && before >= 0 && before == after) {
		cache.tcp = *tcp;
		cache.udp = *udp;
		cache.netns = ns.st_ino;
		cache.gen = before;
		cache.valid = true;
	}
	return ret;
}
