// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "intent_log.h"
#include "log.h"
#include "runtime_dir.h"
#include "tc_hook.h"

static int log_path(char *buf, size_t len)
{
	return ctb_runtime_path("intent", buf, len);
}

int ctb_intent_note_qdisc(int ifindex)
{
	char path[128], line[32];
	int fd, n, ret = log_path(path, sizeof(path));

	if (ret)
		return ret;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	/* One short append: the page cache keeps it through a SIGKILL of ours. */
	n = snprintf(line, sizeof(line), "clsact %d\n", ifindex);
	ret = write(fd, line, (size_t)n) == n ? 0 : -EIO;
	close(fd);
	return ret;
}

int ctb_intent_pending(int **ifindexes, size_t *count)
{
	char path[128];
	int ifindex, ret = log_path(path, sizeof(path));
	size_t cap = 0;
	FILE *f;

	*ifindexes = NULL;
	*count = 0;
	if (ret)
		return ret;
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fscanf(f, " clsact %d", &ifindex) == 1) {
		if (*count == cap) {
			int *grown = realloc(*ifindexes, (cap = cap ? cap * 2 : 8) * sizeof(int));

			if (!grown) {
				ret = -ENOMEM;
				break;
			}
			*ifindexes = grown;
		}
		(*ifindexes)[(*count)++] = ifindex;
	}
	fclose(f);
	return ret;
}

int ctb_intent_recover(unsigned int *removed)
{
	int *ifindexes;
	size_t count;
	int ret = ctb_intent_pending(&ifindexes, &count);

	*removed = 0;
	if (ret)
		return ret;
	for (size_t i = 0; i < count; i++) {
		int r = ctb_tc_remove_bare_clsact(ifindexes[i]);

		if (r > 0)
			(*removed)++;
		else if (r < 0 && !ret)
			ret = r;
	}
	free(ifindexes);
	if (!ret)
		ctb_intent_clear();
	return ret;
}

void ctb_intent_clear(void)
{
	char path[128];

	if (!log_path(path, sizeof(path)) && unlink(path) && errno != ENOENT)
		ctb_warn("cannot clear %s: %s", path, strerror(errno));
}
