#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make test-install`'s runner: the package in a minbase root, the image under podman, the
# Kubernetes manifest; each prints its checks, then one closing line sums them (a test
# that exits non-zero without a failed check still counts as one failure).
# Usage: tests/install/run.sh DEB ARCHIVE
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

passed=0
failed=0
run() {
	local name=$1 log rc line p f start=$SECONDS
	shift
	log=$(mktemp)
	echo "=== $name"
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
	p=${line%% passed*}
	f=${line#*passed, }
	f=${f%% failed*}
	[ -n "$line" ] || { p=0; f=0; }
	[ "$rc" -eq 0 ] || [ "$f" -gt 0 ] || f=1
	passed=$((passed + p))
	failed=$((failed + f))
	echo "=== $name: $((SECONDS - start)) s"
	rm -f "$log"
}
run "package (tests/install/test_deb.sh)" tests/install/test_deb.sh "${1:-}"
run "image (tests/install/test_image.sh)" tests/install/test_image.sh "${2:-}"
run "kubernetes (tests/kubernetes/test_manifest.sh)" tests/kubernetes/test_manifest.sh
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
