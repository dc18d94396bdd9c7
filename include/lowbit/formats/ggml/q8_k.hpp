// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "lowbit/core/error.hpp"
#include "lowbit/formats/ggml/k_quant_search.hpp"
#include "lowbit/formats/ggml/quantize_row_args.hpp"
#include "lowbit/formats/ggml/type.hpp"
#include "lowbit/core/exact_fp.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::ggml {

/// GGML type Q8_K: 256 elements in 292 bytes (9.125 bits per weight), signed 8-bit codes with an
/// f32 scale and the code sums of each group of 16; ggml's activation format for dot products with
/// the K-quants (it is never a weight type in a GGUF file, and ggml has no importance path for it).
///
/// Decode: `x[e] = d * q[e]`, q in [-127, 127] (f32 product, as ggml's `dequantize_row_q8_K`).
/// Bytes: `d` (f32), `qs[256]` (int8, element order), `bsums[16]` (int16 little-endian,
/// `bsums[g] = Σ q[16 g .. 16 g + 16)`).
/// Encode (`quantize_row_q8_K_ref`): with `max` the signed element of largest magnitude (the first
/// one on ties), `iscale = -127 / max`, `q = min(127, round(iscale * x))` (ties to even) and
/// `d = 1 / iscale`. The sign rule makes `max` itself code -127, so `d` has the opposite sign of
/// `max`: a block whose largest magnitude is positive has a negative `d` and negated codes. An
/// all-zero block has d = 0, zero codes and zero sums (ggml leaves its sums unwritten; we write 0).
/// Source: ggml `block_q8_K` (ggml/src/ggml-common.h), `quantize_row_q8_K_ref`,
/// `dequantize_row_q8_K` (ggml/src/ggml-quants.c), llama.cpp as vendored by llama-cpp-python 0.3.36.
struct q8_k {
  struct block {
    float d;                 ///< real units per code step (sign: see above)
    std::int8_t qs[256];     ///< codes in element order
    std::int16_t bsums[16];  ///< sums of the codes of each group of 16 elements
  };
  static constexpr type type_id = type::q8_k;
  static constexpr std::string_view name = "Q8_K";
  static constexpr std::size_t block_size = 256;
  static constexpr std::size_t block_bytes = 292;

  /// Writes the 256 decoded values `d * q` of `b` to `out[0..256)`.
  static void dequantize_block(const block& b, float* out) noexcept {
    for (std::size_t e = 0; e < 256; ++e) out[e] = b.d * static_cast<float>(b.qs[e]);
  }

  /// ggml's `quantize_row_q8_K_ref` for 256 floats (see the type's comment).
  /// throws lowbit::error{errc::invalid_argument} if an input is NaN or infinite.
  static void quantize_block(const float* x, block& out) {
    detail::check_quantize_block_input(name, x);
    encode(x, out);
  }

  /// Encodes n floats (n % 256 == 0) into n / 256 blocks with `quantize_block`.
  /// throws lowbit::error{errc::shape_mismatch} if n % 256 != 0, {errc::invalid_argument} for a
  /// NaN or infinite input, {errc::unsupported} if `importance` is not null (Q8_K has no
  /// importance-weighted encoder in ggml). `out` must not alias `x`.
  static void quantize_row(const float* x, const float* importance, std::size_t n, block* out) {
    check(importance == nullptr, errc::unsupported,
          "quantize_row<Q8_K>: Q8_K is an activation format without an importance-weighted encoder; pass "
          "importance = nullptr");
    detail::check_quantize_row_args(name, block_size, x, nullptr, n, out);
    for (std::size_t i = 0; i < n / block_size; ++i) encode(x + i * block_size, out[i]);
  }

 private:
  static void encode(const float* x, block& out) noexcept {
    float max = 0.0f;
    float amax = 0.0f;
    for (std::size_t e = 0; e < 256; ++e) {
      const float ax = std::fabs(x[e]);
      if (ax > amax) {
        amax = ax;
        max = x[e];
      }
    }
    if (amax == 0.0f) {
      std::memset(&out, 0, sizeof out);
      return;
    }
    const float iscale = -127.0f / max;
    for (std::size_t e = 0; e < 256; ++e) {
      out.qs[e] = static_cast<std::int8_t>(std::min(127, detail::round_nearest(iscale * x[e])));
    }
    for (std::size_t g = 0; g < 16; ++g) {
      int sum = 0;
      for (std::size_t e = 16 * g; e < 16 * g + 16; ++e) sum += out.qs[e];
      out.bsums[g] = static_cast<std::int16_t>(sum);
    }
    out.d = 1.0f / iscale;
  }
};
static_assert(sizeof(q8_k::block) == q8_k::block_bytes);

}  // namespace lowbit::ggml

LOWBIT_EXACT_FP_END
