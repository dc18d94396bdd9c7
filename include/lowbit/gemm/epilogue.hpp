// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <concepts>
#include <cstddef>

namespace lowbit::epilogue {

/// An epilogue stage turns the accumulators of a tile of output row i into stored values:
/// `e(y_row, acc, n0, count)` writes `y_row[n0 + j]` for j < count from `acc[j]` (the dot products
/// x(i,:) · W(n0 + j,:)). It runs once per tile, inside the GEMM, so that bias, residual and
/// activation cost no extra pass over y (CUTLASS's epilogue, gemmlowp's output pipeline).
template <class E>
concept stage = requires(const E& e, float* y, const float* acc, std::size_t n) {
  e(y, acc, n, n);
};

/// y = acc.
struct store {
  void operator()(float* y, const float* acc, std::size_t n0, std::size_t count) const noexcept {
    for (std::size_t j = 0; j < count; ++j) y[n0 + j] = acc[j];
  }
};

/// y = acc + bias[n]; bias has N elements.
struct bias_add {
  const float* bias;
  void operator()(float* y, const float* acc, std::size_t n0, std::size_t count) const noexcept {
    for (std::size_t j = 0; j < count; ++j) y[n0 + j] = acc[j] + bias[n0 + j];
  }
};

/// y += acc: a residual connection added in place (y holds the residual on entry).
struct accumulate {
  void operator()(float* y, const float* acc, std::size_t n0, std::size_t count) const noexcept {
    for (std::size_t j = 0; j < count; ++j) y[n0 + j] += acc[j];
  }
};

/// y += acc + bias[n]: a biased projection added to a residual held in y (the bias is added to the
/// product first, then the sum to y, as a separate bias add and residual add would round).
struct bias_accumulate {
  const float* bias;
  void operator()(float* y, const float* acc, std::size_t n0, std::size_t count) const noexcept {
    for (std::size_t j = 0; j < count; ++j) y[n0 + j] += acc[j] + bias[n0 + j];
  }
};

}  // namespace lowbit::epilogue
