#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The OCI image (scripts/build-image.sh) under podman, run the way
# contrib/kubernetes/ctbypass-daemonset.yaml runs it: the network namespace given
# (here a test namespace, --network ns:, so the host's own networking is untouched; on a
# node, hostNetwork), only NET_ADMIN, SYS_ADMIN and NET_RAW, no new privileges, podman's
# default seccomp profile, a read-only root with no tmpfs, the host's /run/ctbypass
# bound in and the configuration as a mounted directory (a ConfigMap's shape). Checks:
# - the archive loads as localhost/ctbypass:VERSION with `ctbypass daemon` as entrypoint;
# - the daemon in the container attaches: the namespace's table holds port 80, and the
#   host's ctbypass (-n NS status) agrees; the host's CLI refuses changes there, naming
#   the daemon by its pid on the host (the claim in the shared /run/ctbypass);
# - requests to port 80 make no conntrack entry, requests to 8081 do;
# - /metrics answers in the namespace, with the port's bypassed packets;
# - the daemon in the container repairs a deleted table and applies a reloaded
#   configuration (a new file renamed in, as the kubelet updates a ConfigMap; SIGHUP);
# - `podman stop` with detach-on-stop = no leaves the bypass, and a new container adopts
#   it (a rolling update); `podman stop` with detach-on-stop = yes (the DaemonSet's
#   setting) removes all of it;
# - removing the containers and the image leaves no container, image or mount.
# podman's store and settings are the test's own (scripts/container-env.sh), removed at
# the end. Needs root, podman, runc; run by `make test-install`, not by `make test`.
# Usage: tests/install/test_image.sh ARCHIVE   (make image builds it)

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/netns.sh
# shellcheck source=SCRIPTDIR/../lib/netns.sh
source "$LIB"
cd "$CTBT_ROOT" || exit 1
# shellcheck source=SCRIPTDIR/../../scripts/container-env.sh
source scripts/container-env.sh

ARCHIVE=$(readlink -f "${1:-}")
VERSION=$(cat VERSION)
IMAGE=localhost/ctbypass:$VERSION
STORE=/var/tmp/ctbt-$$-podman
CONF_DIR=$_CTBT_TMP/config
NAME=ctbt-$$-daemon
METRICS=http://127.0.0.1:10127/metrics

require_root
need_cmd podman runc nft tc conntrack curl nginx python3 findmnt "$CTBYPASS"
[ -f "$ARCHIVE" ] || { fail "no image archive given (make image builds one)"; finish; }

teardown_store() {
	podman rm -f -t 0 -a >/dev/null 2>&1
	podman rmi -f -a >/dev/null 2>&1
	ctb_containers_unmount "$STORE"
	rm -rf "$STORE"
}
lab_on_down teardown_store
ctb_containers_env "$STORE" || { fail "podman settings in $STORE"; finish; }

# ---- the image ----
start=$SECONDS
check "podman loads the archive" podman load -q -i "$ARCHIVE"
echo "  loaded in $((SECONDS - start)) s"
check_eq "it is $IMAGE" "$IMAGE" "$(podman images --format '{{.Repository}}:{{.Tag}}')"
check_eq "its entrypoint is ctbypass daemon" '[/usr/sbin/ctbypass daemon]' \
	"$(podman image inspect --format '{{.Config.Entrypoint}}' "$IMAGE" 2>&1)"
check_eq "its version label is VERSION" "$VERSION" \
	"$(podman image inspect --format '{{index .Labels "org.opencontainers.image.version"}}' "$IMAGE")"
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "  image size: $((size / 1000000)) MB unpacked, $(du -m "$ARCHIVE" | cut -f1) MB archive"
check_eq "the binary in it is VERSION" "ctbypass $VERSION" \
	"$(podman run --rm --entrypoint /usr/sbin/ctbypass "$IMAGE" --version 2>&1)"
check "iptables-*-save are in it (the preflight reads iptables with them)" \
	podman run --rm --entrypoint /bin/sh "$IMAGE" -c \
	'command -v iptables-nft-save && command -v iptables-legacy-save'

# ---- the daemon in the container, for a test namespace ----
lab_up
SRV_INO=$(stat -L -c %i "/run/netns/$SRV_NS")
# The claim, lock and intent files of a namespace that is about to go.
lab_on_down sh -c "rm -f /run/ctbypass/netns-$SRV_INO.*"
start_nginx "$SRV_NS" 80 8081 || { fail "nginx on 80 and 8081"; finish; }

# write_conf LINES: a new file renamed over the old, as the kubelet swaps a ConfigMap's.
write_conf() {
	mkdir -p "$CONF_DIR"
	printf '%s\n' "$@" >"$CONF_DIR/.new" && mv "$CONF_DIR/.new" "$CONF_DIR/ctbypass.conf"
}

# run_daemon NAME: the container as the DaemonSet runs it (but for the namespace).
run_daemon() {
	mkdir -p /run/ctbypass
	podman run -d --name "$1" --network "ns:/run/netns/$SRV_NS" \
		--cap-drop all --cap-add NET_ADMIN,SYS_ADMIN,NET_RAW \
		--security-opt no-new-privileges --read-only --read-only-tmpfs=false \
		-v /run/ctbypass:/run/ctbypass -v "$CONF_DIR:/etc/ctbypass:ro" "$IMAGE"
}

has_table() { in_ns "$SRV_NS" nft list table inet ctbypass; }
no_table() { ! has_table; }
port_in_set() { in_ns "$SRV_NS" nft list set inet ctbypass server_ports | grep -q "tcp \. $1 "; }
logged() { podman logs "$1" 2>&1 | grep -q "$2"; }

write_conf "ports = 80" "detach-on-stop = no" "metrics-interval = 0.5" "verify-interval = 1"
check "podman runs the image with three capabilities and a read-only root" run_daemon "$NAME"
if ! wait_until 20 logged "$NAME" '^<6>running'; then
	fail "the daemon in the container says running" "$(podman logs "$NAME" 2>&1 | tail -n 5)"
	finish
fi
pass "the daemon in the container says running"
seccomp=$(podman exec "$NAME" sh -c 'sed -n "s/^Seccomp:[[:space:]]*//p" /proc/1/status' 2>&1)
check_eq "under a seccomp filter (podman's default profile)" 2 "$seccomp"
caps=$(podman exec "$NAME" sh -c 'sed -n "s/^CapEff:[[:space:]]*//p" /proc/1/status' 2>&1)
# NET_ADMIN (12), NET_RAW (13), SYS_ADMIN (21): 1 << 12 | 1 << 13 | 1 << 21.
check_eq "with exactly three capabilities" 0000000000203000 "$caps"
check "the namespace's table holds port 80" wait_until 5 port_in_set 80

status_agrees() {
	"$CTBYPASS" -n "$SRV_NS" status --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
sys.exit(0 if s["attached"] and s["healthy"] and s["ports"] == [80] else 1)'
}
check "the host's ctbypass -n NS status agrees: attached, healthy, port 80" status_agrees
# Named by its pid as the host sees it, not the container's 1: the refusal says to
# `kill -HUP` it.
host_pid=$(podman inspect --format '{{.State.Pid}}' "$NAME")
refused() {
	"$CTBYPASS" -n "$SRV_NS" ports add 81 2>&1 | grep -q "a ctbypass daemon (pid $host_pid) manages"
}
check "the host's ctbypass refuses to change it, naming the daemon's host pid ($host_pid)" refused
check_not "and changed nothing" port_in_set 81

in_ns "$SRV_NS" conntrack -F >/dev/null 2>&1
check "a request to port 80" curl_ok "$CLI_NS" "http://$SRV_IP4:80/"
check "a request to port 8081" curl_ok "$CLI_NS" "http://$SRV_IP4:8081/"
check_eq "port 80: no conntrack entry" 0 "$(ct_entries "$SRV_NS" -p tcp --dport 80)"
check_ge "port 8081: tracked" 1 "$(ct_entries "$SRV_NS" -p tcp --dport 8081)"

metric() { in_ns "$SRV_NS" curl -fsS --max-time 2 "$METRICS" | awk -v m="$1" '$1 == m { print $2 }'; }
check_eq "metrics answer: ctbypass_attached" 1 "$(metric ctbypass_attached)"
check_eq "metrics: ctbypass_healthy" 1 "$(metric ctbypass_healthy)"
check_eq "metrics: ctbypass_build_info names VERSION" 1 \
	"$(metric "ctbypass_build_info{version=\"$VERSION\"}")"
bypassed() { [ "$(metric 'ctbypass_bypassed_packets_total{protocol="tcp",port="80"}')" -gt 0 ]; }
check "metrics: port 80's bypassed packets" wait_until 3 bypassed

in_ns "$SRV_NS" nft delete table inet ctbypass
check "a deleted table is repaired from inside the container" wait_until 5 port_in_set 80
write_conf "ports = 80,8081" "detach-on-stop = no" "metrics-interval = 0.5" "verify-interval = 1"
podman kill --signal HUP "$NAME" >/dev/null
check "SIGHUP applies the renamed-in configuration" wait_until 5 port_in_set 8081

# ---- stopping ----
check "podman stop (detach-on-stop = no)" podman stop -t 20 "$NAME"
check_eq "it exits 0" 0 "$(podman inspect --format '{{.State.ExitCode}}' "$NAME")"
check "the bypass stays, as after systemctl stop" port_in_set 8081
check "the host's status: attached and healthy" "$CTBYPASS" -n "$SRV_NS" status
check "podman rm" podman rm "$NAME"

# A rolling update: the next pod's daemon adopts what the last one left, then is deleted.
write_conf "ports = 80,8081" "detach-on-stop = yes" "metrics-interval = 0.5" "verify-interval = 1"
check "a new container (detach-on-stop = yes)" run_daemon "$NAME-2"
check "it adopts the bypass and runs" wait_until 20 logged "$NAME-2" '^<6>running'
check "a request to port 80 meanwhile" curl_ok "$CLI_NS" "http://$SRV_IP4:80/"
check_eq "still no conntrack entry for port 80" 0 "$(ct_entries "$SRV_NS" -p tcp --dport 80)"
check "podman stop (detach-on-stop = yes)" podman stop -t 20 "$NAME-2"
check_eq "it exits 0" 0 "$(podman inspect --format '{{.State.ExitCode}}' "$NAME-2")"
check "the stop removed the table" no_table
no_classifier() { ! tc -n "$SRV_NS" filter show dev "$SRV_DEV" ingress | grep -q ctb_; }
check "and the classifier" no_classifier
check "podman rm" podman rm "$NAME-2"

# ---- nothing left ----
check "podman rmi" podman rmi "$IMAGE"
check_eq "no container is left" "" "$(podman ps -a -q)"
check_eq "no image is left" "" "$(podman images -q)"
ctb_containers_unmount "$STORE"
check_eq "no mount is left in the store" "" "$(awk -v d="$STORE/" 'index($2, d) == 1' /proc/self/mounts)"
finish
