# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# What a build for a target other than x86-64 (scripts/test_arm.sh: AArch64 under qemu) leaves out.
# The SIMD backend (include/lowbit/backend/simd/) is x86 intrinsics today (issue 12): <immintrin.h>,
# __m256i/__m512i and _mm*_ calls, so nothing that includes it compiles for another target. Included
# by tests/CMakeLists.txt; sets
#   lowbit_excluded_tests    test sources (absolute paths) not built, to remove from the globbed lists;
#   lowbit_excluded_headers  a regex over header paths relative to include/, for tests/headers.
# Both exclude nothing on x86-64 (LOWBIT_SIMD_BACKEND, top-level CMakeLists.txt).
set(lowbit_excluded_tests)
set(lowbit_excluded_headers "^$")
if(LOWBIT_SIMD_BACKEND)
  return()
endif()

# Every test program that includes the backend (lowbit/backend/simd.hpp or lowbit/backend/simd/...):
# today the SIMD GEMM tests (unit/gemm/*), the mixed reference/SIMD programs (graph, docs,
# quant/test_activation_q8, prune/test_nm_sparse_simd) and smollm2/test_ggml_ops.
file(GLOB_RECURSE _lowbit_test_sources ${CMAKE_CURRENT_LIST_DIR}/unit/*/test_*.cpp
     ${CMAKE_CURRENT_LIST_DIR}/smollm2/test_*.cpp ${CMAKE_CURRENT_LIST_DIR}/models/test_*.cpp)
foreach(_src ${_lowbit_test_sources})
  file(STRINGS ${_src} _simd_includes REGEX "^#include [<\"]lowbit/backend/simd[./]")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_src})  # re-read when it changes
  if(_simd_includes)
    list(APPEND lowbit_excluded_tests ${_src})
  endif()
endforeach()

# The model tests link the LLM example's model (lowbit_llm_model: every SIMD kernel, and ICU, which
# the cross build does not install for arm64).
file(GLOB _lowbit_model_tests ${CMAKE_CURRENT_LIST_DIR}/smollm2/test_*.cpp ${CMAKE_CURRENT_LIST_DIR}/models/test_*.cpp)
list(APPEND lowbit_excluded_tests ${_lowbit_model_tests})
list(REMOVE_DUPLICATES lowbit_excluded_tests)

# tests/headers: the backend's headers themselves (backend/simd.hpp and backend/simd/*.hpp).
set(lowbit_excluded_headers "^lowbit/backend/simd(\\.hpp|/)")
