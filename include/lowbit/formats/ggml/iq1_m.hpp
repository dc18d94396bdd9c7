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

/// GGUF type IQ1_M: 256 elements in 56 bytes (1.75 bits per weight), groups of 8 coded as one of the
/// 2048 entries of `iq_grids::iq1s_grid` (codes in {-1, 0, 1}) shifted by +-1/8 (sign per group), with
/// a 3-bit scale per 16 elements and the fp16 super-scale spread over the scale words.
///
/// Bytes: `qs[32]`, the low 8 bits of each group's grid index; `qh[16]`, one byte per pair of groups
/// (2 k, 2 k + 1): bits 0..2 are bits 8..10 of the index of group 2 k, bit 3 its shift sign, bits 4..6
/// and 7 the same for group 2 k + 1; `scales[8]`, four little-endian u16 words sc[0..4): word k holds
/// the 3-bit codes of elements 64 k + 16 i .. + 16 for i = 0..3 at bits 3 i, and in bits 12..15 the
/// bits 4 k .. 4 k + 3 of the fp16 super-scale d.
/// Decode: `x[8 g + j] = dl * (grid[j] + delta_g)` with `dl = d * float(2 ls + 1)` for the 16 elements
/// of g and `delta_g = shift sign ? -0.125f : 0.125f` (IQ1M_DELTA), in f32.
/// Source: `block_iq1_m`, `IQ1M_DELTA` (ggml/src/ggml-common.h) and `dequantize_row_iq1_m`
/// (ggml/src/ggml-quants.c), llama.cpp as vendored by llama-cpp-python 0.3.36.
struct iq1_m {
  struct block {
    std::uint8_t qs[32];     ///< low 8 bits of the grid indices
    std::uint8_t qh[16];     ///< high index bits and shift signs, two groups per byte
    std::uint8_t scales[8];  ///< 3-bit scale codes and the fp16 super-scale, see above
  };
  static constexpr type type_id = type::iq1_m;
  static constexpr std::string_view name = "IQ1_M";
  static constexpr std::size_t block_size = 256;
  static constexpr std::size_t block_bytes = 56;
  static constexpr float delta = 0.125f;  ///< the grid shift magnitude, ggml's IQ1M_DELTA

  /// The sub-block scale rule: 8 codes, `s = d * float(2 ls + 1)` (the decoder's f32 expression).
  struct scale_rule {
    static constexpr int levels = 8;
    static float scale(float d, int ls) noexcept { return d * static_cast<float>(2 * ls + 1); }
  };

  /// The fp16 bits of the super-scale d, gathered from the top nibbles of the four scale words.
  static std::uint16_t super_scale_bits(const block& b) noexcept {
    std::uint16_t bits = 0;
    for (std::size_t k = 0; k < 4; ++k) bits = static_cast<std::uint16_t>(bits | (b.scales[2 * k + 1] >> 4) << (4 * k));
    return bits;
  }

  /// Writes the 256 decoded values of `b` to `out[0..256)`, bit-exactly as ggml's decoder.
  static void dequantize_block(const block& b, float* out) noexcept {
    const float d = fp16_to_f32(super_scale_bits(b));
    for (std::size_t g = 0; g < 32; ++g) {
      const std::size_t sub = g / 2;  // 16 elements
      const auto word = static_cast<std::uint16_t>(b.scales[2 * (sub / 4)] | b.scales[2 * (sub / 4) + 1] << 8);
      const float dl = scale_rule::scale(d, (word >> (3 * (sub % 4))) & 7);
      const std::uint8_t h = b.qh[g / 2] >> (4 * (g % 2));
      const std::size_t index = b.qs[g] | static_cast<std::size_t>(h & 7) << 8;
      const float shift = (h & 8) ? -delta : delta;
      const std::uint64_t e = iq_grids::iq1s_grid[index];
      for (std::size_t j = 0; j < 8; ++j) {
        const auto code = static_cast<std::int8_t>(iq_grids::grid_code(e, j));
        out[8 * g + j] = dl * (static_cast<float>(code) + shift);
      }
    }
  }

  /// Encodes 256 floats with unit importance (`quantize_row(x, nullptr, 256, &out)`).
  /// throws lowbit::error{errc::invalid_argument} if an element is NaN or infinite.
  static void quantize_block(const float* x, block& out) { quantize_row(x, nullptr, block_size, &out); }

  /// Encodes n floats (n a multiple of 256) into n / 256 blocks, minimising the importance-weighted
  /// squared error of the decoded row (unit weights when `importance` is nullptr): for each candidate
  /// scale, exhaustive search of every group's grid entry and shift sign; scales searched as
  /// `detail::scale_search` describes, for d > 0 and for d < 0 (the grid is not symmetric). Not
  /// byte-identical with ggml's `quantize_iq1_m`.
  /// throws lowbit::error{errc::shape_mismatch} if n % 256 != 0, {errc::invalid_argument} if an
  /// element of x is not finite or an importance is negative or not finite. Allocates scratch.
  static void quantize_row(const float* x, const float* importance, std::size_t n, block* out) {
    detail::quantize_iq_row<row_encoder>(x, importance, n, out);
  }

  /// IQ1_M's own part of quantize_row (detail::iq_row_encoder): one unit per group of 8 (the 2048
  /// entries of iq1s_grid under both shift signs), 16 scale codes, d < 0 searched too (d's bits in
  /// the top nibbles of the scale words).
  struct row_encoder {
    using format = iq1_m;
    static constexpr std::size_t units = 32, unit_floats = 4 * 2048, sub_blocks = 16;
    static constexpr float grid_min = 0.875f, grid_max = 1.125f;
    static constexpr bool both_signs = true;
    static const std::vector<float>& grid() {
      static const std::vector<float> g = detail::expand_grid<8>(iq_grids::iq1s_grid, true);
      return g;
    }
    static void build_unit(const float* grid, const detail::normalized_block& v, std::size_t g, float* storage,
                           detail::quant_unit& unit) {
      detail::build_shifted_unit(grid, 2048, &v.x[8 * g], &v.w[8 * g], 1, delta, storage, unit);
    }
    template <class Search, class Units>
    static void encode(block& y, const detail::scale_choice& c, const Search& search, const Units& units,
                       const detail::normalized_block&, int sign) {
      const auto d_bits = static_cast<std::uint16_t>(c.d | (sign == 1 ? 0x8000u : 0u));
      for (std::size_t g = 0; g < 32; ++g) {
        detail::unit_choice uc;
        double sa = 0.0, sb = 0.0;
        detail::unit_choose(units[g], search.sub_scale(c, g / 2), uc, sa, sb);
        y.qs[g] = static_cast<std::uint8_t>(uc.index[0] & 0xff);
        const unsigned h = (uc.index[0] >> 8) | (uc.option == 1 ? 8u : 0u);
        y.qh[g / 2] = static_cast<std::uint8_t>(y.qh[g / 2] | h << (4 * (g % 2)));
      }
      for (std::size_t k = 0; k < 4; ++k) {
        unsigned word = static_cast<unsigned>((d_bits >> (4 * k)) & 0xf) << 12;
        for (std::size_t i = 0; i < 4; ++i) word |= static_cast<unsigned>(c.ls[4 * k + i]) << (3 * i);
        y.scales[2 * k] = static_cast<std::uint8_t>(word);
        y.scales[2 * k + 1] = static_cast<std::uint8_t>(word >> 8);
      }
    }
  };
};
static_assert(sizeof(iq1_m::block) == iq1_m::block_bytes);

}  // namespace lowbit::ggml

LOWBIT_EXACT_FP_END
