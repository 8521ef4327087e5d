#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make install` and `make uninstall` into a staging DESTDIR (no root needed):
# what lands where, with which mode; ExecStart= follows PREFIX; the man pages
# install and man reads them; an existing configuration is never overwritten,
# and uninstall removes it only while it is still the example; uninstall leaves
# no file behind.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=SCRIPTDIR/../lib/results.sh
source tests/lib/results.sh
mode() { stat -c %a "$1"; }
files() { (cd "$1" && find . -type f | sort | tr '\n' ' '); }

# Installed: four files (the binary, the unit, the configuration, the Prometheus rules)
# and a man page per doc/man/*.8.scd.
pages=$(find doc/man -maxdepth 1 -name '*.8.scd' | wc -l)
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT

for prefix in /usr /usr/local; do
	d=$STAGE$prefix
	mkdir -p "$d"
	check "$prefix: make install" make --no-print-directory install DESTDIR="$d" PREFIX="$prefix"
	unit=$d$([ $prefix = /usr ] && echo /lib || echo $prefix/lib)/systemd/system/ctbypass.service
	check "$prefix: the binary in sbin, mode 755" test "$(mode "$d$prefix/sbin/ctbypass")" = 755
	check "$prefix: it runs and says its version" \
		bash -c "'$d$prefix/sbin/ctbypass' --version | grep -qx \"ctbypass \$(cat VERSION)\\(+g.*\\)\\?\""
	check "$prefix: the unit, mode 644" test "$(mode "$unit")" = 644
	check "$prefix: ExecStart= follows PREFIX" grep -qx "ExecStart=$prefix/sbin/ctbypass daemon" "$unit"
	check "$prefix: the example configuration in /etc/ctbypass" \
		cmp contrib/ctbypass.conf "$d/etc/ctbypass/ctbypass.conf"
	check "$prefix: the Prometheus rules" \
		cmp contrib/prometheus/ctbypass.rules.yml "$d$prefix/share/ctbypass/prometheus/ctbypass.rules.yml"
	man8=$d$prefix/share/man/man8
	check "$prefix: the $pages man pages in share/man/man8, mode 644" \
		test "$(stat -c %a "$man8"/ctbypass*.8 | grep -cx 644)" -eq "$pages"
	check "$prefix: man -l reads an installed page" \
		bash -c "MANWIDTH=200 man -l '$man8/ctbypass.8' | grep -q '^ *ctbypass - make traffic'"
	check "$prefix: the bash completion" \
		cmp contrib/bash-completion/ctbypass "$d$prefix/share/bash-completion/completions/ctbypass"
	check "$prefix: exactly $((5 + pages)) files" test "$(files "$d" | wc -w)" -eq $((5 + pages))
	check "$prefix: make uninstall" make --no-print-directory uninstall DESTDIR="$d" PREFIX="$prefix"
	check "$prefix: no file left" test -z "$(files "$d")"
done

# An operator's configuration survives install and uninstall.
d=$STAGE/edited
mkdir -p "$d/etc/ctbypass"
echo "ports = 443" >"$d/etc/ctbypass/ctbypass.conf"
make --no-print-directory install DESTDIR="$d" PREFIX=/usr >/dev/null 2>&1
check "install keeps an existing configuration" grep -qx "ports = 443" "$d/etc/ctbypass/ctbypass.conf"
make --no-print-directory uninstall DESTDIR="$d" PREFIX=/usr >/dev/null 2>&1
check "uninstall keeps an edited configuration" grep -qx "ports = 443" "$d/etc/ctbypass/ctbypass.conf"
check "and removes everything else" test "$(files "$d")" = "./etc/ctbypass/ctbypass.conf "

results
