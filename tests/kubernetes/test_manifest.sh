#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# contrib/kubernetes/ctbypass-daemonset.yaml, offline:
# - it validates against the Kubernetes API schema (validate.mjs: kubernetes-models'
#   bundled schema, then TypeScript's excess-property check for unknown fields), with no
#   network at all (the validator runs in a network namespace of its own when it can);
# - the validator is not a rubber stamp: a misspelled field, a wrong type, a missing
#   required field and an unknown kind are each rejected;
# - the manifest agrees with the rest of the tree: its capabilities are the systemd
#   unit's bounding set, its image tag is VERSION, its probes ask where the ConfigMap's
#   metrics address answers, its only host path is ctbypass's runtime directory, and the
#   ConfigMap is a configuration `ctbypass daemon --check-config` accepts, with
#   detach-on-stop = yes as the header documents.
# The validator's packages are pinned in package-lock.json and installed with `npm ci`
# into build/kubernetes-test/ (the npm registry, once). Needs node >= 18 and npm (Debian
# 12's nodejs and npm will do: scripts/install-deps.sh test-install). Run by
# `make test-install`.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

MANIFEST=contrib/kubernetes/ctbypass-daemonset.yaml
UNIT=contrib/systemd/ctbypass.service
CTBYPASS=${CTBYPASS:-build/ctbypass}
WORK=build/kubernetes-test
VERSION=$(cat VERSION)
TMP=$(mktemp -d)
# shellcheck source=SCRIPTDIR/../lib/results.sh
source tests/lib/results.sh
finish() {
	rm -rf "$TMP"
	results
	exit
}
trap finish EXIT
trap 'exit 130' INT TERM HUP

for c in node npm; do
	command -v $c >/dev/null 2>&1 || { fail "$c is not installed (scripts/install-deps.sh test-install)"; exit; }
done
[ -x "$CTBYPASS" ] || { fail "no $CTBYPASS (make)"; exit; }
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 18 ] || { fail "node $(node --version) is older than 18"; exit; }

# The pinned packages, installed again only when the lock file changed.
mkdir -p "$WORK"
if ! cmp -s tests/kubernetes/package-lock.json "$WORK/package-lock.json" ||
	[ ! -d "$WORK/node_modules/kubernetes-models" ]; then
	cp tests/kubernetes/package.json tests/kubernetes/package-lock.json "$WORK/"
	rm -rf "$WORK/node_modules"
	if ! (cd "$WORK" && npm ci --ignore-scripts --no-audit --no-fund) >"$TMP/npm.log" 2>&1; then
		fail "npm ci (tests/kubernetes/package-lock.json)" "$(tail -n 3 "$TMP/npm.log")"
		rm -f "$WORK/package-lock.json"
		exit
	fi
fi
cp tests/kubernetes/validate.mjs "$WORK/"
pass "the validator's pinned packages: kubernetes-models $(node -p "require('./$WORK/node_modules/kubernetes-models/package.json').version"), typescript $(node -p "require('./$WORK/node_modules/typescript/package.json').version") (node $(node --version))"

# No network: a namespace of its own (root), or of a user namespace of its own.
offline=()
if unshare -n true 2>/dev/null; then
	offline=(unshare -n)
elif unshare -rn true 2>/dev/null; then
	offline=(unshare -rn)
else
	fail "cannot run the validator without network (unshare -n, unshare -rn)"
	exit
fi
validate() { "${offline[@]}" node "$WORK/validate.mjs" "$@"; }

start=$SECONDS
if validate "$MANIFEST" >"$TMP/out" 2>&1; then
	pass "the manifest validates, offline ($(grep -c ': ok ' "$TMP/out") documents: $(sed -n 's/^.*: ok //p' "$TMP/out" | paste -sd, -); $((SECONDS - start)) s)"
else
	fail "the manifest validates, offline" "$(head -n 5 "$TMP/out")"
fi

# mutant NAME SED-EXPRESSION WANT: the manifest changed by the expression must be
# rejected with an error containing WANT (so the right check caught it). All are
# validated in one run (loading the types is most of a run's time), then judged.
mutants=()
mutant() {
	local file=$TMP/mutant-${#mutants[@]}.yaml
	sed -E "$2" "$MANIFEST" >"$file"
	mutants+=("$file"$'\t'"$1"$'\t'"$3")
}
mutant "a misspelled field (hostNetwrok)" 's/^( *)hostNetwork:/\1hostNetwrok:/' \
	"'\"hostNetwrok\"' does not exist in type 'IPodSpec'"
mutant "a field in the wrong case (readOnlyRootFileSystem)" \
	's/readOnlyRootFilesystem:/readOnlyRootFileSystem:/' \
	"'\"readOnlyRootFileSystem\"' does not exist in type 'ISecurityContext'"
mutant "a field of another object (a probe's host: as hosts:)" '0,/ host: 127/s// hosts: 127/' \
	"'\"hosts\"' does not exist in type 'IHTTPGetAction'"
mutant "a boolean as a string (hostNetwork: \"yes\")" 's/hostNetwork: true/hostNetwork: "yes"/' \
	"hostNetwork must be boolean"
mutant "a port as a string (containerPort: \"10127\")" 's/containerPort: ([0-9]+)/containerPort: "\1"/' \
	"containerPort must be integer"
mutant "a missing required field (containers)" 's/^( *)containers:/\1container:/' \
	"must have required property containers"
mutant "an unknown kind (DaemonSett)" 's/^kind: DaemonSet/kind: DaemonSett/' "no schema for apps/v1 DaemonSett"
files=()
for m in "${mutants[@]}"; do files+=("${m%%$'\t'*}"); done
start=$SECONDS
validate "${files[@]}" >"$TMP/out" 2>&1
rc=$?
echo "  ${#files[@]} mutants validated in $((SECONDS - start)) s"
[ $rc -ne 0 ] || fail "the validator exits non-zero for the mutants"
for m in "${mutants[@]}"; do
	IFS=$'\t' read -r file name want <<<"$m"
	if cmp -s "$MANIFEST" "$file"; then
		fail "rejected: $name" "the expression changed nothing"
	elif grep -q "^$file: ok " "$TMP/out" || ! grep -q "^$file: error: " "$TMP/out"; then
		fail "rejected: $name" "the validator accepted it"
	elif ! grep "^$file: error: " "$TMP/out" | grep -qF -- "$want"; then
		fail "rejected: $name" "not for the expected reason: $(grep "^$file: " "$TMP/out" | head -n 2)"
	else
		pass "rejected: $name"
	fi
done

# ---- agreement with the rest of the tree ----
if ! validate --facts "$MANIFEST" >"$TMP/facts" 2>&1; then
	fail "the manifest's facts" "$(head -n 3 "$TMP/facts")"
	exit
fi
fact() { sed -n "s/^$1=//p" "$TMP/facts"; }

unit_caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT" | tr ' ' '\n' | sed 's/^CAP_//' | sort | paste -sd' ' -)
check_eq "capabilities added = the unit's CapabilityBoundingSet ($unit_caps)" "$unit_caps" "$(fact caps_add)"
check_eq "every other capability dropped" ALL "$(fact caps_drop)"
check_eq "not privileged" false "$(fact privileged)"
check_eq "no privilege escalation (the unit's NoNewPrivileges)" false "$(fact allow_privilege_escalation)"
check_eq "a read-only root (the unit's ProtectSystem=strict)" true "$(fact read_only_root)"
check_eq "the host's network namespace" true "$(fact host_network)"
check_eq "not the host's PID namespace" false "$(fact host_pid)"
check_eq "one container" 1 "$(fact containers)"
check_eq "the image tag is VERSION" "localhost/ctbypass:$VERSION" "$(fact image)"
others=$(grep -oE '[0-9]+\.[0-9]+\.[0-9]+(\.[0-9]+)?' "$MANIFEST" | grep -vE '\..*\..*\.' | sort -u | paste -sd' ' -)
check_eq "every release named in it is VERSION" "$VERSION" "$others"
runtime_dir=$(sed -n 's/^#define CTB_RUNTIME_DIR "\(.*\)"$/\1/p' src/bypass/runtime_dir.h)
check_eq "the only host path is ctbypass's runtime directory ($runtime_dir), at the same path" \
	"$runtime_dir:$runtime_dir" "$(fact host_paths)"
check_eq "the unit's RuntimeDirectory is that directory too" "/run/$(sed -n 's/^RuntimeDirectory=//p' "$UNIT")" \
	"$runtime_dir"
check_eq "its namespace is privileged for Pod Security" privileged "$(fact pod_security)"
check_eq "everything is in the namespace it creates" "$(fact namespace_created)" "$(fact namespaces)"
check_eq "no surge: a second daemon on a node would refuse to start" 0 "$(fact max_surge)"

validate --data "$MANIFEST" ctbypass-config ctbypass.conf >"$TMP/ctbypass.conf" 2>"$TMP/err"
if "$CTBYPASS" daemon --check-config --config "$TMP/ctbypass.conf" >"$TMP/effective" 2>"$TMP/err"; then
	pass "the ConfigMap's ctbypass.conf passes ctbypass daemon --check-config"
else
	fail "the ConfigMap's ctbypass.conf passes ctbypass daemon --check-config" "$(head -n 2 "$TMP/err")"
fi
setting() { sed -n "s/^$1 = //p" "$TMP/effective"; }
check_eq "it bypasses nothing as shipped" "" "$(setting ports)$(setting upstream)"
check_eq "detach-on-stop = yes, as the header documents" yes "$(setting detach-on-stop)"
metrics=$(setting metrics-address)
port=${metrics##*:}
host=${metrics%:*}
case "$host" in
127.0.0.1 | 0.0.0.0 | "[::]") pass "the metrics address ($metrics) answers on 127.0.0.1" ;;
*) fail "the metrics address ($metrics) answers on 127.0.0.1" ;;
esac
check_eq "the readiness probe asks 127.0.0.1:$port/metrics" "127.0.0.1:$port/metrics" "$(fact readiness)"
check_eq "the liveness probe asks 127.0.0.1:$port/metrics" "127.0.0.1:$port/metrics" "$(fact liveness)"
check_eq "the container port is the metrics port" "$port" "$(fact container_ports)"
