#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Installs the Debian 12 packages ctbypass needs to build, test and demo.
# Idempotent: installs only what is missing, and runs apt-get update only then.
# Usage: scripts/install-deps.sh [build|test|demo|vm|cross|bench|deb|test-install]...   (default: build)
set -euo pipefail

# libinih-dev: the daemon's configuration file; libsystemd-dev: its sd_notify;
# libmicrohttpd-dev: its /metrics endpoint. scdoc: the man pages (doc/man/*.scd), which
# `make man`, `make install` and `make check` build (`make` alone does not).
build=(clang llvm make gcc pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev
       libnftables-dev libmnl-dev libnetfilter-conntrack-dev libjansson-dev
       linux-libc-dev libinih-dev libsystemd-dev libmicrohttpd-dev scdoc)
# netbase: /etc/services and /etc/protocols, which a minbase lacks (wrk resolves "http"
# with it, iptables-save names protocols with it).
runtime=(iproute2 nftables conntrack netbase)
# libclang-rt-dev: ASan, UBSan and libFuzzer for clang (only recommended by clang, so
# --no-install-recommends leaves them out); `make unit-asan` and `make fuzz` link them.
# firewalld and ufw: the real firewall managers tests/netns/test_preflight_real.sh runs inside a
# namespace (firewalld on its own dbus-daemon; unshare is util-linux's). Installed, never enabled.
# systemd: systemd-analyze checks the daemon's unit (never run as PID 1 here).
# prometheus (and its promtool) and prometheus-node-exporter: the metrics tests scrape the
# daemon with the real ones, started by the test in a namespace, never as services.
# man-db: tests/man/test_man.sh renders every page with `man --warnings` (a minbase has no man).
test=(libcmocka-dev nginx-light curl iptables python3 iputils-ping libclang-rt-dev kmod procps
      firewalld ufw dbus util-linux systemd libcap2-bin prometheus prometheus-node-exporter
      man-db)
# procps: the demo sets sysctls in its namespaces (a minbase has no sysctl).
demo=(nginx-light curl wrk procps)
# xz-utils: trixie's kernel modules are .ko.xz, unpacked into the initramfs.
vm=(qemu-system-x86 busybox-static cpio kmod xz-utils)
# scripts/cross-build.sh arm64: Debian's cross compiler (the arm64 libraries go into a
# sysroot of its own); qemu-system-arm boots Debian's arm64 kernel for its smoke test.
cross=(gcc-aarch64-linux-gnu qemu-system-arm busybox-static cpio kmod xz-utils)
# make bench: load generators, plots, and the seeds' iptables rules to compare with.
bench=(nginx-light curl wrk apache2-utils gnuplot-nox iptables procps util-linux)
# make deb: debhelper builds the package, lintian checks it; make test-install installs it
# into a debootstrapped minbase root; make image builds the OCI image with buildah, and
# make test-install runs it with podman (runc: Debian 12's crun refuses hosts with cgroup
# v1 and v2 mounted side by side) next to nginx, curl and conntrack in namespaces.
deb=(debhelper dpkg-dev lintian)
test_install=(debootstrap util-linux buildah podman runc nginx-light curl python3)

want=("${build[@]}" "${runtime[@]}")
for group in "${@:-build}"; do
	case "$group" in
	build) ;;
	test) want+=("${test[@]}") ;;
	demo) want+=("${demo[@]}") ;;
	vm) want+=("${vm[@]}") ;;
	cross) want+=("${cross[@]}") ;;
	bench) want+=("${bench[@]}") ;;
	deb) want+=("${deb[@]}") ;;
	test-install)
		want+=("${deb[@]}" "${test_install[@]}")
		# tests/kubernetes validates the DaemonSet with npm packages (node >= 18: Debian
		# 12's nodejs and npm); a node installed otherwise, with its own npm, is used as is.
		command -v npm >/dev/null 2>&1 || want+=(nodejs npm)
		;;
	*) echo "install-deps: unknown group '$group' (build, test, demo, vm, cross, bench, deb, test-install)" >&2; exit 2 ;;
	esac
done

missing=()
for pkg in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages (${missing[*]}); run as root to install them" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d keeps nginx from starting a host-wide server on port 80 during install.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
fi
trap '[ $created_policy -eq 1 ] && rm -f "$policy"' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Their packages enable them at boot (the policy only stops the start now); a firewall manager
# this script installed must never come up on the host's own network, nor a Prometheus
# or node_exporter listen there.
for pkg in firewalld ufw prometheus prometheus-node-exporter; do
	[[ " ${missing[*]} " == *" $pkg "* ]] || continue
	DPKG_MAINTSCRIPT_PACKAGE=$pkg deb-systemd-helper disable "$pkg.service" >/dev/null 2>&1 || true
	[ ! -e "/etc/init.d/$pkg" ] || update-rc.d "$pkg" disable >/dev/null 2>&1 || true
done
