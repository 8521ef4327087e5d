/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Files ctbypass keeps per network namespace under /run/ctbypass/: the lock
 * and the intent log. They are named by the namespace's inode, so `-n NS`,
 * `ip netns exec NS` and a process already inside NS all agree, and /run (a
 * tmpfs) forgets them at reboot, when the kernel state they describe is gone too.
 */
#ifndef CTB_RUNTIME_DIR_H
#define CTB_RUNTIME_DIR_H

#include <stddef.h>

#define CTB_RUNTIME_DIR "/run/ctbypass"

/*
 * "/run/ctbypass/netns-<inode>.<KIND>" for the namespace this thread is in;
 * creates the directory. 0 or a negative errno.
 */
int ctb_runtime_path(const char *kind, char *buf, size_t len);

#endif
