// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdbool.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "daemon_config.h"
#include "metrics_http.h"

#define ERR_LEN 256

void ctb_daemon_settings_init(struct ctb_daemon_settings *s)
{
	memset(s, 0, sizeof(*s));
	ctb_config_init(&s->cfg);
	s->verify_interval = CTB_DAEMON_VERIFY_DEFAULT;
	s->metrics_interval = CTB_DAEMON_METRICS_INTERVAL_DEFAULT;
	snprintf(s->metrics_address, sizeof(s->metrics_address), "%s",
		 CTB_METRICS_ADDRESS_DEFAULT);
	ctb_guard_settings_init(&s->guard);
}

const char *const ctb_daemon_telemetry_names[4] = {
	[CTB_TELEMETRY_AUTO] = "auto",
	[CTB_TELEMETRY_FENTRY] = "fentry",
	[CTB_TELEMETRY_KPROBE] = "kprobe",
	[CTB_TELEMETRY_STATS] = "stats",
};

void ctb_daemon_settings_free(struct ctb_daemon_settings *s)
{
	ctb_config_free(&s->cfg);
	ctb_guard_settings_free(&s->guard);
}

int ctb_daemon_settings_check(struct ctb_daemon_settings *s, char *err, size_t errlen)
{
	return ctb_guard_settings_check(&s->guard, err, errlen);
}

static int parse_bool(const char *key, const char *value, bool *out, char *err, size_t errlen)
{
	if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1")) {
		*out = true;
		return 0;
	}
	if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0")) {
		*out = false;
		return 0;
	}
	snprintf(err, errlen, "%s: expected yes or no, not '%s'", key, value);
	return -EINVAL;
}

static int parse_interval(const char *key, const char *value, double *out, char *err,
			  size_t errlen)
{
	return ctb_number_parse(key, value, 0.1, 3600, "seconds", out, err, errlen);
}

/*
 * Interface names as the kernel takes them (1 to 15 bytes, no '/', ':' or
 * blank), and without the file's comment characters ';' and '#', so a list
 * means the same read from a flag or printed into the file and read back.
 */
static int iface_list_check(const char *list, char *err, size_t errlen)
{
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");

		if (!n || n > 15) {
			snprintf(err, errlen, "iface: names of 1 to 15 characters, comma-separated");
			return -EINVAL;
		}
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)p[i] <= ' ' || (unsigned char)p[i] >= 0x7f ||
			    strchr("/:;#", p[i])) {
				snprintf(err, errlen, "iface: '%.*s' is not an interface name",
					 (int)n, p);
				return -EINVAL;
			}
		p += n;
		if (*p == ',' && !*++p) {
			snprintf(err, errlen, "iface: a list may not end with ','");
			return -EINVAL;
		}
	}
	return 0;
}

int ctb_daemon_set(struct ctb_daemon_settings *s, const char *key, const char *value, char *err,
		   size_t errlen)
{
	struct ctb_config *cfg = &s->cfg;
	int guard = ctb_guard_set(&s->guard, key, value, err, errlen);

	if (guard <= 0)
		return guard;
	/* A list given again replaces the earlier one: flags override the file. */
	if (!strcmp(key, "ports")) {
		ctb_portset_clear(&cfg->ports);
		return *value ? ctb_portset_parse(&cfg->ports, value, err, errlen) : 0;
	}
	if (!strcmp(key, "upstream")) {
		struct ctb_upstream_list list = { 0 };
		int ret = *value ? ctb_upstream_list_parse(&list, value, err, errlen) : 0;

		if (ret) {
			ctb_upstream_list_free(&list);
			return ret;
		}
		ctb_upstream_list_free(&cfg->upstreams);
		cfg->upstreams = list;
		return 0;
	}
	if (!strcmp(key, "iface")) {
		char *copy;

		if (iface_list_check(value, err, errlen))
			return -EINVAL;
		copy = *value ? strdup(value) : NULL;

		if (*value && !copy)
			return -ENOMEM;
		free(cfg->iface_list);
		cfg->iface_list = copy;
		return 0;
	}
	if (!strcmp(key, "proto"))
		return ctb_protocols_parse(value, &cfg->protocols, err, errlen);
	if (!strcmp(key, "mark"))
		return ctb_mark_parse(value, &cfg->mark, err, errlen);
	if (!strcmp(key, "accept")) {
		if (*value && ctb_accept_list_parse(value, err, errlen))
			return -EINVAL;
		if (strlen(value) >= sizeof(s->accept)) {
			snprintf(err, errlen, "accept: at most %zu characters of ids",
				 sizeof(s->accept) - 1);
			return -EINVAL;
		}
		snprintf(s->accept, sizeof(s->accept), "%s", value);
		return 0;
	}
	if (!strcmp(key, "force"))
		return parse_bool(key, value, &s->force, err, errlen);
	if (!strcmp(key, "no-flush"))
		return parse_bool(key, value, &s->no_flush, err, errlen);
	if (!strcmp(key, "detach-on-stop"))
		return parse_bool(key, value, &s->detach_on_stop, err, errlen);
	if (!strcmp(key, "verify-interval"))
		return parse_interval(key, value, &s->verify_interval, err, errlen);
	if (!strcmp(key, "metrics-interval"))
		return parse_interval(key, value, &s->metrics_interval, err, errlen);
	if (!strcmp(key, "metrics-address")) {
		struct sockaddr_storage addr;
		socklen_t len;
		char why[ERR_LEN];

		if (!strcmp(value, "off")) {
			s->metrics_address[0] = '\0';
			return 0;
		}
		if (strlen(value) >= sizeof(s->metrics_address) ||
		    ctb_metrics_address_parse(value, &addr, &len, why, sizeof(why))) {
			snprintf(err, errlen, "metrics-address: '%s': %s, or off", value,
				 strlen(value) >= sizeof(s->metrics_address) ? "too long" : why);
			return -EINVAL;
		}
		snprintf(s->metrics_address, sizeof(s->metrics_address), "%s", value);
		return 0;
	}
	if (!strcmp(key, "telemetry")) {
		for (int i = 0; i < 4; i++)
			if (!strcmp(value, ctb_daemon_telemetry_names[i])) {
				s->telemetry = (enum ctb_daemon_telemetry)i;
				return 0;
			}
		snprintf(err, errlen, "telemetry: auto, fentry, kprobe or stats, not '%s'", value);
		return -EINVAL;
	}
	snprintf(err, errlen, "unknown key '%s'", key);
	return -EINVAL;
}

/* The keys whose values add up when the file says them again. */
static const char *const list_keys[] = { "ports",	    "upstream",	       "iface",
					 "accept",	    "guard-ports",     "guard-upstreams",
					 "guard-deny" };
#define LIST_KEYS (sizeof(list_keys) / sizeof(list_keys[0]))

struct reading {
	struct ctb_daemon_settings *s;
	FILE *f;
	int lines; /* read so far: the line inih is on */
	int err_line;
	char err[ERR_LEN]; /* our first error, at ERR_LEN */
	int too_long; /* the line inih's buffer could not hold, or 0 */
	bool seen[LIST_KEYS];
};

/*
 * fgets for inih, counting lines so a key's error names its own. inih's
 * buffer holds a line of INI_MAX_LINE (200 with Debian's build) and would
 * read the rest as a line of its own: a longer line ends the reading here.
 */
static char *read_line(char *buf, int size, void *stream)
{
	struct reading *r = stream;
	char *line = fgets(buf, size, r->f);
	size_t n;

	if (!line)
		return NULL;
	r->lines++;
	n = strlen(line);
	if (n == (size_t)size - 1 && line[n - 1] != '\n' && !feof(r->f)) {
		r->too_long = r->lines;
		return NULL;
	}
	return line;
}

/* A list key said again in the file: VALUE adds to what the earlier lines said. */
static int append_list(struct ctb_daemon_settings *s, const char *key, const char *value,
		       char *err, size_t errlen)
{
	struct ctb_config *cfg = &s->cfg;

	if (!strcmp(key, "ports")) {
		struct ctb_portset more = { 0 };
		int ret = ctb_portset_parse(&more, value, err, errlen);

		if (!ret)
			ctb_portset_union(&cfg->ports, &more);
		return ret;
	}
	if (!strcmp(key, "upstream")) {
		struct ctb_upstream_list more = { 0 };
		int ret = ctb_upstream_list_parse(&more, value, err, errlen);

		for (size_t i = 0; !ret && i < more.count; i++)
			if (!ctb_upstream_list_has(&cfg->upstreams, &more.items[i]))
				ret = ctb_upstream_list_add(&cfg->upstreams, &more.items[i]);
		ctb_upstream_list_free(&more);
		if (ret == -E2BIG)
			snprintf(err, errlen, "too many upstreams (at most %d)",
				 CTB_MAX_UPSTREAM_ITEMS);
		else if (ret == -ENOMEM)
			snprintf(err, errlen, "upstream: out of memory");
		return ret;
	}
	/* the others: the text joined, then checked whole as the key's value ("auto" and a
	 * list said twice make "auto,80", which is refused) */
	char *guard_text = !strcmp(key, "guard-ports")	      ? ctb_guard_ports_text(&s->guard)
			   : !strcmp(key, "guard-upstreams") ? ctb_guard_upstreams_text(&s->guard)
			   : !strcmp(key, "guard-deny")	      ? ctb_guard_deny_text(&s->guard)
							      : NULL;
	const char *have = guard_text && strcmp(guard_text, "none") ? guard_text
			   : guard_text		  ? ""
			   : !strcmp(key, "iface") ? (cfg->iface_list ? cfg->iface_list : "")
						   : s->accept;
	size_t len = strlen(have) + strlen(value) + 2;
	char *joined = malloc(len);
	int ret;

	if (!joined || (!guard_text && !strncmp(key, "guard-", 6))) {
		free(joined);
		snprintf(err, errlen, "%s: out of memory", key);
		return -ENOMEM;
	}
	snprintf(joined, len, "%s%s%s", have, *have && *value ? "," : "", value);
	ret = ctb_daemon_set(s, key, joined, err, errlen);
	free(joined);
	free(guard_text);
	return ret;
}

/* inih calls this per key; a zero return makes ini_parse report the line. */
static int on_key(void *user, const char *section, const char *key, const char *value)
{
	struct reading *r = user;
	char why[ERR_LEN];

	size_t list = LIST_KEYS;

	for (size_t i = 0; i < LIST_KEYS; i++)
		if (!strcmp(key, list_keys[i]))
			list = i;
	if (section[0]) {
		snprintf(why, sizeof(why), "unexpected section [%s]: keys go at the top", section);
	} else if (list < LIST_KEYS && r->seen[list]) {
		if (!append_list(r->s, key, value, why, sizeof(why)))
			return 1;
	} else if (!ctb_daemon_set(r->s, key, value, why, sizeof(why))) {
		if (list < LIST_KEYS)
			r->seen[list] = true;
		return 1;
	}
	if (!r->err[0]) {
		snprintf(r->err, sizeof(r->err), "%s", why);
		r->err_line = r->lines;
	}
	return 0;
}

int ctb_daemon_config_read(struct ctb_daemon_settings *s, const char *path, bool must_exist,
			   char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	int ret;

	if (!f) {
		ret = -errno;
		if (ret == -ENOENT && !must_exist)
			return 0;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(-ret));
		return ret;
	}
	ret = ctb_daemon_config_parse(s, f, path, err, errlen);
	fclose(f);
	return ret;
}

int ctb_daemon_config_parse(struct ctb_daemon_settings *s, FILE *f, const char *path, char *err,
			    size_t errlen)
{
	struct reading r = { .s = s, .f = f };
	int ret = ini_parse_stream(read_line, &r, on_key, &r);

	if (r.too_long && (ret == 0 || ret > r.too_long)) {
		snprintf(err, errlen, "%s:%d: longer than %d characters: continue a long list on the "
				      "next line, indented, or give its key again (the values add up)",
			 path, r.too_long, INI_MAX_LINE - 2);
		return -EINVAL;
	}
	if (ret == 0)
		return 0;
	if (ret < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path,
			 ret == -2 ? "out of memory" : "read error");
		return ret == -2 ? -ENOMEM : -EIO;
	}
	/* ret: the line of the first error, ours or the syntax's */
	snprintf(err, errlen, "%s:%d: %s", path, ret,
		 r.err[0] && r.err_line == ret ? r.err : "not 'key = value'");
	return -EINVAL;
}

/* Lines this long at most, so the file it prints can be read back (INI_MAX_LINE). */
#define PRINT_LINE 150

/* Prints ITEM of a list of KEY: a new, indented line when the current one would be too long. */
static void print_item(FILE *f, size_t *col, const char *item, bool first)
{
	size_t n = strlen(item);

	if (!first && *col + n + 1 > PRINT_LINE) {
		fputs("\n    ", f);
		*col = 4;
	} else if (!first) {
		fputc(',', f);
		(*col)++;
	}
	fputs(item, f);
	*col += n;
}

static void print_list(FILE *f, const char *key, const char *comma_list)
{
	size_t col = (size_t)fprintf(f, "%s = ", key);
	bool first = true;

	for (const char *p = comma_list; *p;) {
		size_t n = strcspn(p, ",");
		char item[CTB_UPSTREAM_STRLEN + 16];

		snprintf(item, sizeof(item), "%.*s", (int)n, p);
		print_item(f, &col, item, first);
		first = false;
		p += n + (p[n] == ',');
	}
	fputc('\n', f);
}

static void print_guard(FILE *f, const struct ctb_guard_settings *g)
{
	char *ports = ctb_guard_ports_text(g), *ups = ctb_guard_upstreams_text(g);
	char *deny = ctb_guard_deny_text(g);

	if (ports && ups && deny) {
		print_list(f, "guard-ports", ports);
		print_list(f, "guard-upstreams", ups);
		print_list(f, "guard-deny", deny);
	}
	free(ports);
	free(ups);
	free(deny);
	fprintf(f, "guard-fill = %g\nguard-release-fill = %g\n", g->fill, g->release_fill);
	if (g->release_minutes > 0)
		fprintf(f, "guard-release = %g\n", g->release_minutes);
	else
		fprintf(f, "guard-release = never\n");
}

void ctb_daemon_settings_print(FILE *f, const struct ctb_daemon_settings *s)
{
	const struct ctb_config *cfg = &s->cfg;
	size_t col, cap = 65536 * 7; /* "65535," for every second port, at most */
	char *ports = malloc(cap), up[CTB_UPSTREAM_STRLEN];

	if (ports) {
		ctb_portset_format(&cfg->ports, ports, cap);
		print_list(f, "ports", ports);
		free(ports);
	}
	col = (size_t)fprintf(f, "upstream = ");
	for (size_t i = 0; i < cfg->upstreams.count; i++) {
		ctb_upstream_format(&cfg->upstreams.items[i], up);
		print_item(f, &col, up, !i);
	}
	fputc('\n', f);
	print_list(f, "iface", cfg->iface_list ? cfg->iface_list : "");
	fprintf(f, "proto = %s\nmark = 0x%x\n", ctb_protocols_name(cfg->protocols), cfg->mark);
	print_list(f, "accept", s->accept);
	fprintf(f, "force = %s\n", s->force ? "yes" : "no");
	fprintf(f, "no-flush = %s\ndetach-on-stop = %s\nverify-interval = %g\n",
		s->no_flush ? "yes" : "no", s->detach_on_stop ? "yes" : "no", s->verify_interval);
	fprintf(f, "metrics-address = %s\nmetrics-interval = %g\ntelemetry = %s\n",
		s->metrics_address[0] ? s->metrics_address : "off", s->metrics_interval,
		ctb_daemon_telemetry_names[s->telemetry]);
	print_guard(f, &s->guard);
}
