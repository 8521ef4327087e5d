#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The OCI image of `ctbypass daemon`, from Debian packages only: no image registry is
# asked for anything. buildah starts from scratch, debootstrap puts a bookworm minbase
# root into it, apt installs the package `make deb` built (its libraries from the
# mirror) and iptables (the package's Recommends: without iptables-*-save the preflight
# cannot read legacy iptables tables and refuses), then docs, man pages, locales and
# apt's lists go. The image is committed as localhost/ctbypass:VERSION and written as
# an OCI archive (load it with `podman load -i`, `ctr -n k8s.io images import`, or push
# it with `skopeo copy oci-archive:FILE docker://REGISTRY/ctbypass:VERSION`). buildah's
# store is a temporary one (scripts/container-env.sh), removed at the end: the archive
# is the only output. Needs root and the Debian mirror (CTB_DEBIAN_MIRROR).
# Usage: scripts/build-image.sh [DEB [ARCHIVE]]
#   (default: build/ctbypass_VERSION_amd64.deb -> build/ctbypass_VERSION_image.oci.tar)
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=$(cat VERSION)
DEB=$(readlink -f "${1:-build/ctbypass_${VERSION}_amd64.deb}")
OUT=$(readlink -f "${2:-build/ctbypass_${VERSION}_image.oci.tar}")
MIRROR=${CTB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
IMAGE=localhost/ctbypass:$VERSION

die() { echo "build-image: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (buildah's store, debootstrap, chroot)"
for c in buildah debootstrap chroot dpkg-deb; do
	command -v $c >/dev/null 2>&1 || die "$c is not installed (scripts/install-deps.sh test-install)"
done
[ -f "$DEB" ] || die "no package $DEB (make deb builds it)"
deb_version=$(dpkg-deb -f "$DEB" Version)
[ "$deb_version" = "$VERSION" ] || die "$DEB is version $deb_version, VERSION says $VERSION"

WORK=$(mktemp -d /var/tmp/ctbypass-image.XXXXXX)
# shellcheck source=SCRIPTDIR/container-env.sh
source scripts/container-env.sh
ctb_containers_env "$WORK/containers"
ctr=
mnt=
cleanup() {
	local rc=$?
	set +e
	if [ -n "$mnt" ]; then
		umount -l "$mnt/proc" "$mnt/dev" 2>/dev/null || true
	fi
	[ -z "$ctr" ] || buildah rm "$ctr" >/dev/null 2>&1 || true
	buildah rmi --all >/dev/null 2>&1 || true
	ctb_containers_unmount "$WORK"
	rm -rf "$WORK"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

start=$SECONDS
ctr=$(buildah from --name "ctbypass-image-$$" scratch)
mnt=$(buildah mount "$ctr")

# Never installed, so never in the image (dpkg reads this before the package's files);
# the copyright files stay, as the licences of what the image carries.
mkdir -p "$mnt/etc/dpkg/dpkg.cfg.d"
cat >"$mnt/etc/dpkg/dpkg.cfg.d/ctbypass-image" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/bash-completion/*
path-exclude /usr/share/lintian/*
EOF
echo "build-image: debootstrap bookworm minbase from $MIRROR"
debootstrap --variant=minbase bookworm "$mnt" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
	{ tail -n 5 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }

mount -t proc proc "$mnt/proc"
mount --bind /dev "$mnt/dev"
cp /etc/resolv.conf "$mnt/etc/resolv.conf"
cp "$DEB" "$mnt/tmp/ctbypass.deb"
# No service starts inside the build (there is no init to start it anyway).
printf '#!/bin/sh\nexit 101\n' >"$mnt/usr/sbin/policy-rc.d"
chmod +x "$mnt/usr/sbin/policy-rc.d"
echo "build-image: apt installs $(basename "$DEB") and iptables"
chroot "$mnt" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
	/bin/sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends \
		/tmp/ctbypass.deb iptables && apt-get clean' >"$WORK/apt.log" 2>&1 ||
	{ tail -n 10 "$WORK/apt.log" >&2; die "apt-get install failed"; }
chroot "$mnt" /usr/sbin/ctbypass --version >/dev/null || die "the installed ctbypass does not run"
umount "$mnt/proc" "$mnt/dev"

# What debootstrap itself put there before the exclusions applied, and what no container
# needs: apt's lists and caches, logs, the build's resolv.conf and policy (the runtime
# mounts its own /etc/resolv.conf).
find "$mnt/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
find "$mnt/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$mnt"/usr/share/man/* "$mnt"/usr/share/info/* "$mnt"/usr/share/locale/* \
	"$mnt"/var/lib/apt/lists/* "$mnt"/var/cache/apt/* "$mnt"/var/cache/debconf/*-old \
	"$mnt"/var/lib/dpkg/*-old "$mnt"/var/log/*.log "$mnt"/var/log/apt/* \
	"$mnt"/tmp/* "$mnt/usr/sbin/policy-rc.d" "$mnt/etc/resolv.conf"
: >"$mnt/etc/resolv.conf"
# /run/ctbypass is the runtime's mount point for the host's (the lock and the daemon's
# claim that the host's ctbypass reads); the image's own stays empty.
mkdir -p "$mnt/run/ctbypass"
rootfs_mb=$(du -sm "$mnt" | cut -f1)
buildah umount "$ctr" >/dev/null
mnt=

buildah config \
	--entrypoint '["/usr/sbin/ctbypass", "daemon"]' --cmd '[]' \
	--env PATH=/usr/sbin:/usr/bin:/sbin:/bin --workingdir / --stop-signal SIGTERM \
	--os linux --arch amd64 \
	--label org.opencontainers.image.title=ctbypass \
	--label org.opencontainers.image.description="ctbypass daemon: skip connection tracking for busy ports; run with the host network" \
	--label org.opencontainers.image.version="$VERSION" \
	--label org.opencontainers.image.licenses=GPL-2.0-only \
	--label org.opencontainers.image.base.name="debian bookworm minbase (debootstrap)" \
	"$ctr"
buildah commit --quiet --format oci --rm "$ctr" "$IMAGE" >/dev/null
ctr=
mkdir -p "$(dirname "$OUT")"
rm -f "$OUT"
buildah push --quiet "$IMAGE" "oci-archive:$OUT:$IMAGE"
echo "build-image: $IMAGE in $OUT: $rootfs_mb MB unpacked, $(du -m "$OUT" | cut -f1) MB archive" \
	"(gzip layer), $((SECONDS - start)) s"
