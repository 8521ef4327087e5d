// SPDX-License-Identifier: GPL-2.0
/*
 * `watch` through BPF probes on conntrack's own functions: fentry/fexit (BTF
 * trampolines) or kprobe/kretprobe. Exact counts from per-CPU counters; with
 * --top, one ring buffer record per new entry and per drop.
 *
 *   __nf_conntrack_alloc exit    error: drops (table full); success: new-entry detail
 *   __nf_conntrack_confirm exit  NF_ACCEPT: inserts; NF_DROP: insert_failed
 *   early_drop exit              true: early_drops
 *   nf_ct_destroy entry          confirmed entries: destroys
 *
 * A function that is missing (inlined, renamed, not in BTF) makes its metrics
 * unavailable, with the reason; the others keep working. A point may have an
 * older name, tried when the first is not there.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "ct_probes.skel.h"
#include "log.h"
#include "memlock.h"
#include "watch_bpf.h"

enum point { P_ALLOC, P_CONFIRM, P_EARLY_DROP, P_DESTROY, POINTS };

#define NAMES 2
static const char *const point_names[POINTS][NAMES] = {
	[P_ALLOC] = { "__nf_conntrack_alloc" },
	[P_CONFIRM] = { "__nf_conntrack_confirm" },
	[P_EARLY_DROP] = { "early_drop" },
	/*
	 * On 5.10 nf_ct_destroy is a function pointer (a data symbol: a kprobe on it
	 * fails) that holds the static destroy_conntrack; later kernels made
	 * nf_ct_destroy the function itself. Same argument, same meaning.
	 */
	[P_DESTROY] = { "nf_ct_destroy", "destroy_conntrack" },
};

/* The metrics each probe point gives. */
static const int point_metrics[POINTS][2] = {
	[P_ALLOC] = { CTB_W_DROPS, -1 },
	[P_CONFIRM] = { CTB_W_INSERTS, CTB_W_INSERT_FAILED },
	[P_EARLY_DROP] = { CTB_W_EARLY_DROPS, -1 },
	[P_DESTROY] = { CTB_W_DESTROYS, -1 },
};

struct probes {
	struct ctb_watch_bpf bpf;
	struct bpf_link *links[POINTS][2];
};

/* The programs for POINT: [0] the entry or exit program, [1] the kretprobe or NULL. */
static void point_progs(struct ct_probes *s, enum ctb_watch_backend_kind kind, enum point p,
			struct bpf_program *out[2])
{
	bool fentry = kind == CTB_WATCH_FENTRY;

	out[1] = NULL;
	switch (p) {
	case P_ALLOC:
		out[0] = fentry ? s->progs.ct_alloc_exit : s->progs.ct_alloc_kprobe;
		out[1] = fentry ? NULL : s->progs.ct_alloc_kretprobe;
		break;
	case P_CONFIRM:
		out[0] = fentry ? s->progs.ct_confirm_exit : s->progs.ct_confirm_kprobe;
		out[1] = fentry ? NULL : s->progs.ct_confirm_kretprobe;
		break;
	case P_EARLY_DROP:
		out[0] = fentry ? s->progs.ct_early_drop_exit : s->progs.ct_early_drop_kprobe;
		out[1] = fentry ? NULL : s->progs.ct_early_drop_kretprobe;
		break;
	default:
		out[0] = fentry ? s->progs.ct_destroy_entry : s->progs.ct_destroy_kprobe;
		break;
	}
}

/*
 * Which name of each point is a function in /proc/kallsyms under its own name (not
 * inlined, not a .constprop copy): FOUND[p] is its index, or -1. Text symbols only:
 * a function pointer of the same name cannot be probed.
 */
static int kallsyms_find(int found[POINTS])
{
	FILE *f = fopen("/proc/kallsyms", "re");
	char line[512];

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char name[256], type;
		unsigned long long addr;

		if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3 ||
		    (type != 't' && type != 'T'))
			continue;
		for (int p = 0; p < POINTS; p++)
			for (int n = 0; n < NAMES && point_names[p][n]; n++)
				if (!strcmp(name, point_names[p][n]) && (found[p] < 0 || n < found[p]))
					found[p] = n;
	}
	fclose(f);
	return 0;
}

/* Which name of each point is a function in the kernel's or nf_conntrack's BTF (fentry's need). */
static void btf_find(int found[POINTS])
{
	struct btf *vmlinux = btf__load_vmlinux_btf(), *mod = NULL;

	if (!vmlinux)
		return;
	mod = btf__load_module_btf("nf_conntrack", vmlinux); /* NULL: built in, or not loaded */
	for (int p = 0; p < POINTS; p++)
		for (int n = NAMES - 1; n >= 0; n--)
			if (point_names[p][n] &&
			    (btf__find_by_name_kind(vmlinux, point_names[p][n], BTF_KIND_FUNC) > 0 ||
			     (mod && btf__find_by_name_kind(mod, point_names[p][n], BTF_KIND_FUNC) > 0)))
				found[p] = n;
	btf__free(mod);
	btf__free(vmlinux);
}

/*
 * Conntrack as a module without BTF of its own: fentry cannot reach any of its
 * functions. Module BTF is Linux 5.11 (Debian 11's 5.10 has only the kernel's).
 */
static bool conntrack_module_without_btf(void)
{
	/* initstate: a loaded module (a built-in one has none, and its functions are in vmlinux) */
	return access("/sys/module/nf_conntrack/initstate", F_OK) == 0 &&
	       access("/sys/kernel/btf/nf_conntrack", F_OK) != 0;
}

static void set_unavailable(struct ctb_watch_backend *b, enum point p, const char *fmt,
			    const char *arg1, const char *arg2)
{
	for (int i = 0; i < 2; i++) {
		int m = point_metrics[p][i];

		if (m < 0)
			continue;
		b->avail[m] = false;
		snprintf(b->why[m], sizeof(b->why[m]), fmt, arg1, arg2);
	}
	if (p == P_ALLOC)
		snprintf(b->drop_detail_why, sizeof(b->drop_detail_why), fmt, arg1, arg2);
}

static int probes_read(struct ctb_watch_backend *b, uint64_t delta[CTB_W_METRICS])
{
	struct probes *pr = b->priv;
	uint64_t d[CTB_CT_COUNTERS] = { 0 };
	int ret = ctb_watch_bpf_read(&pr->bpf, d);

	if (ret)
		return ret;
	delta[CTB_W_INSERTS] += d[CTB_CT_INSERT];
	delta[CTB_W_DROPS] += d[CTB_CT_DROP];
	delta[CTB_W_EARLY_DROPS] += d[CTB_CT_EARLY_DROP];
	delta[CTB_W_INSERT_FAILED] += d[CTB_CT_INSERT_FAILED];
	delta[CTB_W_DESTROYS] += d[CTB_CT_DESTROY];
	delta[CTB_W_LOST] += d[CTB_CT_LOST] + d[CTB_CT_UNMATCHED];
	return 0;
}

static int probes_drain(struct ctb_watch_backend *b)
{
	struct probes *pr = b->priv;

	return ctb_watch_bpf_drain(&pr->bpf);
}

static void probes_close(struct ctb_watch_backend *b)
{
	struct probes *pr = b->priv;

	if (!pr)
		return;
	for (int p = 0; p < POINTS; p++)
		for (int i = 0; i < 2; i++)
			bpf_link__destroy(pr->links[p][i]);
	ctb_watch_bpf_close(&pr->bpf);
	free(pr);
	b->priv = NULL;
}

/*
 * Attaches POINT's programs to FUNC (a kprobe's target is given here, an fentry's
 * was set before load); a kprobe without its kretprobe is no use, so both or none.
 */
static int attach_point(struct probes *pr, struct bpf_program *progs[2], enum point p,
			enum ctb_watch_backend_kind kind, const char *func)
{
	for (int i = 0; i < 2 && progs[i]; i++) {
		pr->links[p][i] = kind == CTB_WATCH_FENTRY
					  ? bpf_program__attach(progs[i])
					  : bpf_program__attach_kprobe(progs[i], i == 1, func);
		if (!pr->links[p][i]) {
			int ret = -errno;

			bpf_link__destroy(pr->links[p][0]);
			pr->links[p][0] = NULL;
			return ret;
		}
	}
	return 0;
}

int ctb_watch_probes_open(struct ctb_watch_backend *b, enum ctb_watch_backend_kind kind,
			  uint32_t netns, char *why, size_t whylen)
{
	const char *name = ctb_watch_backend_name(kind);
	int present[POINTS] = { -1, -1, -1, -1 };
	bool any = false;
	struct bpf_program *progs[POINTS][2];
	struct probes *pr = calloc(1, sizeof(*pr));
	int ret, attached = 0;

	b->kind = kind;
	b->priv = pr;
	b->read = probes_read;
	b->drain = probes_drain;
	b->close = probes_close;
	for (int m = 0; m < CTB_W_METRICS; m++)
		b->avail[m] = true;
	if (!pr) {
		snprintf(why, whylen, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	ret = ctb_watch_bpf_open(&pr->bpf, netns, b->top);
	if (ret) {
		snprintf(why, whylen, "cannot open the BPF object: %s", strerror(-ret));
		goto fail;
	}
	if (kind == CTB_WATCH_FENTRY) {
		if (conntrack_module_without_btf()) {
			ret = -ENOENT;
			snprintf(why, whylen, "the kernel has no BTF for the nf_conntrack module "
					      "(module BTF: Linux 5.11)");
			goto fail;
		}
		btf_find(present);
	} else if ((ret = kallsyms_find(present))) {
		snprintf(why, whylen, "cannot read /proc/kallsyms: %s", strerror(-ret));
		goto fail;
	}
	for (int p = 0; p < POINTS; p++) {
		point_progs(pr->bpf.skel, kind, p, progs[p]);
		if (present[p] < 0) {
			set_unavailable(b, p,
					kind == CTB_WATCH_FENTRY ? "%s is not in the kernel's BTF%s"
								 : "%s is not in /proc/kallsyms%s",
					point_names[p][0], " (inlined, renamed or not built)");
			continue;
		}
		any = true;
		if (present[p] > 0)
			ctb_debug("watch: %s: %s instead of %s", name, point_names[p][present[p]],
				  point_names[p][0]);
		for (int i = 0; i < 2 && progs[p][i]; i++) {
			bpf_program__set_autoload(progs[p][i], true);
			if (kind == CTB_WATCH_FENTRY && present[p] > 0)
				bpf_program__set_attach_target(progs[p][i], 0,
							       point_names[p][present[p]]);
		}
	}
	if (!any) {
		ret = -ENOENT;
		snprintf(why, whylen, "none of conntrack's functions can be traced (nf_conntrack not loaded?)");
		goto fail;
	}
	ret = ctb_watch_bpf_load(&pr->bpf);
	if (ret) {
		char hint[160];

		ctb_memlock_hint(ret, hint, sizeof(hint));
		snprintf(why, whylen, "loading the %s programs: %s%s", name, strerror(-ret), hint);
		goto fail;
	}
	for (int p = 0; p < POINTS; p++) {
		const char *func = present[p] < 0 ? NULL : point_names[p][present[p]];

		if (!func)
			continue;
		ret = attach_point(pr, progs[p], p, kind, func);
		if (ret) {
			ctb_debug("watch: %s on %s: %s", name, func, strerror(-ret));
			set_unavailable(b, p, "cannot attach to %s: %s", func, strerror(-ret));
			continue;
		}
		attached++;
	}
	if (!attached) {
		ret = -ENOENT;
		snprintf(why, whylen, "no %s probe attached (%s)", name, b->why[CTB_W_DROPS]);
		goto fail;
	}
	b->poll_fds[0] = ctb_watch_bpf_poll_fd(&pr->bpf);
	b->poll_fds[1] = -1;
	return 0;
fail:
	probes_close(b);
	return ret ? ret : -EINVAL;
}
