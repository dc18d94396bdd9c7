// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <concepts>
#include <string_view>

#include "lowbit/core/exact_fp.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit {

/// Whether a parametric format stores a zero point: `Z::has_zero_point`, `Z::name`.
template <class Z>
concept quant_zero_point = requires {
  { Z::has_zero_point } -> std::convertible_to<bool>;
  { Z::name } -> std::convertible_to<std::string_view>;
};

/// Symmetric quantization: `real = scale * value(code)`; real 0 is code value 0 (where it exists).
struct symmetric {
  static constexpr bool has_zero_point = false;
  static constexpr std::string_view name = "symmetric";
};

/// Asymmetric (affine) quantization: `real = scale * (code - zero_point)` with zero_point an integer
/// code of the same range as the codes, one per scale; real 0 is exactly the code zero_point.
/// Only for integer codes. Source: gemmlowp doc/quantization.md eq. 3; arXiv:1712.05877 §2.1.
struct asymmetric {
  static constexpr bool has_zero_point = true;
  static constexpr std::string_view name = "asymmetric";
};

}  // namespace lowbit

LOWBIT_EXACT_FP_END
