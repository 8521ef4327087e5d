#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The man pages (no root needed; `make check` builds them first): scdoc and man are there;
# each page in build/man is built from its current doc/man/*.scd and renders without a
# warning; every command of `ctbypass --help` has a page; every long option in a command's
# getopt table (src/cli/) is in its page's OPTIONS and in its --help. A missing tool, page
# or binary is a failure, never a skip.
set -uo pipefail
cd "$(dirname "$0")/../.."

BIN=build/ctbypass
MANOUT=build/man

# shellcheck source=SCRIPTDIR/../lib/results.sh
source tests/lib/results.sh

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# The same page for everyone: a fixed width, and no pager.
export MANWIDTH=80 MANPAGER=cat PAGER=cat

check "scdoc is installed (scripts/install-deps.sh build)" command -v scdoc
check "man is installed (scripts/install-deps.sh test)" command -v man
check "$BIN is built (make)" test -x "$BIN"

# What the reader gets, one line per paragraph: wide enough that no option heading wraps
# or is hyphenated.
render_wide() { MANWIDTH=250 man -l "$1" 2>/dev/null | col -bx; }

# Built from the current source: scdoc's output again, but for the date on .TH.
up_to_date() {
	local src=$1 page=$2
	[ -f "$page" ] || return 1
	diff <(scdoc <"$src" | grep -v '^\.TH ') <(grep -v '^\.TH ' "$page")
}

# man writes groff's warnings (undefined macros, lines it cannot break) to stderr.
renders_cleanly() {
	local page=$1 err=$TMP/warnings
	man --warnings -l "$page" >/dev/null 2>"$err" || return 1
	if [ -s "$err" ]; then
		cat "$err" >&2
		return 1
	fi
}

for src in doc/man/*.8.scd; do
	name=$(basename "$src" .scd)
	page=$MANOUT/$name
	check "$name: built from the current $src (make man)" up_to_date "$src" "$page"
	check "$name: man --warnings renders it without a warning" renders_cleanly "$page"
	[ -f "$page" ] && render_wide "$page" >"$TMP/$name.txt"
done

# The commands, as `ctbypass --help` lists them.
commands=$("$BIN" --help 2>/dev/null | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }')
check "ctbypass --help lists commands" test -n "$commands"

for cmd in $commands; do
	check "$cmd: has a page (doc/man/ctbypass-$cmd.8.scd)" test -f "doc/man/ctbypass-$cmd.8.scd"
done
# No page for a command that is gone.
for src in doc/man/ctbypass-*.8.scd; do
	cmd=$(basename "$src" .8.scd)
	cmd=${cmd#ctbypass-}
	check "page ctbypass-$cmd: $cmd is a command of ctbypass --help" \
		grep -qx -- "$cmd" <<<"$commands"
done

# The long options of the getopt table(s) in FILE: { "name", ... } entries.
long_options() {
	awk '/static const struct option options\[\] = \{/ { on = 1; next }
	     on && /^[ \t]*\};/ { on = 0 }
	     on { print }' "$1" |
		sed -nE 's/^[ \t]*\{ *"([a-z0-9-]+)".*/\1/p'
}

# The option headings of a rendered page's OPTIONS section (the lines that start with a
# dash at the section's own indent), one option name a line.
documented_options() {
	awk '/^OPTIONS$/ { on = 1; next } on && /^[A-Z]/ { exit } on && /^       -/ { print }' "$1" |
		grep -oE -- '(^|[ ,])--[a-z0-9-]+' | sed -E 's/^[ ,]*--//'
}

# in_list WORD: WORD is one of the lines on stdin
in_list() { grep -qx -- "$1"; }

# option_checks LABEL SOURCE PAGE HELP-COMMAND...
option_checks() {
	local label=$1 source=$2 page=$3 opt options documented help
	shift 3
	options=$(long_options "$source")
	check "$label: options found in $source" test -n "$options"
	documented=$([ -f "$TMP/$page.txt" ] && documented_options "$TMP/$page.txt")
	help=$("$@" 2>&1)
	for opt in $options; do
		check "$label: --$opt in $page's OPTIONS" in_list "$opt" <<<"$documented"
		if [ "$opt" = help ] && [ "$label" != ctbypass ]; then
			check "$label: --help prints the command's usage" \
				grep -q "^Usage: ctbypass .* $label " <<<"$help"
		fi
		check "$label: --$opt in '$*'" grep -qE -- "--$opt([^a-z0-9-]|\$)" <<<"$help"
	done
}

check "ctbypass --help points to each command's --help" \
	grep -q "'ctbypass COMMAND --help'" <<<"$("$BIN" --help 2>&1)"
option_checks ctbypass src/cli/main.c ctbypass.8 "$BIN" --help
for cmd in $commands; do
	# The file that defines the command (ports and upstream share cmd_ports.c's table).
	source=$(grep -lE "^int ctb_cmd_$cmd\(" src/cli/*.c | head -n 1)
	check "$cmd: its source in src/cli/" test -n "$source"
	[ -n "$source" ] || continue
	option_checks "$cmd" "$source" "ctbypass-$cmd.8" "$BIN" "$cmd" --help
done

results
