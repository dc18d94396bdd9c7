// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "lowbit/backend/simd/xsimd_compat.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/fp16.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/quant/activation_q8.hpp"

namespace lowbit::simd_detail {

/// Quantizes x(M, K) into `out` exactly as `quantize_activations_reference` does (same codes,
/// scales and sums bit for bit), with xsimd batches of Arch.
/// throws lowbit::error{errc::shape_mismatch} if K % 32 != 0, {errc::invalid_argument} naming the
/// row and columns of a NaN or infinity.
template <class Arch>
void quantize_activations(matrix_view<const float> x, activation_q8& out) {
  using batch = xsimd::batch<float, Arch>;
  using ibatch = xsimd::batch<std::int32_t, Arch>;
  constexpr std::size_t lanes = batch::size;
  static_assert(32 % lanes == 0, "activation blocks of 32 must hold whole batches");
  out.resize(x.rows, x.cols);
  const std::size_t nb = x.cols / 32;
  alignas(64) std::int32_t codes[32];
  for (std::size_t i = 0; i < x.rows; ++i) {
    const float* row = x.row(i);
    for (std::size_t b = 0; b < nb; ++b) {
      const float* src = row + b * 32;
      batch amax(0.0f);
      batch probe(0.0f);  // x - x is 0 for finite x and NaN for NaN or infinity
      for (std::size_t j = 0; j < 32; j += lanes) {
        const batch v = batch::load_unaligned(src + j);
        amax = xsimd::max(amax, xsimd::abs(v));
        probe += v - v;
      }
      const float max_abs = reduce_max(amax);
      check(reduce_add(probe) == 0.0f, errc::invalid_argument, [&] {
        return "activation row " + std::to_string(i) + ", columns [" + std::to_string(b * 32) + ", " +
               std::to_string(b * 32 + 32) + "): NaN or infinity";
      });
      const float scale = max_abs / 127.0f;
      const batch inv(max_abs != 0.0f ? 127.0f / max_abs : 0.0f);
      ibatch total(0);
      for (std::size_t j = 0; j < 32; j += lanes) {
        const ibatch q = xsimd::nearbyint_as_int(batch::load_unaligned(src + j) * inv);
        total += q;
        q.store_aligned(codes + j);
      }
      std::int8_t* dst = out.qs.data() + i * x.cols + b * 32;
      for (std::size_t j = 0; j < 32; ++j) dst[j] = static_cast<std::int8_t>(codes[j]);
      const std::int32_t sum = reduce_add(total);
      out.d[i * nb + b] = fp16_to_f32(f32_to_fp16(scale));
      out.s[i * nb + b] = fp16_to_f32(f32_to_fp16(static_cast<float>(sum) * scale));
      out.sum[i * nb + b] = sum;
    }
  }
}

}  // namespace lowbit::simd_detail
