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
    detail::quantize_iq_row<row_encoder>(x, importance, n, out);
  }

  /// IQ1_S's own part of quantize_row (detail::iq_row_encoder): one unit per sub-block of 32 (four
  /// groups of the 2048 entries of iq1s_grid under both shift signs), 8 scale codes, d < 0 searched
  /// too (its sign in bit 15 of d).
  struct row_encoder {
    using format = iq1_s;
    static constexpr std::size_t units = 8, unit_floats = 16 * 2048, sub_blocks = 8;
    static constexpr float grid_min = 0.875f, grid_max = 1.125f;
    static constexpr bool both_signs = true;
    static const std::vector<float>& grid() {
      static const std::vector<float> g = detail::expand_grid<8>(iq_grids::iq1s_grid, true);
      return g;
    }
    static void build_unit(const float* grid, const detail::normalized_block& v, std::size_t ib, float* storage,
                           detail::quant_unit& unit) {
      detail::build_shifted_unit(grid, 2048, &v.x[32 * ib], &v.w[32 * ib], 4, delta, storage, unit);
    }
    template <class Search, class Units>
    static void encode(block& y, const detail::scale_choice& c, const Search& search, const Units& units,
                       const detail::normalized_block&, int sign) {
      y.d = static_cast<std::uint16_t>(c.d | (sign == 1 ? 0x8000u : 0u));
      for (std::size_t ib = 0; ib < 8; ++ib) {
        detail::unit_choice uc;
        double sa = 0.0, sb = 0.0;
        detail::unit_choose(units[ib], search.sub_scale(c, ib), uc, sa, sb);
        std::uint16_t qh = static_cast<std::uint16_t>(c.ls[ib] << 12 | (uc.option == 1 ? 0x8000u : 0u));
        for (std::size_t l = 0; l < 4; ++l) {
          y.qs[4 * ib + l] = static_cast<std::uint8_t>(uc.index[l] & 0xff);
          qh = static_cast<std::uint16_t>(qh | (uc.index[l] >> 8) << (3 * l));
        }
        y.qh[ib] = qh;
      }
    }
  };
};
static_assert(sizeof(iq1_s::block) == iq1_s::block_bytes);

}  // namespace lowbit::ggml

LOWBIT_EXACT_FP_END
