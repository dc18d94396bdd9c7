// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/graph/layer.hpp"

namespace lowbit::graph {

/// A residual connection: forward(x) = x + inner(x) (He et al., "Deep Residual Learning",
/// arXiv:1512.03385). `inner` must keep x's shape.
///
/// When `inner` is an `accumulating_layer` (it ends in a projection: a linear layer, a gated FFN,
/// a sequential chain ending in one), the sum is formed by that projection's GEMM epilogue
/// (y += acc): inner runs on a copy of x and adds its output into x, with no separate add pass.
/// The result is the same float sum, x + inner(x), rounded once.
/// throws lowbit::error{errc::shape_mismatch} if inner changes the shape.
template <layer Inner>
class residual_layer {
 public:
  explicit residual_layer(Inner inner) : inner_(std::move(inner)) {}

  void forward(activation& x, context& ctx) {
    if constexpr (accumulating_layer<Inner>) {
      auto input = borrow(ctx);
      input->resize(x.rows, x.cols);
      std::copy(x.data.begin(), x.data.end(), input->data.begin());
      inner_.accumulate(*input, x, ctx);
      return;
    }
    auto saved = borrow(ctx);
    saved->resize(x.rows, x.cols);
    std::copy(x.data.begin(), x.data.end(), saved->data.begin());
    const std::size_t rows = x.rows, cols = x.cols;
    inner_.forward(x, ctx);
    check(x.rows == rows && x.cols == cols, errc::shape_mismatch, [&] {
      return "residual: inner layer changed the shape from (" + std::to_string(rows) + ", " + std::to_string(cols) +
             ") to (" + std::to_string(x.rows) + ", " + std::to_string(x.cols) + ")";
    });
    for (std::size_t i = 0; i < x.data.size(); ++i) x.data[i] += saved->data[i];
  }

  Inner& inner() noexcept { return inner_; }

 private:
  Inner inner_;
};

template <layer Inner>
residual_layer<Inner> residual(Inner inner) {
  return residual_layer<Inner>(std::move(inner));
}

}  // namespace lowbit::graph
