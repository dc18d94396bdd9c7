#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Builds lowbit's API reference with Doxygen (docs/Doxyfile: include/lowbit, README.md and docs/)
# into build-docs/html, installing doxygen with apt if it is missing. Fails (exit 1) on any
# Doxygen warning, listing them; the reference has none.
# Usage: scripts/docs.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
LOG_TAG=docs
source scripts/common.sh

if ! command -v doxygen >/dev/null 2>&1; then
  log "installing doxygen"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends doxygen >&2
fi

rm -rf build-docs/html
mkdir -p build-docs
warnings=build-docs/doxygen-warnings.log
rc=0
doxygen docs/Doxyfile > build-docs/doxygen.log 2> "$warnings" || rc=$?
if [ "$rc" -ne 0 ] || [ -s "$warnings" ]; then
  cat "$warnings" >&2
  die "doxygen $(doxygen --version): $(grep -c . "$warnings" || true) warning(s) (exit $rc); see above"
fi
log "doxygen $(doxygen --version): no warnings; build-docs/html/index.html"
