// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <net/if.h>
#include <stdint.h>
#include <stdarg.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "log.h"
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include "netlink_request.h"
#include "nft_table.h"
#include "nft_rule_dump.h"
#include "nft_set_dump.h"
#include "nft_generation.h"

#define T "inet " CTB_NFT_TABLE
#define COMMENT_TAG "ctbypass/1"

/*
 * The table, its sets and chains: "add" is idempotent, so this goes into every
 * change, and a table of any age gains what later versions added.
 */
static const char table_layout[] =
	"add table " T "\n"
	/* Single ports, not ranges: an update then adds and deletes only the ports
	 * that change, and never touches one that stays (see render_port_changes). */
	"add set " T " server_ports { type inet_proto . inet_service; counter; }\n"
	"add set " T " upstreams_v4 { type ipv4_addr . inet_proto . inet_service; "
	"flags interval; counter; }\n"
	"add set " T " upstreams_v6 { type ipv6_addr . inet_proto . inet_service; "
	"flags interval; counter; }\n"
	"add set " T " classified { type iface_index; }\n"
	"add chain " T " prerouting { type filter hook prerouting priority raw; policy accept; }\n"
	"add chain " T " output { type filter hook output priority raw; policy accept; }\n"
	"add chain " T " loopback\n"
	"add chain " T " backstop\n";

/*
 * The rules that never change, written whole into a new table, and again into
 * one whose rules are not all there (an older version's, or rules deleted by
 * hand): flushing a chain and adding its rules back in one transaction is
 * seamless (unlike a set's elements), though their counters restart.
 *
 * Departures: replies from our servers, requests to upstreams. Each rule ends
 * this chain once it matched ("accept" here only ends our own chain), so a
 * reply from a server port costs one set lookup, not three. Loopback never
 * passes the TC classifier: its arrivals are judged on output.
 *
 * The backstop makes nftables complete on its own for local arrivals the
 * classifier did not mark (an interface without it, a tc program ahead of it,
 * headers it does not parse), so that every packet of bypassed traffic is
 * untracked in both directions whatever the classifier saw. The set lookup
 * comes first: unrelated traffic pays for it and nothing else. Its own chain
 * keeps its counters across changes (prerouting is rewritten by each).
 */
/* A format: the upstream rules' protocol expressions, IPv4 then IPv6, three times. */
static const char fixed_rules[] =
	"flush chain " T " output\n"
	"add rule " T " output meta l4proto . th sport @server_ports counter notrack accept\n"
	"add rule " T " output ip daddr . %1$s . th dport @upstreams_v4 counter notrack accept\n"
	"add rule " T " output ip6 daddr . %2$s . th dport @upstreams_v6 counter notrack accept\n"
	"add rule " T " output oif lo jump loopback\n"
	"flush chain " T " loopback\n"
	"add rule " T " loopback meta l4proto . th dport @server_ports counter notrack accept\n"
	"add rule " T " loopback ip saddr . %1$s . th sport @upstreams_v4 counter notrack accept\n"
	"add rule " T " loopback ip6 saddr . %2$s . th sport @upstreams_v6 counter notrack accept\n"
	"flush chain " T " backstop\n"
	/* Loopback arrivals met conntrack on output already (chain loopback). */
	"add rule " T " backstop iif lo return\n"
	"add rule " T " backstop meta l4proto . th dport @server_ports fib daddr type local "
	"counter notrack comment \"" COMMENT_TAG " backstop\"\n"
	"add rule " T " backstop ip saddr . %1$s . th sport @upstreams_v4 "
	"fib daddr type local counter notrack comment \"" COMMENT_TAG " backstop\"\n"
	"add rule " T " backstop ip6 saddr . %2$s . th sport @upstreams_v6 "
	"fib daddr type local counter notrack comment \"" COMMENT_TAG " backstop\"\n";

/*
 * How the upstream rules read the transport protocol. meta l4proto is right for both
 * families (it skips IPv6 extension headers), but nftables 1.0.6 (Debian 12) turns it,
 * in these interval sets, into a 1-byte byteorder conversion that Debian's 6.12
 * kernel (6.12.118) refuses with EOPNOTSUPP, and with it the whole table. On such a
 * kernel the rules read the header instead (ctb_nft_apply retries once): the same
 * for IPv4 (ip protocol), and for IPv6 (ip6 nexthdr) the same without extension
 * headers; an IPv6 packet of an upstream flow with one is then tracked, as before
 * ctbypass. Said under -v; the README's kernel table lists it.
 */
static bool l4proto_from_header;

/* What fixed_rules puts in each chain, to tell a complete table from one that is not. */
#define OUTPUT_RULES 4
#define LOOPBACK_RULES 3
#define BACKSTOP_RULES 4

static void render_mark_rule(FILE *f, __u32 mark, const char *comment)
{
	/* The mark is trusted only from interfaces the classifier is on: anything
	 * else may set the same bit. Clear the bit first, so routing and later
	 * rules never see it; NOTRACK only traffic for this host, so forwarded
	 * flows stay tracked whole. "accept" ends only this chain: a marked packet
	 * skips the backstop's lookups. */
	fprintf(f,
		"add rule " T " prerouting iif @classified meta mark & 0x%x == 0x%x meta mark set "
		"meta mark & 0x%x fib daddr type local counter notrack accept comment \"%s\"\n",
		mark, mark, ~mark, comment);
}

/*
 * Elements are added and deleted one by one, by difference with what the table
 * holds. Flushing a set and adding its elements back in one transaction is not
 * seamless on every kernel (6.1 lets packets miss such a set meanwhile), and an
 * element that stays must never be missed.
 */
static bool port_in(const struct ctb_config *cfg, unsigned int bit, uint16_t port)
{
	return cfg && (cfg->protocols & bit) && ctb_portset_has(&cfg->ports, port);
}

/* Writes "VERB element … SET { a, b, … }" lines, a thousand elements a line. */
struct element_writer {
	FILE *f;
	const char *verb, *set;
	size_t in_line;
};

static void element(struct element_writer *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void element(struct element_writer *w, const char *fmt, ...)
{
	va_list ap;

	if (w->in_line == 1000) {
		fputs(" }\n", w->f);
		w->in_line = 0;
	}
	fprintf(w->f, w->in_line ? ", " : "%s element " T " %s { ", w->verb, w->set);
	va_start(ap, fmt);
	vfprintf(w->f, fmt, ap);
	va_end(ap);
	w->in_line++;
}

static void element_end(struct element_writer *w)
{
	if (w->in_line)
		fputs(" }\n", w->f);
	w->in_line = 0;
}

/* GROW adds what WANT has and HAVE lacks; SHRINK deletes what HAVE has and WANT lacks. */
static void render_port_changes(FILE *f, const struct ctb_nft_step *st)
{
	struct element_writer w = { f, st->grow ? "add" : "delete", "server_ports", 0 };
	const struct ctb_config *from = st->grow ? st->want : st->have;
	const struct ctb_config *other = st->grow ? st->have : st->want;

	for (unsigned int bit = CTB_PROTO_TCP; bit <= CTB_PROTO_UDP; bit <<= 1)
		for (uint32_t p = 1; p < CTB_PORTS; p++)
			if (port_in(from, bit, (uint16_t)p) && !port_in(other, bit, (uint16_t)p))
				element(&w, "%s . %u", bit == CTB_PROTO_TCP ? "tcp" : "udp", p);
	element_end(&w);
}

static bool upstream_in(const struct ctb_config *cfg, unsigned int bit,
			const struct ctb_upstream *up)
{
	return cfg && (cfg->protocols & bit) && ctb_upstream_list_has(&cfg->upstreams, up);
}

static void render_upstream_changes(FILE *f, const struct ctb_nft_step *st, int family)
{
	const struct ctb_config *from = st->grow ? st->want : st->have;
	const struct ctb_config *other = st->grow ? st->have : st->want;
	struct element_writer w = { f, st->grow ? "add" : "delete",
				    family == AF_INET ? "upstreams_v4" : "upstreams_v6", 0 };

	for (size_t i = 0; from && i < from->upstreams.count; i++) {
		const struct ctb_upstream *up = &from->upstreams.items[i];
		char addr[INET6_ADDRSTRLEN];

		if (up->family != family)
			continue;
		inet_ntop(family, up->addr, addr, sizeof(addr));
		for (unsigned int bit = CTB_PROTO_TCP; bit <= CTB_PROTO_UDP; bit <<= 1)
			if (upstream_in(from, bit, up) && !upstream_in(other, bit, up))
				element(&w, "%s/%u . %s . %u", addr, up->prefixlen,
					bit == CTB_PROTO_TCP ? "tcp" : "udp", up->port);
	}
	element_end(&w);
}

static void render_classified_changes(FILE *f, const struct ctb_nft_step *st)
{
	const struct ctb_iface_list *from = st->grow ? st->classified_want : st->classified_have;
	const struct ctb_iface_list *other = st->grow ? st->classified_have : st->classified_want;
	struct element_writer w = { f, st->grow ? "add" : "delete", "classified", 0 };

	for (size_t i = 0; from && i < from->count; i++)
		if (!other || !ctb_iface_list_has(other, from->items[i].ifindex))
			element(&w, "%d", from->items[i].ifindex);
	element_end(&w);
}

/*
 * The --iface selection, so that a later status can tell a chosen interface
 * from one the classifier should be on. Not on the packet path: flushing and
 * refilling it is harmless.
 */
static void render_iface_list(FILE *f, const char *list)
{
	struct element_writer w = { f, "add", "ifaces", 0 };

	fputs("add set " T " ifaces { type ifname; }\nflush set " T " ifaces\n", f);
	for (const char *s = list; s && *s;) {
		size_t n = strcspn(s, ",");

		element(&w, "\"%.*s\"", (int)n, s);
		s += n + (s[n] == ',');
	}
	element_end(&w);
}

/*
 * With br_netfilter, a packet bridged up to this host meets the inet
 * prerouting hooks in the bridge's pass, before the bridge device's TC ingress
 * (where the classifier marks it); the IP pass after it skips prerouting
 * (ip_sabotage_in). So our bit would reach input rules: clear it there too.
 */
static void render_scrub_rules(FILE *f, const __u32 *marks, size_t count)
{
	/* "add" on every change: idempotent, and tables of any age gain it. */
	fputs("add chain " T " input_scrub { type filter hook input priority raw; policy accept; }\n"
	      "flush chain " T " input_scrub\n", f);
	for (size_t i = 0; i < count; i++)
		fprintf(f,
			"add rule " T " input_scrub meta mark & 0x%x == 0x%x iif @classified "
			"meta mark set meta mark & 0x%x\n",
			marks[i], marks[i], ~marks[i]);
}

/* The marks a step NOTRACKs: the configuration's, then each extra one once. */
static size_t step_marks(const struct ctb_nft_step *st, __u32 marks[3])
{
	size_t n = 0;

	marks[n++] = st->want->mark;
	for (size_t i = 0; st->grow && i < 2; i++) {
		__u32 m = st->extra_marks[i];

		if (m && m != marks[0] && (n < 2 || m != marks[1]))
			marks[n++] = m;
	}
	return n;
}

char *ctb_nft_render(const struct ctb_nft_step *st)
{
	const struct ctb_config *cfg = st->want;
	__u32 marks[3];
	size_t count;
	char comment[128]; /* nft's limit for a comment */
	char *script = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&script, &len);

	if (!f)
		return NULL;
	fputs(table_layout, f);
	if (!st->have || st->upgrade)
		fprintf(f, fixed_rules, l4proto_from_header ? "ip protocol" : "meta l4proto",
			l4proto_from_header ? "ip6 nexthdr" : "meta l4proto");
	render_iface_list(f, cfg->iface_list);
	snprintf(comment, sizeof(comment), COMMENT_TAG " mark=0x%x proto=%s forced=%d%s%s", cfg->mark,
		 ctb_protocols_name(cfg->protocols), cfg->forced,
		 cfg->accepted[0] ? " accepted=" : "", cfg->accepted);
	/* Sets and the interfaces to trust first, then the rules that use them. */
	render_port_changes(f, st);
	render_upstream_changes(f, st, AF_INET);
	render_upstream_changes(f, st, AF_INET6);
	render_classified_changes(f, st);
	/* Rules, unlike set elements, are swapped seamlessly within a transaction. */
	fputs("flush chain " T " prerouting\n", f);
	count = step_marks(st, marks);
	render_mark_rule(f, cfg->mark, comment);
	for (size_t i = 1; i < count; i++) {
		/* The mark in the comment: an interrupted change leaves it to the next. */
		snprintf(comment, sizeof(comment), COMMENT_TAG " transition mark=0x%x", marks[i]);
		render_mark_rule(f, marks[i], comment);
	}
	fputs("add rule " T " prerouting jump backstop\n", f);
	render_scrub_rules(f, marks, count);
	if (fclose(f)) {
		free(script);
		return NULL;
	}
	return script;
}

/* Runs SCRIPT as one transaction; JSON output in *out if wanted. */
static int run(const char *script, bool json, char **out, char *err, size_t errlen)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	int ret;

	if (!nft) {
		snprintf(err, errlen, "cannot initialise libnftables");
		return -ENOMEM;
	}
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	if (json)
		nft_ctx_output_set_flags(nft, NFT_CTX_OUTPUT_JSON);
	ret = nft_run_cmd_from_buffer(nft, script);
	if (ret) {
		const char *msg = nft_ctx_get_error_buffer(nft);
		const char *nl;

		if (!strncmp(msg, "Error: ", 7))
			msg += 7;
		nl = strchr(msg, '\n');
		snprintf(err, errlen, "%.*s", nl ? (int)(nl - msg) : (int)strlen(msg), msg);
		ret = strstr(msg, "No such file") ? -ENOENT : -EIO;
		if (strstr(msg, "not supported") || strstr(msg, "Protocol not supported"))
			ret = -EPROTONOSUPPORT;
	} else if (out) {
		*out = strdup(nft_ctx_get_output_buffer(nft));
		if (!*out)
			ret = -ENOMEM;
	}
	nft_ctx_free(nft);
	return ret;
}

int ctb_nft_apply(const struct ctb_nft_step *st, char *err, size_t errlen)
{
	char *script = ctb_nft_render(st);
	int ret;

	if (!script)
		return -ENOMEM;
	ctb_debug("nftables transaction:\n%s", script);
	ret = run(script, false, NULL, err, errlen);
	if (ret == -EPROTONOSUPPORT && !l4proto_from_header && strstr(script, "@upstreams_v6")) {
		char first[256];

		snprintf(first, sizeof(first), "%s", err);
		l4proto_from_header = true;
		free(script);
		script = ctb_nft_render(st);
		if (!script)
			return -ENOMEM;
		ctb_debug("nftables transaction, protocols read from the header:\n%s", script);
		if (run(script, false, NULL, err, errlen)) {
			/* Not the cause: the first error stands. */
			l4proto_from_header = false;
			snprintf(err, errlen, "%s", first);
		} else {
			ret = 0;
			/* -v only: a command's failure must stay one line (a later step may fail). */
			ctb_debug("this kernel refuses nftables' meta l4proto in the upstream sets "
				  "(nftables 1.0.6 with Linux 6.12): the upstream rules read ip "
				  "protocol and ip6 nexthdr, so IPv6 upstream packets with extension "
				  "headers are tracked");
		}
	}
	free(script);
	return ret;
}

int ctb_nft_delete(char *err, size_t errlen)
{
	/* "add" first makes the delete succeed whether or not the table exists. */
	return run("add table " T "\ndelete table " T "\n", false, NULL, err, errlen);
}

static int parse_comment(struct ctb_nft_state *st, const char *comment)
{
	char protos[16] = "", accepted[CTB_ACCEPTED_LEN] = "";
	unsigned int mark, forced;
	char errbuf[64];

	if (!strncmp(comment, COMMENT_TAG " transition", strlen(COMMENT_TAG " transition"))) {
		st->in_transition = true;
		if (sscanf(comment, COMMENT_TAG " transition mark=0x%x", &mark) != 1)
			mark = 0;
		st->transition_mark = mark;
		return 0;
	}
	/* "accepted=" came later: a table written before has none. */
	if (sscanf(comment, COMMENT_TAG " mark=0x%x proto=%15s forced=%u accepted=%63s", &mark,
		   protos, &forced, accepted) < 3 ||
	    ctb_protocols_parse(protos, &st->cfg.protocols, errbuf, sizeof(errbuf)))
		return -EPROTO;
	if (accepted[0] && ctb_accept_list_parse(accepted, errbuf, sizeof(errbuf)))
		return -EPROTO;
	st->cfg.mark = mark;
	st->cfg.forced = forced;
	snprintf(st->cfg.accepted, sizeof(st->cfg.accepted), "%s", accepted);
	return 0;
}

static void add_counter(struct ctb_counter *sum, const struct ctb_nft_rule *rule)
{
	sum->packets += rule->packets;
	sum->bytes += rule->bytes;
}

/* One rule of the table, read raw (nft_rule_dump.c): the configuration and the counters. */
static int take_rule(const struct ctb_nft_rule *rule, void *data)
{
	struct ctb_nft_state *st = data;

	if (!strcmp(rule->chain, "prerouting")) {
		/* The one rule without a comment: the jump to the backstop. */
		if (!rule->comment[0]) {
			st->backstop_jump = true;
			return 0;
		}
		if (strncmp(rule->comment, COMMENT_TAG " transition",
			    strlen(COMMENT_TAG " transition"))) {
			add_counter(&st->arrivals, rule);
			st->saw_config = true;
		}
		return parse_comment(st, rule->comment);
	}
	if (!strcmp(rule->chain, "backstop")) {
		st->rules_backstop++;
		add_counter(&st->backstop, rule);
	} else if (!strcmp(rule->chain, "output")) {
		st->rules_output++;
		add_counter(&st->departures, rule);
	} else if (!strcmp(rule->chain, "loopback")) {
		st->rules_loopback++;
		add_counter(&st->loopback, rule);
	}
	return 0;
}

static int parse_l4proto(json_t *v, unsigned int *bit)
{
	const char *name = json_string_value(v);

	if (name)
		*bit = !strcmp(name, "tcp") ? CTB_PROTO_TCP : !strcmp(name, "udp") ? CTB_PROTO_UDP : 0;
	else
		*bit = ctb_protocol_bit((uint8_t)json_integer_value(v));
	return *bit ? 0 : -EPROTO;
}

static int parse_port_elem(struct ctb_config *cfg, json_t *val)
{
	json_t *concat = json_object_get(val, "concat");
	json_t *port, *range;
	unsigned int bit;
	json_int_t lo, hi;

	if (json_array_size(concat) != 2 || parse_l4proto(json_array_get(concat, 0), &bit))
		return -EPROTO;
	port = json_array_get(concat, 1);
	range = json_object_get(port, "range");
	lo = hi = json_integer_value(port);
	if (range) {
		lo = json_integer_value(json_array_get(range, 0));
		hi = json_integer_value(json_array_get(range, 1));
	}
	if (lo < 1 || hi > 65535 || lo > hi)
		return -EPROTO;
	for (json_int_t p = lo; p <= hi; p++)
		ctb_portset_add(&cfg->ports, (uint16_t)p);
	return 0;
}

static int parse_upstream_elem(struct ctb_config *cfg, json_t *val, int family)
{
	json_t *concat = json_object_get(val, "concat");
	json_t *addr, *prefix;
	struct ctb_upstream up = { .family = family };
	const char *text;
	unsigned int bit;
	json_int_t port;

	if (json_array_size(concat) != 3 || parse_l4proto(json_array_get(concat, 1), &bit))
		return -EPROTO;
	addr = json_array_get(concat, 0);
	prefix = json_object_get(addr, "prefix");
	up.prefixlen = family == AF_INET ? 32 : 128;
	text = json_string_value(addr);
	if (prefix) {
		json_t *len = json_object_get(prefix, "len");

		/* Later code reads LEN bits of a 16-byte address: never past them. */
		if (!json_is_integer(len) || json_integer_value(len) < 0 ||
		    json_integer_value(len) > up.prefixlen)
			return -EPROTO;
		text = json_string_value(json_object_get(prefix, "addr"));
		up.prefixlen = (uint8_t)json_integer_value(len);
	}
	port = json_integer_value(json_array_get(concat, 2));
	if (!text || inet_pton(family, text, up.addr) != 1 || port < 1 || port > 65535)
		return -EPROTO;
	up.port = (uint16_t)port;
	return ctb_upstream_list_add(&cfg->upstreams, &up);
}

/* Appends one interface name to CFG's --iface list. */
static int parse_iface_elem(struct ctb_config *cfg, json_t *val)
{
	const char *name = json_string_value(val);
	size_t have = cfg->iface_list ? strlen(cfg->iface_list) : 0;
	char *grown;

	if (!name || !*name || strchr(name, ','))
		return -EPROTO;
	grown = realloc(cfg->iface_list, have + strlen(name) + 2);
	if (!grown)
		return -ENOMEM;
	sprintf(grown + have, "%s%s", have ? "," : "", name);
	cfg->iface_list = grown;
	return 0;
}

/* An element of `classified`: the interface's name, or its index once it is gone. */
static int parse_classified_elem(struct ctb_nft_state *st, json_t *val)
{
	const char *text = json_string_value(val);
	char *end;
	long ifindex;

	if (json_is_integer(val)) {
		ifindex = (long)json_integer_value(val);
	} else if (text) {
		ifindex = strtol(text, &end, 10);
		if (*end || end == text)
			ifindex = (long)if_nametoindex(text);
	} else {
		return -EPROTO;
	}
	/* Index 0: renamed or gone between the listing and now; nothing to trust. */
	if (ifindex <= 0 || ifindex > INT32_MAX)
		return 0;
	return ctb_iface_list_add(&st->classified, (int)ifindex, text ? text : "");
}

static int parse_set(struct ctb_nft_state *st, json_t *set)
{
	const char *name = json_string_value(json_object_get(set, "name"));
	json_t *elems = json_object_get(set, "elem"), *e;
	size_t i;
	int ret = 0;

	if (!name)
		return 0;
	json_array_foreach(elems, i, e) {
		/* With per-element counters, each value is wrapped as {"elem": {"val": …}}. */
		json_t *val = json_object_get(json_object_get(e, "elem"), "val");

		if (!val)
			val = e;
		if (!strcmp(name, "server_ports"))
			ret = parse_port_elem(&st->cfg, val);
		else if (!strcmp(name, "upstreams_v4"))
			ret = parse_upstream_elem(&st->cfg, val, AF_INET);
		else if (!strcmp(name, "upstreams_v6"))
			ret = parse_upstream_elem(&st->cfg, val, AF_INET6);
		else if (!strcmp(name, "ifaces"))
			ret = parse_iface_elem(&st->cfg, val);
		else if (!strcmp(name, "classified"))
			ret = parse_classified_elem(st, val);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * `nft -j list set` of the small sets (upstreams, --iface, classified
 * interfaces): outside input, fuzzed by tests/fuzz/fuzz_nft_table.c.
 */
static int parse_listing(struct ctb_nft_state *st, const char *text)
{
	json_error_t jerr;
	json_t *root = json_loads(text, 0, &jerr), *item;
	size_t i;
	int ret = 0;

	if (!root)
		return -EPROTO;
	json_array_foreach(json_object_get(root, "nftables"), i, item) {
		json_t *obj = json_object_get(item, "set");

		if (obj)
			ret = parse_set(st, obj);
		if (ret)
			break;
	}
	json_decref(root);
	return ret;
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	*(bool *)data = true;
	return MNL_CB_OK;
}

/*
 * True when the table exists; -EPROTONOSUPPORT without nf_tables. One raw
 * NFT_MSG_GETTABLE: libnftables would fill its whole cache first, every set
 * element included.
 */
static int table_present(bool *present, char *err, size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = ctb_nft_request(buf, NFT_MSG_GETTABLE, NLM_F_ACK);
	int ret;

	*present = false;
	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, CTB_NFT_TABLE);
	ret = ctb_nl_request(NETLINK_NETFILTER, nlh, table_cb, present);
	if (ret == -ENOENT) {
		*present = false;
		return 0;
	}
	if (ret == -EOPNOTSUPP || ret == -EPROTONOSUPPORT) {
		snprintf(err, errlen, "nf_tables is not available in this kernel");
		return -EPROTONOSUPPORT;
	}
	if (ret)
		snprintf(err, errlen, "cannot look for table inet %s: %s", CTB_NFT_TABLE,
			 strerror(-ret));
	return ret;
}

/*
 * The small sets through libnftables, one `list set` each: that fetches only
 * the set listed. (A table or chain listing would fetch server_ports' 65,535
 * elements too, seconds; server_ports itself is read raw.)
 */
static const struct {
	const char *name;
	bool optional; /* added by later versions: an older table lacks it */
	/* Its listing means the same while the ruleset does not change. Not so for
	 * `classified`: libnftables names an ifindex element by its interface's
	 * name while it exists, and a link re-created under that name (no nftables
	 * change) would turn the cached name into the new interface's index. */
	bool cacheable;
} small_sets[] = {
	{ "upstreams_v4", false, true },
	{ "upstreams_v6", false, true },
	{ "ifaces", true, true },
	{ "classified", true, false },
};

#define SMALL_SETS (sizeof(small_sets) / sizeof(small_sets[0]))

/*
 * The last listings, by the ruleset generation they were read at, in this
 * namespace: a look with no nftables change since (the daemon's verify, every
 * 10 s) reuses them instead of listing 1,000 upstreams through libnftables again.
 */
static struct {
	bool valid;
	ino_t netns;
	int64_t gen;
	char *text[SMALL_SETS];
	int ret[SMALL_SETS];
} listings;

static void listings_drop(void)
{
	for (size_t i = 0; i < SMALL_SETS; i++) {
		free(listings.text[i]);
		listings.text[i] = NULL;
	}
	listings.valid = false;
}

/* Lists every small set into LISTINGS; valid only if nothing changed meanwhile. */
static void listings_read(ino_t netns, char *err, size_t errlen)
{
	int64_t before = ctb_nft_generation();

	listings_drop();
	for (size_t i = 0; i < SMALL_SETS; i++) {
		char cmd[96];

		snprintf(cmd, sizeof(cmd), "list set " T " %s", small_sets[i].name);
		listings.ret[i] = run(cmd, true, &listings.text[i], err, errlen);
		if (listings.ret[i] && !(listings.ret[i] == -ENOENT && small_sets[i].optional))
			break;
	}
	listings.netns = netns;
	listings.gen = before;
	listings.valid = before >= 0 && before == ctb_nft_generation();
}

static int read_small_sets(struct ctb_nft_state *st, char *err, size_t errlen)
{
	struct stat ns;
	int64_t gen = ctb_nft_generation();
	bool fresh = !stat("/proc/self/ns/net", &ns);

	bool cached = fresh && gen >= 0 && listings.valid && listings.netns == ns.st_ino &&
		      listings.gen == gen;

	if (!cached)
		listings_read(fresh ? ns.st_ino : 0, err, errlen);
	for (size_t i = 0; i < SMALL_SETS; i++) {
		int ret = listings.ret[i];

		if (cached && !small_sets[i].cacheable) {
			/* listed afresh every time, into its slot */
			char cmd[96];

			free(listings.text[i]);
			listings.text[i] = NULL;
			snprintf(cmd, sizeof(cmd), "list set " T " %s", small_sets[i].name);
			ret = listings.ret[i] = run(cmd, true, &listings.text[i], err, errlen);
		}
		if (ret == -ENOENT && small_sets[i].optional)
			continue;
		if (!ret)
			ret = parse_listing(st, listings.text[i]);
		if (ret) {
			/* a failure is never reused: the next look lists again */
			listings_drop();
			return ret;
		}
	}
	if (!fresh)
		listings_drop();
	return 0;
}

int ctb_nft_read(struct ctb_nft_state *st, char *err, size_t errlen)
{
	struct ctb_portset *ports = calloc(2, sizeof(*ports));
	int ret;

	memset(st, 0, sizeof(*st));
	ctb_config_init(&st->cfg);
	ctb_portset_clear(&st->cfg.ports);
	if (!ports)
		return -ENOMEM;
	ret = table_present(&st->present, err, errlen);
	if (ret || !st->present)
		goto out;
	ret = ctb_nft_rules_read(take_rule, st);
	if (!ret && !st->saw_config)
		ret = -EPROTO;
	st->has_backstop = st->rules_backstop > 0;
	st->complete = st->backstop_jump && st->rules_output == OUTPUT_RULES &&
		       st->rules_loopback == LOOPBACK_RULES && st->rules_backstop == BACKSTOP_RULES;
	if (!ret)
		ret = ctb_nft_read_server_ports(&ports[0], &ports[1]);
	if (!ret) {
		ctb_portset_union(&st->cfg.ports, &ports[0]);
		ctb_portset_union(&st->cfg.ports, &ports[1]);
		ret = read_small_sets(st, err, errlen);
	}
	if (ret == -EPROTO || ret == -ENOENT)
		snprintf(err, errlen,
			 "table inet %s exists but was not written by this ctbypass version",
			 CTB_NFT_TABLE);
	else if (ret && !err[0])
		snprintf(err, errlen, "cannot read table inet %s: %s", CTB_NFT_TABLE,
			 strerror(-ret));
	if (ret == -ENOENT)
		ret = -EPROTO;
out:
	free(ports);
	return ret;
}

void ctb_nft_state_free(struct ctb_nft_state *st)
{
	ctb_iface_list_free(&st->classified);
	ctb_config_free(&st->cfg);
}
