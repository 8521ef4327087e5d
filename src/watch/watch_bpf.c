// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "ct_probes.skel.h"
#include "watch_bpf.h"

int ctb_watch_bpf_open(struct ctb_watch_bpf *w, uint32_t netns, struct ctb_watch_top *top)
{
	struct bpf_program *prog;
	int ret;

	memset(w, 0, sizeof(*w));
	w->top = top;
	w->ncpus = libbpf_num_possible_cpus();
	if (w->ncpus <= 0)
		return w->ncpus < 0 ? w->ncpus : -EINVAL;
	w->percpu = calloc(w->ncpus, sizeof(*w->percpu));
	if (!w->percpu)
		return -ENOMEM;
	ret = ctb_rates_init(&w->rates, CTB_CT_COUNTERS, true, 0);
	if (ret)
		return ret;
	w->skel = ct_probes__open();
	if (!w->skel)
		return -errno;
	w->skel->rodata->target_netns = netns;
	w->skel->rodata->emit_events = top != NULL;
	/* Without --top nothing is sent: the smallest ring buffer will do. */
	if (!top)
		bpf_map__set_max_entries(w->skel->maps.events, 4096);
	bpf_object__for_each_program(prog, w->skel->obj)
		bpf_program__set_autoload(prog, false);
	return 0;
}

static int on_event(void *ctx, void *data, size_t size)
{
	const struct ctb_ct_event *e = data;
	struct ctb_watch_bpf *w = ctx;

	if (size < sizeof(*e) || !w->top)
		return 0;
	ctb_watch_top_add(w->top, e->kind == CTB_CT_EV_DROP, e->family, e->l4proto, e->saddr,
			  ntohs(e->dport));
	return 0;
}

int ctb_watch_bpf_load(struct ctb_watch_bpf *w)
{
	uint64_t ignore[CTB_CT_COUNTERS] = { 0 };
	int ret = ct_probes__load(w->skel);

	if (ret)
		return ret;
	/* The counters start at zero: that is the baseline, so nothing after attach is missed. */
	ret = ctb_rates_update(&w->rates, (const uint64_t *)w->percpu, NULL, w->ncpus, ignore);
	if (ret)
		return ret;
	if (w->top) {
		w->rb = ring_buffer__new(bpf_map__fd(w->skel->maps.events), on_event, w, NULL);
		if (!w->rb)
			return -errno;
	}
	return 0;
}

int ctb_watch_bpf_read(struct ctb_watch_bpf *w, uint64_t delta[CTB_CT_COUNTERS])
{
	__u32 zero = 0;
	int ret;

	ret = bpf_map__lookup_elem(w->skel->maps.ct_stats, &zero, sizeof(zero), w->percpu,
				   (size_t)w->ncpus * sizeof(*w->percpu), 0);
	if (ret)
		return ret;
	return ctb_rates_update(&w->rates, (const uint64_t *)w->percpu, NULL, w->ncpus, delta);
}

int ctb_watch_bpf_drain(struct ctb_watch_bpf *w)
{
	int ret = w->rb ? ring_buffer__consume(w->rb) : 0;

	return ret < 0 ? ret : 0;
}

int ctb_watch_bpf_poll_fd(const struct ctb_watch_bpf *w)
{
	return w->rb ? ring_buffer__epoll_fd(w->rb) : -1;
}

void ctb_watch_bpf_close(struct ctb_watch_bpf *w)
{
	ring_buffer__free(w->rb);
	ct_probes__destroy(w->skel); /* detaches every link, closes every map */
	ctb_rates_free(&w->rates);
	free(w->percpu);
	memset(w, 0, sizeof(*w));
}
