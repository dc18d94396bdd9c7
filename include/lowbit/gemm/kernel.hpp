// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include "lowbit/core/backend.hpp"
#include "lowbit/core/format.hpp"

namespace lowbit {

/// The GEMM kernel of weight format `F` on backend `B`. Each backend specializes it for the formats
/// it serves; a specialization provides
/// - `weight_type`: the weights in the layout the kernel reads (made once by `prepare`);
/// - `static weight_type prepare(weight_view<F>, threads)`;
/// - `static void run(matrix_view<const float> x, const weight_type&, matrix_view<float> y,
///    threads, const Epilogue&, gemm_workspace&)` for y = epilogue(x · Wᵀ).
/// Naming a combination that has no specialization fails to compile with the message below.
template <format F, backend_policy B>
struct gemm_kernel {
  static_assert(dependent_false<F, B>, "lowbit: no gemm_kernel for this <format, backend>; see docs/support-matrix.md");
};

}  // namespace lowbit
