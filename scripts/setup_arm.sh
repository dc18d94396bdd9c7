#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Installs what lowbit's AArch64 cross build (scripts/test_arm.sh) needs on a Debian bookworm x86-64
# host (idempotent): Debian's cross compiler and C library for arm64, qemu-user to run the test
# programs, and the host's header-only test dependencies (Catch2 2.13, nlohmann-json, xsimd), which
# the toolchain file (cmake/toolchains/aarch64-linux-gnu.cmake) lets the cross build use as they are.
# No multiarch: ICU, the one compiled library lowbit's programs link (the LLM example's tokenizer),
# is not installed for arm64; the Arm build leaves the examples out.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# libgomp for arm64 (OpenMP) comes with g++-aarch64-linux-gnu (libgcc-12-dev-arm64-cross).
packages=(g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user cmake ninja-build
          libxsimd-dev catch2 nlohmann-json3-dev)

# ICU for arm64 (the LLM example's tokenizer, linked by the model tests) comes from Debian's arm64
# archive: multiarch, beside the host's packages.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup_arm: enabling the arm64 architecture for libicu-dev:arm64" >&2
  $sudo dpkg --add-architecture arm64
fi
packages+=(libicu-dev:arm64)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup_arm: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
