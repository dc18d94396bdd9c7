// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// Row primitives on xsimd::batch<float> shared by the nn kernels: dot product, axpy, scale,
// maximum, and the exp-and-sum pass of a softmax. Every loop runs whole batches, then a scalar tail.

#include <algorithm>
#include <array>
#include <cstddef>
#include <limits>

#include "lowbit/backend/simd/xsimd_compat.hpp"

namespace lowbit::nn::detail {

/// The float batch of the architecture chosen by the compiler flags (xsimd's default arch).
using batch_f32 = xsimd::batch<float>;

/// Lanes in `batch_f32`.
inline constexpr std::size_t batch_width = batch_f32::size;

/// Sum of the lanes of `b`.
inline float reduce_add(const batch_f32& b) noexcept { return simd_detail::reduce_add(b); }

/// Maximum of the lanes of `b`.
inline float reduce_max(const batch_f32& b) noexcept {
  alignas(64) std::array<float, batch_width> lanes{};
  b.store_aligned(lanes.data());
  float m = lanes[0];
  for (std::size_t l = 1; l < batch_width; ++l) m = std::max(m, lanes[l]);
  return m;
}

/// sum_i a[i] * b[i] over n elements, f32 lanes.
inline float dot(const float* a, const float* b, std::size_t n) noexcept {
  constexpr std::size_t w = batch_width;
  batch_f32 acc0(0.0f), acc1(0.0f), acc2(0.0f), acc3(0.0f);
  std::size_t i = 0;
  for (; i + 4 * w <= n; i += 4 * w) {
    acc0 = xsimd::fma(batch_f32::load_unaligned(a + i), batch_f32::load_unaligned(b + i), acc0);
    acc1 = xsimd::fma(batch_f32::load_unaligned(a + i + w), batch_f32::load_unaligned(b + i + w), acc1);
    acc2 = xsimd::fma(batch_f32::load_unaligned(a + i + 2 * w), batch_f32::load_unaligned(b + i + 2 * w), acc2);
    acc3 = xsimd::fma(batch_f32::load_unaligned(a + i + 3 * w), batch_f32::load_unaligned(b + i + 3 * w), acc3);
  }
  for (; i + w <= n; i += w) {
    acc0 = xsimd::fma(batch_f32::load_unaligned(a + i), batch_f32::load_unaligned(b + i), acc0);
  }
  float sum = reduce_add((acc0 + acc1) + (acc2 + acc3));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

/// y[i] += alpha * x[i] for i < n.
inline void axpy(float* y, float alpha, const float* x, std::size_t n) noexcept {
  constexpr std::size_t w = batch_width;
  const batch_f32 a(alpha);
  std::size_t i = 0;
  for (; i + w <= n; i += w) {
    xsimd::fma(a, batch_f32::load_unaligned(x + i), batch_f32::load_unaligned(y + i)).store_unaligned(y + i);
  }
  for (; i < n; ++i) y[i] += alpha * x[i];
}

/// y[i] = alpha * x[i] for i < n (y may equal x).
inline void scale(float* y, float alpha, const float* x, std::size_t n) noexcept {
  constexpr std::size_t w = batch_width;
  const batch_f32 a(alpha);
  std::size_t i = 0;
  for (; i + w <= n; i += w) (a * batch_f32::load_unaligned(x + i)).store_unaligned(y + i);
  for (; i < n; ++i) y[i] = alpha * x[i];
}

/// max_i x[i] over n elements; -infinity when n == 0.
inline float max_element(const float* x, std::size_t n) noexcept {
  constexpr std::size_t w = batch_width;
  float m = -std::numeric_limits<float>::infinity();
  std::size_t i = 0;
  if (n >= w) {
    batch_f32 acc = batch_f32::load_unaligned(x);
    for (i = w; i + w <= n; i += w) acc = xsimd::max(acc, batch_f32::load_unaligned(x + i));
    m = reduce_max(acc);
  }
  for (; i < n; ++i) m = std::max(m, x[i]);
  return m;
}

/// y[i] = exp(x[i] - shift) for i < n (y may equal x); returns sum_i y[i] (f32 lanes).
inline float exp_shifted_sum(float* y, const float* x, float shift, std::size_t n) noexcept {
  constexpr std::size_t w = batch_width;
  const batch_f32 s(shift);
  batch_f32 acc(0.0f);
  std::size_t i = 0;
  for (; i + w <= n; i += w) {
    const batch_f32 e = xsimd::exp(batch_f32::load_unaligned(x + i) - s);
    e.store_unaligned(y + i);
    acc += e;
  }
  if (i < n) {
    // Tail through the same kernel: pad with -inf, whose exp adds 0 to the sum.
    alignas(64) std::array<float, batch_width> tail;
    tail.fill(-std::numeric_limits<float>::infinity());
    std::copy(x + i, x + n, tail.data());
    const batch_f32 e = xsimd::exp(batch_f32::load_aligned(tail.data()) - s);
    e.store_aligned(tail.data());
    std::copy(tail.data(), tail.data() + (n - i), y + i);
    acc += e;
  }
  return reduce_add(acc);
}

}  // namespace lowbit::nn::detail
