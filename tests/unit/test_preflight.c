// SPDX-License-Identifier: GPL-2.0
/*
 * The preflight analysis on rulesets recorded from real nftables and iptables
 * (tests/fixtures/): what it finds, and the exact rule it tells the operator to add.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include "firewall_eval.h"
#include "preflight.h"

static char err[256];

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		fail_msg("cannot open %s (run from the repository root)", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		fail_msg("cannot read %s", path);
	fclose(f);
	return buf;
}

static void load(struct fw_ruleset *rs, const char *fixture)
{
	char path[128];
	char *text;

	snprintf(path, sizeof(path), "tests/fixtures/%s", fixture);
	text = slurp(path);
	memset(rs, 0, sizeof(*rs));
	if (strstr(fixture, ".json"))
		assert_int_equal(fw_parse_nft_json(rs, text, NULL, 0), 0);
	else
		assert_int_equal(fw_parse_iptables_save(rs, text, 4, FW_SRC_IPTABLES_LEGACY), 0);
	free(text);
}

/* This host's local prefixes, "198.18.0.1/32,127.0.0.0/8" (NULL: unknown). */
static struct ctb_local_addrs *locals_of(const char *list, struct ctb_local_addrs *locals)
{
	char buf[256], *save = NULL;

	memset(locals, 0, sizeof(*locals));
	if (!list)
		return NULL;
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *slash = strchr(item, '/');
		uint8_t addr[16] = { 0 };
		int af = strchr(item, ':') ? AF_INET6 : AF_INET;

		*slash = '\0';
		assert_int_equal(inet_pton(af, item, addr), 1);
		assert_int_equal(ctb_local_addrs_add(locals, af, addr, (uint8_t)atoi(slash + 1)), 0);
	}
	return locals;
}

/*
 * Runs the analysis for --ports PORTS --upstream UPSTREAMS on RS, the host's
 * local prefixes being LOCALS (see locals_of).
 */
static void analyse_rs(const struct fw_ruleset *rs, const char *locals_list, const char *ports,
		       const char *upstreams, struct ctb_findings *out)
{
	static const uint8_t source[1][16] = { { 198, 18, 0, 1 } };
	static const bool known[1] = { true };
	struct ctb_local_addrs locals;
	struct ctb_host_facts facts = {
		.ephemeral_lo = 32768, .ephemeral_hi = 60999,
		.iptables_nft_cmd = "iptables", .iptables_legacy_cmd = "iptables",
		.upstream_source = source, .upstream_source_known = known,
		.locals = locals_of(locals_list, &locals),
	};
	struct ctb_config cfg;

	ctb_config_init(&cfg);
	if (ports)
		assert_int_equal(ctb_portset_parse(&cfg.ports, ports, err, sizeof(err)), 0);
	if (upstreams)
		assert_int_equal(ctb_upstream_list_parse(&cfg.upstreams, upstreams, err,
							 sizeof(err)), 0);
	assert_int_equal(ctb_preflight_analyse(&cfg, rs, &facts, out), 0);
	ctb_config_free(&cfg);
	ctb_local_addrs_free(&locals);
}

/* The same on iptables-save TEXT. */
static void analyse_text(const char *text, const char *locals_list, const char *ports,
			 const char *upstreams, struct ctb_findings *out)
{
	struct fw_ruleset rs = { 0 };

	assert_int_equal(fw_parse_iptables_save(&rs, text, 4, FW_SRC_IPTABLES_LEGACY), 0);
	analyse_rs(&rs, locals_list, ports, upstreams, out);
	fw_ruleset_free(&rs);
}

/* Runs the analysis for --ports PORTS --upstream UPSTREAMS on FIXTURE. */
static void analyse(const char *fixture, const char *ports, const char *upstreams,
		    struct ctb_findings *out)
{
	static const uint8_t source[1][16] = { { 198, 18, 0, 1 } };
	static const bool known[1] = { true };
	struct ctb_host_facts facts = {
		.ephemeral_lo = 32768, .ephemeral_hi = 60999,
		.iptables_nft_cmd = "iptables", .iptables_legacy_cmd = "iptables",
		.upstream_source = source, .upstream_source_known = known,
	};
	struct fw_ruleset rs;
	struct ctb_config cfg;

	ctb_config_init(&cfg);
	if (ports)
		assert_int_equal(ctb_portset_parse(&cfg.ports, ports, err, sizeof(err)), 0);
	if (upstreams)
		assert_int_equal(ctb_upstream_list_parse(&cfg.upstreams, upstreams, err,
							 sizeof(err)), 0);
	load(&rs, fixture);
	assert_int_equal(ctb_preflight_analyse(&cfg, &rs, &facts, out), 0);
	fw_ruleset_free(&rs);
	ctb_config_free(&cfg);
}

static size_t count_kind(const struct ctb_findings *f, enum ctb_finding_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < f->count; i++)
		n += f->items[i].kind == kind;
	return n;
}

static const struct ctb_finding *first_kind(const struct ctb_findings *f,
					    enum ctb_finding_kind kind)
{
	for (size_t i = 0; i < f->count; i++)
		if (f->items[i].kind == kind)
			return &f->items[i];
	fail_msg("no finding of kind %d", kind);
	return NULL;
}

/* The seeds' RH-Firewall: port 80 accepted as NEW, the rest as ESTABLISHED, then REJECT. */
static void rh_firewall_refuses_with_the_exact_rule(void **state)
{
	struct ctb_findings f;

	(void)state;
	analyse("iptables_rh_firewall.save", "80", NULL, &f);
	assert_int_equal(ctb_findings_blocking(&f), 1);
	assert_string_equal(first_kind(&f, CTB_FINDING_STATEFUL)->fix,
			    "iptables -I RH-Firewall-1-INPUT 4 -p tcp --dport 80 -m conntrack "
			    "--ctstate UNTRACKED -j ACCEPT");
	assert_non_null(strstr(first_kind(&f, CTB_FINDING_STATEFUL)->rule, "-j REJECT"));
	assert_int_equal(count_kind(&f, CTB_FINDING_ICMP), 0); /* icmp-type any is accepted */
	ctb_findings_free(&f);

	analyse("iptables_rh_firewall.save", "22,80", NULL, &f);
	assert_int_equal(ctb_findings_blocking(&f), 1);
	assert_non_null(strstr(first_kind(&f, CTB_FINDING_STATEFUL)->fix,
			       "-m multiport --dports 22,80 "));
	ctb_findings_free(&f);
}

static void stateless_accepts_and_closed_ports_are_fine(void **state)
{
	struct ctb_findings f;

	(void)state;
	/* 8080 is accepted whatever its state (multiport rule, comment in between). */
	analyse("iptables_rh_firewall.save", "8080,8443", NULL, &f);
	assert_int_equal(f.count, 0);
	ctb_findings_free(&f);
	/* 81 is not open today: a bypass breaks nothing that worked. */
	analyse("iptables_rh_firewall.save", "81", NULL, &f);
	assert_int_equal(f.count, 0);
	ctb_findings_free(&f);
	/* nftables: 443 accepted in a jumped-to chain, by a set, without ct state. */
	analyse("nft_stateful.json", "443", NULL, &f);
	assert_int_equal(ctb_findings_blocking(&f), 0);
	ctb_findings_free(&f);
}

static void nft_ranges_jumps_and_positions(void **state)
{
	struct ctb_findings f;
	const struct ctb_finding *s;

	(void)state;
	/* 8000-8100 new is accepted in chain services; established at handle 7. */
	analyse("nft_stateful.json", "8050,8060", NULL, &f);
	assert_int_equal(ctb_findings_blocking(&f), 1);
	s = first_kind(&f, CTB_FINDING_STATEFUL);
	assert_string_equal(s->fix, "nft add rule inet filter input position 7 ct state "
				    "untracked tcp dport { 8050, 8060 } accept");
	assert_non_null(strstr(s->traffic, "tcp/8050,8060 arrivals"));
	ctb_findings_free(&f);
	/* A whole range in one probe per stretch: still one finding, one range. */
	analyse("nft_stateful.json", "8000-8100", NULL, &f);
	assert_int_equal(ctb_findings_blocking(&f), 1);
	assert_non_null(strstr(first_kind(&f, CTB_FINDING_STATEFUL)->fix,
			       "tcp dport 8000-8100 accept"));
	ctb_findings_free(&f);
	/* ICMP errors about untracked flows are INVALID, and `ct state invalid drop`
	 * comes before the ICMP accept: a PMTU black hole, warned for both families. */
	analyse("nft_stateful.json", "8050", NULL, &f);
	assert_int_equal(count_kind(&f, CTB_FINDING_ICMP), 2);
	assert_false(first_kind(&f, CTB_FINDING_ICMP)->blocking);
	ctb_findings_free(&f);
}

static void docker_nat_is_found_only_for_its_port(void **state)
{
	struct ctb_findings f;

	(void)state;
	analyse("iptables_docker_nat.save", "8080", NULL, &f);
	assert_int_equal(count_kind(&f, CTB_FINDING_NAT), 1);
	assert_string_equal(first_kind(&f, CTB_FINDING_NAT)->rule,
			    "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT "
			    "--to-destination 172.17.0.2:80");
	ctb_findings_free(&f);
	/* The host's own connections to the upstream are not masqueraded (the rule
	 * is for 172.17/16), but the containers' are: their replies come back to
	 * the host from the upstream, would be untracked and never de-NATed. */
	analyse("iptables_docker_nat.save", "80", "198.18.0.7:3128", &f);
	assert_int_equal(count_kind(&f, CTB_FINDING_NAT), 1);
	assert_true(first_kind(&f, CTB_FINDING_NAT)->blocking);
	assert_non_null(strstr(first_kind(&f, CTB_FINDING_NAT)->message,
			       "connections forwarded through this host"));
	assert_string_equal(first_kind(&f, CTB_FINDING_NAT)->rule,
			    "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE");
	ctb_findings_free(&f);
	analyse("nft_docker_nat.json", "8080", NULL, &f);
	assert_int_equal(count_kind(&f, CTB_FINDING_NAT), 1);
	assert_non_null(strstr(first_kind(&f, CTB_FINDING_NAT)->where, "table ip nat chain DOCKER"));
	ctb_findings_free(&f);
}

static void upstreams_and_families(void **state)
{
	struct ctb_findings f;
	const struct ctb_finding *s;

	(void)state;
	/* Output policy drop: requests to the upstream are accepted as NEW, then ESTABLISHED. */
	analyse("nft_docker_nat.json", NULL, "198.18.0.7:3128", &f);
	assert_int_equal(count_kind(&f, CTB_FINDING_STATEFUL), 1);
	s = first_kind(&f, CTB_FINDING_STATEFUL);
	assert_non_null(strstr(s->fix, "nft add rule inet egress output position "));
	assert_non_null(strstr(s->fix, "ct state untracked ip daddr 198.18.0.7 tcp dport 3128 "
				       "accept"));
	ctb_findings_free(&f);
	/* The accept rule is `ip daddr …`: IPv6 upstreams are not accepted today at all. */
	analyse("nft_docker_nat.json", NULL, "[fd00:c7::7]:3128", &f);
	assert_int_equal(count_kind(&f, CTB_FINDING_STATEFUL), 0);
	ctb_findings_free(&f);
	/* Server replies from port 80 are accepted only as established on output. */
	analyse("nft_docker_nat.json", "80", NULL, &f);
	assert_non_null(strstr(first_kind(&f, CTB_FINDING_STATEFUL)->fix,
			       "ct state untracked tcp sport 80 accept"));
	ctb_findings_free(&f);
}

static void ephemeral_ports_warn(void **state)
{
	struct ctb_findings f;

	(void)state;
	analyse("nft_stateful.json", "443,40000-40010", NULL, &f);
	assert_int_equal(count_kind(&f, CTB_FINDING_EPHEMERAL), 1);
	assert_false(first_kind(&f, CTB_FINDING_EPHEMERAL)->blocking);
	assert_non_null(strstr(first_kind(&f, CTB_FINDING_EPHEMERAL)->message, "40000-40010"));
	ctb_findings_free(&f);
}

/* The host: a node address and loopback. */
#define NODE "198.18.0.1/32,127.0.0.0/8,::1/128"

/*
 * kube-proxy's iptables mode: a ClusterIP's DNAT on port 80 is about another
 * address, never about packets to this host, so --ports 80 passes; a
 * NodePort is this host's port, DNATed, so bypassing it is refused.
 */
static void kube_proxy_cluster_ips_are_not_ours(void **state)
{
	struct fw_ruleset rs = { 0 };
	struct ctb_findings f;
	char *text = slurp("tests/fixtures/iptables_kube_proxy.save");

	(void)state;
	assert_int_equal(fw_parse_iptables_save(&rs, text, 4, FW_SRC_IPTABLES_LEGACY), 0);
	analyse_rs(&rs, NODE, "80,443,53", NULL, &f);
	assert_int_equal(ctb_findings_blocking(&f), 0);
	ctb_findings_free(&f);
	/* Unknown addresses (the old probe) would take the ClusterIP's DNAT as ours. */
	analyse_rs(&rs, NULL, "80", NULL, &f);
	assert_int_equal(count_kind(&f, CTB_FINDING_NAT), 1);
	ctb_findings_free(&f);
	analyse_rs(&rs, NODE, "3001", NULL, &f);
	assert_int_equal(count_kind(&f, CTB_FINDING_NAT), 1);
	assert_true(first_kind(&f, CTB_FINDING_NAT)->blocking);
	assert_non_null(strstr(first_kind(&f, CTB_FINDING_NAT)->where, "chain KUBE-SEP-"));
	ctb_findings_free(&f);
	fw_ruleset_free(&rs);
	free(text);
}

/* A service whose backend is this host's own port 80 (a hostNetwork pod). */
static void kube_proxy_backend_on_a_bypassed_port(void **state)
{
	struct fw_ruleset rs = { 0 };
	struct ctb_findings f;
	char *text = slurp("tests/fixtures/iptables_kube_proxy.save");
	const struct ctb_finding *n;

	(void)state;
	assert_int_equal(fw_parse_iptables_save(&rs, text, 4, FW_SRC_IPTABLES_LEGACY), 0);
	analyse_rs(&rs, NODE ",10.180.0.3/32", "80", NULL, &f);
	/* ns3/svc3 and ns5/svc5 both end at 10.180.0.3:80 */
	assert_int_equal(count_kind(&f, CTB_FINDING_NAT_TO_BYPASSED), 2);
	n = first_kind(&f, CTB_FINDING_NAT_TO_BYPASSED);
	assert_true(n->blocking);
	assert_non_null(strstr(n->rule, "--to-destination 10.180.0.3:80"));
	assert_non_null(strstr(n->traffic, "translated to bypassed port 80"));
	ctb_findings_free(&f);
	fw_ruleset_free(&rs);
	free(text);
}

static const char redirect_8080[] = "*nat\n"
				    ":PREROUTING ACCEPT [0:0]\n"
				    ":INPUT ACCEPT [0:0]\n"
				    ":OUTPUT ACCEPT [0:0]\n"
				    ":POSTROUTING ACCEPT [0:0]\n"
				    "-A PREROUTING -p tcp -m tcp --dport 8080 -j REDIRECT "
				    "--to-ports 80\n"
				    "COMMIT\n";

/* The reply from :80 to a request for :8080 would leave untracked, never un-REDIRECTed. */
static void redirect_to_a_bypassed_port_is_refused(void **state)
{
	struct ctb_findings f;
	const struct ctb_finding *n;

	(void)state;
	analyse_text(redirect_8080, NODE, "80", NULL, &f);
	assert_int_equal(ctb_findings_blocking(&f), 1);
	n = first_kind(&f, CTB_FINDING_NAT_TO_BYPASSED);
	assert_non_null(strstr(n->traffic, "tcp 8080 translated to bypassed port 80"));
	assert_non_null(strstr(n->message, "leave port 80 out of the bypass"));
	ctb_findings_free(&f);
	/* Both ports: 8080's arrivals are untracked before NAT: the NAT finding, only. */
	analyse_text(redirect_8080, NODE, "80,8080", NULL, &f);
	assert_int_equal(count_kind(&f, CTB_FINDING_NAT_TO_BYPASSED), 0);
	assert_int_equal(count_kind(&f, CTB_FINDING_NAT), 1);
	ctb_findings_free(&f);
	/* Bypassing 8080 instead: arrivals to it are untracked, never redirected. */
	analyse_text(redirect_8080, NODE, "8080", NULL, &f);
	assert_int_equal(count_kind(&f, CTB_FINDING_NAT_TO_BYPASSED), 0);
	assert_int_equal(count_kind(&f, CTB_FINDING_NAT), 1);
	ctb_findings_free(&f);
	analyse_text(redirect_8080, NODE, "81", NULL, &f);
	assert_int_equal(f.count, 0);
	ctb_findings_free(&f);
}

static const char stateful_and_redirect[] = "*filter\n"
				   ":INPUT DROP [0:0]\n"
				   ":FORWARD ACCEPT [0:0]\n"
				   ":OUTPUT ACCEPT [0:0]\n"
				   "%s"
				   "-A INPUT -p tcp -m tcp --dport 80 -m conntrack --ctstate NEW -j ACCEPT\n"
				   "-A INPUT -p tcp -m tcp --dport 81 -m conntrack --ctstate NEW -j ACCEPT\n"
				   "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
				   "COMMIT\n"
				   "*nat\n"
				   ":PREROUTING ACCEPT [0:0]\n"
				   ":INPUT ACCEPT [0:0]\n"
				   ":OUTPUT ACCEPT [0:0]\n"
				   ":POSTROUTING ACCEPT [0:0]\n"
				   "-A PREROUTING -p tcp -m tcp --dport 8080 -j REDIRECT --to-ports 80\n"
				   "COMMIT\n";

static const struct ctb_finding *find_traffic(const struct ctb_findings *f, const char *traffic)
{
	for (size_t i = 0; i < f->count; i++)
		if (strstr(f->items[i].traffic, traffic))
			return &f->items[i];
	fail_msg("no finding about %s", traffic);
	return NULL;
}

/* Ids name what a finding is about: the same after a reorder; --accept takes exactly those. */
static void finding_ids_are_stable_and_accepted_one_by_one(void **state)
{
	char text[2048], id[CTB_FINDING_ID_LEN];
	struct ctb_findings f;

	(void)state;
	snprintf(text, sizeof(text), stateful_and_redirect, "");
	analyse_text(text, NODE, "80", NULL, &f);
	assert_int_equal(ctb_findings_blocking(&f), 2); /* stateful input, and the REDIRECT */
	snprintf(id, sizeof(id), "%s", find_traffic(&f, "tcp/80 arrivals")->id);
	assert_non_null(strstr(id, "state-"));
	ctb_findings_free(&f);
	/* a rule inserted ahead: positions (and the fix) change, the id does not */
	snprintf(text, sizeof(text), stateful_and_redirect, "-A INPUT -i lo -j ACCEPT\n");
	analyse_text(text, NODE, "80", NULL, &f);
	assert_string_equal(find_traffic(&f, "tcp/80 arrivals")->id, id);
	assert_int_equal(ctb_findings_accept(&f, id), 0);
	assert_true(find_traffic(&f, "tcp/80 arrivals")->accepted);
	assert_int_equal(ctb_findings_blocking(&f), 1); /* the REDIRECT's remains */
	assert_false(first_kind(&f, CTB_FINDING_NAT_TO_BYPASSED)->accepted);
	assert_int_equal(ctb_findings_accept(&f, "state-000000"), 1); /* names nothing */
	ctb_findings_free(&f);
	/* a port added that meets the same rules: the same finding, the same id */
	analyse_text(text, NODE, "80,81", NULL, &f);
	assert_string_equal(find_traffic(&f, "tcp/80-81 arrivals")->id, id);
	ctb_findings_free(&f);
}

/*
 * What the model cannot read is tried both ways, never taken as a no-op: an
 * NFQUEUE verdict on untracked packets may drop them (it was a no-op before);
 * a conntrack-derived match (connmark) is false for an untracked packet, so
 * what it accepted while tracked is dropped. An unknown verdict is the same
 * for a packet tracked or not: one that met both ways breaks nothing.
 */
static void unknowns_are_tried_both_ways(void **state)
{
	static const char connmark[] = "*filter\n"
				       ":INPUT DROP [0:0]\n"
				       ":FORWARD ACCEPT [0:0]\n"
				       ":OUTPUT ACCEPT [0:0]\n"
				       "-A INPUT -p tcp -m tcp --dport 80 -m connmark --mark 0x1 -j ACCEPT\n"
				       "COMMIT\n";
	static const char queue[] = "*filter\n"
				    ":INPUT ACCEPT [0:0]\n"
				    ":FORWARD ACCEPT [0:0]\n"
				    ":OUTPUT ACCEPT [0:0]\n"
				    "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
				    "-A INPUT -m conntrack --ctstate INVALID,UNTRACKED -j NFQUEUE "
				    "--queue-num 3\n"
				    "-A INPUT -p tcp -m tcp --dport 81 -j NFQUEUE --queue-num 3\n"
				    "COMMIT\n";
	struct ctb_findings f;

	(void)state;
	analyse_text(connmark, NODE, "80", NULL, &f);
	assert_int_equal(count_kind(&f, CTB_FINDING_STATEFUL), 1);
	ctb_findings_free(&f);
	analyse_text(queue, NODE, "80", NULL, &f);
	assert_int_equal(count_kind(&f, CTB_FINDING_STATEFUL), 1);
	assert_non_null(strstr(first_kind(&f, CTB_FINDING_STATEFUL)->rule, "UNTRACKED -j NFQUEUE"));
	ctb_findings_free(&f);
	/* 81's arrivals meet the queue whether tracked or not */
	static const char queue_81[] = "*filter\n"
				       ":INPUT ACCEPT [0:0]\n"
				       ":FORWARD ACCEPT [0:0]\n"
				       ":OUTPUT ACCEPT [0:0]\n"
				       "-A INPUT -p tcp -m tcp --dport 81 -j NFQUEUE --queue-num 3\n"
				       "COMMIT\n";
	analyse_text(queue_81, NODE, "81", NULL, &f);
	assert_int_equal(count_kind(&f, CTB_FINDING_STATEFUL), 0);
	ctb_findings_free(&f);
}

/*
 * firewalld's RFC 3964 rule rejects output to 6to4 addresses of private
 * networks and to IPv4-mapped addresses: replies from a bypassed port to
 * such peers are rejected once untracked, but no real peer has them, so it
 * is a warning naming them; a reject of real prefixes stays blocking.
 */
static void drops_of_bogus_peers_only_warn(void **state)
{
	static const char rfc3964[] = "*filter\n"
				      ":INPUT ACCEPT [0:0]\n"
				      ":FORWARD ACCEPT [0:0]\n"
				      ":OUTPUT ACCEPT [0:0]\n"
				      "-A OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
				      "-A OUTPUT -d 2002:c0a8::/32 -j REJECT\n"
				      "-A OUTPUT -d ::ffff:0.0.0.0/96 -j REJECT\n"
				      "%s"
				      "COMMIT\n";
	struct fw_ruleset rs = { 0 };
	struct ctb_findings f;
	char text[1024];

	(void)state;
	snprintf(text, sizeof(text), rfc3964, "");
	assert_int_equal(fw_parse_iptables_save(&rs, text, 6, FW_SRC_IPTABLES_LEGACY), 0);
	analyse_rs(&rs, NODE ",fd00:c7::1/128", "80", NULL, &f);
	assert_int_equal(ctb_findings_blocking(&f), 0);
	assert_int_equal(count_kind(&f, CTB_FINDING_STATEFUL), 2);
	assert_non_null(strstr(find_traffic(&f, "tcp/80 departures")->message,
			       "for peers in 2002:c0a8::/32 only"));
	ctb_findings_free(&f);
	fw_ruleset_free(&rs);
	snprintf(text, sizeof(text), rfc3964, "-A OUTPUT -d 2001:db8::/32 -j REJECT\n");
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(fw_parse_iptables_save(&rs, text, 6, FW_SRC_IPTABLES_LEGACY), 0);
	analyse_rs(&rs, NODE ",fd00:c7::1/128", "80", NULL, &f);
	assert_int_equal(ctb_findings_blocking(&f), 1);
	for (size_t i = 0; i < f.count; i++)
		if (f.items[i].blocking)
			assert_non_null(strstr(f.items[i].message, "for peers in 2001:db8::/32:"));
	ctb_findings_free(&f);
	fw_ruleset_free(&rs);
}

static void load_nft(struct fw_ruleset *rs, const char *fixture)
{
	char path[128], *text;

	snprintf(path, sizeof(path), "tests/fixtures/%s", fixture);
	text = slurp(path);
	memset(rs, 0, sizeof(*rs));
	assert_int_equal(fw_parse_nft_json(rs, text, NULL, 0), 0);
	free(text);
}

/* kube-proxy's nftables mode (its own test's rules): the same verdicts as its iptables mode. */
static void kube_proxy_nftables_mode(void **state)
{
	struct fw_ruleset rs;
	struct ctb_findings f;

	(void)state;
	load_nft(&rs, "nft_kube_proxy_overall.json");
	analyse_rs(&rs, "192.168.0.2/32,127.0.0.0/8", "80,443,53", NULL, &f);
	assert_int_equal(ctb_findings_blocking(&f), 0);
	ctb_findings_free(&f);
	/* a NodePort: found through the service-nodeports map and numgen's endpoint map */
	analyse_rs(&rs, "192.168.0.2/32,127.0.0.0/8", "3001", NULL, &f);
	assert_int_equal(count_kind(&f, CTB_FINDING_NAT), 1);
	assert_non_null(strstr(first_kind(&f, CTB_FINDING_NAT)->where, "chain endpoint-"));
	ctb_findings_free(&f);
	/* an endpoint on this host's port 80 */
	analyse_rs(&rs, "192.168.0.2/32,10.180.0.3/32", "80", NULL, &f);
	assert_int_equal(count_kind(&f, CTB_FINDING_NAT_TO_BYPASSED), 2);
	ctb_findings_free(&f);
	fw_ruleset_free(&rs);
}

/*
 * The real firewalld (Debian 12, zone public, service http): --ports 80 is
 * allowed (its RFC 3964 reject is a warning), an upstream is refused with a
 * permanent rich rule as the fix, and the reload window is named.
 */
static void firewalld_public_http(void **state)
{
	struct fw_ruleset rs;
	struct ctb_findings f;
	const struct ctb_finding *s;

	(void)state;
	load_nft(&rs, "nft_firewalld_public_http.json");
	analyse_rs(&rs, NODE ",fd00:c7::1/128", "80", NULL, &f);
	assert_int_equal(ctb_findings_blocking(&f), 0);
	assert_int_equal(count_kind(&f, CTB_FINDING_RELOAD_WINDOW), 1);
	ctb_findings_free(&f);
	analyse_rs(&rs, NODE, NULL, "198.18.0.7:3128", &f);
	assert_int_equal(ctb_findings_blocking(&f), 1);
	s = first_kind(&f, CTB_FINDING_STATEFUL);
	assert_string_equal(s->fix, "firewall-cmd --permanent --add-rich-rule='rule family=\"ipv4\" "
				    "source address=\"198.18.0.7/32\" source-port port=\"3128\" "
				    "protocol=\"tcp\" accept' && firewall-cmd --reload");
	assert_non_null(strstr(s->accepted_where, "table inet firewalld chain filter_INPUT"));
	ctb_findings_free(&f);
	fw_ruleset_free(&rs);
}

/*
 * The real ufw (default deny incoming, allow 80/tcp): --ports 80 allowed; an
 * upstream refused with a ufw rule as the fix; that rule, once added, is
 * enough (ufw-not-local returns for our own addresses: addrtype LOCAL).
 */
static void ufw_allow_80(void **state)
{
	char *text = slurp("tests/fixtures/ufw_allow_80.save"), *v6 = strstr(text + 1, "*filter");
	struct fw_ruleset rs = { 0 };
	struct ctb_findings f;
	const struct ctb_finding *s;

	(void)state;
	assert_non_null(v6);
	v6[-1] = '\0';
	assert_int_equal(fw_parse_iptables_save(&rs, text, 4, FW_SRC_IPTABLES_NFT), 0);
	assert_int_equal(fw_parse_iptables_save(&rs, v6, 6, FW_SRC_IPTABLES_NFT), 0);
	analyse_rs(&rs, NODE ",fd00:c7::1/128", "80", NULL, &f);
	assert_int_equal(ctb_findings_blocking(&f), 0);
	ctb_findings_free(&f);
	analyse_rs(&rs, NODE, NULL, "198.18.0.7:3128", &f);
	assert_int_equal(ctb_findings_blocking(&f), 1);
	s = first_kind(&f, CTB_FINDING_STATEFUL);
	assert_string_equal(s->fix, "ufw allow in proto tcp from 198.18.0.7/32 port 3128");
	ctb_findings_free(&f);
	fw_ruleset_free(&rs);
	/* the rule that fix makes, as ufw writes it: then nothing refuses */
	char fixed[65536];

	/* after the listing's COMMIT: the reader adds it to the chain all the same */
	snprintf(fixed, sizeof(fixed), "%s\n-A ufw-user-input -s 198.18.0.7/32 -p tcp -m tcp "
		 "--sport 3128 -j ACCEPT\n", text);
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(fw_parse_iptables_save(&rs, fixed, 4, FW_SRC_IPTABLES_NFT), 0);
	analyse_rs(&rs, NODE, NULL, "198.18.0.7:3128", &f);
	assert_int_equal(ctb_findings_blocking(&f), 0);
	ctb_findings_free(&f);
	fw_ruleset_free(&rs);
	free(text);
}

/* A listing that could not be read is a blocking finding, never an empty table. */
static void an_unreadable_listing_is_a_finding(void **state)
{
	struct fw_ruleset rs = { 0 };
	struct ctb_findings f;

	(void)state;
	fw_ruleset_add_unreadable(&rs, "iptables-legacy-save: %s", "Permission denied");
	analyse_rs(&rs, NODE, "80", NULL, &f);
	assert_int_equal(ctb_findings_blocking(&f), 1);
	assert_non_null(strstr(first_kind(&f, CTB_FINDING_UNANALYZED)->message,
			       "could not read iptables-legacy-save: Permission denied"));
	assert_non_null(strstr(first_kind(&f, CTB_FINDING_UNANALYZED)->id, "unread-"));
	ctb_findings_free(&f);
	fw_ruleset_free(&rs);
}

/* The search is bounded in steps: out of them, the answer is "too complex", never a hang. */
static void the_search_is_bounded_in_steps(void **state)
{
	struct fw_ruleset rs = { 0 };
	struct fw_budget budget = { 2 };
	struct fw_probe before = { .family = 4, .l4 = FW_L4_TCP, .dport = 80,
				   .ct_state = FW_CT_NEW };
	struct fw_probe after = before;
	struct fw_hit a, d;
	char text[1024];

	(void)state;
	after.ct_state = FW_CT_UNTRACKED;
	snprintf(text, sizeof(text), stateful_and_redirect, "");
	assert_int_equal(fw_parse_iptables_save(&rs, text, 4, FW_SRC_IPTABLES_LEGACY), 0);
	assert_int_equal(fw_find_breakage(&rs, &rs.chains[0], &before, 1, &after, &budget, &a,
					  &d),
			 FW_ANSWER_TOO_COMPLEX);
	budget.steps = FW_BUDGET_DEFAULT;
	assert_int_equal(fw_find_breakage(&rs, &rs.chains[0], &before, 1, &after, &budget, &a,
					  &d),
			 FW_ANSWER_YES);
	assert_true(budget.steps < FW_BUDGET_DEFAULT); /* charged */
	fw_ruleset_free(&rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rh_firewall_refuses_with_the_exact_rule),
		cmocka_unit_test(stateless_accepts_and_closed_ports_are_fine),
		cmocka_unit_test(nft_ranges_jumps_and_positions),
		cmocka_unit_test(docker_nat_is_found_only_for_its_port),
		cmocka_unit_test(upstreams_and_families),
		cmocka_unit_test(ephemeral_ports_warn),
		cmocka_unit_test(kube_proxy_cluster_ips_are_not_ours),
		cmocka_unit_test(kube_proxy_backend_on_a_bypassed_port),
		cmocka_unit_test(redirect_to_a_bypassed_port_is_refused),
		cmocka_unit_test(finding_ids_are_stable_and_accepted_one_by_one),
		cmocka_unit_test(unknowns_are_tried_both_ways),
		cmocka_unit_test(the_search_is_bounded_in_steps),
		cmocka_unit_test(an_unreadable_listing_is_a_finding),
		cmocka_unit_test(drops_of_bogus_peers_only_warn),
		cmocka_unit_test(kube_proxy_nftables_mode),
		cmocka_unit_test(firewalld_public_http),
		cmocka_unit_test(ufw_allow_80),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
