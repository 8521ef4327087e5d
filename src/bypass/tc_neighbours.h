/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What else runs on an interface's TC ingress hook, for the warnings attach
 * prints: other cls_bpf filters and tcx programs, by name. Cilium and Calico
 * are named: both use mark bits of their own in the window where ours lives
 * (README.md, "The mark"). Whether one runs before ours on tcx is health's
 * concern (foreign_ahead): attach puts ours in front anyway.
 */
#ifndef CTB_TC_NEIGHBOURS_H
#define CTB_TC_NEIGHBOURS_H

#include <stdbool.h>

struct ctb_tc_neighbours {
	unsigned int filters; /* other filters on clsact ingress */
	bool cilium, calico; /* programs named as theirs */
	char example[32]; /* one program's name, for the message */
};

/* Looks at IFINDEX's ingress hook; fills OUT (zeroed first). 0 or a negative errno. */
int ctb_tc_neighbours(int ifindex, struct ctb_tc_neighbours *out);

#endif
