/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tcx (kernel 6.6 and later): the ingress hook that runs before any clsact
 * filter, as an ordered list of programs where each one's TCX_NEXT hands the
 * packet to the next and anything else ends the list, clsact included.
 *
 * ctbypass attaches without a bpf_link (a link dies with its last file
 * descriptor and would need a pin, which `ip netns exec` hides between
 * calls), in front of the list (BPF_F_BEFORE with no relative program). The
 * kernel lets anybody place a program in front of ours later: the list is
 * read back to tell.
 *
 * Debian 12's libbpf (1.1) and kernel headers predate tcx, so this speaks the
 * bpf() system call with the 6.6 attribute layout, declared here.
 */
#ifndef CTB_TCX_HOOK_H
#define CTB_TCX_HOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

/* Room for every program one tcx hook holds (the kernel's bpf_mprog_max(): 63). */
#define CTB_TCX_MAX_PROGS 64

/* True when this kernel has tcx (asked once per process). */
bool ctb_tcx_available(void);

/*
 * The programs on IFINDEX's tcx ingress hook, in the order they run. Returns
 * how many (at most MAX are stored), or a negative errno: -EINVAL without tcx.
 */
int ctb_tcx_list(int ifindex, __u32 *ids, size_t max);

/*
 * Adding or removing a program costs an RCU grace period each (the kernel
 * swaps the hook's program array and waits for readers of the old one) under
 * the RTNL lock: about 10 ms here, whatever else waits for the lock
 * meanwhile. Replacing one program with another in its place costs neither.
 */

/* Puts PROG_FD first on IFINDEX's tcx ingress hook. -EEXIST if it is there already. */
int ctb_tcx_attach_first(int ifindex, int prog_fd);

/* Puts PROG_FD last on IFINDEX's tcx ingress hook: the fallback when first failed. */
int ctb_tcx_attach_last(int ifindex, int prog_fd);

/* Puts PROG_FD in the place of program OLD_ID on IFINDEX's tcx ingress hook. */
int ctb_tcx_replace(int ifindex, int prog_fd, __u32 old_id);

/* Takes program PROG_ID off IFINDEX's tcx ingress hook. Gone already: 0. */
int ctb_tcx_detach(int ifindex, __u32 prog_id);

#endif
