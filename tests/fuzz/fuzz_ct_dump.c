// SPDX-License-Identifier: GPL-2.0
/*
 * The ctnetlink dump parser (ctb_ct_dump_parse, used by the flush): the input
 * is one recv()'s worth of netlink messages, walked the way mnl_cb_run walks a
 * dump answer. Whatever the bytes, an entry it accepts must be one the flush
 * can use: TCP or UDP over IPv4 or IPv6.
 */
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include "ct_dump.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * mnl_nlmsg_ok compares nlmsg_len as an int, so a length of 2^31 or more
 * passes it and mnl_nlmsg_next jumps out of the buffer. A kernel answer never
 * holds such a length (it fits the 32 KiB a dump read returns); the walk here
 * checks it unsigned so the fuzzer explores the parser, not that.
 */
static bool message_fits(const struct nlmsghdr *nlh, size_t left)
{
	return left >= sizeof(*nlh) && nlh->nlmsg_len >= sizeof(*nlh) && nlh->nlmsg_len <= left;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* malloc aligns like a receive buffer, and ends exactly where the input does. */
	uint8_t *buf = malloc(size ? size : 1);
	size_t off = 0;
	struct ctb_ct_entry e;

	if (!buf)
		abort();
	memcpy(buf, data, size);
	while (message_fits((const struct nlmsghdr *)(buf + off), size - off)) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)(buf + off);

		off += NLMSG_ALIGN(nlh->nlmsg_len);
		if (off > size)
			off = size;
		if (ctb_ct_dump_parse(nlh, &e))
			continue;
		/* Abort, so libFuzzer keeps the input like any crash's. */
		if ((e.flow.family != AF_INET && e.flow.family != AF_INET6) ||
		    (e.flow.l4proto != IPPROTO_TCP && e.flow.l4proto != IPPROTO_UDP)) {
			fprintf(stderr, "fuzz: accepted family %d protocol %u\n", e.flow.family,
				e.flow.l4proto);
			abort();
		}
	}
	free(buf);
	return 0;
}
