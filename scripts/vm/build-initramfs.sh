#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds the VM lab's initramfs: busybox, the kernel modules ctbypass and its
# tests need (dependencies resolved through the kernel's own modules.dep and
# softdeps), the project's binaries, the host tools the tests call with the
# shared libraries they link, the repo's tests/ tree and /init.
# Usage: scripts/vm/build-initramfs.sh MODULES_DIR OUTPUT.cpio.gz
#   MODULES_DIR: a kernel's lib/modules/<release> (with modules.dep)
# Env: VMTEST_EXTRA_BINS="prog..." more host programs to copy;
#      VMTEST_EXTRA_TESTS="file..." more scripts to run as tests/netns/ tests.
set -euo pipefail
shopt -s extglob
trap 'echo "build-initramfs: failed at line $LINENO" >&2' ERR

[ $# -eq 2 ] || { echo "usage: $0 MODULES_DIR OUTPUT.cpio.gz" >&2; exit 2; }
moddir=$(cd "$1" && pwd)
mkdir -p "$(dirname "$2")"
out=$(cd "$(dirname "$2")" && pwd)/$(basename "$2") # absolute: cpio runs elsewhere
repo=$(cd "$(dirname "$0")/../.." && pwd)
kver=$(basename "$moddir")
# modprobe -d wants the root above lib/modules/<release>.
modbase=$(cd "$moddir/../../.." && pwd)
[ -f "$moddir/modules.dep" ] ||
	{ echo "build-initramfs: no modules.dep in $moddir (run depmod -b)" >&2; exit 1; }

# What ctbypass and its tests use. Dependencies (nfnetlink, libcrc32c and its
# crc32c provider, nf_defrag_*) are not listed: modprobe --show-depends adds them.
modules=(
	nf_conntrack nf_conntrack_netlink nf_defrag_ipv4 nf_defrag_ipv6 ipv6
	nf_tables nft_ct nft_fib_inet nft_fib_ipv4 nft_fib_ipv6
	nf_nat nft_chain_nat nft_nat nft_masq nft_reject_inet
	veth dummy sch_ingress cls_bpf act_gact cls_matchall
	# A bridge with br_netfilter (Docker, bridge CNIs) for the mark-hygiene test.
	bridge br_netfilter nft_meta_bridge
	# sock_diag, for ss and ctbypass doctor's "is it listening" (no /proc fallback).
	inet_diag tcp_diag udp_diag raw_diag unix_diag
	# iptables (legacy and nft) rulesets the preflight tests build.
	ip_tables iptable_filter iptable_nat iptable_raw iptable_mangle
	ip6_tables ip6table_filter ip6table_nat ip6table_raw ip6table_mangle
	nft_compat xt_tcpudp xt_conntrack xt_state xt_nat xt_CT xt_mark xt_comment xt_multiport
	xt_addrtype xt_MASQUERADE xt_REDIRECT ipt_REJECT ip6t_REJECT
	# kube-proxy's rules (tests/fixtures/iptables_kube_proxy.save)
	xt_recent xt_statistic
)
# Modules of some kernels only: built into nf_tables on later ones (6.1 has no
# nft_counter.ko), so their absence there is no loss and not reported.
modules_older=(nft_counter)
# Host programs the guest tests call; their libraries come along through ldd.
bins=(bash ip tc nft conntrack bpftool nginx curl ss
      flock setpriv setsid nsenter unshare mountpoint
      iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore)
# Whole packages, so tests written against Debian's userland behave the same in
# the guest. Debian's busybox-static runs its own applet for any name it knows,
# even when exec'd by its timeout, env or xargs (busybox `ip` for `timeout 5 ip`):
# these must be the real programs, with busybox only filling the gaps.
pkgs=(coreutils grep sed findutils mawk procps iputils-ping iptables)
read -ra extra_bins <<<"${VMTEST_EXTRA_BINS:-}"
read -ra extra_tests <<<"${VMTEST_EXTRA_TESTS:-}"

stage=$(mktemp -d "${TMPDIR:-/tmp}/ctbypass-initramfs.XXXXXX")
trap 'rm -rf "$stage" "$out.$$.tmp"' EXIT

# Merged /usr like Debian 12, so paths from ldd and busybox resolve unchanged.
mkdir -p "$stage"/usr/{bin,sbin,lib,lib64} "$stage"/{dev,proc,sys,run,tmp,root,etc,var}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$stage/$d"; done
ln -s ../run "$stage/var/run"

copy_file() { # host path, path in the guest
	mkdir -p "$stage/$(dirname "$2")"
	cp -L "$1" "$stage/$2"
}

# ELF programs are copied at once; their libraries after, by copy_libs.
elfs=()
copy_elf() { # host path, path in the guest
	copy_file "$1" "$2"
	elfs+=("$1")
}

# Every library ldd lists for the programs, plus the loader. ldd is slow (it
# runs the loader once per program), so batches run on every core.
copy_libs() {
	local lib
	# "name => /path (addr)" for libraries, "/path (addr)" for the loader.
	# (A static program makes ldd fail; its libraries are simply none.)
	{ printf '%s\0' "${elfs[@]}" | xargs -0 -n 32 -P "$(nproc)" ldd 2>/dev/null || true; } |
		awk '$2 == "=>" && $3 ~ /^\// { print $3 }
		     $1 ~ /^\// && $2 ~ /^\(0x/ { print $1 }' | sort -u |
		while read -r lib; do
			[ -e "$stage/$lib" ] || copy_file "$lib" "$lib"
		done
}

is_elf() {
	local magic
	LC_ALL=C read -r -n 4 magic <"$1" || true
	[ "$magic" = $'\x7fELF' ]
}

# --- programs
# Debian's programs, not a developer's shims (pyenv) or /usr/local builds.
syspath=/usr/sbin:/usr/bin:/sbin:/bin
missing=()
for b in "${bins[@]}" "${extra_bins[@]}"; do
	path=$(PATH=$syspath command -v "$b" || true)
	if [ -z "$path" ]; then
		missing+=("$b")
		continue
	fi
	copy_elf "$path" "$path"
done
for p in "${pkgs[@]}"; do
	if ! files=$(dpkg -L "$p" 2>/dev/null); then
		missing+=("$p")
		continue
	fi
	# Programs, and plugins such as iptables' xtables/*.so and libstdbuf.so.
	while read -r f; do
		[ -f "$f" ] || continue
		if [ -L "$f" ] && [[ $(readlink "$f") != */* ]]; then
			# iptables-legacy -> xtables-legacy-multi: a link, not a second copy.
			mkdir -p "$stage$(dirname "$f")"
			ln -sfn "$(readlink "$f")" "$stage$f"
		elif is_elf "$f"; then
			copy_elf "$f" "$f"
		else
			copy_file "$f" "$f" # egrep, fgrep: scripts calling grep
		fi
	done < <(grep -E '^/(usr/)?s?bin/[^/]+$|^/usr/lib/.*\.so$' <<<"$files")
done
[ ${#missing[@]} -eq 0 ] || echo "build-initramfs: not on this host, left out: ${missing[*]}" >&2
# Debian's defaults: sh is bash here (dash is not shipped), awk is mawk.
ln -s bash "$stage/usr/bin/sh"
ln -s mawk "$stage/usr/bin/awk"
# Python only when a guest test calls it: its standard library would be the
# largest part of the image. Without bytecode caches: the guest writes them on
# first import, into its writable root.
if grep -rqw python3 "$repo/tests" --include='*.sh' ||
	{ [ ${#extra_tests[@]} -gt 0 ] && grep -qw python3 "${extra_tests[@]}"; }; then
	py=$(readlink -f "$(PATH=$syspath command -v python3)")
	copy_elf "$py" "$py"
	ln -s "$(basename "$py")" "$stage/usr/bin/python3"
	pylib=/usr/lib/$(basename "$py")
	tar -C / -cf - --exclude=test --exclude=tests --exclude=idlelib --exclude=tkinter \
		--exclude=turtledemo --exclude=ensurepip --exclude=lib2to3 --exclude=pydoc_data \
		--exclude=distutils --exclude='config-*' --exclude=site-packages \
		--exclude=dist-packages --exclude=__pycache__ --exclude='_dbm*' --exclude='_gdbm*' \
		--exclude='_sqlite3*' --exclude='_curses*' --exclude=sqlite3 --exclude=dbm \
		--exclude=curses "${pylib#/}" | tar -C "$stage" -xf -
	for f in "$pylib"/lib-dynload/*.so; do
		elfs+=("$f") # copied by tar; listed for their libraries
	done
fi
# glibc loads libgcc_s at run time (thread cancellation), so ldd never lists it.
gcc_s=$(ldconfig -p | awk '/libgcc_s.so.1 .*x86-64/ && !n++ { print $NF }') # no early exit: SIGPIPE
[ -z "$gcc_s" ] || copy_file "$gcc_s" "$gcc_s"

cp /bin/busybox "$stage/usr/bin/busybox"
# Applets only where no real program was copied: real ip/tc/bash win. No init
# applet: if /init cannot run, the kernel should panic (and QEMU exit), not
# start busybox init and wait for a login until the timeout.
busybox --list-full | grep -Ev '(^|/)(init|linuxrc)$' | while read -r applet; do
	[ -e "$stage/$applet" ] || [ -L "$stage/$applet" ] || ln -s /usr/bin/busybox "$stage/$applet"
done

# --- the project
dest=$stage/ctbypass
mkdir -p "$dest/build/tools"
if [ -x "$repo/build/ctbypass" ]; then
	copy_elf "$repo/build/ctbypass" /ctbypass/build/ctbypass
else
	echo "build-initramfs: warning: build/ctbypass not built; tests needing it will fail" >&2
fi
for f in "$repo"/build/tools/*; do
	if ! [ -f "$f" ] || ! [ -x "$f" ]; then
		continue
	fi
	if is_elf "$f"; then
		copy_elf "$f" "/ctbypass/build/tools/$(basename "$f")"
	else
		cp "$f" "$dest/build/tools/"
	fi
done
# BPF objects the tests load with tc or bpftool (build/bpf/, build/tests/, ...).
(cd "$repo" && find build -name '*.bpf.o' -print0) | while IFS= read -r -d '' o; do
	copy_file "$repo/$o" "/ctbypass/$o"
done
# The benchmark scripts too (vmtest.sh VMTEST_BENCH runs one instead of the suite).
mkdir -p "$dest/build/bench" "$dest/bench"
for f in "$repo"/build/bench/*; do
	if [ -f "$f" ] && [ -x "$f" ] && is_elf "$f"; then
		copy_elf "$f" "/ctbypass/build/bench/$(basename "$f")"
	fi
done
cp "$repo"/bench/*.sh "$dest/bench/"
cp -r "$repo/tests" "$dest/tests"
find "$dest/tests" -name '*.o' -delete
copy_libs
for t in "${extra_tests[@]}"; do
	cp "$t" "$dest/tests/netns/"
done

# --- kernel modules, in load order; softdeps (crc32c for libcrc32c) included.
modlist=$stage/etc/vmtest-modules
: >"$modlist"
absent=()
for m in "${modules[@]}" "${modules_older[@]/#/?}"; do
	if ! deps=$(modprobe -d "$modbase" -S "$kver" --show-depends "${m#\?}" 2>/dev/null); then
		[[ $m == \?* ]] || absent+=("$m")
		continue
	fi
	while read -r kind path _; do
		[ "$kind" = insmod ] || continue # "builtin NAME": nothing to load
		rel=${path#"$moddir"/}
		rel=${rel#*/lib/modules/"$kver"/}
		name=$(basename "$rel")
		name=${name%%.ko*}
		# trixie's modules are .ko.xz: stored plain, since busybox's modprobe and
		# insmod pass the file to init_module as it is (kmod hands compressed ones to
		# the kernel, which 5.10 cannot decompress).
		case $rel in
		*.ko.xz) dec=(xz -dc) ;;
		*.ko.zst) dec=(zstd -qdc) ;;
		*.ko.gz) dec=(gzip -dc) ;;
		*) dec=() ;;
		esac
		rel=${rel%.@(xz|zst|gz)}
		if [ ! -e "$stage/lib/modules/$kver/$rel" ]; then
			if [ ${#dec[@]} -gt 0 ]; then
				mkdir -p "$stage/lib/modules/$kver/$(dirname "$rel")"
				"${dec[@]}" "$path" >"$stage/lib/modules/$kver/$rel"
			else
				copy_file "$path" "/lib/modules/$kver/$rel"
			fi
			echo "${name//-/_}" >>"$modlist"
		fi
	done <<<"$deps"
done
[ ${#absent[@]} -eq 0 ] || echo "build-initramfs: modules not in $kver: ${absent[*]}" >&2
for f in modules.builtin modules.builtin.modinfo modules.order; do
	[ ! -f "$moddir/$f" ] || cp "$moddir/$f" "$stage/lib/modules/$kver/"
done
# modules.dep and modules.alias for exactly the copied subset, so the guest's
# modprobe (and the kernel's module autoloading through it) finds them.
depmod -b "$stage" "$kver"

# --- configuration
cp "$repo/scripts/vm/guest-init.sh" "$stage/init"
chmod 755 "$stage/init"
cat >"$stage/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/bash
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat >"$stage/etc/group" <<'EOF'
root:x:0:
www-data:x:33:
nogroup:x:65534:
EOF
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$stage/etc/hosts"
printf 'passwd: files\ngroup: files\nhosts: files\n' >"$stage/etc/nsswitch.conf"
# netbase's tables: nft resolves "ipv6-icmp" and service names through them.
for f in /etc/protocols /etc/services; do
	[ ! -f "$f" ] || copy_file "$f" "$f"
done
# nginx opens its default log and temp paths before reading a test's own -c.
mkdir -p "$stage/usr/lib/nginx" "$stage/var/lib/nginx" "$stage/var/log/nginx" "$stage/var/www"
[ ! -f /etc/nginx/mime.types ] || copy_file /etc/nginx/mime.types /etc/nginx/mime.types
[ ! -d /usr/lib/nginx/modules ] || cp -rL /usr/lib/nginx/modules "$stage/usr/lib/nginx/"

# --- archive: newc is the format the kernel unpacks; owner root for every file.
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc -R 0:0 | gzip -6 >"$out.$$.tmp")
mv "$out.$$.tmp" "$out"
echo "build-initramfs: $out ($(du -h "$out" | cut -f1), $(wc -l <"$modlist") modules," \
	"kernel $kver)" >&2
