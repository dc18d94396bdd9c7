# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
# Finds xsimd. Debian's xsimd 8.1 package exports a target that links "xtl" (its optional complex
# number support) without requiring it; when no xtl target exists, an empty one stands in so that
# the link line does not get a bogus -lxtl.
find_package(xtl QUIET)
if(NOT TARGET xtl)
  add_library(xtl INTERFACE IMPORTED)
endif()
find_package(xsimd REQUIRED)
