# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Sourced by scripts/vm/fetch-kernel.sh and scripts/cross-build.sh: apt with a private
# configuration, one Debian suite and architecture, its sources, lists and cache under
# one folder, so the machine's own sources, lists and dpkg architectures are neither
# read nor changed. The machine's apt.conf.d (a proxy) still applies.
#   apt_private_init DIR SUITE ARCH   then   apt_private apt-get|apt-cache ARGS...
# Env: VMTEST_MIRROR=URL  the Debian mirror (default: the one the machine's apt uses)

apt_private_log() { echo "$(basename "$0" .sh): $*" >&2; }

# The Debian mirror the machine already reaches (a proxy or local mirror included).
apt_private_mirror() {
	local uri
	if [ -n "${VMTEST_MIRROR:-}" ]; then
		echo "${VMTEST_MIRROR%/}"
		return
	fi
	uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }')
	[ -n "$uri" ] || uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++)
		if ($i ~ /^[a-z]+:\/\/.*\/debian\/?$/) { print $i; exit } }' /etc/apt/sources.list 2>/dev/null)
	uri=${uri:-http://deb.debian.org/debian}
	echo "${uri%/}"
}

apt_private_init() { # dir, suite, arch
	local m keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	apt_private_dir=$1 apt_private_suite=$2 apt_private_arch=$3
	m=$(apt_private_mirror)
	mkdir -p "$1/state/lists/partial" "$1/cache/archives/partial" "$1/empty"
	: >>"$1/state/status"
	# Security fixes (the kernel's among them) come through -security, which lives
	# beside the main archive (debian -> debian-security) on Debian's mirrors.
	cat >"$1/sources.list.new" <<-EOS
		deb [signed-by=$keyring] $m $2 main
		deb [signed-by=$keyring] $m $2-updates main
		deb [signed-by=$keyring] ${m%/debian}/debian-security $2-security main
	EOS
	mv "$1/sources.list.new" "$1/sources.list"
}

# As root apt hands fetching to the _apt user, who cannot write into a root-owned
# repo: keep it root.
apt_private() { # apt-get|apt-cache, args...
	local tool=$1 d=$apt_private_dir sandbox=()
	shift
	[ "$(id -u)" -ne 0 ] || sandbox=(-o APT::Sandbox::User=root)
	"$tool" -o Dir::Etc::sourcelist="$d/sources.list" -o Dir::Etc::sourceparts="$d/empty" \
		-o Dir::Etc::preferences="$d/empty/none" -o Dir::Etc::preferencesparts="$d/empty" \
		-o Dir::State="$d/state" -o Dir::State::status="$d/state/status" \
		-o Dir::Cache="$d/cache" -o APT::Architecture="$apt_private_arch" \
		-o APT::Architectures="$apt_private_arch" -o Debug::NoLocking=1 "${sandbox[@]}" "$@"
}

# Lists older than a day (or any, with "force") are refreshed; a failed refresh keeps
# the old ones and returns 1.
# shellcheck disable=SC2120 # "force" is optional
apt_private_update() { # [force]
	local stamp=$apt_private_dir/state/updated
	if [ -f "$stamp" ] && [ -n "$(find "$stamp" -mmin -1440)" ] && [ -z "${1:-}" ]; then
		return 0
	fi
	apt_private_log "apt-get update for $apt_private_suite ($apt_private_arch)," \
		"private lists in ${apt_private_dir#"${repo:-}"/}"
	if apt_private apt-get update -qq >&2; then
		touch "$stamp"
	else
		apt_private_log "apt-get update for $apt_private_suite failed"
		return 1
	fi
}
