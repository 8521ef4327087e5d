# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The real ufw (Debian's package) inside a lab namespace, with private copies
# of its config. Needs tests/lib/netns.sh loaded first.
#
#   source "$LIB/ufw.sh"
#   lab_up; ufw_start "$SRV_NS" || finish
#   ufw_cmd "$SRV_NS" allow 80/tcp
#
#   ufw_start NS     copy the config, `ufw default deny incoming`, `ufw --force
#                    enable` in NS. ufw is no daemon: "started" means its
#                    chains are loaded. Undone by lab_down on every exit.
#   ufw_cmd NS ARGS  ufw ARGS in NS.
#   ufw_stop NS      `ufw disable` in NS (its chains are flushed).
#   ufw_dir NS       the directory holding NS's config copies.
#   ufw_bin NS       a directory with a `ufw` that uses NS's config copies, to
#                    put first in PATH for a fix line a refusal printed (run it
#                    in NS: ip netns exec NS env PATH=... bash -c "$fix").
#
# Nothing here touches the host: ufw runs in NS (so its iptables rules and the
# sysctls of /etc/ufw/sysctl.conf, all per-namespace, are NS's), in a private
# mount namespace where temp copies of /etc/ufw and /etc/default/ufw are
# bind-mounted over the real ones and a tmpfs covers /run (its lock and
# xtables.lock). ufw calls `iptables`, which on Debian 12 is iptables-nft
# unless update-alternatives says otherwise.

[ -n "${_CTBT_UFW_LOADED:-}" ] && return 0
_CTBT_UFW_LOADED=1

declare -A _CTBT_UFW_DIR=()

ufw_dir() {
	echo "${_CTBT_UFW_DIR[$1]}"
}

ufw_bin() {
	echo "${_CTBT_UFW_DIR[$1]}/bin"
}

ufw_cmd() {
	local ns=$1 dir=${_CTBT_UFW_DIR[$1]}
	shift
	[ -n "$dir" ] || { echo "ufw_cmd: no ufw_start for $ns" >&2; return 1; }
	ip netns exec "$ns" "$dir/bin/ufw" "$@"
}

# DIR UFW: a `ufw` for DIR's copies: the private mount namespace, the bind
# mounts, then the real UFW.
_ufw_shim() {
	# shellcheck disable=SC2016 # expanded by the shim
	printf '#!/bin/bash\nexec unshare -m --propagation private bash -c %q _ %q %q "$@"\n' '
		mount --bind "$1/etc" /etc/ufw &&
			mount --bind "$1/default" /etc/default/ufw &&
			mount -t tmpfs ctbt-ufw /run || exit 1
		exec timeout 60 "$2" "${@:3}"' "$1" "$2"
}

ufw_start() {
	local ns=$1 dir
	need_cmd ufw unshare
	dir=$(mktemp -d "$_CTBT_TMP/ufw.XXXXXX")
	_CTBT_UFW_DIR[$ns]=$dir
	lab_on_down ufw_stop "$ns"
	cp -a /etc/ufw "$dir/etc" && cp -a /etc/default/ufw "$dir/default" || return 1
	mkdir "$dir/bin" && _ufw_shim "$dir" "$(command -v ufw)" >"$dir/bin/ufw" &&
		chmod +x "$dir/bin/ufw" || return 1
	ufw_cmd "$ns" default deny incoming >"$dir/start.log" 2>&1 &&
		ufw_cmd "$ns" --force enable >>"$dir/start.log" 2>&1 && return 0
	echo "ufw_start: $(tail -n 5 "$dir/start.log")" >&2
	return 1
}

ufw_stop() {
	local ns=$1
	[ -n "${_CTBT_UFW_DIR[$ns]}" ] || return 0
	ufw_cmd "$ns" disable >/dev/null 2>&1
	unset "_CTBT_UFW_DIR[$ns]"
	return 0
}
