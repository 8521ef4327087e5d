#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Bash completion (contrib/bash-completion/ctbypass), driven as bash drives it:
# COMP_WORDS and COMP_CWORD set, the function called, COMPREPLY read. Commands,
# subcommands, each command's options (the same as its getopt table in src/cli/),
# interface names for --iface (of the -n namespace too), namespace names for -n,
# fixed values, files, and nothing for port lists.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../../contrib/bash-completion/ctbypass
source contrib/bash-completion/ctbypass

# shellcheck source=SCRIPTDIR/../lib/results.sh
source tests/lib/results.sh

# offers LINE: what completing LINE offers, sorted, one line. A trailing space starts a new word.
offers() {
	local line=$1
	read -r -a COMP_WORDS <<<"$line"
	[[ $line == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_ctbypass
	printf '%s\n' "${COMPREPLY[@]}" | grep . | sort | tr '\n' ' ' | sed 's/ $//'
}

expect() { # NAME LINE EXPECTED
	local got
	got=$(offers "$2")
	[ "$got" = "$3" ] && pass "$1" || fail "$1" "'$2' offered '$got', expected '$3'"
}

sorted() { tr ' ' '\n' <<<"$1" | grep . | sort | tr '\n' ' ' | sed 's/ $//'; }

expect "the commands" "ctbypass " \
	"$(sorted "attach daemon detach doctor metrics ports status upstream watch")"
expect "a command's prefix" "ctbypass at" "attach"
expect "global options" "ctbypass --" "--help --netns --verbose --version --wait"
expect "options by prefix" "ctbypass attach --p" "--ports --proto"
expect "--proto's values" "ctbypass attach --proto " "tcp tcp,udp udp"
expect "watch --backend's values" "ctbypass watch --backend " "auto fentry kprobe netlink"
expect "daemon --telemetry's values" "ctbypass daemon --telemetry " "auto fentry kprobe stats"
expect "ports' subcommands" "ctbypass ports " "add del list"
expect "upstream's subcommands" "ctbypass upstream " "add del"
expect "ports add: its options" "ctbypass ports add --" "--accept --force --help --no-flush --wait"
expect "a port list completes nothing" "ctbypass attach --ports " ""
expect "an upstream list completes nothing" "ctbypass -n x attach --upstream 198" ""
expect "after -w the command still counts" "ctbypass -w 5 status --" "--help --json"
expect "--iface: this namespace's interfaces" "ctbypass attach --iface " \
	"$(sorted "$(ls /sys/class/net)")"
expect "--iface: the name after the last comma" "ctbypass attach --iface lo,l" "lo,lo"
expect "-n: the named namespaces" "ctbypass -n " "$(sorted "$(ls /run/netns 2>/dev/null)")"
got=$(offers "ctbypass daemon --config /et")
grep -qw "/etc" <<<"$got" && pass "--config: files" || fail "--config: files" "offered '$got'"

# --iface with -n: the interfaces of that namespace (root: a namespace made here).
if [ "$(id -u)" -eq 0 ]; then
	ns=ctbt-$$-compl
	ip netns add "$ns" && ip -n "$ns" link add cmpl0 type veth peer name cmpl1
	expect "-n NS --iface: NS's interfaces" "ctbypass -n $ns attach --iface " "cmpl0 cmpl1 lo"
	ip netns del "$ns"
else
	fail "-n NS --iface: NS's interfaces" "needs root to make a namespace"
fi

# Each command's options are its getopt table's: completion never drifts from the code.
for cmd in attach detach ports upstream status doctor watch daemon metrics; do
	src=src/cli/cmd_$cmd.c
	[ "$cmd" = upstream ] && src=src/cli/cmd_ports.c
	table=$(sed -n '/struct option options\[\] = {/,/};/p' "$src" |
		grep -oE '\{ *"[a-z-]+"' | sed -E 's/\{ *"/--/; s/"//' | sort -u | tr '\n' ' ' | sed 's/ $//')
	got=$(sorted "$(_ctbypass_options "$cmd")")
	[ -n "$table" ] && [ "$got" = "$table" ] && pass "$cmd: the options of its getopt table" ||
		fail "$cmd: the options of its getopt table" "completion '$got', table '$table'"
done

results
