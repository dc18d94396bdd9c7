// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/core/fp16.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/core/exact_fp.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit {

/// Activations x(M, K) quantized on the fly to 8-bit codes in blocks of 32 along K, the way ggml
/// quantizes them for integer dot products (its Q8_0 / Q8_1 "vec_dot_type"), kept in split arrays
/// so SIMD kernels can broadcast codes directly.
///
/// Per block b of row i: `d = fp16(max|x| / 127)` (as a float), `qs = round(x * (127 / max|x|))`
/// (the reciprocal and ties-to-even rounding of ggml's x86 path), `sum = Σ qs` (exact int), `s = fp16(sum * max|x| /
/// 127)` (Q8_1's stored product, from the unrounded scale). Shapes: qs (M, K) int8 row-major; d, s, sum (M, K / 32).
/// Source: ggml `quantize_row_q8_0` / `quantize_row_q8_1` (ggml/src/ggml-quants.c, ggml-cpu/arch/x86/quants.c).
struct activation_q8 {
  static constexpr std::size_t block_size = 32;
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<std::int8_t> qs;
  std::vector<float> d;
  std::vector<float> s;
  std::vector<std::int32_t> sum;

  /// Sets the shape (reusing capacity). throws errc::shape_mismatch if cols % 32 != 0.
  void resize(std::size_t m, std::size_t k) {
    check(k % block_size == 0, errc::shape_mismatch,
          [&] { return "activation_q8: K = " + std::to_string(k) + " is not a multiple of 32"; });
    rows = m;
    cols = k;
    qs.resize(m * k);
    d.resize(m * k / block_size);
    s.resize(m * k / block_size);
    sum.resize(m * k / block_size);
  }
  const std::int8_t* row_qs(std::size_t i) const noexcept { return qs.data() + i * cols; }
  const float* row_d(std::size_t i) const noexcept { return d.data() + i * (cols / block_size); }
  const float* row_s(std::size_t i) const noexcept { return s.data() + i * (cols / block_size); }
  const std::int32_t* row_sum(std::size_t i) const noexcept { return sum.data() + i * (cols / block_size); }
};

/// The scalar reference quantizer for one block of 32 floats (see activation_q8).
/// Returns false (writing nothing) if the block holds a NaN or an infinity.
inline bool quantize_activation_block(const float* x, std::int8_t* qs, float& d, float& s, std::int32_t& sum) noexcept {
  float amax = 0.0f;
  for (std::size_t j = 0; j < 32; ++j) {
    if (!std::isfinite(x[j])) return false;
    amax = std::fmax(amax, std::fabs(x[j]));
  }
  const float scale = amax / 127.0f;
  const float inv = amax != 0.0f ? 127.0f / amax : 0.0f;  // ggml's x86 path; 1 / scale can differ by an ulp
  std::int32_t total = 0;
  for (std::size_t j = 0; j < 32; ++j) {
    qs[j] = static_cast<std::int8_t>(std::nearbyint(x[j] * inv));
    total += qs[j];
  }
  d = fp16_to_f32(f32_to_fp16(scale));
  s = fp16_to_f32(f32_to_fp16(static_cast<float>(total) * scale));
  sum = total;
  return true;
}

/// Quantizes x(M, K) into `out` with the scalar reference quantizer.
/// throws lowbit::error{errc::shape_mismatch} if K % 32 != 0; {errc::invalid_argument} naming the
/// row and column block if x holds a NaN or infinity (out is then unspecified but valid).
inline void quantize_activations_reference(matrix_view<const float> x, activation_q8& out) {
  out.resize(x.rows, x.cols);
  const std::size_t nb = x.cols / 32;
  for (std::size_t i = 0; i < x.rows; ++i) {
    for (std::size_t b = 0; b < nb; ++b) {
      const bool ok = quantize_activation_block(x.row(i) + b * 32, out.qs.data() + i * x.cols + b * 32,
                                                out.d[i * nb + b], out.s[i * nb + b], out.sum[i * nb + b]);
      check(ok, errc::invalid_argument, [&] {
        return "activation row " + std::to_string(i) + ", columns [" + std::to_string(b * 32) + ", " +
               std::to_string(b * 32 + 32) + "): NaN or infinity";
      });
    }
  }
}

}  // namespace lowbit

LOWBIT_EXACT_FP_END
