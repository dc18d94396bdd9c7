// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "lowbit/formats/ggml/e2m1_search.hpp"
#include "lowbit/formats/ggml/quantize_row_args.hpp"
#include "lowbit/formats/ggml/type.hpp"
#include "lowbit/core/exact_fp.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::ggml {

namespace detail {
/// Half of an unsigned E4M3 scale byte as ggml reads it: bits 6..3 exponent (bias 7), bits 2..0
/// mantissa, bit 7 ignored; `man * 2^-9` for exponent 0, `(1 + man / 8) * 2^(exp - 7)` otherwise;
/// 0x00 and 0x7f (the E4M3 NaN) read as 0. The result is exact.
/// Source: `ggml_ue4m3_to_fp32` (ggml/src/ggml-impl.h).
inline float ue4m3_half_to_f32(std::uint8_t v) noexcept {
  if (v == 0 || v == 0x7f) return 0.0f;
  const int exponent = (v >> 3) & 0x0f;
  const int mantissa = v & 0x07;
  const float raw = exponent == 0 ? std::ldexp(static_cast<float>(mantissa), -9)
                                  : std::ldexp(1.0f + static_cast<float>(mantissa) / 8.0f, exponent - 7);
  return raw * 0.5f;
}

/// ggml's f32 -> unsigned E4M3 conversion: 0 for x <= 0 or NaN; x clamped to 448; subnormals
/// (x < 2^-6) `round(x * 2^9)` clamped to [0, 7]; normals keep the top 3 mantissa bits and round half
/// up on the 4th (the carry may bump the exponent); exponents past 14 saturate to 0x7e (448).
/// Source: `ggml_fp32_to_ue4m3` (ggml/src/ggml-impl.h).
inline std::uint8_t f32_to_ue4m3(float x) noexcept {
  if (!(x > 0.0f)) return 0;
  if (x > 448.0f) x = 448.0f;
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  const int fp32_exp = static_cast<int>((bits >> 23) & 0xff) - 127;
  const int fp32_man = static_cast<int>((bits >> 20) & 0x7);
  int exponent = fp32_exp + 7;
  if (exponent <= 0) {
    int man = static_cast<int>(x * 512.0f + 0.5f);
    if (man > 7) man = 7;
    return man < 1 ? 0 : static_cast<std::uint8_t>(man);
  }
  if (exponent >= 15) return 0x7e;
  int mantissa = fp32_man + static_cast<int>((bits >> 19) & 1u);
  if (mantissa > 7) {
    mantissa = 0;
    if (++exponent >= 15) return 0x7e;
  }
  return static_cast<std::uint8_t>((exponent << 3) | mantissa);
}
}  // namespace detail

/// GGUF type NVFP4: 64 elements in 36 bytes, FP4 E2M1 codes with one unsigned E4M3 scale per 16
/// elements (four scales per block).
///
/// Decode: sub-block s (0..3) has `h = ue4m3(d[s]) / 2` and `x[16 s + j] = v[q] * h`, with v the
/// doubled E2M1 values (`detail::e2m1::doubled_values`), i.e. `E2M1(q) * ue4m3(d[s])`.
/// Bytes: `d[4]` (unsigned E4M3: 4 exponent bits, bias 7, 3 mantissa bits), `qs[32]`: sub-block s
/// uses `qs[8 s .. 8 s + 8)`, element j (0..7) in the low nibble of `qs[8 s + j]`, element j + 8 in
/// its high nibble. 4.5 bits per weight. This is ggml's NVFP4 (type id 40, "4 blocks, E4M3 scale"):
/// the per-tensor f32 scale of NVIDIA's NVFP4 is not part of the block.
/// Source: ggml `block_nvfp4` (ggml/src/ggml-common.h), `quantize_row_nvfp4_ref`,
/// `dequantize_row_nvfp4` and `quantize_nvfp4` (ggml/src/ggml-quants.c), `ggml_ue4m3_to_fp32` and
/// `ggml_fp32_to_ue4m3` (ggml/src/ggml-impl.h), llama.cpp vendored by llama-cpp-python 0.3.36.
struct nvfp4 {
  struct block {
    std::uint8_t d[4];    ///< per-16-element scales, unsigned E4M3
    std::uint8_t qs[32];  ///< E2M1 codes, two per byte
  };
  static constexpr type type_id = type::nvfp4;
  static constexpr std::string_view name = "NVFP4";
  static constexpr std::size_t block_size = 64;
  static constexpr std::size_t block_bytes = 36;

  /// Writes the 64 decoded values of `b` to `out[0..64)`.
  static void dequantize_block(const block& b, float* out) noexcept {
    for (std::size_t s = 0; s < 4; ++s) {
      const float d = detail::ue4m3_half_to_f32(b.d[s]);
      for (std::size_t j = 0; j < 8; ++j) {
        const std::uint8_t q = b.qs[8 * s + j];
        out[16 * s + j] = static_cast<float>(detail::e2m1::doubled_values[q & 0x0f]) * d;
        out[16 * s + j + 8] = static_cast<float>(detail::e2m1::doubled_values[q >> 4]) * d;
      }
    }
  }

  /// ggml's reference encoding: per 16 elements, `d[s] = ue4m3(max|x| / 6)` (ggml's rounding, see
  /// `detail::f32_to_ue4m3`), then each element takes the nearest code at the decoded scale (lowest
  /// code on ties). Precondition: 64 finite floats (`quantize_row` checks).
  static void quantize_block(const float* x, block& out) noexcept {
    for (std::size_t s = 0; s < 4; ++s) {
      const float* xs = x + 16 * s;
      float amax = 0.0f;
      for (std::size_t j = 0; j < 16; ++j) {
        if (amax < std::fabs(xs[j])) amax = std::fabs(xs[j]);
      }
      out.d[s] = detail::f32_to_ue4m3(amax / 6.0f);
      const float d = detail::ue4m3_half_to_f32(out.d[s]);
      for (std::size_t j = 0; j < 8; ++j) {
        const std::uint8_t q0 = detail::e2m1::best_index(xs[j], d);
        const std::uint8_t q1 = detail::e2m1::best_index(xs[j + 8], d);
        out.qs[8 * s + j] = static_cast<std::uint8_t>(q0 | (q1 << 4));
      }
    }
  }

  /// Encodes a row of `n` floats into `n / 64` blocks with `quantize_block`, byte-exact with ggml's
  /// `quantize_nvfp4` (`ggml_quantize_chunk`). ggml ignores the importance for NVFP4, and so does
  /// this function: `importance` is neither read nor checked.
  /// `x`: (n), `out`: (n / 64) blocks; no aliasing between them.
  /// throws lowbit::error{errc::shape_mismatch} if n % 64 != 0, {errc::invalid_argument} for a NaN or
  /// infinite input or a null pointer with n > 0.
  static void quantize_row(const float* x, [[maybe_unused]] const float* importance, std::size_t n, block* out) {
    detail::check_quantize_row_args(name, block_size, x, nullptr, n, out);
    for (std::size_t b = 0; b < n / block_size; ++b) quantize_block(x + b * block_size, out[b]);
  }
};
static_assert(sizeof(nvfp4::block) == nvfp4::block_bytes);

}  // namespace lowbit::ggml

LOWBIT_EXACT_FP_END
