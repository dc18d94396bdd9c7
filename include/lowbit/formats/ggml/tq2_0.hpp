// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "lowbit/core/fp16.hpp"
#include "lowbit/formats/ggml/quantize_row_args.hpp"
#include "lowbit/formats/ggml/type.hpp"
#include "lowbit/core/exact_fp.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::ggml {

/// GGUF type TQ2_0: 256 ternary elements in 66 bytes, 2 bits each, with an fp16 scale.
///
/// Decode: `x = (t - 1) * d`, t = 2-bit field in [0, 3] (the quantizer writes 0..2; 3 decodes to 2 d).
/// Bytes: `qs[64]`, `d` (fp16). Element `128 h + 32 k + m` (h in {0, 1}, k in 0..3, m in 0..31) is
/// bits 2k..2k+1 of `qs[32 h + m]`. 2.0625 bits per weight.
/// Source: ggml `block_tq2_0` (ggml/src/ggml-common.h), `quantize_row_tq2_0_ref`,
/// `dequantize_row_tq2_0` and `quantize_tq2_0` (ggml/src/ggml-quants.c), llama.cpp vendored by
/// llama-cpp-python 0.3.36.
struct tq2_0 {
  struct block {
    std::uint8_t qs[64];  ///< four 2-bit fields per byte
    std::uint16_t d;      ///< scale, IEEE binary16 bits
  };
  static constexpr type type_id = type::tq2_0;
  static constexpr std::string_view name = "TQ2_0";
  static constexpr std::size_t block_size = 256;
  static constexpr std::size_t block_bytes = 66;

  /// Writes the 256 decoded values of `b` to `out[0..256)`.
  static void dequantize_block(const block& b, float* out) noexcept {
    const float d = fp16_to_f32(b.d);
    for (std::size_t h = 0; h < 2; ++h) {
      for (std::size_t k = 0; k < 4; ++k) {
        for (std::size_t m = 0; m < 32; ++m) {
          const int t = (b.qs[32 * h + m] >> (2 * k)) & 3;
          out[128 * h + 32 * k + m] = static_cast<float>(t - 1) * d;
        }
      }
    }
  }

  /// ggml's reference encoding: `d = max|x|`, `t = lround(x / d) + 1`.
  /// Precondition: 256 finite floats (`quantize_row` checks).
  static void quantize_block(const float* x, block& out) noexcept {
    float amax = 0.0f;
    for (std::size_t j = 0; j < block_size; ++j) amax = amax > std::fabs(x[j]) ? amax : std::fabs(x[j]);
    const float d = amax;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out.d = f32_to_fp16(d);
    for (std::size_t h = 0; h < 2; ++h) {
      for (std::size_t m = 0; m < 32; ++m) {
        unsigned q = 0;
        for (std::size_t k = 0; k < 4; ++k) {
          const auto t = static_cast<unsigned>(std::lround(x[128 * h + 32 * k + m] * id) + 1);
          q |= (t & 3u) << (2 * k);
        }
        out.qs[32 * h + m] = static_cast<std::uint8_t>(q);
      }
    }
  }

  /// Encodes a row of `n` floats into `n / 256` blocks with `quantize_block`, byte-exact with ggml's
  /// `quantize_tq2_0` (`ggml_quantize_chunk`). ggml ignores the importance for TQ2_0, and so does this
  /// function: `importance` is neither read nor checked.
  /// `x`: (n), `out`: (n / 256) blocks; no aliasing between them.
  /// throws lowbit::error{errc::shape_mismatch} if n % 256 != 0, {errc::invalid_argument} for a NaN or
  /// infinite input or a null pointer with n > 0.
  static void quantize_row(const float* x, [[maybe_unused]] const float* importance, std::size_t n, block* out) {
    detail::check_quantize_row_args(name, block_size, x, nullptr, n, out);
    for (std::size_t b = 0; b < n / block_size; ++b) quantize_block(x + b * block_size, out[b]);
  }
};
static_assert(sizeof(tq2_0::block) == tq2_0::block_bytes);

}  // namespace lowbit::ggml

LOWBIT_EXACT_FP_END
