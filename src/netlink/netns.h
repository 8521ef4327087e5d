/* SPDX-License-Identifier: GPL-2.0 */
/* `-n NETNS`: run the whole command inside a named network namespace, like `ip -n`. */
#ifndef CTB_NETNS_H
#define CTB_NETNS_H

/* Joins /run/netns/NAME. -ENOENT: no such namespace (a usage error). */
int ctb_netns_enter(const char *name);

#endif
