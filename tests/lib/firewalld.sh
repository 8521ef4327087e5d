# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The real firewalld (Debian's package, nftables backend) inside a lab
# namespace, on a private system D-Bus, with a private copy of its config.
# Needs tests/lib/netns.sh loaded first.
#
#   source "$LIB/firewalld.sh"
#   lab_up; fwd_start "$SRV_NS" || finish
#   fwd_cmd "$SRV_NS" --zone=public --add-service=http
#
#   fwd_start NS     start dbus-daemon and firewalld for NS; returns when
#                    `firewall-cmd --state` says running (1 if not in 30 s).
#                    Stopped by lab_down on every exit.
#   fwd_cmd NS ARGS  firewall-cmd ARGS against NS's firewalld.
#   fwd_stop NS      stop NS's firewalld (it removes its tables) and its bus.
#   fwd_dir NS       the directory holding NS's bus, config copy and log.
#   fwd_bin NS       a directory with a `firewall-cmd` bound to NS's firewalld,
#                    to put first in PATH for a fix line a refusal printed.
#
# Nothing here touches the host: firewalld runs in NS (so its nftables and
# sysctls are NS's), in a private mount namespace where a temp copy of
# /etc/firewalld is bind-mounted over the real one and a tmpfs over /run, and
# it talks only to its own bus (a socket in the temp dir, also bind-mounted
# over /run/dbus/system_bus_socket there). firewall-cmd finds that bus through
# DBUS_SYSTEM_BUS_ADDRESS.

[ -n "${_CTBT_FWD_LOADED:-}" ] && return 0
_CTBT_FWD_LOADED=1

declare -A _CTBT_FWD_DIR=()

fwd_dir() {
	echo "${_CTBT_FWD_DIR[$1]}"
}

_fwd_bus_conf() {
	cat <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$1/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="root"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
EOF
}

fwd_bin() {
	echo "${_CTBT_FWD_DIR[$1]}/bin"
}

fwd_cmd() {
	local ns=$1 dir=${_CTBT_FWD_DIR[$1]}
	shift
	[ -n "$dir" ] || { echo "fwd_cmd: no fwd_start for $ns" >&2; return 1; }
	"$dir/bin/firewall-cmd" "$@"
}

_fwd_running() {
	[ "$(fwd_cmd "$1" --state 2>/dev/null)" = running ]
}

fwd_start() {
	local ns=$1 dir
	need_cmd firewalld firewall-cmd dbus-daemon unshare
	dir=$(mktemp -d "$_CTBT_TMP/firewalld.XXXXXX")
	_CTBT_FWD_DIR[$ns]=$dir
	lab_on_down fwd_stop "$ns"
	cp -a /etc/firewalld "$dir/etc" || return 1
	_fwd_bus_conf "$dir" >"$dir/bus.conf"
	mkdir "$dir/bin" &&
		printf '#!/bin/sh\nDBUS_SYSTEM_BUS_ADDRESS=unix:path=%s/bus exec timeout 60 %s "$@"\n' \
			"$dir" "$(command -v firewall-cmd)" >"$dir/bin/firewall-cmd" &&
		chmod +x "$dir/bin/firewall-cmd" || return 1
	# shellcheck disable=SC2016 # expanded by the inner bash
	(_ctbt_spawn ip netns exec "$ns" unshare -m --propagation private bash -c '
		dir=$1
		mount --bind "$dir/etc" /etc/firewalld || exit 1
		dbus-daemon --config-file="$dir/bus.conf" --nofork --nopidfile &
		echo $! >"$dir/dbus.pid"
		for _ in $(seq 50); do [ -S "$dir/bus" ] && break; sleep 0.1; done
		mount -t tmpfs ctbt-fwd /run || exit 1
		mkdir -p /run/dbus && touch /run/dbus/system_bus_socket &&
			mount --bind "$dir/bus" /run/dbus/system_bus_socket || exit 1
		export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$dir/bus
		echo $$ >"$dir/firewalld.pid"
		exec firewalld --nofork --nopid --log-target console' _ "$dir") \
		>"$dir/firewalld.log" 2>&1 &
	lab_track_pid $!
	if wait_until 30 _fwd_running "$ns"; then
		return 0
	fi
	echo "fwd_start: firewalld did not start in $ns: $(tail -n 5 "$dir/firewalld.log")" >&2
	return 1
}

fwd_stop() {
	local ns=$1 dir=${_CTBT_FWD_DIR[$1]} f pid
	[ -n "$dir" ] || return 0
	unset "_CTBT_FWD_DIR[$ns]"
	# TERM first: with CleanupOnExit=yes firewalld removes its own tables.
	for f in firewalld.pid dbus.pid; do
		read -r pid 2>/dev/null <"$dir/$f" && _ctbt_kill "$pid"
	done
	return 0
}
