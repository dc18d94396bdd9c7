# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Runs a vcpkg port's portfile.cmake the way vcpkg does (in CMake script mode, with vcpkg's
# variables), with minimal stand-ins for the helper functions it calls, then checks the installed
# layout. The vcpkg tool itself cannot be fetched here (no network for its bootstrap), so this is
# the next best check of the port's CMake steps.
#
#   cmake -DPORT_DIR=<dir with vcpkg.json + portfile.cmake> -DVCPKG_ROOT=<scratch dir>
#         [-DFEATURES=openmp] [-DGENERATOR=Ninja] -P vcpkg_layout.cmake
#
# Lays out <VCPKG_ROOT>/buildtrees/<port>/x64-linux-rel and <VCPKG_ROOT>/packages/<port>_x64-linux
# (the tree `vcpkg install` copies into installed/x64-linux). The stand-ins follow vcpkg's
# documentation (learn.microsoft.com/vcpkg/maintainers/functions/...) and vcpkg's sources
# (ports/vcpkg-cmake, ports/vcpkg-cmake-config, scripts/cmake) for what a release-only,
# header-only port uses; no xsimd port is built: the system's xsimd stands in for it.
cmake_minimum_required(VERSION 3.21)
if(NOT PORT_DIR OR NOT VCPKG_ROOT)
  message(FATAL_ERROR "usage: cmake -DPORT_DIR=... -DVCPKG_ROOT=... -P vcpkg_layout.cmake")
endif()
if(NOT DEFINED FEATURES)
  set(FEATURES openmp)
endif()

file(READ "${PORT_DIR}/vcpkg.json" manifest)
string(JSON PORT GET "${manifest}" name)
string(JSON VERSION GET "${manifest}" version)

# What vcpkg defines before it includes a portfile (x64-linux triplet).
set(TARGET_TRIPLET x64-linux)
set(VCPKG_TARGET_ARCHITECTURE x64)
set(VCPKG_CMAKE_SYSTEM_NAME Linux)
set(VCPKG_TARGET_IS_LINUX ON)
set(VCPKG_CRT_LINKAGE dynamic)
set(VCPKG_LIBRARY_LINKAGE static)
set(VCPKG_TARGET_EXECUTABLE_SUFFIX "")
set(CURRENT_PORT_DIR "${PORT_DIR}")
set(CURRENT_BUILDTREES_DIR "${VCPKG_ROOT}/buildtrees/${PORT}")
set(CURRENT_PACKAGES_DIR "${VCPKG_ROOT}/packages/${PORT}_${TARGET_TRIPLET}")
set(CURRENT_INSTALLED_DIR "${VCPKG_ROOT}/installed/${TARGET_TRIPLET}")
set(CURRENT_HOST_INSTALLED_DIR "${CURRENT_INSTALLED_DIR}")
set(DOWNLOADS "${VCPKG_ROOT}/downloads")
list(PREPEND FEATURES core)
if(NOT GENERATOR)
  set(GENERATOR Ninja)
endif()

function(z_run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()

# vcpkg_check_features(OUT_FEATURE_OPTIONS <var> FEATURES <feature> <OPTION>...): -D<OPTION>=ON
# when <feature> is among the requested FEATURES, else OFF.
function(vcpkg_check_features)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "OUT_FEATURE_OPTIONS" "FEATURES;INVERTED_FEATURES")
  set(options)
  list(LENGTH arg_FEATURES n)
  math(EXPR last "${n} - 1")
  foreach(i RANGE 0 ${last} 2)
    math(EXPR j "${i} + 1")
    list(GET arg_FEATURES ${i} feature)
    list(GET arg_FEATURES ${j} option)
    if(feature IN_LIST FEATURES)
      list(APPEND options "-D${option}=ON")
    else()
      list(APPEND options "-D${option}=OFF")
    endif()
  endforeach()
  set(${arg_OUT_FEATURE_OPTIONS} "${options}" PARENT_SCOPE)
endfunction()

# vcpkg_cmake_configure(SOURCE_PATH <dir> [OPTIONS ...] [OPTIONS_RELEASE ...]): configures into
# buildtrees/<port>/<triplet>-rel with the install prefix set to the package directory and the
# defaults vcpkg passes (no package registry, FetchContent disconnected, lib/bin directories).
# Only VCPKG_BUILD_TYPE release is supported here.
function(vcpkg_cmake_configure)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "SOURCE_PATH" "OPTIONS;OPTIONS_RELEASE;OPTIONS_DEBUG")
  if(NOT VCPKG_BUILD_TYPE STREQUAL "release")
    message(FATAL_ERROR "this stand-in supports only VCPKG_BUILD_TYPE release")
  endif()
  set(build_dir "${CURRENT_BUILDTREES_DIR}/${TARGET_TRIPLET}-rel")
  file(REMOVE_RECURSE "${build_dir}")
  message(STATUS "Configuring ${TARGET_TRIPLET}-rel")
  z_run("vcpkg_cmake_configure" ${CMAKE_COMMAND} -S "${arg_SOURCE_PATH}" -B "${build_dir}" -G "${GENERATOR}"
        -DCMAKE_BUILD_TYPE=Release "-DCMAKE_INSTALL_PREFIX=${CURRENT_PACKAGES_DIR}"
        "-DCMAKE_PREFIX_PATH=${CURRENT_INSTALLED_DIR}" -DCMAKE_INSTALL_LIBDIR:STRING=lib
        -DCMAKE_INSTALL_BINDIR:STRING=bin -DFETCHCONTENT_FULLY_DISCONNECTED=ON
        -DCMAKE_EXPORT_NO_PACKAGE_REGISTRY=ON -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON
        -DCMAKE_FIND_PACKAGE_NO_SYSTEM_PACKAGE_REGISTRY=ON -DCMAKE_INSTALL_SYSTEM_RUNTIME_LIBS_SKIP=TRUE
        -DBUILD_SHARED_LIBS=OFF "-DVCPKG_TARGET_TRIPLET=${TARGET_TRIPLET}" ${arg_OPTIONS} ${arg_OPTIONS_RELEASE})
  set_property(GLOBAL PROPERTY z_vcpkg_cmake_build_dir "${build_dir}")
endfunction()

# vcpkg_cmake_install(): builds the `install` target of the configured build tree.
function(vcpkg_cmake_install)
  get_property(build_dir GLOBAL PROPERTY z_vcpkg_cmake_build_dir)
  message(STATUS "Building and installing ${TARGET_TRIPLET}-rel")
  z_run("vcpkg_cmake_install" ${CMAKE_COMMAND} --build "${build_dir}" --target install)
endfunction()

# vcpkg_cmake_config_fixup([PACKAGE_NAME <name>] [CONFIG_PATH <dir>]): moves the CMake package files
# from CONFIG_PATH to share/<name>, removes CONFIG_PATH's parent when it is named "cmake", and
# corrects the prefix computations of the moved files for their new depth (share/<name>, two levels)
# and absolute paths into the package directory, as vcpkg's does.
function(vcpkg_cmake_config_fixup)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "PACKAGE_NAME;CONFIG_PATH" "")
  if(NOT arg_PACKAGE_NAME)
    set(arg_PACKAGE_NAME "${PORT}")
  endif()
  if(NOT arg_CONFIG_PATH)
    set(arg_CONFIG_PATH "share/${arg_PACKAGE_NAME}")
  endif()
  set(release_share "${CURRENT_PACKAGES_DIR}/share/${arg_PACKAGE_NAME}")
  if(NOT arg_CONFIG_PATH STREQUAL "share/${arg_PACKAGE_NAME}")
    set(release_config "${CURRENT_PACKAGES_DIR}/${arg_CONFIG_PATH}")
    if(NOT EXISTS "${release_config}")
      message(FATAL_ERROR "'${release_config}' does not exist.")
    endif()
    file(GLOB files "${release_config}/*")
    file(COPY ${files} DESTINATION "${release_share}")
    file(REMOVE_RECURSE "${release_config}")
    get_filename_component(parent "${release_config}" DIRECTORY)
    get_filename_component(parent_name "${parent}" NAME)
    string(TOLOWER "${parent_name}" parent_name)
    if(parent_name STREQUAL "cmake")
      file(REMOVE_RECURSE "${parent}")
    endif()
  endif()
  file(GLOB_RECURSE main_cmakes "${release_share}/*.cmake")
  foreach(main_cmake IN LISTS main_cmakes)
    file(READ "${main_cmake}" contents)
    string(REGEX REPLACE
[[get_filename_component\(_IMPORT_PREFIX "\${CMAKE_CURRENT_LIST_FILE}" PATH\)(
get_filename_component\(_IMPORT_PREFIX "\${_IMPORT_PREFIX}" PATH\))*]]
[[get_filename_component(_IMPORT_PREFIX "${CMAKE_CURRENT_LIST_FILE}" PATH)
get_filename_component(_IMPORT_PREFIX "${_IMPORT_PREFIX}" PATH)
get_filename_component(_IMPORT_PREFIX "${_IMPORT_PREFIX}" PATH)]]
           contents "${contents}")
    string(REGEX REPLACE
[[get_filename_component\(PACKAGE_PREFIX_DIR "\${CMAKE_CURRENT_LIST_DIR}/\.\./(\.\./)*" ABSOLUTE\)]]
[[get_filename_component(PACKAGE_PREFIX_DIR "${CMAKE_CURRENT_LIST_DIR}/../../" ABSOLUTE)]]
           contents "${contents}")
    string(REPLACE "${CURRENT_INSTALLED_DIR}" [[${_IMPORT_PREFIX}]] contents "${contents}")
    string(REPLACE "${CURRENT_PACKAGES_DIR}" [[${_IMPORT_PREFIX}]] contents "${contents}")
    file(WRITE "${main_cmake}" "${contents}")
  endforeach()
endfunction()

# vcpkg_fixup_pkgconfig(): makes each .pc file under lib/pkgconfig and share/pkgconfig relocatable
# (prefix=${pcfiledir}/<to the package root>, absolute package paths replaced by ${prefix}).
function(vcpkg_fixup_pkgconfig)
  file(GLOB pc_files "${CURRENT_PACKAGES_DIR}/lib/pkgconfig/*.pc" "${CURRENT_PACKAGES_DIR}/share/pkgconfig/*.pc")
  foreach(pc IN LISTS pc_files)
    file(READ "${pc}" contents)
    string(REPLACE "${CURRENT_PACKAGES_DIR}" [[${prefix}]] contents "${contents}")
    string(REGEX REPLACE "(^|\n)prefix=[^\n]*" [[\1prefix=${pcfiledir}/../..]] contents "${contents}")
    file(WRITE "${pc}" "${contents}")
  endforeach()
endfunction()

file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}" "${CURRENT_BUILDTREES_DIR}")
file(MAKE_DIRECTORY "${CURRENT_PACKAGES_DIR}" "${CURRENT_INSTALLED_DIR}")
message(STATUS "Running ${PORT_DIR}/portfile.cmake (${PORT} ${VERSION}, features: ${FEATURES})")
include("${PORT_DIR}/portfile.cmake")

# The layout `vcpkg install` expects of a header-only port, and what its post-build checks look at.
set(errors)
foreach(f include/lowbit/lowbit.hpp include/lowbit/version.hpp share/${PORT}/lowbit-config.cmake
          share/${PORT}/lowbit-config-version.cmake share/${PORT}/lowbit-targets.cmake share/${PORT}/usage
          share/${PORT}/copyright share/pkgconfig/lowbit.pc)
  if(NOT EXISTS "${CURRENT_PACKAGES_DIR}/${f}")
    list(APPEND errors "missing ${f}")
  endif()
endforeach()
foreach(d debug lib bin share/cmake)
  if(EXISTS "${CURRENT_PACKAGES_DIR}/${d}")
    list(APPEND errors "unexpected ${d}/ in a header-only, release-only port")
  endif()
endforeach()
file(GLOB_RECURSE installed_files "${CURRENT_PACKAGES_DIR}/share/*")
foreach(f IN LISTS installed_files)
  file(READ "${f}" contents)
  string(FIND "${contents}" "${VCPKG_ROOT}" at)
  if(NOT at EQUAL -1)
    list(APPEND errors "absolute path to the vcpkg tree in ${f}")
  endif()
endforeach()
file(READ "${SOURCE_PATH}/include/lowbit/version.hpp" version_hpp)
foreach(part MAJOR MINOR PATCH)
  string(REGEX MATCH "#define LOWBIT_VERSION_${part} ([0-9]+)" _ "${version_hpp}")
  list(APPEND source_version "${CMAKE_MATCH_1}")
endforeach()
list(JOIN source_version "." source_version)
if(NOT VERSION STREQUAL source_version)
  list(APPEND errors "vcpkg.json has version ${VERSION}, include/lowbit/version.hpp ${source_version}")
endif()
if(errors)
  list(JOIN errors "\n  " errors)
  message(FATAL_ERROR "vcpkg layout of ${CURRENT_PACKAGES_DIR}:\n  ${errors}")
endif()
message(STATUS "vcpkg layout ok: ${CURRENT_PACKAGES_DIR}")
