// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>

#include "lowbit/core/exact_fp.hpp"
#include "lowbit/formats/quant/codes.hpp"
#include "lowbit/formats/quant/granularity.hpp"
#include "lowbit/formats/quant/scale.hpp"
#include "lowbit/formats/quant/zero_point.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit {

/// A parametric weight format, spelled by the user: codes of type `Code`, scales stored as `Scale`,
/// shared as `Granularity` says, with or without a zero point.
///
/// Value of element (n, k) of W(N, K):
///   symmetric:  `w = scale(n, k) * Code::decode(q(n, k))`
///   asymmetric: `w = scale(n, k) * (Code::decode(q(n, k)) - zero_point(n, k))`
/// where scale(n, k) is the scale of (Granularity::scale_row(n), Granularity::scale_col(k)).
/// Storage (bit-packed codes, scales, zero points) is `quantized_matrix<quant<...>>`
/// (quant/quantized_matrix.hpp); docs/formats/parametric.md lists the bits per weight.
///
/// Impossible combinations fail to compile with a message (tests/compile_fail/): a zero point with a
/// code that is not an integer code, a group size of 0, an int_code wider than 8 bits.
/// Example: `quant<int_code<4, false>, scale_f16, per_group<128>, asymmetric>` (GPTQ/AWQ-style
/// w4 g128), `quant<nf4, scale_f32, per_group<64>>` (QLoRA).
/// Sources: gemmlowp doc/quantization.md; QLoRA arXiv:2305.14314; GPTQ arXiv:2210.17323.
template <quant_code Code, quant_scale Scale, quant_granularity Granularity, quant_zero_point ZeroPoint = symmetric>
struct quant {
  static_assert(!ZeroPoint::has_zero_point || Code::is_integer,
                "lowbit: asymmetric (zero-point) quantization needs an integer code int_code<Bits, Signed>; "
                "binary, ternary, nf4 and float codes are symmetric only");

  using code_type = Code;
  using scale_type = Scale;
  using granularity_type = Granularity;
  using zero_point_type = ZeroPoint;
  /// Bits per stored code.
  static constexpr int bits = Code::bits;
  /// Consecutive K elements sharing a scale; 0 when a scale covers whole rows.
  static constexpr std::size_t group_size = Granularity::group_size;
  /// Rows sharing a scale (per_block); 1 for per_group/per_channel, 0 for per_tensor.
  static constexpr std::size_t block_rows = Granularity::block_rows;
  static constexpr bool has_zero_point = ZeroPoint::has_zero_point;

  /// Storage bits per weight of a W(N, K): codes plus scales plus zero points (stored one byte
  /// each), excluding the byte-alignment padding at the end of a row.
  static constexpr double bits_per_weight(std::size_t n, std::size_t k) noexcept {
    const double scales = static_cast<double>(Granularity::scale_rows(n) * Granularity::scale_cols(k));
    const double per_scale = Scale::bits + (has_zero_point ? 8.0 : 0.0);
    return bits + scales * per_scale / (static_cast<double>(n) * static_cast<double>(k));
  }
};

namespace detail {
template <class T>
inline constexpr bool is_quant_v = false;
template <class C, class S, class G, class Z>
inline constexpr bool is_quant_v<quant<C, S, G, Z>> = true;
}  // namespace detail

/// A `quant<...>` specialization.
template <class Q>
concept quant_format = detail::is_quant_v<Q>;

}  // namespace lowbit

LOWBIT_EXACT_FP_END
