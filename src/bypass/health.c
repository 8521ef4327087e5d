// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "health.h"
#include "intent_log.h"
#include "runtime_dir.h"

#define LINE_LEN 2600 /* a preflight finding is one long line */

const char *const ctb_problem_kind_names[CTB_PROBLEM_KINDS] = {
	[CTB_PROBLEM_CLEANUP_PENDING] = "cleanup_pending",
	[CTB_PROBLEM_TABLE_MISSING] = "table_missing",
	[CTB_PROBLEM_RULES_MISSING] = "rules_missing",
	[CTB_PROBLEM_DUPLICATE_CLASSIFIERS] = "duplicate_classifiers",
	[CTB_PROBLEM_BACKSTOP] = "backstop_hits",
	[CTB_PROBLEM_MARK_TRANSITION] = "mark_transition",
	[CTB_PROBLEM_UNCOVERED_INTERFACES] = "uncovered_interfaces",
	[CTB_PROBLEM_MAPS_UNREADABLE] = "maps_unreadable",
	[CTB_PROBLEM_MIXED_PROGRAMS] = "mixed_programs",
	[CTB_PROBLEM_MAPS_DISAGREE] = "maps_disagree",
	[CTB_PROBLEM_PREFLIGHT] = "preflight",
	[CTB_PROBLEM_FOREIGN_AHEAD] = "foreign_ahead",
};

static int add(struct ctb_health *h, enum ctb_problem_kind kind, bool advisory, const char *fmt,
	       va_list ap)
{
	char **grown = realloc(h->problems, (h->count + 1) * sizeof(*grown));
	enum ctb_problem_kind *kinds;
	bool *flags;
	char *line;

	if (!grown)
		return -ENOMEM;
	h->problems = grown;
	flags = realloc(h->advisory, (h->count + 1) * sizeof(*flags));
	if (!flags)
		return -ENOMEM;
	h->advisory = flags;
	kinds = realloc(h->kinds, (h->count + 1) * sizeof(*kinds));
	if (!kinds)
		return -ENOMEM;
	h->kinds = kinds;
	line = malloc(LINE_LEN);
	if (!line)
		return -ENOMEM;
	vsnprintf(line, LINE_LEN, fmt, ap);
	h->advisory[h->count] = advisory;
	h->kinds[h->count] = kind;
	h->problems[h->count++] = line;
	return 0;
}

int ctb_health_add(struct ctb_health *h, enum ctb_problem_kind kind, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = add(h, kind, false, fmt, ap);
	va_end(ap);
	return ret;
}

__attribute__((format(printf, 3, 4))) static int advise(struct ctb_health *h,
						       enum ctb_problem_kind kind,
						       const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = add(h, kind, true, fmt, ap);
	va_end(ap);
	return ret;
}

size_t ctb_health_repairable(const struct ctb_health *h)
{
	size_t n = 0;

	for (size_t i = 0; i < h->count; i++)
		n += !h->advisory[i];
	return n;
}

static bool has_filter(const struct ctb_attachment *att, int ifindex)
{
	return ctb_iface_list_has(&att->ifaces, ifindex);
}

/* The interfaces that should carry the classifier and do not. */
static int uncovered_ifaces(const struct ctb_attachment *att, struct ctb_iface_list *out)
{
	const char *list = att->nft.cfg.iface_list;
	struct ctb_iface_list eligible = { 0 };
	int ret = 0;

	if (!list) {
		ret = ctb_ifaces_default(&eligible);
		for (size_t i = 0; !ret && i < eligible.count; i++)
			if (!has_filter(att, eligible.items[i].ifindex))
				ret = ctb_iface_list_add(out, eligible.items[i].ifindex,
							 eligible.items[i].name);
		ctb_iface_list_free(&eligible);
		return ret;
	}
	/* Named with --iface: each one that exists now (re-created ones included). */
	for (const char *s = list; *s && !ret;) {
		size_t n = strcspn(s, ",");
		char name[IF_NAMESIZE];
		unsigned int ifindex;

		snprintf(name, sizeof(name), "%.*s", (int)n, s);
		s += n + (s[n] == ',');
		ifindex = if_nametoindex(name);
		if (ifindex && !has_filter(att, (int)ifindex))
			ret = ctb_iface_list_add(out, (int)ifindex, name);
	}
	return ret;
}

static int check_coverage(const struct ctb_attachment *att, struct ctb_health *h)
{
	struct ctb_iface_list missing = { 0 };
	char names[256];
	int ret = uncovered_ifaces(att, &missing);

	if (!ret && missing.count) {
		h->uncovered = missing.count;
		ctb_iface_list_format(&missing, names, sizeof(names));
		ret = ctb_health_add(h, CTB_PROBLEM_UNCOVERED_INTERFACES,
			      "no classifier on %zu interface%s that should have it: %s (created or "
			      "brought up after attach?); run 'ctbypass attach' again",
			      missing.count, missing.count == 1 ? "" : "s", names);
	}
	ctb_iface_list_free(&missing);
	return ret;
}

static int check_duplicates(const struct ctb_attachment *att, struct ctb_health *h)
{
	char names[256] = "";
	size_t used = 0;

	if (!att->duplicate_count)
		return 0;
	for (size_t i = 0; i < att->duplicate_count && i < 8 && used < sizeof(names); i++) {
		char name[IF_NAMESIZE] = "?";

		if_indextoname((unsigned int)att->duplicates[i].ifindex, name);
		used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s", i ? "," : "",
					 name);
	}
	return ctb_health_add(h, CTB_PROBLEM_DUPLICATE_CLASSIFIERS, "more than one ctbypass classifier on %zu interface%s: %s; run "
			  "'ctbypass attach' again",
		       att->duplicate_count, att->duplicate_count == 1 ? "" : "s", names);
}

/*
 * On tcx, a program placed in front of ours later (the kernel lets anybody do
 * it), or any tcx program when ours is still an older version's clsact filter,
 * decides whether ours runs at all: one that returns TCX_PASS hides every
 * arrival from the classifier. Locally delivered ones are still untracked by
 * the backstop; routed and forwarded ones are tracked. Attach puts ours first
 * on tcx.
 */
static int check_foreign_ahead(const struct ctb_attachment *att, struct ctb_health *h)
{
	char names[256] = "", example[16] = "";
	size_t used = 0, count = 0;

	for (size_t i = 0; i < att->filter_count; i++) {
		const struct ctb_tc_filter *f = &att->filters[i];

		if (!f->foreign_ahead)
			continue;
		if (!count++)
			snprintf(example, sizeof(example), "%s", f->ahead_name);
		if (used < sizeof(names))
			used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s",
						 used ? "," : "", att->ifaces.items[i].name);
	}
	if (!count)
		return 0;
	return ctb_health_add(h, CTB_PROBLEM_FOREIGN_AHEAD,
			      "a tcx program not ours runs before the classifier on %zu "
			      "interface%s: %s (%s); if it ends the list (TCX_PASS), arrivals "
			      "there are not classified (local ones fall to the backstop, routed "
			      "ones are tracked); run 'ctbypass attach' again to put ours first",
			      count, count == 1 ? "" : "s", names, example);
}

static int check_maps(const struct ctb_attachment *att, struct ctb_health *h)
{
	char diff[LINE_LEN - 128];
	int n;

	if (!att->filter_count)
		return 0;
	if (!att->have_maps)
		return ctb_health_add(h, CTB_PROBLEM_MAPS_UNREADABLE,
				      "cannot open the classifier's maps; run 'ctbypass attach' again");
	if (att->prog_count > 1) {
		int ret = ctb_health_add(h, CTB_PROBLEM_MIXED_PROGRAMS, "the interfaces run %zu different classifier programs (an "
				     "interrupted change?); run 'ctbypass attach' again",
				  att->prog_count);

		if (ret)
			return ret;
	}
	n = ctb_maps_compare(&att->maps, &att->nft.cfg, diff, sizeof(diff));
	if (!n)
		return 0;
	return ctb_health_add(h, CTB_PROBLEM_MAPS_DISAGREE, "the classifier and the nftables sets disagree on %d port%s or "
			  "upstream%s: %s; run 'ctbypass attach' again",
		       n, n == 1 ? "" : "s", n == 1 ? "" : "s", diff);
}

static int check_pending(struct ctb_health *h)
{
	int *ifindexes;
	size_t count;
	int ret;

	/* While a command runs, its pending entries are its own business. */
	if (h->changing || ctb_intent_pending(&ifindexes, &count))
		return 0;
	free(ifindexes);
	if (!count)
		return 0;
	ret = ctb_health_add(h, CTB_PROBLEM_CLEANUP_PENDING, "an interrupted command left cleanup pending on %zu interface%s; "
			 "the next 'ctbypass attach' or 'detach' does it",
		      count, count == 1 ? "" : "s");
	return ret;
}

/* Where status keeps its last look at the backstop counter, to see a rate. */
struct backstop_sample {
	unsigned long long packets;
	long long at; /* Unix time */
};

#define BACKSTOP_RECENT_S 600 /* a look older than this says nothing about now */

static int read_sample(struct backstop_sample *s)
{
	char path[128];
	FILE *f;
	int ok;

	if (ctb_runtime_path("backstop", path, sizeof(path)))
		return -1;
	f = fopen(path, "re");
	if (!f)
		return -1;
	ok = fscanf(f, "%llu %lld", &s->packets, &s->at) == 2;
	fclose(f);
	return ok ? 0 : -1;
}

static void write_sample(unsigned long long packets)
{
	char path[128], tmp[160];
	FILE *f;

	if (ctb_runtime_path("backstop", path, sizeof(path)))
		return;
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	f = fopen(tmp, "we");
	if (!f)
		return;
	fprintf(f, "%llu %lld\n", packets, (long long)time(NULL));
	/* rename(): a concurrent status reads the old sample or the new, never half. */
	if (fclose(f) || rename(tmp, path))
		unlink(tmp);
}

/*
 * Bypassed packets the classifier did not mark reached the backstop since the
 * last look (a recent rate, not a lifetime count: a hole that was fixed stops
 * being reported). They are untracked all the same, so nothing breaks; but
 * each costs the slow path, and the cause is worth fixing.
 */
static int check_backstop(const struct ctb_attachment *att, struct ctb_health *h)
{
	unsigned long long now = att->nft.backstop.packets, rose;
	struct backstop_sample prev;
	long long age;

	if (!att->nft.has_backstop)
		return 0;
	if (read_sample(&prev) || (age = (long long)time(NULL) - prev.at) > BACKSTOP_RECENT_S ||
	    age < 0) {
		write_sample(now);
		return 0;
	}
	write_sample(now);
	/* Below the last look: a change rewrote the counter since, count from 0. */
	rose = now >= prev.packets ? now - prev.packets : now;
	if (!rose)
		return 0;
	/* Another apply would change nothing: the daemon reports it, never repairs it. */
	return advise(h, CTB_PROBLEM_BACKSTOP,
		       "%llu bypassed packet%s reached the backstop in the last %llds: the "
		       "classifier did not mark them (an interface without it, a tc program "
		       "ahead of it, headers it does not parse); they are untracked all the same",
		       rose, rose == 1 ? "" : "s", age);
}

void ctb_health_baseline(const struct ctb_attachment *att)
{
	if (att->nft.has_backstop)
		write_sample(att->nft.backstop.packets);
}

static int check(const struct ctb_attachment *att, struct ctb_health *h, bool lock_is_ours);

int ctb_health_check(const struct ctb_attachment *att, struct ctb_health *h)
{
	return check(att, h, false);
}

int ctb_health_check_locked(const struct ctb_attachment *att, struct ctb_health *h)
{
	return check(att, h, true);
}

static int check(const struct ctb_attachment *att, struct ctb_health *h, bool lock_is_ours)
{
	int ret;

	memset(h, 0, sizeof(*h));
	h->changing = !lock_is_ours && ctb_lock_busy(&h->holder);
	ret = check_pending(h);
	if (ret || !ctb_attachment_exists(att))
		return ret;
	if (!att->nft.present) {
		ret = ctb_health_add(h, CTB_PROBLEM_TABLE_MISSING, "table inet %s is missing (deleted by 'nft flush ruleset' or a "
				 "firewall reload?): nothing is untracked; run 'ctbypass attach' "
				 "again, or 'ctbypass detach'",
			      CTB_NFT_TABLE);
		return ret ? ret : check_duplicates(att, h);
	}
	if (!ret && !att->nft.complete)
		ret = ctb_health_add(h, CTB_PROBLEM_RULES_MISSING, "table inet %s lacks some of its rules (deleted by hand?): the "
				 "bypass may be one-sided; run 'ctbypass attach' again",
			      CTB_NFT_TABLE);
	if (!ret)
		ret = check_duplicates(att, h);
	if (!ret)
		ret = check_backstop(att, h);
	/* Mid-change, the rest is in motion by design: judged once it is done. */
	if (ret || h->changing)
		return ret;
	if (att->nft.in_transition)
		ret = ctb_health_add(h, CTB_PROBLEM_MARK_TRANSITION, "an interrupted mark change left the previous mark's rule; run "
				 "'ctbypass attach' again");
	if (!ret)
		ret = check_coverage(att, h);
	if (!ret)
		ret = check_foreign_ahead(att, h);
	if (!ret)
		ret = check_maps(att, h);
	return ret;
}

void ctb_health_free(struct ctb_health *h)
{
	for (size_t i = 0; i < h->count; i++)
		free(h->problems[i]);
	free(h->problems);
	free(h->advisory);
	free(h->kinds);
	memset(h, 0, sizeof(*h));
}
