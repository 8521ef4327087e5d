// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "guard_record.h"
#include "runtime_dir.h"

#define RECORD_KIND "guarded"
#define RECORD_FILE_MAX (CTB_GUARD_RECORD_MAX * 320)

/* A decimal number of at most MAXDIGITS digits, no sign, no leading '+'. */
static int parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!n || n > 20)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* The next space-separated field of LINE from *POS: its start and length. */
static bool field(const char *line, size_t len, size_t *pos, const char **start, size_t *n)
{
	size_t p = *pos;

	if (p >= len)
		return false;
	*start = line + p;
	while (p < len && line[p] != ' ')
		p++;
	*n = (size_t)(line + p - *start);
	*pos = p < len ? p + 1 : p;
	return *n > 0;
}

static int parse_line(const char *line, size_t len, struct ctb_guard_item *it)
{
	const char *f;
	size_t n, pos = 0;
	uint64_t v;
	char text[CTB_UPSTREAM_STRLEN];

	memset(it, 0, sizeof(*it));
	if (!field(line, len, &pos, &f, &n))
		return -EINVAL;
	if (n == 4 && !memcmp(f, "port", 4))
		it->cand.role = CTB_ROLE_SERVER;
	else if (n == 8 && !memcmp(f, "upstream", 8))
		it->cand.role = CTB_ROLE_UPSTREAM;
	else
		return -EINVAL;
	if (!field(line, len, &pos, &f, &n) || n != 3)
		return -EINVAL;
	if (!memcmp(f, "tcp", 3))
		it->cand.l4proto = IPPROTO_TCP;
	else if (!memcmp(f, "udp", 3))
		it->cand.l4proto = IPPROTO_UDP;
	else
		return -EINVAL;
	if (!field(line, len, &pos, &f, &n))
		return -EINVAL;
	if (it->cand.role == CTB_ROLE_SERVER) {
		if (parse_u64(f, n, 65535, &v) || !v)
			return -EINVAL;
		it->cand.port = (uint16_t)v;
	} else {
		struct ctb_upstream up;

		if (n >= sizeof(text))
			return -EINVAL;
		memcpy(text, f, n);
		text[n] = '\0';
		/* One host, as the guard adds them: a prefix here was not written by us. */
		if (ctb_upstream_parse(text, &up, NULL, 0) ||
		    up.prefixlen != (up.family == AF_INET ? 32 : 128))
			return -EINVAL;
		it->cand.family = up.family;
		memcpy(it->cand.addr, up.addr, 16);
		it->cand.port = up.port;
	}
	if (!field(line, len, &pos, &f, &n) || parse_u64(f, n, INT64_MAX, &v))
		return -EINVAL;
	it->added = (int64_t)v;
	if (!field(line, len, &pos, &f, &n) || parse_u64(f, n, UINT64_MAX, &it->entries))
		return -EINVAL;
	it->cand.entries = it->entries;
	/* The rest is the reason: printable text. */
	n = len - pos;
	if (n >= sizeof(it->why))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[pos + i] < ' ' || (unsigned char)line[pos + i] >= 0x7f)
			return -EINVAL;
	memcpy(it->why, line + pos, n);
	it->why[n] = '\0';
	return 0;
}

int ctb_guard_record_parse(struct ctb_guard_record *r, const char *text, size_t len)
{
	size_t pos = 0;

	r->count = 0;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

		/* Written by us whole, with a newline after each line: anything else is not ours. */
		if (!nl || r->count == CTB_GUARD_RECORD_MAX ||
		    parse_line(text + pos, n, &r->items[r->count]))
			return -EINVAL;
		r->count++;
		pos += n + 1;
	}
	return 0;
}

void ctb_guard_record_format(FILE *f, const struct ctb_guard_record *r)
{
	for (size_t i = 0; i < r->count; i++) {
		const struct ctb_guard_item *it = &r->items[i];
		const char *proto = it->cand.l4proto == IPPROTO_UDP ? "udp" : "tcp";
		char why[CTB_GUARD_WHY_LEN];
		size_t k;

		/* One line, printable: a reason never breaks the format. */
		for (k = 0; it->why[k] && k < sizeof(why) - 1; k++)
			why[k] = (unsigned char)it->why[k] < ' ' || (unsigned char)it->why[k] >= 0x7f
					 ? '?'
					 : it->why[k];
		why[k] = '\0';
		if (it->cand.role == CTB_ROLE_SERVER) {
			fprintf(f, "port %s %u", proto, it->cand.port);
		} else {
			struct ctb_upstream up = { .family = it->cand.family,
						   .prefixlen = it->cand.family == AF_INET ? 32
											  : 128,
						   .port = it->cand.port };
			char text[CTB_UPSTREAM_STRLEN];

			memcpy(up.addr, it->cand.addr, 16);
			ctb_upstream_format(&up, text);
			fprintf(f, "upstream %s %s", proto, text);
		}
		fprintf(f, " %" PRId64 " %" PRIu64 " %s\n", it->added, it->entries, why);
	}
}

int ctb_guard_record_load(struct ctb_guard_record *r)
{
	char path[128], *buf;
	ssize_t n;
	int fd, ret;

	r->count = 0;
	ret = ctb_runtime_path(RECORD_KIND, path, sizeof(path));
	if (ret)
		return ret;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	buf = malloc(RECORD_FILE_MAX + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, buf, RECORD_FILE_MAX + 1);
	ret = n < 0 ? -errno : n > RECORD_FILE_MAX ? -EINVAL : 0;
	close(fd);
	if (!ret)
		ret = ctb_guard_record_parse(r, buf, (size_t)n);
	free(buf);
	return ret;
}

int ctb_guard_record_save(const struct ctb_guard_record *r)
{
	char path[128], tmp[160];
	FILE *f;
	int ret = ctb_runtime_path(RECORD_KIND, path, sizeof(path));

	if (ret)
		return ret;
	if (!r->count)
		return unlink(path) && errno != ENOENT ? -errno : 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	ctb_guard_record_format(f, r);
	/* rename(): `status` reads the old record or the new one, never half. */
	if (fflush(f) || fsync(fileno(f))) {
		ret = -errno;
		fclose(f);
		unlink(tmp);
		return ret;
	}
	if (fclose(f) || rename(tmp, path)) {
		ret = -errno;
		unlink(tmp);
		return ret;
	}
	return 0;
}

int ctb_guard_record_remove(void)
{
	struct ctb_guard_record empty = { .count = 0 };

	return ctb_guard_record_save(&empty);
}

int ctb_guard_record_apply(const struct ctb_guard_record *r, struct ctb_config *cfg)
{
	for (size_t i = 0; i < r->count; i++) {
		const struct ctb_doctor_cand *c = &r->items[i].cand;
		struct ctb_upstream up = { .family = c->family,
					   .prefixlen = c->family == AF_INET ? 32 : 128,
					   .port = c->port };
		int ret;

		if (c->role == CTB_ROLE_SERVER) {
			ctb_portset_add(&cfg->ports, c->port);
			continue;
		}
		memcpy(up.addr, c->addr, 16);
		if (ctb_upstream_list_has(&cfg->upstreams, &up))
			continue;
		ret = ctb_upstream_list_add(&cfg->upstreams, &up);
		if (ret)
			return ret;
	}
	return 0;
}
