// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <string_view>

#include "lowbit/core/backend.hpp"
#include "lowbit/core/format.hpp"

namespace lowbit {

/// The GEMM kernel of weight format `F` on backend `B`. Each backend specializes it for the formats
/// it serves; a specialization provides
/// - `weight_type`: the weights in the layout the kernel reads (made once by `prepare`);
/// - `static weight_type prepare(weight_view<F>, threads)`;
/// - `static void run(matrix_view<const float> x, const weight_type&, matrix_view<float> y,
///    threads, const Epilogue&, gemm_workspace&)` for y = epilogue(x · Wᵀ).
/// Naming a combination that has no specialization fails to compile with one of the messages
/// below, which say what to include (the backend's kernels live in its own headers).
template <format F, backend_policy B>
struct gemm_kernel {
  static_assert(!(B::name == std::string_view("reference")) || dependent_false<F, B>,
                "lowbit: no reference gemm_kernel for this format: #include \"lowbit/gemm/reference.hpp\" "
                "(the reference backend's kernels) and the format's header");
  static_assert(!(B::name == std::string_view("simd")) || dependent_false<F, B>,
                "lowbit: no SIMD gemm_kernel for this format: #include \"lowbit/backend/simd.hpp\" (every SIMD "
                "kernel; the tag header alone has none), compile for the ISA (-march=native or e.g. -mavx2 -mfma "
                "-mf16c), and see docs/support-matrix.md for the formats with a SIMD kernel");
  static_assert(B::name == std::string_view("reference") || B::name == std::string_view("simd") ||
                    dependent_false<F, B>,
                "lowbit: no gemm_kernel for this <format, backend>: include the backend's kernel header; see "
                "docs/support-matrix.md for the formats each backend serves");
};

}  // namespace lowbit
