#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Installs what lowbit's AArch64 cross build (scripts/test_arm.sh) needs on a Debian bookworm x86-64
# host (idempotent): Debian's cross compiler and C library for arm64, qemu-user to run the test
# programs, and the host's header-only test dependencies (Catch2 2.13, nlohmann-json, xsimd), which
# the toolchain file (cmake/toolchains/aarch64-linux-gnu.cmake) lets the cross build use as they are.
# ICU, the one compiled library lowbit's programs link (the LLM example's tokenizer), comes for
# arm64 from Debian's arm64 archive (multiarch, beside the host's packages).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
LOG_TAG=setup_arm
# shellcheck source=scripts/common.sh
source scripts/common.sh

# libgomp for arm64 (OpenMP) comes with g++-aarch64-linux-gnu (libgcc-12-dev-arm64-cross).
packages=(g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user cmake ninja-build
          libxsimd-dev catch2 nlohmann-json3-dev)

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  log "enabling the arm64 architecture for libicu-dev:arm64"
  as_root dpkg --add-architecture arm64
fi
packages+=(libicu-dev:arm64)

mapfile -t missing < <(apt_missing "${packages[@]}")
apt_install ${missing[@]+"${missing[@]}"}
