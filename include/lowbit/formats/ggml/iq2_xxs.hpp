// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

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

/// GGUF type IQ2_XXS: 256 elements in 66 bytes (2.0625 bits per weight), groups of 8 coded as one of
/// the 256 entries of `iq_grids::iq2xxs_grid` (magnitudes in {8, 25, 43}) with signs of even parity.
///
/// Bytes: `d` (fp16 super-scale), then per sub-block ib of 32 elements two little-endian u32 in
/// `qs[4 ib .. 4 ib + 4)`: the first holds the grid indices of its 4 groups (byte l = group l), the
/// second the 7-bit sign indices of the groups (bits 7 l .. 7 l + 6) and the 4-bit scale code ls (bits
/// 28..31).
/// Decode: `x[8 l + j] = db * grid[j] * (bit j of sign_mask(k_l) ? -1 : 1)` with
/// `db = d * (0.5f + ls) * 0.25f` in f32 (`iq_grids::sign_mask`: the 8th sign restores even parity).
/// Source: `block_iq2_xxs` (ggml/src/ggml-common.h) and `dequantize_row_iq2_xxs`
/// (ggml/src/ggml-quants.c), llama.cpp as vendored by llama-cpp-python 0.3.36.
struct iq2_xxs {
  struct block {
    std::uint16_t d;       ///< super-scale, IEEE binary16 bits
    std::uint16_t qs[32];  ///< per 32 elements: grid indices (u32), signs and scale (u32), see above
  };
  static constexpr type type_id = type::iq2_xxs;
  static constexpr std::string_view name = "IQ2_XXS";
  static constexpr std::size_t block_size = 256;
  static constexpr std::size_t block_bytes = 66;

  /// The sub-block scale rule: 16 codes, `s = d * (0.5f + ls) * 0.25f` (the decoder's f32 expression).
  struct scale_rule {
    static constexpr int levels = 16;
    static float scale(float d, int ls) noexcept { return d * (0.5f + static_cast<float>(ls)) * 0.25f; }
  };

  /// Writes the 256 decoded values of `b` to `out[0..256)`, bit-exactly as ggml's decoder.
  static void dequantize_block(const block& b, float* out) noexcept {
    const float d = fp16_to_f32(b.d);
    for (std::size_t ib = 0; ib < 8; ++ib) {
      const std::uint32_t idx = b.qs[4 * ib] | static_cast<std::uint32_t>(b.qs[4 * ib + 1]) << 16;
      const std::uint32_t aux = b.qs[4 * ib + 2] | static_cast<std::uint32_t>(b.qs[4 * ib + 3]) << 16;
      const float db = scale_rule::scale(d, static_cast<int>(aux >> 28));
      for (std::size_t l = 0; l < 4; ++l) {
        const std::uint64_t g = iq_grids::iq2xxs_grid[(idx >> (8 * l)) & 0xff];
        const std::uint8_t signs = iq_grids::sign_mask(aux >> (7 * l));
        for (std::size_t j = 0; j < 8; ++j) {
          out[32 * ib + 8 * l + j] =
              db * static_cast<float>(iq_grids::grid_code(g, j)) * ((signs >> j) & 1 ? -1.0f : 1.0f);
        }
      }
    }
  }

  /// Encodes 256 floats with unit importance (`quantize_row(x, nullptr, 256, &out)`).
  /// throws lowbit::error{errc::invalid_argument} if an element is NaN or infinite.
  static void quantize_block(const float* x, block& out) { quantize_row(x, nullptr, block_size, &out); }

  /// Encodes n floats (n a multiple of 256) into n / 256 blocks, minimising the importance-weighted
  /// squared error sum_j importance_j (y_j - x_j)^2 of the decoded row y (unit weights when
  /// `importance` is nullptr): for every candidate scale the best grid entry and signs of each group
  /// are found by exhaustive search; the scales are searched as `detail::scale_search` describes. Not
  /// byte-identical with ggml's `quantize_iq2_xxs` (a neighbour search); its error is at most
  /// ggml's on the golden rows (tests/unit/formats/test_ggml_iquants.cpp).
  /// throws lowbit::error{errc::shape_mismatch} if n % 256 != 0, {errc::invalid_argument} if an
  /// element of x is not finite or an importance is negative or not finite. Allocates scratch.
  static void quantize_row(const float* x, const float* importance, std::size_t n, block* out) {
    detail::quantize_iq_row<row_encoder>(x, importance, n, out);
  }

  /// IQ2_XXS's own part of quantize_row (detail::iq_row_encoder): one unit per group of 8 (the 256
  /// entries of iq2xxs_grid, signs of even parity), 8 scale codes; per sub-block a u32 of grid
  /// indices and a u32 of 7-bit sign indices and the scale code.
  struct row_encoder {
    using format = iq2_xxs;
    static constexpr std::size_t units = 32, unit_floats = 2 * 256, sub_blocks = 8;
    static constexpr float grid_min = 8.0f, grid_max = 43.0f;
    static constexpr bool both_signs = false;
    static const std::vector<float>& grid() {
      static const std::vector<float> g = detail::expand_grid<8>(iq_grids::iq2xxs_grid, false);
      return g;
    }
    static void build_unit(const float* grid, const detail::normalized_block& v, std::size_t g, float* storage,
                           detail::quant_unit& unit) {
      detail::build_grid8_unit(grid, 256, &v.x[8 * g], &v.xa[8 * g], &v.w[8 * g], true, storage, unit);
    }
    template <class Search, class Units>
    static void encode(block& y, const detail::scale_choice& c, const Search& search, const Units& units,
                       const detail::normalized_block& nb, int) {
      y.d = c.d;
      for (std::size_t ib = 0; ib < 8; ++ib) {
        const float s = search.sub_scale(c, ib);
        std::uint32_t idx = 0;
        std::uint32_t aux = static_cast<std::uint32_t>(c.ls[ib]) << 28;
        for (std::size_t l = 0; l < 4; ++l) {
          const std::size_t g = 4 * ib + l;
          detail::unit_choice uc;
          double sa = 0.0, sb = 0.0;
          detail::unit_choose(units[g], s, uc, sa, sb);
          const std::uint8_t signs =
              detail::grid8_signs(grid().data() + 8 * uc.index[0], &nb.x[8 * g], &nb.xa[8 * g], &nb.w[8 * g], true);
          idx |= static_cast<std::uint32_t>(uc.index[0]) << (8 * l);
          aux |= static_cast<std::uint32_t>(signs & 127u) << (7 * l);
        }
        y.qs[4 * ib] = static_cast<std::uint16_t>(idx);
        y.qs[4 * ib + 1] = static_cast<std::uint16_t>(idx >> 16);
        y.qs[4 * ib + 2] = static_cast<std::uint16_t>(aux);
        y.qs[4 * ib + 3] = static_cast<std::uint16_t>(aux >> 16);
      }
    }
  };
};
static_assert(sizeof(iq2_xxs::block) == iq2_xxs::block_bytes);

}  // namespace lowbit::ggml

LOWBIT_EXACT_FP_END
