#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Checks lowbit's packages by building and running a small consumer against each (docs/packaging.md):
#   1. Conan 2: `conan create packaging/conan` with xsimd from the system ([platform_requires] in
#      packaging/conan/profiles/system), offline, then its test_package;
#   2. vcpkg: vcpkg.json against vcpkg's JSON schema, the port's CMake steps in the tree vcpkg lays
#      out (packaging/vcpkg/vcpkg_layout.cmake), then a find_package(lowbit CONFIG) consumer;
#   3. pkg-config: an installed prefix and a consumer built with `pkg-config --cflags --libs lowbit`.
# Conan and jsonschema come from PyPI, once, into ~/.cache/lowbit/venv-conan (or $LOWBIT_CONAN_VENV);
# everything else is offline. Needs scripts/setup.sh's packages (python3-venv, pkg-config, cmake,
# ninja-build, libxsimd-dev).
# Works on a copy of the sources in build-pkg/ (the checkout is left as it is); safe to rerun.
# Usage: scripts/package_test.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"
work="$root/build-pkg"
venv="${LOWBIT_CONAN_VENV:-$HOME/.cache/lowbit/venv-conan}"
conan_version=2.34.0
jsonschema_version=4.26.0

log() { echo "package_test: $*" >&2; }
die() { log "FAILED: $*"; exit 1; }
# Runs a step with its output in build-pkg/<name>.log; prints the log's tail, all of it on failure.
step() {
  local name="$1"; shift
  log "$name: $*"
  if "$@" >"$work/$name.log" 2>&1; then
    tail -n 3 "$work/$name.log" | sed "s/^/  $name | /"
  else
    tail -n 60 "$work/$name.log" | sed "s/^/  $name | /" >&2
    die "$name (full log: $work/$name.log)"
  fi
}

[ -f LICENSE ] || die "no LICENSE at the repository root: the Conan and vcpkg packages ship it"
generator="Unix Makefiles"
command -v ninja >/dev/null && generator=Ninja

if ! "$venv/bin/conan" --version 2>/dev/null | grep -q "$conan_version" \
    || ! "$venv/bin/python" -c "import jsonschema, referencing" 2>/dev/null; then
  log "installing conan $conan_version and jsonschema $jsonschema_version into $venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "conan==$conan_version" "jsonschema==$jsonschema_version" >&2
fi

mkdir -p "$work"
rm -rf "$work/src"
mkdir -p "$work/src"
cp -r CMakeLists.txt LICENSE cmake include packaging "$work/src/"
src="$work/src"

# 1. Conan, in a private CONAN_HOME with no remote used.
export CONAN_HOME="$work/conan-home"
step conan-profile "$venv/bin/conan" profile detect --force
step conan-create "$venv/bin/conan" create "$src/packaging/conan" \
  --profile:all "$src/packaging/conan/profiles/system" --no-remote
grep -q "Q8_0 gemm y(0, 0) = .*ok" "$work/conan-create.log" || die "conan test_package printed no result"

# 2. vcpkg overlay port.
step vcpkg-manifest "$venv/bin/python" "$src/packaging/vcpkg/validate_manifest.py" \
  "$src/packaging/vcpkg/ports/lowbit/vcpkg.json"
step vcpkg-port cmake -DPORT_DIR="$src/packaging/vcpkg/ports/lowbit" -DVCPKG_ROOT="$work/vcpkg" \
  -DGENERATOR="$generator" -P "$src/packaging/vcpkg/vcpkg_layout.cmake"
rm -rf "$work/vcpkg-consumer"
step vcpkg-consumer-configure cmake -S "$src/packaging/vcpkg/test_port" -B "$work/vcpkg-consumer" \
  -G "$generator" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$work/vcpkg/packages/lowbit_x64-linux"
grep -q "from $work/vcpkg/packages/lowbit_x64-linux/share/lowbit" "$work/vcpkg-consumer-configure.log" \
  || die "the vcpkg consumer did not find lowbit in the port's tree"
step vcpkg-consumer-build cmake --build "$work/vcpkg-consumer"
step vcpkg-consumer-run "$work/vcpkg-consumer/main"

# 3. pkg-config (the same check as ctest's package/pkg_config).
step pkg-config cmake -DLOWBIT_SOURCE_DIR="$src" -DMODE=pkg_config -DWORK_DIR="$work/pkg-config" \
  -DGENERATOR="$generator" -DCXX="${CXX:-c++}" -DPKG_CONFIG=pkg-config \
  -P "$root/tests/package/run_consumer.cmake"

log "all passed (conan create, vcpkg port layout + consumer, pkg-config consumer)"
