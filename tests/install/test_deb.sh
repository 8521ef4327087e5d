#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The Debian package in a fresh Debian 12 minbase root (debootstrap; / bind-mounted
# onto itself so `ip netns exec` works): it installs with apt (its dependencies from the
# mirror), `ctbypass --version` and `--help` run, the man pages, completion, unit,
# example configuration and rules are in place; the shipped configuration bypasses
# nothing; removing the package detaches what ctbypass attached (in a named namespace);
# purging leaves no file of the package. /run/netns is bound in as a slave, never
# shared: unmounting the root's copy must not unmount the host's namespaces. Needs root
# and the Debian mirror; run by `make test-install`, not by `make test`.
# Usage: tests/install/test_deb.sh DEB
set -uo pipefail
cd "$(dirname "$0")/../.."

DEB=$(readlink -f "${1:-}")
ROOT=/srv/ctbypass-test-deb.$$
NS=ctbt-$$-deb
MIRROR=${CTB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# shellcheck source=SCRIPTDIR/../lib/results.sh
source tests/lib/results.sh
in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	DEBIAN_FRONTEND=noninteractive /bin/bash -c "$1"; }

cleanup() {
	ip netns del "$NS" 2>/dev/null
	if [ -d "$ROOT" ]; then
		findmnt -R -n -o TARGET "$ROOT" 2>/dev/null | sort -r | while read -r m; do
			umount -l "$m" 2>/dev/null
		done
		rm -rf "$ROOT"
	fi
}
finish() {
	cleanup
	results
	exit
}
trap finish EXIT
trap 'exit 130' INT TERM HUP

[ "$(id -u)" -eq 0 ] || { fail "needs root"; exit; }
[ -f "$DEB" ] || { fail "no package given (make deb builds one)"; exit; }
for c in debootstrap chroot findmnt; do
	command -v $c >/dev/null 2>&1 || { fail "$c is not installed (scripts/install-deps.sh test-install)"; exit; }
done

start=$SECONDS
if ! debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >"/tmp/test_deb.$$.log" 2>&1; then
	fail "debootstrap a minbase root" "$(tail -n 3 "/tmp/test_deb.$$.log")"
	rm -f "/tmp/test_deb.$$.log"
	exit
fi
rm -f "/tmp/test_deb.$$.log"
pass "debootstrap a minbase root ($((SECONDS - start)) s)"
mount --bind "$ROOT" "$ROOT" && mount -t proc proc "$ROOT/proc" &&
	mount -t sysfs sysfs "$ROOT/sys" && mount --bind /dev "$ROOT/dev" &&
	mount -t tmpfs tmpfs "$ROOT/run" && mkdir -p "$ROOT/run/netns" /run/netns &&
	mount --rbind /run/netns "$ROOT/run/netns" &&
	mount --make-rslave "$ROOT/run/netns" &&
	cp /etc/resolv.conf "$ROOT/etc/resolv.conf" || { fail "mounts"; exit; }
cp "$DEB" "$ROOT/tmp/"
name=$(basename "$DEB")

start=$SECONDS
check "apt installs the package with its dependencies" \
	in_root "apt-get update -qq && apt-get install -y -qq --no-install-recommends /tmp/$name iproute2"
echo "  installed in $((SECONDS - start)) s"
check "ctbypass --version names the package's version" \
	in_root "ctbypass --version | grep -qx \"ctbypass \$(dpkg-query -W -f='\${Version}' ctbypass)\""
check "ctbypass --help" in_root "ctbypass --help | grep -q '^Commands:'"
check "the man pages" in_root "ls /usr/share/man/man8/ctbypass.8.gz /usr/share/man/man8/ctbypass-daemon.8.gz"
check "the bash completion" in_root "grep -q 'complete -F _ctbypass ctbypass' /usr/share/bash-completion/completions/ctbypass"
check "the unit runs /usr/sbin/ctbypass" in_root "grep -qx 'ExecStart=/usr/sbin/ctbypass daemon' /lib/systemd/system/ctbypass.service"
check "the Prometheus rules" in_root "test -s /usr/share/ctbypass/prometheus/ctbypass.rules.yml"
check "the shipped configuration bypasses nothing" \
	in_root "ctbypass daemon --check-config | grep -qx 'ports = ' && ctbypass daemon --check-config | grep -qx 'upstream = '"
check "the configuration is a conffile" in_root "dpkg-query -W -f='\${Conffiles}' ctbypass | grep -q /etc/ctbypass/ctbypass.conf"

# What the package's binary attached is detached when the package is removed.
ip netns add "$NS" && ip -n "$NS" link add debv0 type veth peer name debv1 &&
	ip -n "$NS" link set debv0 up && ip -n "$NS" link set debv1 up
check "attach in a named namespace (the package's binary)" \
	in_root "ctbypass -n $NS attach --ports 80 --force"
check "the namespace holds the table" ip netns exec "$NS" nft list table inet ctbypass
check "apt-get remove" in_root "apt-get remove -y -qq ctbypass"
check_not_table() { ! ip netns exec "$NS" nft list table inet ctbypass; }
check "removing the package detached the namespace" check_not_table
check "no classifier is left" bash -c "! tc -n $NS filter show dev debv0 ingress | grep -q ctb_"
check "the configuration stays after remove" in_root "test -e /etc/ctbypass/ctbypass.conf"
check "apt-get purge" in_root "apt-get purge -y -qq ctbypass"
check "purge leaves /etc/ctbypass gone" in_root "! test -e /etc/ctbypass"
check "purge leaves no file of the package" \
	in_root "! ls /usr/sbin/ctbypass /lib/systemd/system/ctbypass.service /usr/share/ctbypass /usr/share/man/man8/ctbypass.8.gz /usr/share/bash-completion/completions/ctbypass /usr/share/doc/ctbypass"
check "dpkg forgets it" in_root "! dpkg-query -W ctbypass"
