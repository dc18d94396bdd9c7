# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
# An overlay port for the checkout it sits in (packaging/vcpkg/ports/lowbit -> the repository root):
#   vcpkg install lowbit --overlay-ports=<lowbit>/packaging/vcpkg/ports
# For a registry, replace the SOURCE_PATH line by vcpkg_from_github(OUT_SOURCE_PATH SOURCE_PATH ...).
get_filename_component(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../../../.." ABSOLUTE)

set(VCPKG_BUILD_TYPE release) # header-only port

vcpkg_check_features(OUT_FEATURE_OPTIONS FEATURE_OPTIONS
    FEATURES
        openmp LOWBIT_USE_OPENMP
)

vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        -DLOWBIT_BUILD_TESTS=OFF
        -DLOWBIT_BUILD_EXAMPLES=OFF
        ${FEATURE_OPTIONS}
)

vcpkg_cmake_install()

vcpkg_cmake_config_fixup(CONFIG_PATH share/cmake/${PORT})
vcpkg_fixup_pkgconfig()

file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/share/doc")
file(INSTALL "${SOURCE_PATH}/LICENSE" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}" RENAME copyright)
file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
