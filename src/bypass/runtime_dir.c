// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include "runtime_dir.h"

int ctb_runtime_path(const char *kind, char *buf, size_t len)
{
	struct stat st;

	/* /proc/self/ns/net follows setns() whatever /proc is mounted. */
	if (stat("/proc/self/ns/net", &st))
		return -errno;
	if (mkdir(CTB_RUNTIME_DIR, 0755) && errno != EEXIST)
		return -errno;
	if (snprintf(buf, len, CTB_RUNTIME_DIR "/netns-%llu.%s", (unsigned long long)st.st_ino,
		     kind) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}
