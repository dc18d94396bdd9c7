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

/// GGUF type TQ1_0: 256 ternary elements in 54 bytes, base-3 packed five (or four) to a byte, with
/// an fp16 scale (BitNet b1.58 / TriLM weights).
///
/// Decode: `x = (t - 1) * d`, t in {0, 1, 2}. A byte `b` holding trits t_1..t_5 (most significant
/// first) stores `ceil(256 * (t_1 3^4 + t_2 3^3 + ... + t_5) / 243)`; trit k (1-based) is recovered as
/// `((uint8)(b * 3^(k-1)) * 3) >> 8`.
/// Bytes: `qs[48]`, `qh[4]`, `d` (fp16). Bytes qs[0..32) hold elements `32 (k-1) + m` (k = 1..5,
/// m = byte index); qs[32..48) hold elements `160 + 16 (k-1) + (m - 32)`; qh[0..4) hold four trits
/// each (k = 1..4; the fifth trit is 0), elements `240 + 4 (k-1) + m`. 1.6875 bits per weight.
/// Source: ggml `block_tq1_0` (ggml/src/ggml-common.h), `quantize_row_tq1_0_ref`,
/// `dequantize_row_tq1_0` and `quantize_tq1_0` (ggml/src/ggml-quants.c), llama.cpp vendored by
/// llama-cpp-python 0.3.36.
struct tq1_0 {
  struct block {
    std::uint8_t qs[48];  ///< five trits per byte
    std::uint8_t qh[4];   ///< four trits per byte
    std::uint16_t d;      ///< scale, IEEE binary16 bits
  };
  static constexpr type type_id = type::tq1_0;
  static constexpr std::string_view name = "TQ1_0";
  static constexpr std::size_t block_size = 256;
  static constexpr std::size_t block_bytes = 54;

  /// Writes the 256 decoded values of `b` to `out[0..256)`.
  static void dequantize_block(const block& b, float* out) noexcept {
    constexpr std::uint8_t pow3[5] = {1, 3, 9, 27, 81};
    const float d = fp16_to_f32(b.d);
    const auto trit = [](std::uint8_t byte, std::uint8_t p) {
      const auto shifted = static_cast<std::uint8_t>(byte * p);  // mod 256
      return (static_cast<int>(shifted) * 3) >> 8;
    };
    float* y = out;
    for (std::size_t k = 0; k < 5; ++k) {
      for (std::size_t m = 0; m < 32; ++m) *y++ = static_cast<float>(trit(b.qs[m], pow3[k]) - 1) * d;
    }
    for (std::size_t k = 0; k < 5; ++k) {
      for (std::size_t m = 32; m < 48; ++m) *y++ = static_cast<float>(trit(b.qs[m], pow3[k]) - 1) * d;
    }
    for (std::size_t k = 0; k < 4; ++k) {
      for (std::size_t m = 0; m < 4; ++m) *y++ = static_cast<float>(trit(b.qh[m], pow3[k]) - 1) * d;
    }
  }

  /// ggml's reference encoding: `d = max|x|`, `t = lround(x / d) + 1`, trits packed as above.
  /// Precondition: 256 finite floats (`quantize_row` checks).
  static void quantize_block(const float* x, block& out) noexcept {
    float amax = 0.0f;
    for (std::size_t j = 0; j < block_size; ++j) amax = amax > std::fabs(x[j]) ? amax : std::fabs(x[j]);
    const float d = amax;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out.d = f32_to_fp16(d);
    const auto trit = [&](std::size_t j) { return static_cast<unsigned>(std::lround(x[j] * id) + 1); };
    // 3^5 = 243 <= 256: a byte maps the 5-trit number q in [0, 243) to ceil(256 q / 243).
    const auto pack = [](unsigned q) { return static_cast<std::uint8_t>((q * 256 + 242) / 243); };
    for (std::size_t m = 0; m < 32; ++m) {
      unsigned q = 0;
      for (std::size_t k = 0; k < 5; ++k) q = q * 3 + trit(m + 32 * k);
      out.qs[m] = pack(q);
    }
    for (std::size_t m = 0; m < 16; ++m) {
      unsigned q = 0;
      for (std::size_t k = 0; k < 5; ++k) q = q * 3 + trit(160 + m + 16 * k);
      out.qs[32 + m] = pack(q);
    }
    for (std::size_t m = 0; m < 4; ++m) {
      unsigned q = 0;
      for (std::size_t k = 0; k < 4; ++k) q = q * 3 + trit(240 + m + 4 * k);
      out.qh[m] = pack(q * 3);  // the first trit moves to the most significant position
    }
  }

  /// Encodes a row of `n` floats into `n / 256` blocks with `quantize_block`, byte-exact with ggml's
  /// `quantize_tq1_0` (`ggml_quantize_chunk`). ggml ignores the importance for TQ1_0, and so does this
  /// function: `importance` is neither read nor checked.
  /// `x`: (n), `out`: (n / 256) blocks; no aliasing between them.
  /// throws lowbit::error{errc::shape_mismatch} if n % 256 != 0, {errc::invalid_argument} for a NaN or
  /// infinite input or a null pointer with n > 0.
  static void quantize_row(const float* x, [[maybe_unused]] const float* importance, std::size_t n, block* out) {
    detail::check_quantize_row_args(name, block_size, x, nullptr, n, out);
    for (std::size_t b = 0; b < n / block_size; ++b) quantize_block(x + b * block_size, out[b]);
  }
};
static_assert(sizeof(tq1_0::block) == tq1_0::block_bytes);

}  // namespace lowbit::ggml

LOWBIT_EXACT_FP_END
