// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <vector>

#include "lowbit/core/exact_fp.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/formats/quant/group_quantizer.hpp"
#include "lowbit/formats/quant/packing.hpp"
#include "lowbit/formats/quant/quant.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit {

namespace detail {
template <class G>
inline constexpr bool is_per_group_v = false;
template <std::size_t G>
inline constexpr bool is_per_group_v<per_group<G>> = true;

template <std::size_t ScaleBytes, std::size_t ZeroPointBytes, std::size_t CodeBytes>
struct group_block {
  std::uint8_t scales[ScaleBytes];           ///< one scale per group, little-endian
  std::uint8_t zero_points[ZeroPointBytes];  ///< one raw code per group
  std::uint8_t qs[CodeBytes];                ///< codes, bit-packed LSB first
};
template <std::size_t ScaleBytes, std::size_t CodeBytes>
struct group_block<ScaleBytes, 0, CodeBytes> {
  std::uint8_t scales[ScaleBytes];  ///< one scale per group, little-endian
  std::uint8_t qs[CodeBytes];       ///< codes, bit-packed LSB first
};
}  // namespace detail

/// A per-group parametric format `Q = quant<Code, Scale, per_group<G>, ZeroPoint>` seen as a
/// `lowbit::format` of `BlockSize` elements (BlockSize / G groups per block), so that the
/// `lowbit::format` machinery applies to it: weight_view, quantize_row/quantize_rows
/// (quant/quantize.hpp), dequantize_row and the reference GEMM kernel (gemm/reference.hpp).
///
/// Value: element i of a block is `scale[i / G] * (Code::decode(q_i) - zero_point[i / G])`, exactly
/// as `quantized_matrix<Q>` computes it, so both hold the same numbers for the same input.
/// Bytes (no padding, ISA-independent): `scales` (BlockSize / G scales of Scale::storage_type, each
/// little-endian), then for asymmetric Q `zero_points` (one byte per group: the zero point's raw
/// code), then `qs` (BlockSize codes bit-packed as `pack_codes` does).
/// Encoding: `quantize_block` is round-to-nearest (absmax / min-max, `quantize_method`);
/// `quantize_row` with an importance runs the weighted clip search of `quantize_method::clip_search`
/// per group. Input must be finite (the checked entry points of quant/quantize.hpp throw otherwise).
/// Compile-time errors: Q not per_group, G not dividing BlockSize, codes not filling whole bytes.
template <quant_format Q, std::size_t BlockSize = Q::group_size>
struct group_format {
  static_assert(detail::is_per_group_v<typename Q::granularity_type>,
                "lowbit: group_format<Q, BlockSize> needs a quant<..., per_group<G>, ...>");
  static_assert(BlockSize > 0 && Q::group_size > 0 && BlockSize % Q::group_size == 0,
                "lowbit: group_format<Q, BlockSize>: the group size G must divide the block size");
  static_assert(BlockSize * Q::bits % 8 == 0,
                "lowbit: group_format<Q, BlockSize>: the codes of a block must fill whole bytes "
                "(BlockSize * bits % 8 == 0)");

  using quant_type = Q;
  using scale_storage = typename Q::scale_type::storage_type;
  static constexpr std::string_view name = "parametric";
  static constexpr std::size_t block_size = BlockSize;
  static constexpr std::size_t group_size = Q::group_size;
  static constexpr std::size_t groups = BlockSize / Q::group_size;
  static constexpr std::size_t scale_bytes = sizeof(scale_storage);
  static constexpr std::size_t zero_point_bytes = Q::has_zero_point ? groups : 0;
  static constexpr std::size_t code_bytes = BlockSize * Q::bits / 8;
  using block = detail::group_block<groups * scale_bytes, zero_point_bytes, code_bytes>;
  static constexpr std::size_t block_bytes = groups * scale_bytes + zero_point_bytes + code_bytes;

  /// The stored scale of group g of b.
  static scale_storage scale_of(const block& b, std::size_t g) noexcept {
    using bits_t = std::conditional_t<scale_bytes == 4, std::uint32_t,
                                      std::conditional_t<scale_bytes == 2, std::uint16_t, std::uint8_t>>;
    bits_t v = 0;
    for (std::size_t i = 0; i < scale_bytes; ++i)
      v = static_cast<bits_t>(v | bits_t{b.scales[g * scale_bytes + i]} << (8 * i));
    return std::bit_cast<scale_storage>(v);
  }
  /// The zero point of group g of b (0 when symmetric).
  static int zero_point_of(const block& b, std::size_t g) noexcept {
    if constexpr (Q::has_zero_point) {
      return Q::code_type::to_int(b.zero_points[g]);
    } else {
      return 0;
    }
  }

  /// Writes the BlockSize values of b.
  static void dequantize_block(const block& b, float* out) noexcept {
    for (std::size_t g = 0; g < groups; ++g) {
      const float s = Q::scale_type::decode(scale_of(b, g));
      const int zp = zero_point_of(b, g);
      for (std::size_t j = 0; j < group_size; ++j) {
        const std::size_t i = g * group_size + j;
        float v = Q::code_type::decode(packed_code(b.qs, i, Q::bits));
        if constexpr (Q::has_zero_point) v -= static_cast<float>(zp);
        out[i] = s * v;
      }
    }
  }

  /// Round-to-nearest encoding of BlockSize finite floats (quantize_method::round_to_nearest).
  static void quantize_block(const float* x, block& out) noexcept { encode(x, nullptr, quantize_options{}, out); }

  /// Encodes a row of n floats (n a multiple of BlockSize) into n / BlockSize blocks; with an
  /// importance (n weights >= 0) each group runs the weighted clip search, without it this is
  /// quantize_block on each block.
  static void quantize_row(const float* x, const float* importance, std::size_t n, block* out) noexcept {
    const quantize_options opt{.method = importance != nullptr ? quantize_method::clip_search
                                                               : quantize_method::round_to_nearest};
    for (std::size_t b = 0; b < n / BlockSize; ++b) {
      encode(x + b * BlockSize, importance != nullptr ? importance + b * BlockSize : nullptr, opt, out[b]);
    }
  }

 private:
  static void encode(const float* x, const float* importance, const quantize_options& opt, block& out) noexcept {
    using quantizer = detail::parametric_quantizer<Q>;
    std::vector<float> xs(group_size);
    std::vector<float> ws(group_size, 1.0f);
    std::vector<std::uint8_t> q(group_size);
    std::uint8_t codes[BlockSize];
    for (std::size_t g = 0; g < groups; ++g) {
      for (std::size_t j = 0; j < group_size; ++j) {
        xs[j] = x[g * group_size + j];
        if (importance != nullptr) ws[j] = importance[g * group_size + j];
      }
      scale_storage st{};
      int zp = 0;
      quantizer::quantize_group(xs, ws, opt, st, zp, q);
      using bits_t = std::conditional_t<scale_bytes == 4, std::uint32_t,
                                        std::conditional_t<scale_bytes == 2, std::uint16_t, std::uint8_t>>;
      const auto v = std::bit_cast<bits_t>(st);
      for (std::size_t i = 0; i < scale_bytes; ++i)
        out.scales[g * scale_bytes + i] = static_cast<std::uint8_t>(v >> (8 * i));
      if constexpr (Q::has_zero_point) out.zero_points[g] = Q::code_type::from_int(zp);
      for (std::size_t j = 0; j < group_size; ++j) codes[g * group_size + j] = q[j];
    }
    pack_codes_unchecked(codes, BlockSize, Q::bits, out.qs);
  }
};

}  // namespace lowbit

LOWBIT_EXACT_FP_END
