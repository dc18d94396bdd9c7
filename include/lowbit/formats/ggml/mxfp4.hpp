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
/// Half of the E8M0 scale `2^(e - 127)`, i.e. `2^(e - 128)`, as an exact f32 (subnormal for e < 2).
/// e = 255 (the spec's NaN) is not special-cased, as in ggml: it gives 2^127.
/// Source: `ggml_e8m0_to_fp32_half` (ggml/src/ggml-impl.h).
constexpr float e8m0_half_to_f32(std::uint8_t e) noexcept {
  const std::uint32_t bits = e < 2 ? (0x00200000u << e) : static_cast<std::uint32_t>(e - 1) << 23;
  return std::bit_cast<float>(bits);
}
}  // namespace detail

/// GGUF type MXFP4: 32 elements in 17 bytes, FP4 E2M1 codes with a shared E8M0 (power of two) scale,
/// the OCP MX v1.0 MXFP4 block.
///
/// Decode: `x[j] = v[q[j]] * 2^(e - 128)` with v the doubled E2M1 values
/// {0, 1, 2, 3, 4, 6, 8, 12, -0, -1, -2, -3, -4, -6, -8, -12} (`detail::e2m1::doubled_values`), i.e.
/// `E2M1(q) * 2^(e - 127)`. Bytes: `e` (E8M0 exponent, bias 127), `qs[16]`; element j (0..15) is the
/// low nibble of `qs[j]`, element j + 16 its high nibble. 4.25 bits per weight.
/// Source: ggml `block_mxfp4` (ggml/src/ggml-common.h), `quantize_row_mxfp4_ref`,
/// `dequantize_row_mxfp4` and `quantize_mxfp4` (ggml/src/ggml-quants.c), llama.cpp vendored by
/// llama-cpp-python 0.3.36; OCP Microscaling Formats (MX) v1.0 spec, §5 and §6.3.
struct mxfp4 {
  struct block {
    std::uint8_t e;       ///< shared scale, E8M0 (2^(e - 127))
    std::uint8_t qs[16];  ///< E2M1 codes, two per byte
  };
  static constexpr type type_id = type::mxfp4;
  static constexpr std::string_view name = "MXFP4";
  static constexpr std::size_t block_size = 32;
  static constexpr std::size_t block_bytes = 17;

  /// Writes the 32 decoded values of `b` to `out[0..32)`.
  static void dequantize_block(const block& b, float* out) noexcept {
    const float d = detail::e8m0_half_to_f32(b.e);
    for (std::size_t j = 0; j < 16; ++j) {
      out[j] = static_cast<float>(detail::e2m1::doubled_values[b.qs[j] & 0x0f]) * d;
      out[j + 16] = static_cast<float>(detail::e2m1::doubled_values[b.qs[j] >> 4]) * d;
    }
  }

  /// ggml's reference encoding: `e = floor(log2(max|x|)) - 2 + 127` (0 for an all-zero block), then
  /// each element takes the nearest code at scale `2^(e - 128)` (lowest code on ties). The exponent is
  /// truncated to 8 bits as ggml's conversion does on x86-64 (for max|x| < 2^-125 it wraps; every
  /// element of such a block then encodes as 0, as in ggml). Precondition: 32 finite floats.
  static void quantize_block(const float* x, block& out) noexcept {
    float amax = 0.0f;
    for (std::size_t j = 0; j < block_size; ++j) {
      if (amax < std::fabs(x[j])) amax = std::fabs(x[j]);
    }
    const float exponent = amax > 0.0f ? std::floor(std::log2(amax)) - 2.0f + 127.0f : 0.0f;
    out.e = static_cast<std::uint8_t>(static_cast<int>(exponent));  // modulo 256
    const float d = detail::e8m0_half_to_f32(out.e);
    for (std::size_t j = 0; j < 16; ++j) {
      const std::uint8_t q0 = detail::e2m1::best_index(x[j], d);
      const std::uint8_t q1 = detail::e2m1::best_index(x[j + 16], d);
      out.qs[j] = static_cast<std::uint8_t>(q0 | (q1 << 4));
    }
  }

  /// Encodes a row of `n` floats into `n / 32` blocks with `quantize_block`, byte-exact with ggml's
  /// `quantize_mxfp4` (`ggml_quantize_chunk`). ggml ignores the importance for MXFP4, and so does
  /// this function: `importance` is neither read nor checked.
  /// `x`: (n), `out`: (n / 32) blocks; no aliasing between them.
  /// throws lowbit::error{errc::shape_mismatch} if n % 32 != 0, {errc::invalid_argument} for a NaN or
  /// infinite input or a null pointer with n > 0.
  static void quantize_row(const float* x, [[maybe_unused]] const float* importance, std::size_t n, block* out) {
    detail::check_quantize_row_args(name, block_size, x, nullptr, n, out);
    for (std::size_t b = 0; b < n / block_size; ++b) quantize_block(x + b * block_size, out[b]);
  }
};
static_assert(sizeof(mxfp4::block) == mxfp4::block_bytes);

}  // namespace lowbit::ggml

LOWBIT_EXACT_FP_END
