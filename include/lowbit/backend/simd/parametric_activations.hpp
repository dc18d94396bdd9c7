// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "lowbit/backend/simd/xsimd_compat.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/quant/activation_q8.hpp"

namespace lowbit::simd_detail {

/// Quantizes each row of x(M, K) to int8 with one scale per row (dynamic per-token quantization,
/// as oneDNN's u8s8 GEMM and integer-only inference use): `scale_i = max_k |x(i, k)| / 127`,
/// `q(i, k) = round_half_even(x(i, k) * (127 / max|x(i, :)|))` (0 for an all-zero row), so
/// `|x - scale * q| <= scale / 2`.
///
/// Written into the workspace's activation_q8 `out` with another meaning than its per-32-block
/// one: out.cols = ceil(kp / 32) * 32 + 64 (kp >= K), row i's codes at out.row_qs(i) (columns K.. are
/// 0), its scale (f32, not rounded to f16) at out.row_d(i)[0] and Σ_k q(i, k) at out.row_sum(i)[0].
/// throws lowbit::error{errc::invalid_argument} naming the row and column of a NaN or infinity.
/// Source: integer-only inference, arXiv:1712.05877 §2 (asymmetric there; symmetric here).
template <class Arch>
void quantize_activations_per_row(matrix_view<const float> x, std::size_t kp, activation_q8& out) {
  using batch = xsimd::batch<float, Arch>;
  using ibatch = xsimd::batch<std::int32_t, Arch>;
  constexpr std::size_t lanes = batch::size;
  // One extra cache line per row: rows 4 KiB apart would share L1 sets (4K aliasing), and a tile
  // of 8 rows would then evict itself.
  out.resize(x.rows, (kp + 31) / 32 * 32 + 64);
  alignas(64) std::int32_t codes[lanes];
  for (std::size_t i = 0; i < x.rows; ++i) {
    const float* row = x.row(i);
    batch amax(0.0f);
    batch probe(0.0f);  // x - x is 0 for finite x and NaN for NaN or infinity
    std::size_t k = 0;
    for (; k + lanes <= x.cols; k += lanes) {
      const batch v = batch::load_unaligned(row + k);
      amax = xsimd::max(amax, xsimd::abs(v));
      probe += v - v;
    }
    float max_abs = reduce_max(amax);
    bool finite = reduce_add(probe) == 0.0f;
    for (std::size_t j = k; j < x.cols; ++j) {
      finite = finite && std::isfinite(row[j]);
      max_abs = std::fmax(max_abs, std::fabs(row[j]));
    }
    if (!finite) {
      for (std::size_t j = 0; j < x.cols; ++j) {
        check(std::isfinite(row[j]), errc::invalid_argument,
              [&] { return "activation (" + std::to_string(i) + ", " + std::to_string(j) + ") is NaN or infinite"; });
      }
    }
    const float inv_value = max_abs != 0.0f ? 127.0f / max_abs : 0.0f;
    const batch inv(inv_value);
    std::int8_t* dst = out.qs.data() + i * out.cols;
    ibatch total(0);
    k = 0;
    for (; k + lanes <= x.cols; k += lanes) {
      const ibatch q = xsimd::nearbyint_as_int(batch::load_unaligned(row + k) * inv);
      total += q;
      q.store_aligned(codes);
      for (std::size_t j = 0; j < lanes; ++j) dst[k + j] = static_cast<std::int8_t>(codes[j]);
    }
    std::int32_t sum = reduce_add(total);
    for (; k < x.cols; ++k) {
      const auto q = static_cast<std::int32_t>(std::nearbyint(row[k] * inv_value));
      dst[k] = static_cast<std::int8_t>(q);
      sum += q;
    }
    std::memset(dst + x.cols, 0, out.cols - x.cols);
    out.d[i * (out.cols / 32)] = max_abs / 127.0f;
    out.sum[i * (out.cols / 32)] = sum;
  }
}

}  // namespace lowbit::simd_detail
