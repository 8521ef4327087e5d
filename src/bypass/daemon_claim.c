// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "daemon_claim.h"
#include "runtime_dir.h"

/*
 * The pid of the process holding an exclusive flock on FD's file, as this process
 * sees it (/proc/locks translates pids into the reader's PID namespace), or 0. A
 * daemon in a container writes its own pid there, which is 1 or so: a host's
 * command telling the operator to `kill -HUP 1` would signal the host's init.
 */
static pid_t lock_holder(int fd)
{
	unsigned int maj, min;
	unsigned long long ino;
	char line[256], type[16], mode[16];
	struct stat st;
	pid_t pid = 0;
	long p;
	FILE *f;

	if (fstat(fd, &st))
		return 0;
	f = fopen("/proc/locks", "re");
	if (!f)
		return 0;
	/* "1: FLOCK  ADVISORY  WRITE 22841 fe:00:1065003 0 EOF" ("-> " marks a waiter) */
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "->"))
			continue;
		if (sscanf(line, "%*d: %15s %*s %15s %ld %x:%x:%llu", type, mode, &p, &maj, &min,
			   &ino) != 6)
			continue;
		if (!strcmp(type, "FLOCK") && !strcmp(mode, "WRITE") && p > 0 &&
		    maj == major(st.st_dev) && min == minor(st.st_dev) && ino == st.st_ino) {
			pid = (pid_t)p;
			break;
		}
	}
	fclose(f);
	return pid;
}

/* "PID\nCONFIG\n" */
static void read_owner(int fd, struct ctb_daemon_owner *owner)
{
	char buf[320] = "", *nl;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	memset(owner, 0, sizeof(*owner));
	if (n <= 0)
		return;
	owner->pid = lock_holder(fd);
	if (!owner->pid)
		owner->pid = (pid_t)atol(buf);
	nl = strchr(buf, '\n');
	if (nl)
		snprintf(owner->config, sizeof(owner->config), "%.*s", (int)strcspn(nl + 1, "\n"),
			 nl + 1);
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

int ctb_daemon_claim(int *fd, const char *config, struct ctb_daemon_owner *owner)
{
	char text[320];
	int f = open_claim(O_RDWR | O_CREAT);

	memset(owner, 0, sizeof(*owner));
	if (f < 0)
		return f;
	/* A command checking for a daemon holds a shared lock for an instant: wait it out. */
	for (int tries = 0; flock(f, LOCK_EX | LOCK_NB); tries++) {
		int ret = errno == EWOULDBLOCK ? -EBUSY : -errno;

		read_owner(f, owner);
		if (ret != -EBUSY || owner->pid || tries == 50) {
			close(f);
			return ret;
		}
		usleep(20000);
	}
	snprintf(text, sizeof(text), "%ld\n%s\n", (long)getpid(), config);
	if (ftruncate(f, 0) || pwrite(f, text, strlen(text), 0) < 0) {
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

bool ctb_daemon_running(struct ctb_daemon_owner *owner)
{
	int f = open_claim(O_RDONLY);
	bool held;

	memset(owner, 0, sizeof(*owner));
	if (f < 0)
		return false;
	held = flock(f, LOCK_SH | LOCK_NB) != 0;
	if (held)
		read_owner(f, owner);
	close(f);
	return held;
}
