/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Before Linux 5.11 the kernel charges BPF maps and programs to the process's
 * RLIMIT_MEMLOCK (from 5.11 on, to its memory cgroup). libbpf raises the limit
 * itself when the process may (CAP_SYS_RESOURCE); one that may not (a systemd
 * unit or a container without that capability) gets a bare EPERM from the first
 * map too large for the limit. This says why, for the message of such a failure.
 */
#ifndef CTB_MEMLOCK_H
#define CTB_MEMLOCK_H

#include <stddef.h>

/*
 * Writes into BUF a parenthesised reason to append to ERR's message when ERR
 * (a negative errno) is that limit's refusal, else an empty string.
 */
void ctb_memlock_hint(int err, char *buf, size_t len);

#endif
