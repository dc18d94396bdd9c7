// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <concepts>
#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "lowbit/core/backend.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/gemm/epilogue.hpp"
#include "lowbit/gemm/gemm.hpp"
#include "lowbit/graph/layer.hpp"

namespace lowbit::graph {

namespace detail {
template <class W>
std::size_t weight_rows(const W& w) noexcept {
  if constexpr (requires { w.rows(); }) {
    return w.rows();
  } else {
    return w.rows;
  }
}
template <class W>
std::size_t weight_cols(const W& w) noexcept {
  if constexpr (requires { w.cols(); }) {
    return w.cols();
  } else {
    return w.cols;
  }
}
}  // namespace detail

/// A weight that backend B multiplies: anything `gemm<B>(x, w, y, threads, epilogue, workspace)`
/// accepts — a `prepared_weight_t<B, F>` of a GGUF or float format, a prepared parametric
/// `quantized_matrix` (`prepare_weight<B>(quantized_matrix<Q>)`), or an `any_weight<B, Formats>`
/// whose format the file chose at load — with its extents N (rows) and K (cols).
template <class W, class B>
concept weight_for = backend_policy<B> && requires(const W& w, matrix_view<const float> x, matrix_view<float> y,
                                                    threads t, gemm_workspace* ws) {
  gemm<B>(x, w, y, t, epilogue::store{}, ws);
  { detail::weight_rows(w) } -> std::convertible_to<std::size_t>;
};

/// A linear layer y(M, N) = x(M, K) · W(N, K)ᵀ (+ b(N)) on backend B (PyTorch `Linear`
/// convention), the bias fused into the GEMM's epilogue.
///
/// `forward` replaces x by y; `apply` writes y to another activation (several projections of one
/// input: Q/K/V, gate/up); `accumulate` adds y to an activation that holds a residual (the
/// residual connection through the GEMM's epilogue, no extra pass).
/// throws lowbit::error{errc::shape_mismatch} at construction if the bias is neither empty nor N
/// long, and from gemm if x's column count is not K.
template <backend_policy B, weight_for<B> W>
class linear_layer {
 public:
  using weight_type = W;

  explicit linear_layer(W weight, std::span<const float> bias = {})
      : weight_(std::move(weight)), bias_(bias.begin(), bias.end()) {
    check(bias_.empty() || bias_.size() == rows(), errc::shape_mismatch, [&] {
      return "linear: bias has " + std::to_string(bias_.size()) + " elements, the weight has N = " +
             std::to_string(rows()) + " rows";
    });
  }

  /// x <- x · Wᵀ + b.
  void forward(activation& x, context& ctx) {
    auto out = borrow(ctx);
    apply(x, *out, ctx);
    std::swap(x, *out);  // x's old storage goes back to the pool
  }

  /// y <- x · Wᵀ + b; y is resized to (x.rows, N). y must not be x.
  void apply(const activation& x, activation& y, context& ctx) const {
    y.resize(x.rows, rows());
    if (bias_.empty()) {
      run(x, y, ctx, epilogue::store{});
    } else {
      run(x, y, ctx, epilogue::bias_add{bias_.data()});
    }
  }

  /// y <- y + (x · Wᵀ + b): y holds a residual of shape (x.rows, N).
  /// throws lowbit::error{errc::shape_mismatch} if it has another shape.
  void accumulate(const activation& x, activation& y, context& ctx) const {
    check(y.rows == x.rows && y.cols == rows(), errc::shape_mismatch, [&] {
      return "linear: the residual is (" + std::to_string(y.rows) + ", " + std::to_string(y.cols) +
             "), the projection gives (" + std::to_string(x.rows) + ", " + std::to_string(rows()) + ")";
    });
    if (bias_.empty()) {
      run(x, y, ctx, epilogue::accumulate{});
    } else {
      run(x, y, ctx, epilogue::bias_accumulate{bias_.data()});
    }
  }

  /// N, the output features.
  std::size_t rows() const noexcept { return detail::weight_rows(weight_); }
  /// K, the input features.
  std::size_t cols() const noexcept { return detail::weight_cols(weight_); }
  const W& weight() const noexcept { return weight_; }
  std::span<const float> bias() const noexcept { return bias_; }

 private:
  template <class E>
  void run(const activation& x, activation& y, context& ctx, const E& e) const {
    gemm<B>(x.view(), weight_, y.view(), ctx.thread_count, e, ctx.gemm_scratch);
  }

  W weight_;
  std::vector<float> bias_;
};

/// A linear layer over a weight view of format F, prepared once for backend B
/// (`prepare_weight<B>`: SIMD backends repack it into panels).
template <backend_policy B, format F>
linear_layer<B, prepared_weight_t<B, F>> linear(weight_view<F> w, threads t = {}, std::span<const float> bias = {}) {
  return linear_layer<B, prepared_weight_t<B, F>>(prepare_weight<B>(w, t), bias);
}

/// A linear layer over an already prepared weight (any_weight, a prepared quantized_matrix, ...).
template <backend_policy B, weight_for<B> W>
linear_layer<B, W> linear(W w, std::span<const float> bias = {}) {
  return linear_layer<B, W>(std::move(w), bias);
}

}  // namespace lowbit::graph
