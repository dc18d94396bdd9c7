// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <utility>

#include "lowbit/core/backend.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/gemm/gemm.hpp"
#include "lowbit/graph/layer.hpp"

namespace lowbit::graph {

/// A linear layer y(M, N) = x(M, K) · W(N, K)ᵀ with weights of format F prepared once for backend B
/// (PyTorch `Linear` convention, no bias). x's column count must be K.
/// throws lowbit::error{errc::shape_mismatch} from gemm if it is not.
template <format F, backend_policy B>
class linear_layer {
 public:
  explicit linear_layer(weight_view<F> w, threads t = {}) : weight_(prepare_weight<B>(w, t)) {}

  void forward(activation& x, context& ctx) {
    auto out = borrow(ctx);
    out->resize(x.rows, weight_.rows);
    gemm<B>(x.view(), weight_, out->view(), ctx.thread_count, epilogue::store{}, ctx.gemm_scratch);
    std::swap(x, *out);  // x's old storage goes back to the pool
  }

  const prepared_weight_t<B, F>& weight() const noexcept { return weight_; }

 private:
  prepared_weight_t<B, F> weight_;
};

/// Builds a linear_layer<F, B> from a weight view.
template <backend_policy B, format F>
linear_layer<F, B> linear(weight_view<F> w, threads t = {}) {
  return linear_layer<F, B>(w, t);
}

}  // namespace lowbit::graph
