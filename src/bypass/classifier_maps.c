// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "classifier.skel.h"
#include "classifier_maps.h"
#include "log.h"

#define PORTS_MAP_BYTES (CTB_PORT_KEYS * sizeof(struct ctb_port_entry))
#define CLASSIFIER_PROG_NAME "ctb_ingress"

static const uint8_t l4protos[] = { IPPROTO_TCP, IPPROTO_UDP };

static __u32 port_key(uint8_t l4proto, uint16_t port)
{
	__u32 index = l4proto == IPPROTO_TCP ? CTB_PROTO_INDEX_TCP : CTB_PROTO_INDEX_UDP;

	return index << 16 | port;
}

static void upstream_key(const struct ctb_upstream *up, uint8_t l4proto,
			 struct ctb_upstream_key *key)
{
	memset(key, 0, sizeof(*key));
	key->proto = l4proto;
	key->family = up->family == AF_INET ? 4 : 6;
	key->port = htons(up->port);
	if (up->family == AF_INET) {
		key->addr[10] = key->addr[11] = 0xff;
		memcpy(&key->addr[12], up->addr, 4);
		key->prefixlen = CTB_UPSTREAM_KEY_FIXED_BITS + 96 + up->prefixlen;
	} else {
		memcpy(key->addr, up->addr, 16);
		key->prefixlen = CTB_UPSTREAM_KEY_FIXED_BITS + up->prefixlen;
	}
}

static int map_ports(struct ctb_maps *maps)
{
	void *mem = mmap(NULL, PORTS_MAP_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, maps->ports_fd,
			 0);

	if (mem == MAP_FAILED)
		return -errno;
	maps->ports = mem;
	return 0;
}

void ctb_maps_close(struct ctb_maps *maps)
{
	if (maps->ports)
		munmap(maps->ports, PORTS_MAP_BYTES);
	if (maps->ports_fd > 0)
		close(maps->ports_fd);
	if (maps->upstreams_fd > 0)
		close(maps->upstreams_fd);
	if (maps->stats_fd > 0)
		close(maps->stats_fd);
	memset(maps, 0, sizeof(*maps));
}

static int prog_info(int prog_fd, struct bpf_prog_info *info, __u32 *map_ids, __u32 nr_maps)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	info->nr_map_ids = nr_maps;
	info->map_ids = (__u64)(unsigned long)map_ids;
	return bpf_obj_get_info_by_fd(prog_fd, info, &len) ? -errno : 0;
}

bool ctb_prog_is_classifier(__u32 prog_id)
{
	struct bpf_prog_info info;
	int fd = bpf_prog_get_fd_by_id(prog_id);
	bool ours;

	if (fd < 0)
		return false;
	ours = !prog_info(fd, &info, NULL, 0) && !strcmp(info.name, CLASSIFIER_PROG_NAME);
	close(fd);
	return ours;
}

int ctb_maps_open_from_prog(__u32 prog_id, struct ctb_maps *maps)
{
	__u32 map_ids[8];
	struct bpf_prog_info info;
	int prog_fd, ret;

	memset(maps, 0, sizeof(*maps));
	prog_fd = bpf_prog_get_fd_by_id(prog_id);
	if (prog_fd < 0)
		return -errno;
	ret = prog_info(prog_fd, &info, map_ids, 8);
	close(prog_fd);
	if (ret)
		return ret;
	for (__u32 i = 0; i < info.nr_map_ids && i < 8; i++) {
		struct bpf_map_info minfo = { 0 };
		__u32 len = sizeof(minfo);
		int fd = bpf_map_get_fd_by_id(map_ids[i]);

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &minfo, &len)) {
			ret = -errno;
			if (fd >= 0)
				close(fd);
			ctb_maps_close(maps);
			return ret;
		}
		if (!strcmp(minfo.name, "ports"))
			maps->ports_fd = fd;
		else if (!strcmp(minfo.name, "upstreams"))
			maps->upstreams_fd = fd;
		else if (!strcmp(minfo.name, "stats"))
			maps->stats_fd = fd;
		else
			close(fd);
	}
	if (maps->ports_fd <= 0 || maps->upstreams_fd <= 0 || maps->stats_fd <= 0) {
		ctb_maps_close(maps);
		return -ENOENT;
	}
	ret = map_ports(maps);
	if (ret)
		ctb_maps_close(maps);
	return ret;
}

int ctb_classifier_load(__u32 mark, const struct ctb_maps *reuse, struct classifier **skelp,
			struct ctb_maps *maps)
{
	struct classifier *skel;
	int ret;

	memset(maps, 0, sizeof(*maps));
	skel = classifier__open();
	if (!skel)
		return -errno;
	skel->rodata->ctb_mark = mark;
	if (reuse) {
		ret = bpf_map__reuse_fd(skel->maps.ports, reuse->ports_fd);
		if (!ret)
			ret = bpf_map__reuse_fd(skel->maps.upstreams, reuse->upstreams_fd);
		if (!ret)
			ret = bpf_map__reuse_fd(skel->maps.stats, reuse->stats_fd);
		if (ret)
			goto fail;
	}
	ret = classifier__load(skel);
	if (ret)
		goto fail;
	maps->ports_fd = dup(bpf_map__fd(skel->maps.ports));
	maps->upstreams_fd = dup(bpf_map__fd(skel->maps.upstreams));
	maps->stats_fd = dup(bpf_map__fd(skel->maps.stats));
	if (maps->ports_fd < 0 || maps->upstreams_fd < 0 || maps->stats_fd < 0) {
		ret = -errno;
		ctb_maps_close(maps);
		goto fail;
	}
	ret = map_ports(maps);
	if (ret) {
		ctb_maps_close(maps);
		goto fail;
	}
	*skelp = skel;
	return 0;
fail:
	classifier__destroy(skel);
	return ret;
}

/* Slot bookkeeping for one write: which counter lines are taken. */
struct slots {
	uint8_t used[CTB_STAT_SLOTS];
	__u32 next;
};

static __u32 slot_alloc(struct slots *s)
{
	for (; s->next < CTB_STAT_SLOT_OTHER; s->next++) {
		if (!s->used[s->next]) {
			s->used[s->next] = 1;
			return s->next++;
		}
	}
	return CTB_STAT_SLOT_OTHER; /* more lines than counters: they share one */
}

static int slot_free(const struct ctb_maps *maps, __u32 slot)
{
	int ncpus = libbpf_num_possible_cpus();
	struct ctb_counter *zero;
	int ret;

	if (slot == CTB_STAT_SLOT_OTHER || ncpus < 0)
		return 0;
	zero = calloc((size_t)ncpus, sizeof(*zero));
	if (!zero)
		return -ENOMEM;
	ret = bpf_map_update_elem(maps->stats_fd, &slot, zero, BPF_ANY) ? -errno : 0;
	free(zero);
	return ret;
}

static int slots_collect(const struct ctb_maps *maps, struct slots *s)
{
	struct ctb_upstream_key key, next;
	void *prev = NULL;

	memset(s, 0, sizeof(*s));
	s->next = 1;
	for (__u32 k = 0; k < CTB_PORT_KEYS; k++)
		if (maps->ports[k].server_slot < CTB_STAT_SLOTS)
			s->used[maps->ports[k].server_slot] = 1;
	while (!bpf_map_get_next_key(maps->upstreams_fd, prev, &next)) {
		__u32 slot;

		if (!bpf_map_lookup_elem(maps->upstreams_fd, &next, &slot) && slot < CTB_STAT_SLOTS)
			s->used[slot] = 1;
		key = next;
		prev = &key;
	}
	return 0;
}

static bool upstream_wanted(const struct ctb_config *cfg, const struct ctb_upstream_key *key)
{
	if (!(cfg->protocols & ctb_protocol_bit(key->proto)))
		return false;
	for (size_t i = 0; i < cfg->upstreams.count; i++) {
		struct ctb_upstream_key k;

		upstream_key(&cfg->upstreams.items[i], key->proto, &k);
		if (!memcmp(&k, key, sizeof(k)))
			return true;
	}
	return false;
}

static int add_entries(struct ctb_maps *maps, const struct ctb_config *cfg, struct slots *s,
		       uint16_t *refs)
{
	for (size_t p = 0; p < sizeof(l4protos); p++) {
		uint8_t l4 = l4protos[p];

		if (!(cfg->protocols & ctb_protocol_bit(l4)))
			continue;
		for (uint32_t port = 1; port < CTB_PORTS; port++) {
			struct ctb_port_entry *e = &maps->ports[port_key(l4, (uint16_t)port)];

			if (ctb_portset_has(&cfg->ports, (uint16_t)port) && !e->server_slot)
				e->server_slot = slot_alloc(s);
		}
		for (size_t i = 0; i < cfg->upstreams.count; i++) {
			const struct ctb_upstream *up = &cfg->upstreams.items[i];
			struct ctb_upstream_key key;
			__u32 slot;

			upstream_key(up, l4, &key);
			if (bpf_map_lookup_elem(maps->upstreams_fd, &key, &slot)) {
				slot = slot_alloc(s);
				if (bpf_map_update_elem(maps->upstreams_fd, &key, &slot, BPF_ANY))
					return -errno;
			}
			refs[port_key(l4, up->port)]++;
		}
	}
	/* Only after the trie has the entries: flag their ports for the lookup. */
	for (__u32 k = 0; k < CTB_PORT_KEYS; k++)
		if (refs[k])
			maps->ports[k].upstream_refs = refs[k];
	return 0;
}

static int remove_stale(struct ctb_maps *maps, const struct ctb_config *cfg, const uint16_t *refs)
{
	struct ctb_upstream_key key, next;
	void *prev = NULL;
	int ret = 0;

	for (__u32 k = 0; k < CTB_PORT_KEYS; k++) {
		struct ctb_port_entry *e = &maps->ports[k];
		uint8_t l4 = (k >> 16) == CTB_PROTO_INDEX_TCP ? IPPROTO_TCP : IPPROTO_UDP;
		bool wanted = (cfg->protocols & ctb_protocol_bit(l4)) &&
			      ctb_portset_has(&cfg->ports, (uint16_t)(k & 0xffff));

		if (!refs[k])
			e->upstream_refs = 0;
		if (e->server_slot && !wanted) {
			__u32 slot = e->server_slot;

			e->server_slot = 0;
			ret = ret ?: slot_free(maps, slot);
		}
	}
	/* Deleting the current key would end the walk: collect, then delete. */
	while (!bpf_map_get_next_key(maps->upstreams_fd, prev, &next)) {
		__u32 slot;

		key = next;
		prev = &key;
		if (upstream_wanted(cfg, &key) ||
		    bpf_map_lookup_elem(maps->upstreams_fd, &key, &slot))
			continue;
		if (bpf_map_delete_elem(maps->upstreams_fd, &key))
			return -errno;
		ret = ret ?: slot_free(maps, slot);
		prev = NULL; /* restart: the trie changed under the iterator */
	}
	return ret;
}

int ctb_maps_write(struct ctb_maps *maps, const struct ctb_config *cfg)
{
	struct slots *s = malloc(sizeof(*s));
	uint16_t *refs = calloc(CTB_PORT_KEYS, sizeof(*refs));
	int ret = -ENOMEM;

	if (s && refs) {
		slots_collect(maps, s);
		ret = add_entries(maps, cfg, s, refs);
		if (!ret)
			ret = remove_stale(maps, cfg, refs);
	}
	free(s);
	free(refs);
	return ret;
}

static int read_all_slots(const struct ctb_maps *maps, struct ctb_counter *sums)
{
	int ncpus = libbpf_num_possible_cpus();
	struct ctb_counter *percpu;

	if (ncpus < 0)
		return ncpus;
	percpu = calloc((size_t)ncpus, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	for (__u32 slot = 0; slot < CTB_STAT_SLOTS; slot++) {
		memset(&sums[slot], 0, sizeof(sums[slot]));
		if (bpf_map_lookup_elem(maps->stats_fd, &slot, percpu))
			continue;
		for (int cpu = 0; cpu < ncpus; cpu++) {
			sums[slot].packets += percpu[cpu].packets;
			sums[slot].bytes += percpu[cpu].bytes;
		}
	}
	free(percpu);
	return 0;
}

static int push_line(struct ctb_counter_line **lines, size_t *count, size_t *cap,
		     const struct ctb_counter_line *line)
{
	if (*count == *cap) {
		size_t grown_cap = *cap ? *cap * 2 : 64;
		struct ctb_counter_line *grown = realloc(*lines, grown_cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		*lines = grown;
		*cap = grown_cap;
	}
	(*lines)[(*count)++] = *line;
	return 0;
}

int ctb_maps_read_counters(const struct ctb_maps *maps, const struct ctb_config *cfg,
			   struct ctb_counter_line **lines, size_t *count)
{
	struct ctb_counter *sums = calloc(CTB_STAT_SLOTS, sizeof(*sums));
	size_t cap = 0;
	int ret;

	*lines = NULL;
	*count = 0;
	if (!sums)
		return -ENOMEM;
	ret = read_all_slots(maps, sums);
	for (size_t p = 0; !ret && p < sizeof(l4protos); p++) {
		uint8_t l4 = l4protos[p];

		for (uint32_t port = 1; !ret && port < CTB_PORTS; port++) {
			__u32 slot = maps->ports[port_key(l4, (uint16_t)port)].server_slot;
			struct ctb_counter_line line = { .l4proto = l4, .port = (uint16_t)port };

			if (!slot || slot == CTB_STAT_SLOT_OTHER)
				continue;
			line.counter = sums[slot];
			ret = push_line(lines, count, &cap, &line);
		}
		for (size_t i = 0; !ret && i < cfg->upstreams.count; i++) {
			struct ctb_counter_line line = { .upstream = true, .l4proto = l4 };
			struct ctb_upstream_key key;
			__u32 slot;

			line.up = cfg->upstreams.items[i];
			upstream_key(&line.up, l4, &key);
			if (bpf_map_lookup_elem(maps->upstreams_fd, &key, &slot) ||
			    slot == CTB_STAT_SLOT_OTHER)
				continue;
			line.counter = sums[slot];
			ret = push_line(lines, count, &cap, &line);
		}
	}
	/* Lines beyond the counter slots share one: shown as port 0, "other". */
	if (!ret && sums[CTB_STAT_SLOT_OTHER].packets) {
		struct ctb_counter_line line = { .counter = sums[CTB_STAT_SLOT_OTHER] };

		ret = push_line(lines, count, &cap, &line);
	}
	free(sums);
	if (ret) {
		free(*lines);
		*lines = NULL;
		*count = 0;
	}
	return ret;
}

/* Appends one disagreement to BUF, up to a few; the count tells the rest. */
static void describe(char *buf, size_t len, int *count, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void describe(char *buf, size_t len, int *count, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (++*count > 4 || used >= len)
		return;
	if (used)
		used += (size_t)snprintf(buf + used, len - used, "; ");
	if (used >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

int ctb_maps_compare(const struct ctb_maps *maps, const struct ctb_config *cfg, char *buf,
		     size_t len)
{
	struct ctb_upstream_key key, next;
	void *prev = NULL;
	int count = 0;

	buf[0] = '\0';
	for (size_t p = 0; p < sizeof(l4protos); p++) {
		uint8_t l4 = l4protos[p];
		const char *name = l4 == IPPROTO_TCP ? "tcp" : "udp";
		bool on = cfg->protocols & ctb_protocol_bit(l4);

		for (uint32_t port = 1; port < CTB_PORTS; port++) {
			bool in_map = maps->ports[port_key(l4, (uint16_t)port)].server_slot;
			bool in_set = on && ctb_portset_has(&cfg->ports, (uint16_t)port);

			if (in_map != in_set)
				describe(buf, len, &count, "%s/%u only in %s", name, port,
					 in_set ? "nftables" : "the classifier");
		}
		for (size_t i = 0; on && i < cfg->upstreams.count; i++) {
			char text[CTB_UPSTREAM_STRLEN];
			__u32 slot;

			upstream_key(&cfg->upstreams.items[i], l4, &key);
			if (!bpf_map_lookup_elem(maps->upstreams_fd, &key, &slot))
				continue;
			ctb_upstream_format(&cfg->upstreams.items[i], text);
			describe(buf, len, &count, "upstream %s/%s only in nftables", text, name);
		}
	}
	while (!bpf_map_get_next_key(maps->upstreams_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (!upstream_wanted(cfg, &key))
			describe(buf, len, &count, "an upstream on port %u only in the classifier",
				 ntohs(key.port));
	}
	if (count > 4 && strlen(buf) + 24 < len)
		snprintf(buf + strlen(buf), len - strlen(buf), "; and %d more", count - 4);
	return count;
}
