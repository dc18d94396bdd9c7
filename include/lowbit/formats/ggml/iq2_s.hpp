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

/// GGUF type IQ2_S: 256 elements in 82 bytes (2.5625 bits per weight), groups of 8 coded as one of
/// the 1024 entries of `iq_grids::iq2s_grid` (magnitudes in {8, 25, 43}) with 8 free sign bits, and a
/// 4-bit scale per 16 elements.
///
/// Bytes: `d` (fp16 super-scale); `qs[64]`: `qs[g]` (g < 32) the low 8 bits of group g's grid index,
/// `qs[32 + g]` its sign bits (bit j set: element j negative); `qh[8]`, per 32 elements ib: bits
/// 2 l, 2 l + 1 are bits 8, 9 of the grid index of its group l; `scales[8]`, per 32 elements: low
/// nibble the code ls of its first 16 elements, high nibble of its last 16.
/// Decode: `x[8 g + j] = db * grid[j] * (sign bit j ? -1 : 1)`, `db = d * (0.5f + ls) * 0.25f` in f32.
/// Source: `block_iq2_s` (ggml/src/ggml-common.h) and `dequantize_row_iq2_s` (ggml/src/ggml-quants.c),
/// llama.cpp as vendored by llama-cpp-python 0.3.36.
struct iq2_s {
  struct block {
    std::uint16_t d;         ///< super-scale, IEEE binary16 bits
    std::uint8_t qs[64];     ///< low 8 index bits of the 32 groups, then their 32 sign bytes
    std::uint8_t qh[8];      ///< high 2 index bits, 4 groups per byte
    std::uint8_t scales[8];  ///< two 4-bit scale codes per 32 elements
  };
  static constexpr type type_id = type::iq2_s;
  static constexpr std::string_view name = "IQ2_S";
  static constexpr std::size_t block_size = 256;
  static constexpr std::size_t block_bytes = 82;

  /// The sub-block scale rule: 16 codes, `s = d * (0.5f + ls) * 0.25f` (the decoder's f32 expression).
  struct scale_rule {
    static constexpr int levels = 16;
    static float scale(float d, int ls) noexcept { return d * (0.5f + static_cast<float>(ls)) * 0.25f; }
  };

  /// Writes the 256 decoded values of `b` to `out[0..256)`, bit-exactly as ggml's decoder.
  static void dequantize_block(const block& b, float* out) noexcept {
    const float d = fp16_to_f32(b.d);
    for (std::size_t g = 0; g < 32; ++g) {
      const int ls = (b.scales[g / 4] >> (4 * ((g / 2) % 2))) & 0xf;
      const float db = scale_rule::scale(d, ls);
      const std::size_t index = b.qs[g] | static_cast<std::size_t>((b.qh[g / 4] >> (2 * (g % 4))) & 3) << 8;
      const std::uint64_t e = iq_grids::iq2s_grid[index];
      const std::uint8_t signs = b.qs[32 + g];
      for (std::size_t j = 0; j < 8; ++j) {
        out[8 * g + j] = db * static_cast<float>(iq_grids::grid_code(e, j)) * ((signs >> j) & 1 ? -1.0f : 1.0f);
      }
    }
  }

  /// Encodes 256 floats with unit importance (`quantize_row(x, nullptr, 256, &out)`).
  /// throws lowbit::error{errc::invalid_argument} if an element is NaN or infinite.
  static void quantize_block(const float* x, block& out) { quantize_row(x, nullptr, block_size, &out); }

  /// Encodes n floats (n a multiple of 256) into n / 256 blocks, minimising the importance-weighted
  /// squared error of the decoded row (unit weights when `importance` is nullptr): exhaustive search of
  /// each group's grid entry (signs follow x) for each candidate scale, scales searched as
  /// `detail::scale_search` describes. Not byte-identical with ggml's `quantize_iq2_s`.
  /// throws lowbit::error{errc::shape_mismatch} if n % 256 != 0, {errc::invalid_argument} if an
  /// element of x is not finite or an importance is negative or not finite. Allocates scratch.
  static void quantize_row(const float* x, const float* importance, std::size_t n, block* out) {
    detail::quantize_iq_row<row_encoder>(x, importance, n, out);
  }

  /// IQ2_S's own part of quantize_row (detail::iq_row_encoder): one unit per group of 8 (the 1024
  /// entries of iq2s_grid, signs following x), 16 scale codes; per group a 10-bit index (qs, qh)
  /// and a sign byte.
  struct row_encoder {
    using format = iq2_s;
    static constexpr std::size_t units = 32, unit_floats = 2 * 1024, sub_blocks = 16;
    static constexpr float grid_min = 8.0f, grid_max = 43.0f;
    static constexpr bool both_signs = false;
    static const std::vector<float>& grid() {
      static const std::vector<float> g = detail::expand_grid<8>(iq_grids::iq2s_grid, false);
      return g;
    }
    static void build_unit(const float* grid, const detail::normalized_block& v, std::size_t g, float* storage,
                           detail::quant_unit& unit) {
      detail::build_grid8_unit(grid, 1024, &v.x[8 * g], &v.xa[8 * g], &v.w[8 * g], false, storage, unit);
    }
    template <class Search, class Units>
    static void encode(block& y, const detail::scale_choice& c, const Search& search, const Units& units,
                       const detail::normalized_block& nb, int) {
      y.d = c.d;
      for (std::size_t g = 0; g < 32; ++g) {
        detail::unit_choice uc;
        double sa = 0.0, sb = 0.0;
        detail::unit_choose(units[g], search.sub_scale(c, g / 2), uc, sa, sb);
        y.qs[g] = static_cast<std::uint8_t>(uc.index[0] & 0xff);
        y.qh[g / 4] = static_cast<std::uint8_t>(y.qh[g / 4] | (uc.index[0] >> 8) << (2 * (g % 4)));
        y.qs[32 + g] = detail::natural_signs<8>(&nb.x[8 * g]);
      }
      for (std::size_t ib = 0; ib < 8; ++ib)
        y.scales[ib] = static_cast<std::uint8_t>(c.ls[2 * ib] | c.ls[2 * ib + 1] << 4);
    }
  };
};
static_assert(sizeof(iq2_s::block) == iq2_s::block_bytes);

}  // namespace lowbit::ggml

LOWBIT_EXACT_FP_END
