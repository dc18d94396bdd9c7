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

/// GGUF type IQ3_XXS: 256 elements in 98 bytes (3.0625 bits per weight), each group of 8 coded as two
/// of the 256 entries of `iq_grids::iq3xxs_grid` (4 magnitudes each, in {4, 12, ..., 52, 62}) with signs
/// of even parity, and a 4-bit scale per 32 elements.
///
/// Bytes: `d` (fp16 super-scale); `qs[96]`: `qs[2 g]`, `qs[2 g + 1]` (g < 32) the grid indices of
/// elements 0..3 and 4..7 of group g; then per 32 elements ib a little-endian u32 at `qs[64 + 4 ib]`:
/// bits 7 l .. 7 l + 6 the sign index of its group l, bits 28..31 the scale code ls.
/// Decode: `x[8 g + j] = db * grid[j] * (bit j of sign_mask(k) ? -1 : 1)`, `db = d * (0.5f + ls) * 0.5f`
/// in f32.
/// Source: `block_iq3_xxs` (ggml/src/ggml-common.h) and `dequantize_row_iq3_xxs`
/// (ggml/src/ggml-quants.c), llama.cpp as vendored by llama-cpp-python 0.3.36.
struct iq3_xxs {
  struct block {
    std::uint16_t d;      ///< super-scale, IEEE binary16 bits
    std::uint8_t qs[96];  ///< 64 grid indices, then 8 u32 of signs and scale
  };
  static constexpr type type_id = type::iq3_xxs;
  static constexpr std::string_view name = "IQ3_XXS";
  static constexpr std::size_t block_size = 256;
  static constexpr std::size_t block_bytes = 98;

  /// The sub-block scale rule: 16 codes, `s = d * (0.5f + ls) * 0.5f` (the decoder's f32 expression).
  struct scale_rule {
    static constexpr int levels = 16;
    static float scale(float d, int ls) noexcept { return d * (0.5f + static_cast<float>(ls)) * 0.5f; }
  };

  /// Writes the 256 decoded values of `b` to `out[0..256)`, bit-exactly as ggml's decoder.
  static void dequantize_block(const block& b, float* out) noexcept {
    const float d = fp16_to_f32(b.d);
    for (std::size_t ib = 0; ib < 8; ++ib) {
      const std::uint32_t aux = detail::read_iq_u32(b.qs + 64 + 4 * ib);
      const float db = scale_rule::scale(d, static_cast<int>(aux >> 28));
      for (std::size_t l = 0; l < 4; ++l) {
        const std::size_t g = 4 * ib + l;
        const std::uint8_t signs = iq_grids::sign_mask(aux >> (7 * l));
        const std::uint32_t e1 = iq_grids::iq3xxs_grid[b.qs[2 * g]];
        const std::uint32_t e2 = iq_grids::iq3xxs_grid[b.qs[2 * g + 1]];
        for (std::size_t j = 0; j < 4; ++j) {
          out[8 * g + j] = db * static_cast<float>(iq_grids::grid_code(e1, j)) * ((signs >> j) & 1 ? -1.0f : 1.0f);
          out[8 * g + j + 4] =
              db * static_cast<float>(iq_grids::grid_code(e2, j)) * ((signs >> (j + 4)) & 1 ? -1.0f : 1.0f);
        }
      }
    }
  }

  /// Encodes 256 floats with unit importance (`quantize_row(x, nullptr, 256, &out)`).
  /// throws lowbit::error{errc::invalid_argument} if an element is NaN or infinite.
  static void quantize_block(const float* x, block& out) { quantize_row(x, nullptr, block_size, &out); }

  /// Encodes n floats (n a multiple of 256) into n / 256 blocks, minimising the importance-weighted
  /// squared error of the decoded row (unit weights when `importance` is nullptr): exhaustive search of
  /// both grid entries and the (even-parity) signs of every group for each candidate scale, scales
  /// searched as `detail::scale_search` describes. Not byte-identical with ggml's `quantize_iq3_xxs`.
  /// throws lowbit::error{errc::shape_mismatch} if n % 256 != 0, {errc::invalid_argument} if an
  /// element of x is not finite or an importance is negative or not finite. Allocates scratch.
  static void quantize_row(const float* x, const float* importance, std::size_t n, block* out) {
    detail::quantize_iq_row<row_encoder>(x, importance, n, out);
  }

  /// IQ3_XXS's own part of quantize_row (detail::iq_row_encoder): one unit per group of 8 (two of
  /// the 256 entries of iq3xxs_grid, signs of even parity), 8 scale codes; per group two index
  /// bytes, per sub-block a u32 of sign indices and the scale code.
  struct row_encoder {
    using format = iq3_xxs;
    static constexpr std::size_t units = 32, unit_floats = 6 * 256, sub_blocks = 8;
    static constexpr float grid_min = 4.0f, grid_max = 62.0f;
    static constexpr bool both_signs = false;
    static const std::vector<float>& grid() {
      static const std::vector<float> g = detail::expand_grid<4>(iq_grids::iq3xxs_grid, false);
      return g;
    }
    static void build_unit(const float* grid, const detail::normalized_block& v, std::size_t g, float* storage,
                           detail::quant_unit& unit) {
      detail::build_grid4x2_unit(grid, 256, &v.x[8 * g], &v.xa[8 * g], &v.w[8 * g], true, storage, unit);
    }
    template <class Search, class Units>
    static void encode(block& y, const detail::scale_choice& c, const Search& search, const Units& units,
                       const detail::normalized_block& nb, int) {
      y.d = c.d;
      const float* grid_values = grid().data();
      for (std::size_t ib = 0; ib < 8; ++ib) {
        const float s = search.sub_scale(c, ib);
        std::uint32_t aux = static_cast<std::uint32_t>(c.ls[ib]) << 28;
        for (std::size_t l = 0; l < 4; ++l) {
          const std::size_t g = 4 * ib + l;
          detail::unit_choice uc;
          double sa = 0.0, sb = 0.0;
          detail::unit_choose(units[g], s, uc, sa, sb);
          y.qs[2 * g] = static_cast<std::uint8_t>(uc.index[0]);
          y.qs[2 * g + 1] = static_cast<std::uint8_t>(uc.index[1]);
          const std::uint8_t signs = detail::grid4x2_signs(grid_values + 4 * uc.index[0], grid_values + 4 * uc.index[1],
                                                           uc.option, &nb.x[8 * g], &nb.xa[8 * g], &nb.w[8 * g], true);
          aux |= static_cast<std::uint32_t>(signs & 127u) << (7 * l);
        }
        detail::write_iq_u32(y.qs + 64 + 4 * ib, aux);
      }
    }
  };
};
static_assert(sizeof(iq3_xxs::block) == iq3_xxs::block_bytes);

}  // namespace lowbit::ggml

LOWBIT_EXACT_FP_END
