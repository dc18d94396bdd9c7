// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// An ISA module (cmake/lowbit-isa-dispatch.cmake): the SIMD backend's Q4_1 and Q8_0 GEMM, built
// once per level. test_isa_dispatch.cpp loads every module this CPU executes and compares it with
// the reference backend.

#include <cstddef>
#include <cstdio>
#include <exception>
#include <span>
#include <string>

#include "lowbit/backend/dispatch/isa_module.hpp"
#include "lowbit/backend/simd.hpp"
#include "lowbit/backend/simd/isa/isa.hpp"
#include "lowbit/formats/ggml/q4_1.hpp"
#include "lowbit/formats/ggml/q8_0.hpp"
#include "lowbit/gemm/gemm.hpp"

#define LOWBIT_STRINGIZE2(x) #x
#define LOWBIT_STRINGIZE(x) LOWBIT_STRINGIZE2(x)

namespace {

template <class F>
int run_gemm(const float* x, std::size_t m, const void* w_bytes, std::size_t n, std::size_t k, float* y, int n_threads,
             char* message, std::size_t message_size) {
  try {
    using backend = lowbit::backend::simd<>;
    const auto* blocks = static_cast<const typename F::block*>(w_bytes);
    const lowbit::weight_view<F> w{.blocks = blocks, .rows = n, .cols = k};
    const lowbit::threads t{n_threads};
    const auto prepared = lowbit::prepare_weight<backend>(w, t);
    lowbit::gemm<backend>(lowbit::matrix_view<const float>{x, m, k, k}, prepared,
                          lowbit::matrix_view<float>{y, m, n, n}, t);
    return 0;
  } catch (const std::exception& e) {
    std::snprintf(message, message_size, "%s", e.what());
    return 1;
  }
}

}  // namespace

/// The level this module was built for and the xsimd architecture its SIMD backend uses.
LOWBIT_ISA_EXPORT const char* lowbit_test_module_arch() {
  static const std::string name =
      std::string(LOWBIT_STRINGIZE(LOWBIT_ISA)) + "/" + lowbit::simd_detail::isa_ops<xsimd::default_arch>::name;
  return name.c_str();
}

LOWBIT_ISA_EXPORT int lowbit_test_gemm_q4_1(const float* x, std::size_t m, const void* w, std::size_t n, std::size_t k,
                                            float* y, int threads, char* message, std::size_t message_size) {
  return run_gemm<lowbit::ggml::q4_1>(x, m, w, n, k, y, threads, message, message_size);
}

/// The same with W in Q8_0 blocks.
LOWBIT_ISA_EXPORT int lowbit_test_gemm_q8_0(const float* x, std::size_t m, const void* w, std::size_t n, std::size_t k,
                                            float* y, int threads, char* message, std::size_t message_size) {
  return run_gemm<lowbit::ggml::q8_0>(x, m, w, n, k, y, threads, message, message_size);
}
