/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Who owns a namespace's bypass. While `ctbypass daemon` runs for a namespace
 * it holds an flock on /run/ctbypass/netns-<inode>.daemon (its pid inside),
 * and the commands that change state refuse there, pointing at the daemon's
 * configuration: two writers with different intents would undo each other.
 * The kernel drops the flock when the daemon dies, even by SIGKILL.
 */
#ifndef CTB_DAEMON_CLAIM_H
#define CTB_DAEMON_CLAIM_H

#include <stdbool.h>
#include <sys/types.h>

/* What the claim file says: the daemon's pid and its configuration file. */
struct ctb_daemon_owner {
	pid_t pid; /* 0 when unreadable */
	char config[256];
};

/*
 * Takes the claim for this process, whose configuration is CONFIG: -EBUSY
 * (with *OWNER) when a daemon has it.
 */
int ctb_daemon_claim(int *fd, const char *config, struct ctb_daemon_owner *owner);
void ctb_daemon_release(int fd);

/* True when a daemon (not this process) holds the claim, with *OWNER. */
bool ctb_daemon_running(struct ctb_daemon_owner *owner);

#endif
