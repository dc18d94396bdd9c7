# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# AArch64 Linux cross build with Debian's g++-aarch64-linux-gnu (scripts/setup_arm.sh), run under
# qemu-user: ctest and catch_discover_tests start every test program through
# CMAKE_CROSSCOMPILING_EMULATOR (the CPU model comes from QEMU_CPU in the environment).
#
#   cmake -S . -B build-arm -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake \
#         -DLOWBIT_NATIVE=OFF -DLOWBIT_BUILD_EXAMPLES=OFF
#
# The target's libraries come from the cross sysroot /usr/aarch64-linux-gnu only. lowbit's
# dependencies are header-only on Debian (xsimd, Catch2 2.13, nlohmann-json): their headers and CMake
# package files are the host's, which is why headers and packages are also looked up outside the
# sysroot. No compiled host library is found, since libraries are searched in the sysroot only.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(_lowbit_triple aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${_lowbit_triple}-gcc)
set(CMAKE_CXX_COMPILER ${_lowbit_triple}-g++)
# The cross sysroot's libraries first: with Debian's arm64 multiarch packages installed (ICU, for
# the model tests), the host's ld.so.cache would otherwise mix their libc with the sysroot's
# libgomp (OpenMP programs then hang under qemu).
set(CMAKE_CROSSCOMPILING_EMULATOR
    qemu-aarch64;-L;/usr/${_lowbit_triple};-E;LD_LIBRARY_PATH=/usr/${_lowbit_triple}/lib:/usr/lib/${_lowbit_triple})

set(CMAKE_FIND_ROOT_PATH /usr/${_lowbit_triple})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# xsimd's package files (header-only) sit in the host's multiarch directory, which find_package for
# the aarch64-linux-gnu library architecture does not search: point at them, and at nothing else.
if(NOT DEFINED xsimd_DIR AND EXISTS /usr/lib/${CMAKE_HOST_SYSTEM_PROCESSOR}-linux-gnu/cmake/xsimd)
  set(xsimd_DIR /usr/lib/${CMAKE_HOST_SYSTEM_PROCESSOR}-linux-gnu/cmake/xsimd)
endif()
# ICU for arm64 from Debian's multiarch package libicu-dev:arm64 (scripts/setup_arm.sh) lies outside
# the cross sysroot above; name its library for FindICU.
if(EXISTS /usr/lib/${_lowbit_triple}/libicuuc.so)
  set(ICU_UC_LIBRARY_RELEASE /usr/lib/${_lowbit_triple}/libicuuc.so CACHE FILEPATH "ICU uc for ${_lowbit_triple}")
endif()
