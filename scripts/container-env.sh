# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Sourced by scripts/build-image.sh and tests/install/test_image.sh: buildah and podman
# with a store and settings of their own under DIR, never the machine's
# (/var/lib/containers, /etc/containers/*.conf), so a build or a test neither sees nor
# leaves images, containers or networks there.
#
#   source scripts/container-env.sh; ctb_containers_env DIR
#
# What each setting is for (all found on a Debian 12 host without systemd as PID 1, with
# cgroup v1 and v2 mounted side by side, as root without CAP_SYS_RESOURCE):
# - runtime runc: crun 1.8 refuses that hybrid cgroup layout ("cgroups in hybrid mode
#   not supported"), with or without --cgroups=disabled; runc runs on v1, v2 and hybrid.
# - cgroup_manager cgroupfs: the systemd manager needs systemd as PID 1.
# - default_ulimits: podman asks for nofile 1048576 and nproc beyond the caller's hard
#   limits, which setrlimit refuses without CAP_SYS_RESOURCE; the daemon needs few of
#   either, so both stay within the caller's.
# - netns none by default: nothing here may get podman's bridge (CNI would add a bridge
#   and iptables chains to the host); the test names its namespace with --network ns:.
# - events to a file and tmp_dir under DIR: no journald, nothing in /run/libpod.
# - overlay storage: the kernel's overlayfs over ext4 or xfs (vfs works too, slower:
#   CTB_STORAGE_DRIVER=vfs).

ctb_containers_env() {
	local dir=$1 nofile nproc
	mkdir -p "$dir/storage" "$dir/run" "$dir/tmp" "$dir/cni" || return 1
	nofile=$(ulimit -Hn)
	[ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ] && nofile=65536
	nproc=$(ulimit -Hu)
	[ "$nproc" = unlimited ] || [ "$nproc" -gt 4096 ] && nproc=4096
	cat >"$dir/storage.conf" <<-EOF
		[storage]
		driver = "${CTB_STORAGE_DRIVER:-overlay}"
		graphroot = "$dir/storage"
		runroot = "$dir/run"
	EOF
	cat >"$dir/containers.conf" <<-EOF
		[containers]
		default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
		netns = "none"
		[network]
		network_config_dir = "$dir/cni"
		[engine]
		runtime = "runc"
		cgroup_manager = "cgroupfs"
		events_logger = "file"
		events_logfile_path = "$dir/events.log"
		tmp_dir = "$dir/tmp"
	EOF
	# Images are named in full (localhost/ctbypass:VERSION): no registry is ever asked.
	cat >"$dir/registries.conf" <<-EOF
		unqualified-search-registries = []
	EOF
	export CONTAINERS_STORAGE_CONF=$dir/storage.conf CONTAINERS_CONF=$dir/containers.conf \
		CONTAINERS_REGISTRIES_CONF=$dir/registries.conf
}

# ctb_containers_unmount DIR: what the store left mounted under DIR (overlay layers of a
# container that was killed), deepest first, so DIR can be removed.
ctb_containers_unmount() {
	findmnt -R -n -o TARGET "$1" 2>/dev/null | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
	# overlay's own mounts are under graphroot/overlay/*/merged, not necessarily below DIR's
	# mount point in findmnt's tree: look them up by prefix too.
	awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null; done
	return 0
}
