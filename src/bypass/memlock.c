// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include "memlock.h"

/* Does this kernel charge BPF memory to RLIMIT_MEMLOCK (before 5.11)? */
static int memlock_charged(void)
{
	struct utsname u;
	int major, minor;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return 0;
	return major < 5 || (major == 5 && minor < 11);
}

void ctb_memlock_hint(int err, char *buf, size_t len)
{
	struct rlimit rl;

	if (!len)
		return;
	buf[0] = '\0';
	if (err != -EPERM || !memlock_charged() || getrlimit(RLIMIT_MEMLOCK, &rl) ||
	    rl.rlim_cur == RLIM_INFINITY)
		return;
	snprintf(buf, len,
		 " (before Linux 5.11 BPF memory counts against RLIMIT_MEMLOCK, %llu KiB here: "
		 "raise it, e.g. LimitMEMLOCK=infinity in a systemd unit)",
		 (unsigned long long)rl.rlim_cur / 1024);
}
