// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// Elementwise maps on f32 spans through one batch kernel, split over threads.

#include <algorithm>
#include <array>
#include <cstddef>
#include <span>

#include "lowbit/core/parallel.hpp"
#include "lowbit/nn/detail/checks.hpp"
#include "lowbit/nn/detail/simd.hpp"

namespace lowbit::nn::detail {

/// Elements per parallel work unit of the elementwise kernels (a multiple of every batch width).
inline constexpr std::size_t elementwise_grain = 16384;

/// out[i] = f(a[i], b[i]) with f on batches; the tail is padded with zeros and goes through the
/// same batch kernel, so every element rounds the same way. n == 0 is a no-op.
template <class BatchFn>
void map2(const float* a, const float* b, float* out, std::size_t n, threads t, BatchFn f) {
  parallel_for(t, n, elementwise_grain, [&](std::size_t begin, std::size_t end) {
    constexpr std::size_t w = batch_width;
    std::size_t i = begin;
    for (; i + w <= end; i += w) {
      f(batch_f32::load_unaligned(a + i), batch_f32::load_unaligned(b + i)).store_unaligned(out + i);
    }
    if (i < end) {
      alignas(64) std::array<float, batch_width> ta{}, tb{};
      std::copy(a + i, a + end, ta.data());
      std::copy(b + i, b + end, tb.data());
      f(batch_f32::load_aligned(ta.data()), batch_f32::load_aligned(tb.data())).store_aligned(ta.data());
      std::copy(ta.data(), ta.data() + (end - i), out + i);
    }
  });
}

template <class BatchFn>
void map1(const char* op, std::span<const float> x, std::span<float> y, threads t, BatchFn f) {
  check_same_extent(op, "x", x.size(), "y", y.size());
  map2(x.data(), x.data(), y.data(), x.size(), t, [&](const batch_f32& v, const batch_f32&) { return f(v); });
}

}  // namespace lowbit::nn::detail
