// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon's configuration file (libinih and our keys). Beyond not crashing:
 * an error is one line naming a line of the input, and what parses prints
 * back (ctb_daemon_settings_print) as a file that parses to the same settings.
 */
#include "fuzz.h"
#include "daemon_config.h"

static bool same(const struct ctb_daemon_settings *a, const struct ctb_daemon_settings *b)
{
	return ctb_config_same_traffic(&a->cfg, &b->cfg) && !strcmp(a->accept, b->accept) &&
	       a->force == b->force && a->no_flush == b->no_flush &&
	       a->detach_on_stop == b->detach_on_stop;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctb_daemon_settings s, again;
	char err[256], *printed = NULL;
	size_t printed_len = 0;
	FILE *f = fmemopen((void *)data, size, "r"), *out;
	int ret;

	if (!size || !f) {
		if (f)
			fclose(f);
		return 0;
	}
	ctb_daemon_settings_init(&s);
	ret = ctb_daemon_config_parse(&s, f, "fuzz.conf", err, sizeof(err));
	fclose(f);
	if (ret) {
		fuzz_check_err(err, sizeof(err));
		FUZZ_ASSERT(!strncmp(err, "fuzz.conf:", 10), "error '%s' names no line", err);
		FUZZ_ASSERT(!strchr(err, '\n'), "error '%s' is more than one line", err);
		ctb_daemon_settings_free(&s);
		return 0;
	}
	out = open_memstream(&printed, &printed_len);
	FUZZ_ASSERT(out, "memstream");
	ctb_daemon_settings_print(out, &s);
	fclose(out);
	f = fmemopen(printed, printed_len, "r");
	ctb_daemon_settings_init(&again);
	ret = ctb_daemon_config_parse(&again, f, "printed", err, sizeof(err));
	fclose(f);
	FUZZ_ASSERT(!ret, "printed settings do not parse: %s\n%s", err, printed);
	FUZZ_ASSERT(same(&s, &again), "printed settings parse differently:\n%s", printed);
	free(printed);
	ctb_daemon_settings_free(&s);
	ctb_daemon_settings_free(&again);
	return 0;
}
