// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "lock.h"
#include "runtime_dir.h"

#define POLL_NS 20000000L /* 20 ms: short next to any command's own run time */

static int open_lock_file(int flags, char *path, size_t len)
{
	int ret = ctb_runtime_path("lock", path, len);

	if (ret)
		return ret;
	/* CLOEXEC: helpers we run (iptables-save) must not inherit the lock. */
	ret = open(path, flags | O_CLOEXEC | O_NOFOLLOW, 0644);
	return ret < 0 ? -errno : ret;
}

static void read_holder(int fd, struct ctb_lock_holder *h)
{
	char text[128] = "";
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);

	memset(h, 0, sizeof(*h));
	if (n <= 0)
		return;
	text[n] = '\0';
	if (sscanf(text, "pid=%d command=%31s since=%lld", &h->pid, h->command, &h->since) < 2)
		memset(h, 0, sizeof(*h));
}

static void write_holder(int fd, const char *command)
{
	char text[128];
	int n = snprintf(text, sizeof(text), "pid=%d command=%s since=%lld\n", (int)getpid(),
			 command, (long long)time(NULL));

	/* Best effort: the lock itself is the flock, this only names its holder. */
	if (ftruncate(fd, 0) == 0 && pwrite(fd, text, (size_t)n, 0) < 0)
		return;
}

static void describe_holder(const struct ctb_lock_holder *h, char *buf, size_t len)
{
	if (!h->pid) {
		snprintf(buf, len, "another ctbypass command");
		return;
	}
	snprintf(buf, len, "pid %d ('ctbypass %s', for %llds)", (int)h->pid, h->command,
		 h->since ? (long long)time(NULL) - h->since : 0LL);
}

/*
 * True when FD is still the file at PATH: a holder that detached removed the
 * file, and a lock on the removed file would exclude nobody.
 */
static bool still_linked(int fd, const char *path)
{
	struct stat a, b;

	return !fstat(fd, &a) && !stat(path, &b) && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

int ctb_lock_acquire(struct ctb_lock *lock, const char *command, double wait_seconds,
		     char *err, size_t errlen)
{
	struct timespec start, now, nap = { 0, POLL_NS };
	int fd;

	lock->fd = -1;
	clock_gettime(CLOCK_MONOTONIC, &start);
reopen:
	fd = open_lock_file(O_RDWR | O_CREAT, lock->path, sizeof(lock->path));
	if (fd < 0) {
		snprintf(err, errlen, "cannot open the lock under %s: %s", CTB_RUNTIME_DIR,
			 strerror(-fd));
		return fd;
	}
	while (flock(fd, LOCK_EX | LOCK_NB)) {
		struct ctb_lock_holder holder;
		char who[96];
		double waited;

		if (errno != EWOULDBLOCK && errno != EINTR) {
			int ret = -errno;

			snprintf(err, errlen, "cannot take the lock: %s", strerror(-ret));
			close(fd);
			return ret;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = (double)(now.tv_sec - start.tv_sec) +
			 (double)(now.tv_nsec - start.tv_nsec) / 1e9;
		if (waited >= wait_seconds) {
			read_holder(fd, &holder);
			describe_holder(&holder, who, sizeof(who));
			snprintf(err, errlen,
				 "%s is changing this namespace; waited %.0fs (try again, or "
				 "--wait SECONDS)",
				 who, wait_seconds);
			close(fd);
			return -EWOULDBLOCK;
		}
		nanosleep(&nap, NULL);
	}
	if (!still_linked(fd, lock->path)) {
		close(fd);
		goto reopen;
	}
	write_holder(fd, command);
	lock->fd = fd;
	return 0;
}

void ctb_lock_release(struct ctb_lock *lock, bool remove)
{
	if (lock->fd < 0)
		return;
	/* Removed while still held: a waiter then finds its file unlinked and reopens. */
	if (remove)
		unlink(lock->path);
	else if (ftruncate(lock->fd, 0)) {
		/* Harmless: a stale name is overwritten by the next holder. */
	}
	close(lock->fd);
	lock->fd = -1;
}

bool ctb_lock_busy(struct ctb_lock_holder *holder)
{
	char path[128];
	int fd = open_lock_file(O_RDONLY, path, sizeof(path));
	bool busy;

	memset(holder, 0, sizeof(*holder));
	if (fd < 0)
		return false; /* never locked since boot */
	busy = flock(fd, LOCK_SH | LOCK_NB) != 0;
	if (busy)
		read_holder(fd, holder);
	close(fd);
	return busy;
}
