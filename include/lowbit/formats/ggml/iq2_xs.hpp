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

/// GGUF type IQ2_XS: 256 elements in 74 bytes (2.3125 bits per weight), groups of 8 coded as one of
/// the 512 entries of `iq_grids::iq2xs_grid` (magnitudes in {8, 25, 43}) with signs of even parity, and
/// a 4-bit scale per 16 elements.
///
/// Bytes: `d` (fp16 super-scale); `qs[32]`, one u16 per group of 8: bits 0..8 the grid index, bits
/// 9..15 the 7-bit sign index; `scales[8]`, per 32 elements: low nibble the code ls of its first 16
/// elements, high nibble of its last 16.
/// Decode: `x[8 g + j] = db * grid[j] * (bit j of sign_mask(qs[g] >> 9) ? -1 : 1)` with
/// `db = d * (0.5f + ls) * 0.25f` in f32.
/// Source: `block_iq2_xs` (ggml/src/ggml-common.h) and `dequantize_row_iq2_xs` (ggml/src/ggml-quants.c),
/// llama.cpp as vendored by llama-cpp-python 0.3.36.
struct iq2_xs {
  struct block {
    std::uint16_t d;         ///< super-scale, IEEE binary16 bits
    std::uint16_t qs[32];    ///< per group: grid index (9 bits) | sign index << 9
    std::uint8_t scales[8];  ///< two 4-bit scale codes per 32 elements
  };
  static constexpr type type_id = type::iq2_xs;
  static constexpr std::string_view name = "IQ2_XS";
  static constexpr std::size_t block_size = 256;
  static constexpr std::size_t block_bytes = 74;

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
      const std::uint64_t e = iq_grids::iq2xs_grid[b.qs[g] & 511];
      const std::uint8_t signs = iq_grids::sign_mask(b.qs[g] >> 9);
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
  /// the grid entry and signs of every group for each candidate scale, scales searched as
  /// `detail::scale_search` describes. Not byte-identical with ggml's `quantize_iq2_xs`.
  /// throws lowbit::error{errc::shape_mismatch} if n % 256 != 0, {errc::invalid_argument} if an
  /// element of x is not finite or an importance is negative or not finite. Allocates scratch.
  static void quantize_row(const float* x, const float* importance, std::size_t n, block* out) {
    detail::quantize_iq_row<row_encoder>(x, importance, n, out);
  }

  /// IQ2_XS's own part of quantize_row (detail::iq_row_encoder): one unit per group of 8 (the 512
  /// entries of iq2xs_grid, signs of even parity), 16 scale codes; per group a u16 of grid index
  /// and 7-bit sign index.
  struct row_encoder {
    using format = iq2_xs;
    static constexpr std::size_t units = 32, unit_floats = 2 * 512, sub_blocks = 16;
    static constexpr float grid_min = 8.0f, grid_max = 43.0f;
    static constexpr bool both_signs = false;
    static const std::vector<float>& grid() {
      static const std::vector<float> g = detail::expand_grid<8>(iq_grids::iq2xs_grid, false);
      return g;
    }
    static void build_unit(const float* grid, const detail::normalized_block& v, std::size_t g, float* storage,
                           detail::quant_unit& unit) {
      detail::build_grid8_unit(grid, 512, &v.x[8 * g], &v.xa[8 * g], &v.w[8 * g], true, storage, unit);
    }
    template <class Search, class Units>
    static void encode(block& y, const detail::scale_choice& c, const Search& search, const Units& units,
                       const detail::normalized_block& nb, int) {
      y.d = c.d;
      for (std::size_t g = 0; g < 32; ++g) {
        detail::unit_choice uc;
        double sa = 0.0, sb = 0.0;
        detail::unit_choose(units[g], search.sub_scale(c, g / 2), uc, sa, sb);
        const std::uint8_t signs =
            detail::grid8_signs(grid().data() + 8 * uc.index[0], &nb.x[8 * g], &nb.xa[8 * g], &nb.w[8 * g], true);
        y.qs[g] = static_cast<std::uint16_t>(uc.index[0] | (signs & 127u) << 9);
      }
      for (std::size_t ib = 0; ib < 8; ++ib)
        y.scales[ib] = static_cast<std::uint8_t>(c.ls[2 * ib] | c.ls[2 * ib + 1] << 4);
    }
  };
};
static_assert(sizeof(iq2_xs::block) == iq2_xs::block_bytes);

}  // namespace lowbit::ggml

LOWBIT_EXACT_FP_END
