/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One writer per namespace. Every command that reads the kernel's state and
 * then changes it holds an flock on /run/ctbypass/netns-<inode>.lock, with
 * the holder's pid and command written inside for whoever waits. The kernel
 * drops an flock when its holder dies, even by SIGKILL, so a killed command
 * never leaves the namespace locked. Readers (status, doctor, watch) never
 * take it.
 */
#ifndef CTB_LOCK_H
#define CTB_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define CTB_LOCK_WAIT_DEFAULT 10.0 /* seconds */

struct ctb_lock {
	int fd;
	char path[128];
};

/* Who holds the lock, as written by the holder. */
struct ctb_lock_holder {
	pid_t pid;
	char command[32];
	long long since; /* Unix time it took the lock */
};

/*
 * Takes the current namespace's lock for COMMAND, waiting up to WAIT_SECONDS.
 * -EWOULDBLOCK when another command still holds it then: ERR names the holder.
 */
int ctb_lock_acquire(struct ctb_lock *lock, const char *command, double wait_seconds,
		     char *err, size_t errlen);
/*
 * With REMOVE (the namespace holds nothing of ours any more), the file goes
 * too, so /run/ctbypass does not collect one file per namespace ever attached.
 */
void ctb_lock_release(struct ctb_lock *lock, bool remove);

/*
 * For readers: true when some command holds the lock right now (a change is
 * in progress), with *HOLDER filled in when it could be read.
 */
bool ctb_lock_busy(struct ctb_lock_holder *holder);

#endif
