// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "lowbit/core/exact_fp.hpp"
#include "lowbit/core/fp16.hpp"
#include "lowbit/formats/ggml/iq_grids.hpp"
#include "lowbit/formats/ggml/iq_search.hpp"
#include "lowbit/formats/ggml/quantize_row_args.hpp"
#include "lowbit/formats/ggml/type.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::ggml {

/// GGUF type IQ1_S: 256 elements in 50 bytes (1.5625 bits per weight), groups of 8 coded as one of the
/// 2048 entries of `iq_grids::iq1s_grid` (codes in {-1, 0, 1}) shifted by +-1/8, with a 3-bit scale and
/// a shift sign per 32 elements.
///
/// Bytes: `d` (fp16 super-scale); `qs[32]`, the low 8 bits of each group's grid index; `qh[8]`, one
/// little-endian u16 per 32 elements ib: bits 3 l .. 3 l + 2 are bits 8..10 of the index of its group
/// l, bits 12..14 the scale code ls, bit 15 the shift sign.
/// Decode: `x[8 g + j] = dl * (grid[j] + delta)` with `dl = d * float(2 ls + 1)` and
/// `delta = bit 15 ? -0.125f : 0.125f` (IQ1S_DELTA), in f32.
/// Source: `block_iq1_s`, `IQ1S_DELTA` (ggml/src/ggml-common.h) and `dequantize_row_iq1_s`
/// (ggml/src/ggml-quants.c), llama.cpp as vendored by llama-cpp-python 0.3.36.
struct iq1_s {
  struct block {
    std::uint16_t d;      ///< super-scale, IEEE binary16 bits
    std::uint8_t qs[32];  ///< low 8 bits of the grid indices
    std::uint16_t qh[8];  ///< per 32 elements: high index bits, scale code, shift sign
  };
  static constexpr type type_id = type::iq1_s;
  static constexpr std::string_view name = "IQ1_S";
  static constexpr std::size_t block_size = 256;
  static constexpr std::size_t block_bytes = 50;
  static constexpr float delta = 0.125f;  ///< the grid shift magnitude, ggml's IQ1S_DELTA

  /// The sub-block scale rule: 8 codes, `s = d * float(2 ls + 1)` (the decoder's f32 expression).
  struct scale_rule {
    static constexpr int levels = 8;
    static float scale(float d, int ls) noexcept { return d * static_cast<float>(2 * ls + 1); }
  };

  /// Writes the 256 decoded values of `b` to `out[0..256)`, bit-exactly as ggml's decoder.
  static void dequantize_block(const block& b, float* out) noexcept {
    const float d = fp16_to_f32(b.d);
    for (std::size_t ib = 0; ib < 8; ++ib) {
      const float dl = scale_rule::scale(d, (b.qh[ib] >> 12) & 7);
      const float shift = (b.qh[ib] & 0x8000) ? -delta : delta;
      for (std::size_t l = 0; l < 4; ++l) {
        const std::size_t index = b.qs[4 * ib + l] | static_cast<std::size_t>((b.qh[ib] >> (3 * l)) & 7) << 8;
        const std::uint64_t e = iq_grids::iq1s_grid[index];
        for (std::size_t j = 0; j < 8; ++j) {
          const auto code = static_cast<std::int8_t>(iq_grids::grid_code(e, j));
          out[32 * ib + 8 * l + j] = dl * (static_cast<float>(code) + shift);
        }
      }
    }
  }

  /// Encodes 256 floats with unit importance (`quantize_row(x, nullptr, 256, &out)`).
  /// throws lowbit::error{errc::invalid_argument} if an element is NaN or infinite.
  static void quantize_block(const float* x, block& out) { quantize_row(x, nullptr, block_size, &out); }

  /// Encodes n floats (n a multiple of 256) into n / 256 blocks, minimising the importance-weighted
  /// squared error of the decoded row (unit weights when `importance` is nullptr): for each candidate
  /// scale, exhaustive search of every group's grid entry under both shift signs of its 32 elements;
  /// scales searched as `detail::scale_search` describes, for d > 0 and for d < 0 (the grid is not
  /// symmetric). Not byte-identical with ggml's `quantize_iq1_s`.
  /// throws lowbit::error{errc::shape_mismatch} if n % 256 != 0, {errc::invalid_argument} if an
  /// element of x is not finite or an importance is negative or not finite. Allocates scratch.
  static void quantize_row(const float* x, const float* importance, std::size_t n, block* out) {
    detail::check_quantize_row_args(name, block_size, x, importance, n, out);
    static const std::vector<float> grid = detail::expand_grid<8>(iq_grids::iq1s_grid, true);
    constexpr std::size_t entries = 2048;
    std::vector<float> storage(8 * 4 * 4 * entries);
    std::array<detail::quant_unit, 8> units;
    detail::normalized_block nb;
    for (std::size_t ibl = 0; ibl < n / block_size; ++ibl) {
      block& y = out[ibl];
      y = block{};
      detail::normalize_block(x + ibl * block_size, importance ? importance + ibl * block_size : nullptr, nb);
      if (nb.all_zero) continue;
      const auto amax = detail::sub_block_amax(nb, 32);
      block best{};
      double best_error = 0.0;
      for (int sign = 0; sign < 2; ++sign) {
        const detail::normalized_block& v = sign == 0 ? nb : detail::negated(nb);
        for (std::size_t ib = 0; ib < 8; ++ib) {
          detail::build_shifted_unit(grid.data(), entries, &v.x[32 * ib], &v.w[32 * ib], 4, delta,
                                     storage.data() + ib * 16 * entries, units[ib]);
        }
        detail::scale_search<scale_rule> search(units, 8, amax.data(), 0.875f, 1.125f, v.exponent);
        const detail::scale_choice c = search.run();
        if (sign == 0) best_error = c.error;  // d = 0 at worst
        if (fp16_to_f32(c.d) == 0.0f || (sign == 1 && !(c.error < best_error))) continue;
        best_error = c.error;
        best = block{};
        best.d = static_cast<std::uint16_t>(c.d | (sign == 1 ? 0x8000u : 0u));
        for (std::size_t ib = 0; ib < 8; ++ib) {
          detail::unit_choice uc;
          double sa = 0.0, sb = 0.0;
          detail::unit_choose(units[ib], search.sub_scale(c, ib), uc, sa, sb);
          std::uint16_t qh = static_cast<std::uint16_t>(c.ls[ib] << 12 | (uc.option == 1 ? 0x8000u : 0u));
          for (std::size_t l = 0; l < 4; ++l) {
            best.qs[4 * ib + l] = static_cast<std::uint8_t>(uc.index[l] & 0xff);
            qh = static_cast<std::uint16_t>(qh | (uc.index[l] >> 8) << (3 * l));
          }
          best.qh[ib] = qh;
        }
      }
      y = best;
    }
  }
};
static_assert(sizeof(iq1_s::block) == iq1_s::block_bytes);

}  // namespace lowbit::ggml

LOWBIT_EXACT_FP_END
