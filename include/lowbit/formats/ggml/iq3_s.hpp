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

/// GGUF type IQ3_S: 256 elements in 110 bytes (3.4375 bits per weight), each group of 8 coded as two
/// of the 512 entries of `iq_grids::iq3s_grid` (4 magnitudes each, in {1, 3, ..., 15}) with 8 free sign
/// bits, and a 4-bit scale per 32 elements.
///
/// Bytes: `d` (fp16 super-scale); `qs[64]`: `qs[2 g]`, `qs[2 g + 1]` (g < 32) the low 8 bits of the
/// grid indices of elements 0..3 and 4..7 of group g; `qh[8]`, per 32 elements ib: bit k is bit 8 of
/// the index in `qs[8 ib + k]`; `signs[32]`, one byte per group (bit j set: element j negative);
/// `scales[4]`, per 64 elements: low nibble the code ls of its first 32, high nibble of its last 32.
/// Decode: `x[8 g + j] = db * grid[j] * (sign bit j ? -1 : 1)` with `db = d * (1 + 2 ls)` in f32 (the
/// odd integer converted to float).
/// Source: `block_iq3_s` (ggml/src/ggml-common.h) and `dequantize_row_iq3_s` (ggml/src/ggml-quants.c),
/// llama.cpp as vendored by llama-cpp-python 0.3.36.
struct iq3_s {
  struct block {
    std::uint16_t d;         ///< super-scale, IEEE binary16 bits
    std::uint8_t qs[64];     ///< low 8 bits of the 64 grid indices
    std::uint8_t qh[8];      ///< bit 8 of the grid indices, 8 per byte
    std::uint8_t signs[32];  ///< sign bits, one byte per group of 8
    std::uint8_t scales[4];  ///< two 4-bit scale codes per 64 elements
  };
  static constexpr type type_id = type::iq3_s;
  static constexpr std::string_view name = "IQ3_S";
  static constexpr std::size_t block_size = 256;
  static constexpr std::size_t block_bytes = 110;

  /// The sub-block scale rule: 16 codes, `s = d * float(1 + 2 ls)` (the decoder's f32 expression).
  struct scale_rule {
    static constexpr int levels = 16;
    static float scale(float d, int ls) noexcept { return d * static_cast<float>(1 + 2 * ls); }
  };

  /// Writes the 256 decoded values of `b` to `out[0..256)`, bit-exactly as ggml's decoder.
  static void dequantize_block(const block& b, float* out) noexcept {
    const float d = fp16_to_f32(b.d);
    for (std::size_t ib = 0; ib < 8; ++ib) {
      const float db = scale_rule::scale(d, (b.scales[ib / 2] >> (4 * (ib % 2))) & 0xf);
      for (std::size_t l = 0; l < 4; ++l) {
        const std::size_t g = 4 * ib + l;
        const std::size_t i1 = b.qs[2 * g] | static_cast<std::size_t>((b.qh[ib] >> (2 * l)) & 1) << 8;
        const std::size_t i2 = b.qs[2 * g + 1] | static_cast<std::size_t>((b.qh[ib] >> (2 * l + 1)) & 1) << 8;
        const std::uint32_t e1 = iq_grids::iq3s_grid[i1];
        const std::uint32_t e2 = iq_grids::iq3s_grid[i2];
        const std::uint8_t signs = b.signs[g];
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
  /// both grid entries of every group (signs follow x) for each candidate scale, scales searched as
  /// `detail::scale_search` describes. Not byte-identical with ggml's `quantize_iq3_s`.
  /// throws lowbit::error{errc::shape_mismatch} if n % 256 != 0, {errc::invalid_argument} if an
  /// element of x is not finite or an importance is negative or not finite. Allocates scratch.
  static void quantize_row(const float* x, const float* importance, std::size_t n, block* out) {
    detail::quantize_iq_row<row_encoder>(x, importance, n, out);
  }

  /// IQ3_S's own part of quantize_row (detail::iq_row_encoder): one unit per group of 8 (two of the
  /// 512 entries of iq3s_grid, signs following x), 8 scale codes; per group two 9-bit indices (qs,
  /// qh) and a sign byte.
  struct row_encoder {
    using format = iq3_s;
    static constexpr std::size_t units = 32, unit_floats = 6 * 512, sub_blocks = 8;
    static constexpr float grid_min = 1.0f, grid_max = 15.0f;
    static constexpr bool both_signs = false;
    static const std::vector<float>& grid() {
      static const std::vector<float> g = detail::expand_grid<4>(iq_grids::iq3s_grid, false);
      return g;
    }
    static void build_unit(const float* grid, const detail::normalized_block& v, std::size_t g, float* storage,
                           detail::quant_unit& unit) {
      detail::build_grid4x2_unit(grid, 512, &v.x[8 * g], &v.xa[8 * g], &v.w[8 * g], false, storage, unit);
    }
    template <class Search, class Units>
    static void encode(block& y, const detail::scale_choice& c, const Search& search, const Units& units,
                       const detail::normalized_block& nb, int) {
      y.d = c.d;
      for (std::size_t ib = 0; ib < 8; ++ib) {
        const float s = search.sub_scale(c, ib);
        for (std::size_t l = 0; l < 4; ++l) {
          const std::size_t g = 4 * ib + l;
          detail::unit_choice uc;
          double sa = 0.0, sb = 0.0;
          detail::unit_choose(units[g], s, uc, sa, sb);
          y.qs[2 * g] = static_cast<std::uint8_t>(uc.index[0] & 0xff);
          y.qs[2 * g + 1] = static_cast<std::uint8_t>(uc.index[1] & 0xff);
          y.qh[ib] =
              static_cast<std::uint8_t>(y.qh[ib] | (uc.index[0] >> 8) << (2 * l) | (uc.index[1] >> 8) << (2 * l + 1));
          y.signs[g] = detail::natural_signs<8>(&nb.x[8 * g]);
        }
        y.scales[ib / 2] = static_cast<std::uint8_t>(y.scales[ib / 2] | c.ls[ib] << (4 * (ib % 2)));
      }
    }
  };
};
static_assert(sizeof(iq3_s::block) == iq3_s::block_bytes);

}  // namespace lowbit::ggml

LOWBIT_EXACT_FP_END
