// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include "daemon_claim.h"
#include "runtime_dir.h"

static pid_t read_owner(int fd)
{
	char buf[32] = "";
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	return n > 0 ? (pid_t)atol(buf) : 0;
}

static int open_claim(int flags)
{
	char path[128];
	int ret = ctb_runtime_path("daemon", path, sizeof(path));

	if (ret)
		return ret;
	ret = open(path, flags | O_CLOEXEC | O_NOFOLLOW, 0644);
	return ret < 0 ? -errno : ret;
}

int ctb_daemon_claim(int *fd, pid_t *owner)
{
	char pid[32];
	int f = open_claim(O_RDWR | O_CREAT);

	*owner = 0;
	if (f < 0)
		return f;
	if (flock(f, LOCK_EX | LOCK_NB)) {
		int ret = errno == EWOULDBLOCK ? -EBUSY : -errno;

		*owner = read_owner(f);
		close(f);
		return ret;
	}
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(f, 0) || pwrite(f, pid, strlen(pid), 0) < 0) {
		close(f);
		return -errno;
	}
	*fd = f;
	return 0;
}

void ctb_daemon_release(int fd)
{
	/* The file stays: unlinking it while others may open it would race. */
	if (fd >= 0)
		close(fd);
}

bool ctb_daemon_running(pid_t *owner)
{
	int f = open_claim(O_RDONLY);
	bool held;

	*owner = 0;
	if (f < 0)
		return false;
	held = flock(f, LOCK_SH | LOCK_NB) != 0;
	if (held)
		*owner = read_owner(f);
	close(f);
	return held;
}
