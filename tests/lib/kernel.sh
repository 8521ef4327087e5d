# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# What the running kernel offers ctbypass, for tests whose expectation depends on
# the kernel (the VM lab boots 5.10, 6.1 and 6.12). The releases are the README's
# kernel table ("What works on which kernel").

# kernel_at_least MAJOR.MINOR: the running kernel is that release or later.
kernel_at_least() {
	local have
	have=$(uname -r | grep -oE '^[0-9]+\.[0-9]+')
	[ "$(printf '%s\n%s\n' "$1" "$have" | sort -V | head -n 1)" = "$1" ]
}

# fentry on conntrack's functions needs BTF for the nf_conntrack module: Linux 5.11.
kernel_has_fentry_conntrack() { kernel_at_least 5.11; }

# skb:kfree_skb's drop reason (the netlink backend's drop detail): Linux 5.17.
kernel_has_drop_reason() { kernel_at_least 5.17; }

# The tracing backends of `ctbypass watch` this kernel can run, best first.
kernel_probe_backends() {
	if kernel_has_fentry_conntrack; then
		echo fentry kprobe
	else
		echo kprobe
	fi
}
